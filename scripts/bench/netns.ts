/**
 * Peers run with no network but loopback: the whole benchmark starts again inside
 * a network namespace of its own (`ip netns add`, loopback up, `ip netns exec`), so
 * the peer, the provider, the proxy and the clients all reach each other on
 * 127.0.0.1 and nothing else. The namespace is removed however the run ends.
 */
import { SetupError } from "./setup.ts";

/** Set inside the namespace to its name, so the run does not start itself again. */
export const NETNS_ENV = "LLM_PROXY_BENCH_NETNS";

const ip = (args: string[]) => Bun.spawnSync(["ip", ...args], { stdout: "pipe", stderr: "pipe" });

/** Runs this very command line again inside a new namespace; resolves with its exit code. */
export async function rerunInNamespace(): Promise<number> {
  if (!Bun.which("ip")) throw new SetupError("--peer runs in a network namespace of its own: ip is needed (apt-get install iproute2)");
  const name = `llm-proxy-bench-${process.pid}`;
  const added = ip(["netns", "add", name]);
  if (!added.success) throw new SetupError(`--peer runs in a network namespace of its own, and ip netns add failed (it needs root): ${added.stderr.toString().trim()}`);
  try {
    const up = ip(["-n", name, "link", "set", "lo", "up"]);
    if (!up.success) throw new SetupError(`ip -n ${name} link set lo up failed: ${up.stderr.toString().trim()}`);
    process.stderr.write(`bench: running inside network namespace ${name} (loopback only)\n`);
    const child = Bun.spawn(["ip", "netns", "exec", name, process.execPath, ...process.argv.slice(1)], {
      env: { ...process.env, [NETNS_ENV]: name },
      stdio: ["inherit", "inherit", "inherit"],
    });
    // ip netns exec replaces itself with the command: this PID is the benchmark's.
    const forward = (signal: NodeJS.Signals) => () => child.kill(signal);
    process.on("SIGINT", forward("SIGINT"));
    process.on("SIGTERM", forward("SIGTERM"));
    return await child.exited;
  } finally {
    ip(["netns", "del", name]);
  }
}
