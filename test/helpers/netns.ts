import type { Subprocess } from "bun";

/**
 * A network namespace of the test's own, with only a loopback interface: what runs
 * in it (a fake provider, the proxy, a third-party CLI) can reach the others on
 * 127.0.0.1 and nothing else, so a CLI that tries to call home cannot. Needs root
 * and iproute2's `ip`. Dispose with `await using`: it kills what it started (by
 * process id) and deletes the namespace.
 */

const IP = Bun.which("ip") ?? (Bun.file("/usr/sbin/ip").size > 0 ? "/usr/sbin/ip" : undefined);

/** Why no namespace can be made here, or undefined when one can (probed once, by making one). */
export const netnsMissing: string | undefined = (() => {
  if (process.platform !== "linux") return `network namespaces are Linux only (this is ${process.platform})`;
  if (!IP) return "the ip command (Debian: apt-get install iproute2) is not installed";
  if (process.getuid?.() !== 0) return "ip netns needs root (these tests run as uid " + process.getuid?.() + ")";
  const probe = `llmproxy-probe-${process.pid}`;
  let made;
  try {
    made = Bun.spawnSync([IP, "netns", "add", probe], { stderr: "pipe" });
  } catch (error) {
    // Present but not runnable (no execute permission, a broken install): the tests skip, saying so.
    return `${IP} could not be run (${(error as Error).message})`;
  }
  if (made.exitCode !== 0) return `ip netns add failed: ${made.stderr.toString().trim()}`;
  Bun.spawnSync([IP, "netns", "del", probe]);
  return undefined;
})();

let made = 0;

/** A child process in the namespace, its output collected as it comes. */
export class Child {
  stdout = "";
  stderr = "";
  exitCode: number | undefined;
  readonly exited: Promise<number>;
  private readonly drained: Promise<void>;

  constructor(
    readonly name: string,
    readonly proc: Subprocess<"ignore", "pipe", "pipe">,
  ) {
    this.exited = proc.exited.then((code) => (this.exitCode = code));
    this.drained = Promise.all([this.collect(proc.stdout, "stdout"), this.collect(proc.stderr, "stderr")]).then(() => undefined);
  }

  private async collect(stream: ReadableStream<Uint8Array>, into: "stdout" | "stderr"): Promise<void> {
    const decoder = new TextDecoder();
    for await (const chunk of stream) this[into] += decoder.decode(chunk, { stream: true });
  }

  get output(): string {
    return `--- ${this.name} stdout\n${this.stdout}\n--- ${this.name} stderr\n${this.stderr}`;
  }

  /** Waits until stdout or stderr matches; fails after `timeoutMs` (far above what is expected), showing the output. */
  async waitFor(pattern: RegExp, what: string, timeoutMs = 20_000): Promise<RegExpExecArray> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const match = pattern.exec(this.stdout) ?? pattern.exec(this.stderr);
      if (match) return match;
      if (this.exitCode !== undefined || Date.now() > deadline) throw new Error(`no ${what} (${this.exitCode === undefined ? "timed out" : `exited ${this.exitCode}`}):\n${this.output}`);
      await Bun.sleep(10);
    }
  }

  /** The exit code once it has ended and its output is read; killed (and a failure) after `timeoutMs`. */
  async exit(timeoutMs: number): Promise<number> {
    const timer = setTimeout(() => this.proc.kill("SIGKILL"), timeoutMs);
    try {
      const code = await this.exited;
      await this.drained;
      if (code !== 0 && this.proc.signalCode === "SIGKILL") throw new Error(`${this.name} did not finish within ${timeoutMs} ms:\n${this.output}`);
      return code;
    } finally {
      clearTimeout(timer);
    }
  }
}

export class Netns implements AsyncDisposable {
  private readonly children: Child[] = [];

  private constructor(readonly name: string) {}

  static create(): Netns {
    if (netnsMissing) throw new Error(`cannot make a network namespace: ${netnsMissing}`);
    const name = `llmproxy-${process.pid}-${++made}`;
    for (const args of [["netns", "add", name], ["netns", "exec", name, IP!, "link", "set", "lo", "up"]]) {
      const r = Bun.spawnSync([IP!, ...args], { stderr: "pipe" });
      if (r.exitCode !== 0) {
        Bun.spawnSync([IP!, "netns", "del", name]);
        throw new Error(`ip ${args.join(" ")} failed: ${r.stderr.toString().trim()}`);
      }
    }
    return new Netns(name);
  }

  /** Runs `cmd` inside the namespace (`ip netns exec` enters it, then runs the command in its place). */
  spawn(name: string, cmd: readonly string[], options: { env: Record<string, string | undefined>; cwd: string }): Child {
    const proc = Bun.spawn([IP!, "netns", "exec", this.name, ...cmd], { cwd: options.cwd, env: options.env, stdin: "ignore", stdout: "pipe", stderr: "pipe" });
    const child = new Child(name, proc);
    this.children.push(child);
    return child;
  }

  /** Every child's output, for a failure message. */
  get output(): string {
    return this.children.map((c) => c.output).join("\n");
  }

  async [Symbol.asyncDispose](): Promise<void> {
    for (const child of this.children) if (child.exitCode === undefined) child.proc.kill("SIGKILL");
    await Promise.all(this.children.map((c) => c.exited));
    Bun.spawnSync([IP!, "netns", "del", this.name]);
  }
}
