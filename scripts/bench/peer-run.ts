/**
 * Other proxies measured beside llm-proxy (`--peer NAME=COMMAND`, or a known NAME
 * alone): how each is started in front of the same fake provider and what its
 * clients send it. The command's placeholders:
 *
 *   {port}           the port it must listen on (127.0.0.1)
 *   {upstream}       the provider's base URL, http://127.0.0.1:PORT
 *   {upstream_port}  the provider's port
 *   {dir}            a scratch folder of its own (removed with the run)
 *   {config}         an llm-proxy YAML config listening on {port} (for the original Go llm-proxy)
 *   {file:PATH}      a copy of PATH with these placeholders filled in (nginx.conf)
 *   {peers}          the folder the npm peers were installed into (scripts/bench/peers.ts)
 *   {bun}            the Bun running the benchmark
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { homedir } from "node:os";
import { join, resolve } from "node:path";
import { BACKEND_KEY, PROXY_KEY } from "./workload.ts";
import { freePort, portListening, processTree, spawnTracked, outputTail } from "./processes.ts";
import type { Subprocess } from "bun";
import { closeSync, openSync } from "node:fs";
import { childEnv } from "./processes.ts";

export const DEFAULT_PEERS_DIR = join(homedir(), ".cache", "llm-proxy-bench-peers");
const HERE = import.meta.dir;

/** What a client of this peer sends: which protocol, which model, which headers. */
export type PeerClient = "llm-proxy" | "nginx" | "portkey" | "ccr" | "transparent";

export interface PeerSpec {
  readonly name: string;
  readonly command: string;
  readonly client: PeerClient;
  /** Which rows it belongs in: OpenAI clients (passthrough) or Anthropic clients to an OpenAI provider (translated). */
  readonly protocol: "openai" | "anthropic";
  readonly env?: Record<string, string>;
}

const PRESETS: Record<string, Omit<PeerSpec, "name">> = {
  nginx: { command: "nginx -p {dir} -e stderr -c {file:scripts/bench/nginx.conf}", client: "nginx", protocol: "openai" },
  // Under Bun: under Node 20 it fails every request (it appends to the immutable headers of a fetch Response).
  portkey: { command: "{bun} {peers}/node_modules/@portkey-ai/gateway/build/start-server.js --port={port} --headless", client: "portkey", protocol: "openai" },
  ccr: { command: "node {peers}/node_modules/@musistudio/claude-code-router/dist/cli.js start", client: "ccr", protocol: "anthropic", env: { HOME: "{dir}" } },
};

/** `nginx`, `portkey`, `ccr`, or NAME=COMMAND (a known NAME keeps its client settings; `original` is the Go llm-proxy). */
export function parsePeer(arg: string): PeerSpec {
  const eq = arg.indexOf("=");
  const name = eq < 0 ? arg : arg.slice(0, eq);
  const command = eq < 0 ? undefined : arg.slice(eq + 1);
  if (!/^[a-z][a-z0-9-]*$/.test(name)) throw new Error(`--peer ${arg}: the name must be lowercase letters, digits and dashes`);
  const preset = PRESETS[name];
  if (!command && !preset) throw new Error(`--peer ${name}: give a command (--peer ${name}=COMMAND), or one of ${Object.keys(PRESETS).join(", ")}`);
  const client: PeerClient = preset?.client ?? (name === "original" ? "llm-proxy" : "transparent");
  return { name, command: command ?? preset!.command, client, protocol: preset?.protocol ?? "openai", env: preset?.env };
}

export interface PeerContext {
  readonly upstreamPort: number;
  readonly dir: string;
  readonly peersDir: string;
  /** Writes an llm-proxy configuration listening on the port (the original reads the same YAML; its listen key is `listen` too). */
  readonly llmProxyConfig: (port: number) => string;
}

function fill(template: string, values: Record<string, string>, ctx: PeerContext): string {
  return template.replace(/\{(file:[^}]+|[a-z_]+)\}/g, (whole, key: string) => {
    if (key.startsWith("file:")) {
      const source = resolve(HERE, "..", "..", key.slice(5));
      if (!existsSync(source)) throw new Error(`{${key}}: ${source} not found`);
      const target = join(values.dir!, key.slice(5).replace(/[^A-Za-z0-9.]+/g, "-"));
      writeFileSync(target, fill(readFileSync(source, "utf8"), values, ctx));
      return target;
    }
    if (key === "config" && !values.config) {
      values.config = join(values.dir!, "llm-proxy.yaml");
      writeFileSync(values.config, ctx.llmProxyConfig(Number(values.port)));
    }
    return values[key] ?? whole;
  });
}

/** Splits a command line on spaces, keeping 'single' and "double" quoted parts together. */
function words(line: string): string[] {
  return [...line.matchAll(/'([^']*)'|"([^"]*)"|(\S+)/g)].map((m) => m[1] ?? m[2] ?? m[3]!);
}

export interface RunningPeer {
  readonly spec: PeerSpec;
  readonly proc: Subprocess;
  readonly port: number;
  readonly output: string;
  /** The PIDs serving: the started process and its descendants (nginx's worker). */
  pids(): number[];
}

/** ccr reads its configuration from $HOME/.claude-code-router/config.json. */
function writeCcrConfig(dir: string, port: number, upstreamPort: number, model: string): void {
  mkdirSync(join(dir, ".claude-code-router"), { recursive: true });
  const config = {
    HOST: "127.0.0.1",
    PORT: port,
    APIKEY: PROXY_KEY,
    LOG: false,
    NON_INTERACTIVE_MODE: true,
    Providers: [{ name: "fleet", api_base_url: `http://127.0.0.1:${upstreamPort}/v1/chat/completions`, api_key: BACKEND_KEY, models: [model] }],
    Router: { default: `fleet,${model}` },
  };
  writeFileSync(join(dir, ".claude-code-router", "config.json"), JSON.stringify(config, null, 2));
}

export async function startPeer(spec: PeerSpec, ctx: PeerContext, prefix: readonly string[], translatedModel: string): Promise<RunningPeer> {
  const port = freePort();
  const dir = join(ctx.dir, `peer-${spec.name}`);
  mkdirSync(dir, { recursive: true });
  const values: Record<string, string> = {
    port: String(port),
    upstream: `http://127.0.0.1:${ctx.upstreamPort}`,
    upstream_port: String(ctx.upstreamPort),
    dir,
    peers: ctx.peersDir,
    bun: process.execPath,
    proxy_key: PROXY_KEY,
    backend_key: BACKEND_KEY,
  };
  if (spec.client === "ccr") writeCcrConfig(dir, port, ctx.upstreamPort, translatedModel);
  const cmd = words(fill(spec.command, values, ctx));
  if (!Bun.which(cmd[0]!)) throw new Error(`peer ${spec.name}: ${cmd[0]} not found${spec.name === "nginx" ? ": apt-get install nginx" : cmd[0] === "node" ? ": apt-get install nodejs" : ""}`);
  for (const w of cmd) if (w.includes("/node_modules/") && !existsSync(w)) throw new Error(`peer ${spec.name}: ${w} not found; bun run scripts/bench/peers.ts install${ctx.peersDir === DEFAULT_PEERS_DIR ? "" : ` ${ctx.peersDir}`}`);
  const env = Object.fromEntries(Object.entries(spec.env ?? {}).map(([k, v]) => [k, fill(v, values, ctx)]));
  const output = join(ctx.dir, `peer-${spec.name}.out`);
  const fd = openSync(output, "w");
  const proc = spawnTracked([...prefix, ...cmd], { cwd: dir, env: { ...childEnv(), ...env }, stdin: "ignore", stdout: fd, stderr: fd });
  closeSync(fd);
  const deadline = performance.now() + 30_000;
  while (!portListening(port)) {
    if (proc.exitCode !== null || proc.signalCode !== null) throw new Error(`peer ${spec.name} exited (${proc.exitCode ?? proc.signalCode}) before listening on ${port}:\n${outputTail(output)}`);
    if (performance.now() > deadline) throw new Error(`peer ${spec.name} did not listen on ${port} within 30 s:\n${outputTail(output)}`);
    await Bun.sleep(50);
  }
  return { spec, proc, port, output, pids: () => processTree(proc.pid) };
}

/** Stops a peer and then, by PID, whatever of its processes is left (a master's workers). */
export async function stopPeer(peer: RunningPeer): Promise<void> {
  const pids = peer.pids();
  peer.proc.kill("SIGTERM");
  await Promise.race([peer.proc.exited, Bun.sleep(3000)]);
  for (const pid of pids) {
    try {
      process.kill(pid, "SIGKILL");
    } catch {
      // Already gone, as it should be.
    }
  }
}
