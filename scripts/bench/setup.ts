/**
 * Everything `bun run bench` needs before it measures: its options, the tools
 * it will not install by itself, the CPUs to pin to, the proxy configurations
 * and the request bodies.
 */
import { existsSync, statSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { ALIAS, BACKEND_KEY, PROXY_KEY, UPSTREAM_MODEL, requestBody } from "./workload.ts";
import { allowedCpus } from "./processes.ts";
import type { Mode } from "./report.ts";

export interface Options {
  readonly durationS: number;
  readonly rounds: number;
  readonly out?: string;
  readonly binary?: string;
  readonly keep: boolean;
  /** Also measure a bare forwarder on the same runtime and client (scripts/bench/floor.ts). */
  readonly floor: boolean;
  /** A second llm-proxy measured in the same rounds: another checkout's source, or an executable. */
  readonly baseline?: Baseline;
  /** `--fleet`: many slow streams instead of the short-request bench. */
  readonly fleet?: FleetChoice;
  /** `--peer`: other proxies in front of the same provider. */
  readonly peers: readonly string[];
  readonly peersDir?: string;
  /** `--page`: a status page's live feed kept open on each llm-proxy under test (not the baseline's). */
  readonly page: boolean;
  /** `--keys N`: this checkout's proxies serve N keys of `keys:` (the ledger on); the baseline, the proxy key alone with no ledger. */
  readonly keys?: number;
  /** `--workers N`: the short-request bench against workers: 1 and workers: N instead (scripts/bench/workers-run.ts). */
  readonly workers?: number;
  /** Whether --duration / --rounds were given (the fleet run has its own defaults). */
  readonly given: ReadonlySet<string>;
}

export interface FleetChoice {
  readonly streams: readonly number[];
  readonly events: number;
  readonly intervalMs: number;
  readonly clients?: number;
  readonly translated: boolean;
}

export interface Baseline {
  readonly kind: "source" | "binary";
  /** The checkout folder (source) or the executable (binary), as given. */
  readonly path: string;
}

export const USAGE = `bun run bench [options]: llm-proxy against a fake provider, direct and through the proxy

Options:
  --duration S     seconds per measurement, a whole number (default 3)
  --rounds N       rounds of every measurement (default 3)
  --out FILE       also write the Markdown report to FILE
  --binary PATH    measure a compiled executable (bun run build --single) instead of the source
  --keep           keep the temporary folder (configs, proxy logs, wrk scripts) and print its path
  --floor          also measure a bare forwarder on the same runtime and upstream client, without
                   the proxy's own work: what the proxy costs above it is its own (takes ~40% longer)
  --baseline DIR   also measure the llm-proxy of another checkout (bun DIR/src/main.ts, same config),
                   interleaved in the same rounds; the report compares the two (takes ~50% longer;
                   DIR needs its own bun install)
  --baseline-binary PATH
                   the same with a compiled executable as the baseline
  --fleet          many slow streams instead: N streams open at once, each E small events I ms apart,
                   direct and through the proxy (see docs/benchmarks.md, "The fleet run")
  --streams LIST   fleet: the N to measure (default 250,1000,2500)
  --events E       fleet: events per stream (default 200)
  --interval-ms I  fleet: ms between events (default 25)
  --clients K      fleet: client processes (default: one per load CPU)
  --translated     fleet: also Anthropic clients to an OpenAI provider through the proxy's translation
                   (needs a proxy whose backends take protocol: openai)
  --peer SPEC      also measure another proxy: nginx, portkey, ccr, or NAME=COMMAND with {port},
                   {upstream}, {config}, {dir}, {file:PATH} placeholders; runs everything in a network
                   namespace of its own (root, ip). Repeatable. The short-request bench takes nginx,
                   original=PATH-COMMAND and other OpenAI-compatible peers; portkey and ccr, the fleet run
                   (their clients send other headers or another protocol)
  --peers-dir DIR  where scripts/bench/peers.ts installed the npm peers (default ~/.cache/llm-proxy-bench-peers)
  --keys N         this checkout's proxies with N keys of keys: (limits, budget, ledger on; requests
                   carry the first key) and, with --baseline, the baseline with the proxy key alone and
                   the ledger off: what keys and the ledger cost (--baseline . compares the same code)
  --workers N      instead: the short-request bench against two proxies, workers: 1 and workers: N,
                   CPU summed over each proxy's processes, the load generator's kept apart (pinned
                   when there are N + 2 CPUs or more; see docs/benchmarks.md, "Workers")
  --page           keep a status page's live feed (GET /status/events) open on this checkout's proxies
                   for the whole run, as a browser with the page open does
  --help           print this help

Needs Linux, wrk (apt-get install wrk) and, with two or more CPUs, taskset (apt-get install util-linux).
`;

export class SetupError extends Error {
  override name = "SetupError";
}

export function parseOptions(argv: readonly string[]): Options | "help" {
  let durationS = 3;
  let rounds = 3;
  let out: string | undefined;
  let binary: string | undefined;
  let keep = false;
  let floor = false;
  let baseline: Baseline | undefined;
  let fleet = false;
  let streams = [250, 1000, 2500];
  let events = 200;
  let intervalMs = 25;
  let clients: number | undefined;
  let translated = false;
  const peers: string[] = [];
  let peersDir: string | undefined;
  let page = false;
  let keys: number | undefined;
  let workers: number | undefined;
  const given = new Set<string>();
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    const [flag, inline] = arg.includes("=") ? [arg.slice(0, arg.indexOf("=")), arg.slice(arg.indexOf("=") + 1)] : [arg, undefined];
    const value = () => {
      const v = inline ?? argv[++i];
      if (v === undefined || v === "") throw new SetupError(`${flag} needs a value; see bun run bench --help`);
      return v;
    };
    const whole = (v: string, min: number) => {
      const n = Number(v);
      if (!Number.isInteger(n) || n < min) throw new SetupError(`${flag} needs a whole number of at least ${min}, got ${JSON.stringify(v)}${flag === "--duration" ? " (wrk takes whole seconds)" : ""}`);
      return n;
    };
    given.add(flag);
    switch (flag) {
      case "--fleet":
        fleet = true;
        break;
      case "--streams":
        streams = value().split(",").map((v) => whole(v.trim(), 1));
        break;
      case "--events":
        events = whole(value(), 1);
        if (events > 9999) throw new SetupError("--events takes at most 9999 (events carry a 4-digit index)");
        break;
      case "--interval-ms":
        intervalMs = whole(value(), 1);
        break;
      case "--clients":
        clients = whole(value(), 1);
        break;
      case "--translated":
        translated = true;
        break;
      case "--peer":
        peers.push(value());
        break;
      case "--peers-dir":
        peersDir = value();
        break;
      case "--page":
        page = true;
        break;
      case "--keys":
        keys = whole(value(), 1);
        break;
      case "--workers":
        workers = whole(value(), 2);
        break;
      case "--duration":
        durationS = whole(value(), 1);
        break;
      case "--rounds":
        rounds = whole(value(), 1);
        break;
      case "--out":
        out = value();
        break;
      case "--binary":
        binary = value();
        break;
      case "--keep":
        keep = true;
        break;
      case "--floor":
        floor = true;
        break;
      case "--baseline":
      case "--baseline-binary":
        if (baseline) throw new SetupError("give one --baseline or --baseline-binary, not both");
        baseline = { kind: flag === "--baseline" ? "source" : "binary", path: value() };
        break;
      case "--help":
      case "-h":
        return "help";
      default:
        throw new SetupError(`unknown argument ${JSON.stringify(arg)}; see bun run bench --help`);
    }
  }
  for (const f of ["--streams", "--events", "--interval-ms", "--clients", "--translated"]) {
    if (given.has(f) && !fleet) throw new SetupError(`${f} belongs to the fleet run: add --fleet`);
  }
  if (workers !== undefined) {
    const others = ["--fleet", "--floor", "--baseline", "--baseline-binary", "--keys", "--page", "--peer"].filter((f) => given.has(f));
    if (others.length > 0) throw new SetupError(`--workers is a run of its own: leave out ${others.join(", ")}`);
  }
  return { durationS, rounds, out, binary, keep, floor, baseline, fleet: fleet ? { streams, events, intervalMs, clients, translated } : undefined, peers, peersDir, page, keys, workers, given };
}

export interface Pinning {
  /** Command prefix for the proxy (`taskset -c 0`), empty when not pinned. */
  readonly proxy: readonly string[];
  /** Command prefix for the provider and the load generators. */
  readonly load: readonly string[];
  readonly proxyCpu?: number;
  readonly loadCpus: readonly number[];
  readonly description: string;
}

/** Checks the tools a fresh machine may lack, and says how to get them instead of installing anything. */
export function preflight(needWrk = true): Pinning {
  if (process.platform !== "linux") throw new SetupError(`runs on Linux only (it reads CPU time and memory from /proc); this is ${process.platform}`);
  if (needWrk && !Bun.which("wrk")) throw new SetupError("wrk is needed: apt-get install wrk");
  if (!Bun.which("getconf")) throw new SetupError("getconf is needed (for CLK_TCK): apt-get install libc-bin");
  const cpus = allowedCpus();
  if (cpus.length < 2) {
    return { proxy: [], load: [], loadCpus: cpus, description: `Not pinned: only ${cpus.length} CPU available, so the proxy shares it with the provider and the load generators` };
  }
  if (!Bun.which("taskset")) throw new SetupError("taskset is needed to pin the proxy to its own core: apt-get install util-linux");
  const [proxyCpu, ...loadCpus] = cpus as [number, ...number[]];
  return {
    proxy: ["taskset", "-c", String(proxyCpu)],
    load: ["taskset", "-c", loadCpus.join(",")],
    proxyCpu,
    loadCpus,
    description: `Proxy pinned to CPU ${proxyCpu}; provider, wrk, the stream client and this script to CPU ${loadCpus.join(",")} (taskset)`,
  };
}

/** A configuration in the shape of the shipped example, with the original's detection rules. */
/**
 * How the proxy's own users are set up: `plain` (the default: the proxy key, the ledger
 * on), `keys` (`--keys N`: N keys of `keys:` with limits and a budget, requests sent with
 * the first one, the ledger on) or `bare` (`--keys`'s baseline: the proxy key, no keys, no
 * ledger).
 */
export type Users = { readonly kind: "plain" } | { readonly kind: "keys"; readonly count: number } | { readonly kind: "bare" };

function usersBlock(users: Users): string {
  if (users.kind !== "keys") return `proxy_api_key: "${PROXY_KEY}"\n`;
  // The first key's value is the one every bench request carries: the requests go through its limits and into the ledger under its name.
  const keys = Array.from({ length: users.count }, (_, i) => `  - { name: "user-${i + 1}", key: "${i === 0 ? PROXY_KEY : `sk-bench-user-${i + 1}-0123456789abcdef`}", limits: { rpm: 100000000, tpm: 100000000000, concurrent: 100000 }, budget: { usd: 1000000, per: month } }`);
  return `keys:\n${keys.join("\n")}\n`;
}

/** `serving`: a fixed port and `workers:` (workers share one port, which must be known before they start). */
export function proxyConfig(providerPort: number, level: "info" | "error", logDir: string, users: Users = { kind: "plain" }, serving: { port: number; workers: number } = { port: 0, workers: 1 }): string {
  return `# Written by scripts/bench.ts: the shipped example's shape, the original's detection rules.
listen: "127.0.0.1:${serving.port}"
${serving.workers > 1 ? `workers: ${serving.workers}\n` : ""}${usersBlock(users)}
backends:
  - name: "primary"
    url: "http://127.0.0.1:${providerPort}/v1"
    api_key: "${BACKEND_KEY}"
  - name: "secondary"
    url: "http://127.0.0.1:9/v1"
    api_key: "sk-bench-secondary-key-000000000000"
    enabled: false

models:
  "${ALIAS}":
    routes:
      - backend: "primary"
        model: "${UPSTREAM_MODEL}"
        priority: 1
      - backend: "secondary"
        model: "${UPSTREAM_MODEL}"
        priority: 2
        enabled: false

fallback:
  cooldown_seconds: 60
  max_retries: 3

detection:
  error_codes: ["4xx", "5xx"]
  error_patterns:
    - "insufficient_quota"
    - "rate_limit"
    - "exceeded"
    - "billing"
    - "quota"

logging:
  level: "${level}"
  general_file: "${join(logDir, "proxy.log")}"
  mask_sensitive: true

# Each proxy its own ledger, as each instance of a real deployment (an older proxy warns about the key and ignores it).
usage:
  database: "${join(logDir, "..", "usage.db")}"
  enabled: ${users.kind === "bare" ? "false" : "true"}
`;
}

/** Writes each request body once; direct requests carry what the proxy would have sent upstream. */
export function writeBodies(dir: string, sizes: readonly number[]): (mode: Mode, viaProxy: boolean, size: number) => string {
  const files = new Map<string, string>();
  for (const mode of ["json", "stream"] as const) {
    for (const viaProxy of [false, true]) {
      for (const size of sizes) {
        const file = join(dir, `body-${mode}-${viaProxy ? "proxy" : "direct"}-${size}.json`);
        writeFileSync(file, requestBody(viaProxy ? ALIAS : UPSTREAM_MODEL, mode === "stream", size));
        files.set(`${mode}/${viaProxy}/${size}`, file);
      }
    }
  }
  return (mode, viaProxy, size) => {
    const file = files.get(`${mode}/${viaProxy}/${size}`);
    if (!file) throw new Error(`no ${mode} body of ${size} bytes was written`);
    return file;
  };
}

/** How to start the baseline: another checkout's `src/main.ts` under this Bun, or an executable. Checked before anything starts. */
export function baselineCommand(b: Baseline): { cmd: string[]; describe: string } {
  const path = resolve(b.path);
  if (b.kind === "binary") {
    if (!existsSync(path) || !statSync(path).isFile()) throw new SetupError(`--baseline-binary ${b.path}: no such file; bun run build --single makes dist/llm-proxy-<os>-<arch>`);
    return { cmd: [path], describe: `executable ${path}` };
  }
  const main = join(path, "src", "main.ts");
  if (!existsSync(main)) throw new SetupError(`--baseline ${b.path}: ${main} not found; give the folder of an llm-proxy checkout (git worktree add DIR COMMIT makes one)`);
  if (!existsSync(join(path, "node_modules"))) throw new SetupError(`--baseline ${b.path}: it has no node_modules; run \`bun install\` in ${path} first (its dependencies are its own)`);
  return { cmd: [process.execPath, main], describe: `source of ${path}` };
}
