#!/usr/bin/env bun
/**
 * `bun run bench`: how much llm-proxy costs in front of a provider. Starts a
 * fake OpenAI-compatible provider and the proxy from this checkout (or
 * `--binary PATH`), each its own process, pinned to separate cores; measures
 * non-streaming load with wrk and streaming load with a small verifying client,
 * direct and through the proxy, interleaved over several rounds; reads the
 * proxy's CPU time and peak RSS from /proc; prints a Markdown report with the
 * targets met or not (`--out FILE` writes it too). docs/benchmarks.md explains
 * every figure. Talks to 127.0.0.1 only; installs nothing.
 */
import { existsSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from "node:fs";
import { cpus as osCpus, release, tmpdir, totalmem } from "node:os";
import { join, resolve } from "node:path";
import { allowedCpus, childEnv, clockTicks, cpuTicks, selfTicksWithChildren, settleTree, waitForQuiet, watchCpus, killAllNow, outputTail, resetPeakRss, spawnTracked, startServing, stopAll, treePeakRssMiB, treeTicks, type Serving } from "./bench/processes.ts";
import { parsePeer, startPeer, stopPeer, DEFAULT_PEERS_DIR, type PeerSpec, type RunningPeer } from "./bench/peer-run.ts";
import { peerSection, peerTargets } from "./bench/peers-report.ts";
import { describeJob, fmtMs, fmtRate, interferenceNote, LARGE, LEVELS, MAIN, render, Results, SMALL, viaName, type Job, type Sample, type Via } from "./bench/report.ts";
import { baselineCommand, parseOptions, preflight, proxyConfig, SetupError, USAGE, writeBodies, type Options, type Pinning, type Users } from "./bench/setup.ts";
import { baselineTable } from "./bench/compare.ts";
import { MAX_REQUESTS, MAX_REQUESTS_ENV } from "../src/relaunch.ts";
import { runFleet } from "./bench/fleet-main.ts";
import { runWorkers } from "./bench/workers-run.ts";
import { NETNS_ENV, rerunInNamespace } from "./bench/netns.ts";
import type { StreamResult, StreamSpec } from "./bench/stream-client.ts";
import { runWrk, writeWrkScript } from "./bench/wrk.ts";
import { API_PATH, BACKEND_KEY, PROXY_KEY, UPSTREAM_MODEL } from "./bench/workload.ts";

const ROOT = join(import.meta.dir, "..");
const STREAM_CLIENT = join(import.meta.dir, "bench", "stream-client.ts");
const PROVIDER = join(import.meta.dir, "bench", "provider.ts");
const FLOOR = join(import.meta.dir, "bench", "floor.ts");
/** Between measurements: closing connections and the proxy's GC settle before the next one starts. */
const PAUSE_MS = 200;
const WARMUP_S = 2;
/** A measurement during which processes outside the benchmark (or hypervisor steal) took more than this share of a core is repeated. */
const NOISE_PCT = 10;
const MAX_REPEATS = 2;
/** Before repeating, wait up to this long for the other processes to finish. */
const QUIET_WAIT_MS = 10_000;
/** Waiting and repeating together add at most this much to a run, so that a busy machine still gives a bounded run. */
const EXTRA_BUDGET_MS = 90_000;
/** How long to wait, at most, for the proxy to finish work left over from a measurement (log writes, GC). */
const SETTLE_MS = 3000;
/**
 * Bun's fetch, the proxy's upstream client, runs at most 256 requests at once unless
 * this is set when the process starts; a proxy started without it starts itself
 * again with 65535 (src/relaunch.ts, execve in place). Setting the same value here
 * saves that second start and gives a baseline that predates it the same limit.
 */
const MAX_HTTP_REQUESTS = process.env[MAX_REQUESTS_ENV] || MAX_REQUESTS;

let work: string | undefined;
let keep = false;
let cleanup: Promise<void> | undefined;
/** Set by Ctrl+C or SIGTERM: the exit code, and a reason not to report the errors the interruption causes. */
let signalled: number | undefined;
const say = (line: string) => process.stderr.write(`${line}\n`);

/** Ends every child and removes the temporary folder, once, however many ways the run ends at the same time. */
async function shutdown(code: number): Promise<never> {
  cleanup ??= (async () => {
    await stopAll();
    if (work && !keep) rmSync(work, { recursive: true, force: true });
    else if (work) process.stderr.write(`bench: kept ${work}\n`);
  })();
  await cleanup;
  process.exit(signalled ?? code);
}

/** Set while the run goes on inside a network namespace: the copy in there stops its own processes. */
let delegating = false;

const interrupted = (signal: string, code: number) => () => {
  if (delegating) return;
  say(`bench: ${signal}; stopping every process it started`);
  signalled = code;
  void shutdown(code);
};

process.on("exit", killAllNow);
process.on("SIGINT", interrupted("interrupted", 130));
process.on("SIGTERM", interrupted("terminated", 143));

function sh(cmd: string[]): string {
  const r = Bun.spawnSync(cmd, { stderr: "ignore" });
  return r.success ? r.stdout.toString().trim() : "";
}

function machine(): string {
  // Called before this script pins itself, so nproc sees every CPU.
  const model = /Model name:\s*(.+)/.exec(sh(["lscpu"]))?.[1]?.trim() ?? osCpus()[0]?.model ?? "unknown CPU";
  return `${model}, ${allowedCpus().length} CPUs (nproc ${sh(["nproc"]) || "?"}), ${(totalmem() / 2 ** 30).toFixed(1)} GiB RAM, Linux ${release()}`;
}

/** This checkout's proxy, or the executable of `--binary`. */
const proxyCommand = (binary: string | undefined) => (binary ? [binary] : [process.execPath, join(ROOT, "src", "main.ts")]);

/** The report to stdout, and to `--out FILE` when given. */
function emit(report: string, out: string | undefined): void {
  process.stdout.write(`\n${report}`);
  if (out) {
    writeFileSync(out, report);
    say(`bench: report written to ${out}`);
  }
}

/** What source a proxy runs, read when it starts: a working tree can change while the benchmark runs. */
function commitOf(root: string): string {
  const head = sh(["git", "-C", root, "rev-parse", "--short=12", "HEAD"]) || "unknown";
  const changed = sh(["git", "-C", root, "status", "--porcelain", "--", "src"]);
  if (changed) {
    const diff = new Bun.CryptoHasher("sha256").update(sh(["git", "-C", root, "diff", "HEAD", "--", "src"])).digest("hex").slice(0, 12);
    return `${head} with uncommitted changes in src/ (${changed.split("\n").length} files; diff sha256 ${diff})`;
  }
  return sh(["git", "-C", root, "status", "--porcelain"]) ? `${head} (src/ as committed; other files changed)` : head;
}
const commit = () => commitOf(ROOT);

interface Bench {
  readonly pin: Pinning;
  readonly ticks: number;
  readonly dir: string;
  readonly provider: Serving;
  /** Everything measured that is not the provider: the proxies, the baseline's, the floor; all pinned to the proxy's core. */
  readonly proxies: Map<Via, Serving>;
  /** The bare forwarder of `--floor`. */
  readonly floor: Serving | undefined;
  readonly baseline: boolean;
  readonly body: ReturnType<typeof writeBodies>;
  readonly scripts: Map<string, string>;
  /** `--peer`: other proxies, pinned and measured like the proxy. */
  readonly peers: Map<Via, RunningPeer>;
  /** Verified answers served by each proxy (for log bytes per request). */
  readonly served: Map<Via, number>;
  peakReset: boolean;
}

async function runStreams(bench: Bench, port: number, key: string, bodyFile: string, concurrency: number, durationS: number): Promise<StreamResult | string> {
  const spec: StreamSpec = { port, path: API_PATH, key, bodyFile, concurrency, durationMs: durationS * 1000, timeoutMs: 10_000 };
  const proc = spawnTracked([...bench.pin.load, process.execPath, STREAM_CLIENT, JSON.stringify(spec)], { env: childEnv(), stdout: "pipe", stderr: "pipe" });
  const limit = setTimeout(() => proc.kill("SIGKILL"), spec.durationMs + spec.timeoutMs + 10_000);
  const [stdout, stderr, code] = await Promise.all([new Response(proc.stdout as ReadableStream).text(), new Response(proc.stderr as ReadableStream).text(), proc.exited]);
  clearTimeout(limit);
  if (code !== 0) return `stream client exited with ${code}: ${(stderr || stdout).trim().slice(0, 400)}`;
  try {
    return JSON.parse(stdout) as StreamResult;
  } catch {
    return `stream client printed no result: ${(stderr || stdout).trim().slice(0, 400)}`;
  }
}

/** The processes that serve a row: the proxy's own, or a peer's master and workers. */
const pidsOf = (bench: Bench, via: Via): number[] => bench.peers.get(via)?.pids() ?? [bench.proxies.get(via)!.pid];

/** Everything pinned to the proxy's core: the proxies, the baseline's, the floor and the peers. */
const proxyTicks = (bench: Bench) => [...bench.proxies.values()].reduce((n, s) => n + cpuTicks(s.pid), 0) + [...bench.peers.values()].reduce((n, p) => n + treeTicks(p.pids()), 0);

/** What a row's client sends: the key, and whether the body names the alias (llm-proxy) or the provider's model (direct, nginx). */
function clientOf(bench: Bench, via: Via): { key: string; alias: boolean } {
  const peer = bench.peers.get(via);
  if (via === "direct" || peer?.spec.client === "transparent") return { key: BACKEND_KEY, alias: false };
  if (peer?.spec.client === "nginx") return { key: PROXY_KEY, alias: false };
  return { key: PROXY_KEY, alias: true };
}

/** One wrk script per key and body, written when first needed. */
function wrkScript(bench: Bench, key: string, bodyFile: string): string {
  const id = `${key}|${bodyFile}`;
  let script = bench.scripts.get(id);
  if (!script) bench.scripts.set(id, (script = writeWrkScript(bench.dir, `wrk-${bench.scripts.size + 1}`, { path: API_PATH, key, bodyFile })));
  return script;
}

/** Other processes or the hypervisor took a noticeable share of a core: the figures would be low for reasons outside the proxy. */
const noisy = (s: Sample) => s.otherPct > NOISE_PCT || s.loadOtherPct > NOISE_PCT || s.stealPct > NOISE_PCT;

const ourTicks = (bench: Bench) => proxyTicks(bench) + cpuTicks(bench.provider.pid) + selfTicksWithChildren();

async function measure(bench: Bench, job: Job, durationS: number): Promise<Sample> {
  const viaProxy = job.via !== "direct";
  const peer = bench.peers.get(job.via);
  const server = job.via === "direct" ? bench.provider : (peer ? { name: peer.spec.name, proc: peer.proc, port: peer.port, output: peer.output } : bench.proxies.get(job.via));
  if (!server) throw new Error(`nothing was started for ${describeJob(job)}`);
  const { key, alias } = clientOf(bench, job.via);
  const pids = viaProxy ? pidsOf(bench, job.via) : [];
  for (const pid of pids) bench.peakReset = resetPeakRss(pid) && bench.peakReset;
  const before = treeTicks(pids);
  const pinned = bench.pin.proxyCpu !== undefined;
  const proxyCore = pinned ? watchCpus([bench.pin.proxyCpu!], () => proxyTicks(bench)) : undefined;
  const loadCores = pinned ? watchCpus(bench.pin.loadCpus, () => cpuTicks(bench.provider.pid) + selfTicksWithChildren()) : undefined;
  let sample: Omit<Sample, "cpuUs" | "rssMiB" | "otherPct" | "loadOtherPct" | "stealPct">;
  if (job.mode === "json") {
    const bodyFile = bench.body("json", alias, job.size);
    const w = await runWrk(wrkScript(bench, key, bodyFile), { port: server.port, path: API_PATH, key, bodyFile, concurrency: job.concurrency, durationS, prefix: bench.pin.load });
    sample = { ok: w.requests, rate: w.perSecond, p50: w.p50Ms, p99: w.p99Ms, ttfb50: NaN, ttfb99: NaN, failure: w.failure };
  } else {
    const s = await runStreams(bench, server.port, key, bench.body("stream", alias, job.size), job.concurrency, durationS);
    if (typeof s === "string") sample = { ok: 0, rate: 0, p50: NaN, p99: NaN, ttfb50: NaN, ttfb99: NaN, failure: s };
    else {
      const reasons = Object.entries(s.reasons).map(([why, n]) => `${why} ×${n}`).join(", ");
      sample = {
        ok: s.ok,
        rate: s.ok / (s.elapsedMs / 1000),
        p50: s.totalMs.p50,
        p99: s.totalMs.p99,
        ttfb50: s.ttfbMs.p50,
        ttfb99: s.ttfbMs.p99,
        failure: s.failures > 0 ? `${s.failures} failed streams (${reasons})` : s.ok === 0 ? "no stream completed" : undefined,
      };
    }
  }
  if (viaProxy && (server.proc.exitCode !== null || server.proc.signalCode !== null)) {
    throw new Error(`${server.name} exited (${server.proc.exitCode ?? server.proc.signalCode}) during ${describeJob(job)}:\n${outputTail(server.output)}`);
  }
  if (viaProxy) await settleTree(pids, SETTLE_MS);
  const cpuUs = viaProxy ? (((treeTicks(pids) - before) / bench.ticks) * 1e6) / Math.max(sample.ok, 1) : NaN;
  const rssMiB = viaProxy ? treePeakRssMiB(pids) : NaN;
  const onProxyCore = proxyCore?.() ?? { otherPct: NaN, stealPct: NaN };
  const onLoadCores = loadCores?.() ?? { otherPct: NaN, stealPct: NaN };
  bench.served.set(job.via, (bench.served.get(job.via) ?? 0) + sample.ok);
  return { ...sample, cpuUs, rssMiB, otherPct: onProxyCore.otherPct, loadOtherPct: onLoadCores.otherPct, stealPct: Math.max(onProxyCore.stealPct, onLoadCores.stealPct) };
}

function progress(label: string, job: Job, s: Sample): void {
  const what = job.mode === "json" ? "req/s" : "streams/s";
  const extra = job.mode === "json" ? `p50 ${fmtMs(s.p50)}  p99 ${fmtMs(s.p99)}` : `TTFB p50 ${fmtMs(s.ttfb50)}  stream p50 ${fmtMs(s.p50)}`;
  const cpu = Number.isFinite(s.cpuUs) ? `  CPU ${s.cpuUs.toFixed(1)} µs  RSS ${s.rssMiB.toFixed(1)} MiB` : "";
  const other = s.otherPct > 5 || s.loadOtherPct > 5 || s.stealPct > 5 ? `  (other processes: ${s.otherPct.toFixed(0)}% of the proxy's core, ${s.loadOtherPct.toFixed(0)}% of the load core; steal ${s.stealPct.toFixed(0)}%)` : "";
  say(`  ${label.padEnd(7)} ${describeJob(job).padEnd(42)} ${fmtRate(s.rate).padStart(7)} ${what.padEnd(9)} ${extra}${cpu}${other}${s.failure ? `  FAILED: ${s.failure}` : ""}`);
}

/**
 * One round: for each concurrency, direct and proxy (and the baseline, the floor)
 * back to back, the order flipped every other round so that neither the proxy nor
 * the baseline always goes first.
 */
function roundPlan(round: number, floor: boolean, baseline: boolean, peers: readonly Via[] = []): Job[] {
  const flip = (jobs: Job[]) => (round % 2 === 1 ? jobs.reverse() : jobs);
  const j = (mode: Job["mode"], via: Via, concurrency: number, size = SMALL): Job => ({ mode, via, concurrency, size });
  const b = (job: Job): Job[] => (baseline ? [job] : []);
  const p = (mode: Job["mode"], c: number) => peers.map((via) => j(mode, via, c));
  return LEVELS.flatMap((c) => [
    ...flip([
      j("json", "direct", c),
      j("json", "proxy", c),
      ...b(j("json", "baseline", c)),
      ...(c === MAIN ? [j("json", "proxy-quiet", c), ...b(j("json", "baseline-quiet", c))] : []),
      ...(floor ? [j("json", "floor", c)] : []),
      ...p("json", c),
    ]),
    ...(c === MAIN ? flip([j("json", "direct", c, LARGE), j("json", "proxy", c, LARGE), ...b(j("json", "baseline", c, LARGE))]) : []),
    ...flip([j("stream", "direct", c), j("stream", "proxy", c), ...b(j("stream", "baseline", c)), ...(floor ? [j("stream", "floor", c)] : []), ...p("stream", c)]),
  ]);
}

function logBytes(dir: string): number {
  return existsSync(dir) ? readdirSync(dir).reduce((n, f) => n + statSync(join(dir, f)).size, 0) : 0;
}

/** The provider and the two proxies (logging.level info and error; and the baseline's two), each pinned and checked to be the listening process. */
async function startAll(pin: Pinning, binary: string | undefined, dir: string, withFloor: boolean, baselineCmd: string[] | undefined, keys: number | undefined, peerSpecs: readonly PeerSpec[], peersDir: string): Promise<Bench> {
  const body = writeBodies(dir, [SMALL, LARGE]);
  const provider = await startServing("fake provider", [...pin.load, process.execPath, PROVIDER], join(dir, "provider.out"));
  const proxyCmd = proxyCommand(binary);
  const startProxy = async (name: string, level: "info" | "error", cmd = proxyCmd, tag = "proxy") => {
    const config = join(dir, `config-${tag}-${level}.yaml`);
    const users: Users = keys === undefined ? { kind: "plain" } : tag === "baseline" ? { kind: "bare" } : { kind: "keys", count: keys };
    writeFileSync(config, proxyConfig(provider.port, level, join(dir, `${tag}-${level}`, "logs"), users));
    // Spawned directly (not through `bun run`), so the PID is the serving process; startServing checks that it listens.
    const serving = await startServing(name, [...pin.proxy, ...cmd, "-config", config], join(dir, `${tag}-${level}.out`), {
      cwd: dir,
      env: { BUN_CONFIG_MAX_HTTP_REQUESTS: MAX_HTTP_REQUESTS },
    });
    const cpus = allowedCpus(serving.pid);
    if (pin.proxyCpu !== undefined && (cpus.length !== 1 || cpus[0] !== pin.proxyCpu)) throw new Error(`${name} runs on CPUs ${cpus.join(",")}, not on CPU ${pin.proxyCpu} alone`);
    return serving;
  };
  const proxies = new Map<Via, Serving>();
  proxies.set("proxy", await startProxy("llm-proxy (logging.level info)", "info"));
  proxies.set("proxy-quiet", await startProxy("llm-proxy (logging.level error)", "error"));
  if (baselineCmd) {
    proxies.set("baseline", await startProxy("baseline llm-proxy (logging.level info)", "info", baselineCmd, "baseline"));
    proxies.set("baseline-quiet", await startProxy("baseline llm-proxy (logging.level error)", "error", baselineCmd, "baseline"));
  }
  const floor = withFloor ? await startServing("bare forwarder (--floor)", [...pin.proxy, process.execPath, FLOOR, String(provider.port)], join(dir, "floor.out")) : undefined;
  if (floor) proxies.set("floor", floor);
  const peers = new Map<Via, RunningPeer>();
  for (const spec of peerSpecs) {
    // Pinned to the proxy's core like the proxy; an llm-proxy peer (the original) reads the same config as this checkout's.
    const llmProxyConfig = (port: number) => proxyConfig(provider.port, "info", join(dir, `peer-${spec.name}`, "logs"), { kind: "plain" }, { port, workers: 1 });
    peers.set(`peer:${spec.name}`, await startPeer(spec, { upstreamPort: provider.port, dir, peersDir, llmProxyConfig }, pin.proxy, UPSTREAM_MODEL));
  }
  say(`bench: provider PID ${provider.pid} on :${provider.port}; ${[...proxies].map(([via, s]) => `${viaName(via)} PID ${s.pid} on :${s.port}`).join("; ")}${[...peers].map(([via, p]) => `; ${viaName(via)} PIDs ${p.pids().join(",")} on :${p.port}`).join("")}`);
  return { pin, ticks: clockTicks(), dir, provider, proxies, peers, floor, baseline: baselineCmd !== undefined, body, scripts: new Map(), served: new Map(), peakReset: true };
}

/**
 * `--peer` in the short-request bench: peers whose clients are llm-proxy's own kind
 * (OpenAI requests, a bearer key). Portkey picks its provider by headers and ccr
 * takes Anthropic clients: both are measured by the fleet run.
 */
function shortRequestPeers(specs: readonly string[]): PeerSpec[] {
  return specs.map((arg) => {
    let spec: PeerSpec;
    try {
      spec = parsePeer(arg);
    } catch (error) {
      throw new SetupError((error as Error).message);
    }
    if (spec.client === "portkey" || spec.client === "ccr") throw new SetupError(`--peer ${spec.name}: measured by the fleet run only (bun run bench --fleet --peer ${spec.name}); the short-request bench takes nginx, original=COMMAND and other OpenAI-compatible peers`);
    return spec;
  });
}

/** `--page`: reads the proxy's status page feed for the rest of the run, as an open browser tab does. */
async function openPage(proxy: Serving): Promise<void> {
  const res = await fetch(`http://127.0.0.1:${proxy.port}/status/events`, { headers: { authorization: `Bearer ${PROXY_KEY}` } });
  if (!res.ok || !res.body) throw new Error(`${proxy.name}: GET /status/events answered ${res.status} (is ui on?)`);
  const reader = res.body.getReader();
  void (async () => {
    try {
      while (!(await reader.read()).done);
    } catch {
      // The proxy stopped at the end of the run.
    }
  })();
  say(`bench: ${proxy.name}: a status page feed is open`);
}

/** JIT and connection pools warm before anything counts; a failure here means the setup is broken, so the run stops. */
async function warmUp(bench: Bench): Promise<void> {
  say("bench: warming up");
  const jobs: Job[] = [
    { mode: "json", via: "direct", concurrency: MAIN, size: SMALL },
    { mode: "json", via: "proxy", concurrency: MAIN, size: SMALL },
    { mode: "json", via: "proxy-quiet", concurrency: MAIN, size: SMALL },
    { mode: "stream", via: "direct", concurrency: MAIN, size: SMALL },
    { mode: "stream", via: "proxy", concurrency: MAIN, size: SMALL },
    ...(bench.baseline
      ? [
          { mode: "json", via: "baseline", concurrency: MAIN, size: SMALL } as const,
          { mode: "json", via: "baseline-quiet", concurrency: MAIN, size: SMALL } as const,
          { mode: "stream", via: "baseline", concurrency: MAIN, size: SMALL } as const,
        ]
      : []),
    ...(bench.floor
      ? [
          { mode: "json", via: "floor", concurrency: MAIN, size: SMALL } as const,
          { mode: "stream", via: "floor", concurrency: MAIN, size: SMALL } as const,
        ]
      : []),
    ...[...bench.peers.keys()].flatMap((via): Job[] => [
      { mode: "json", via, concurrency: MAIN, size: SMALL },
      { mode: "stream", via, concurrency: MAIN, size: SMALL },
    ]),
  ];
  for (const job of jobs) {
    const s = await measure(bench, job, WARMUP_S);
    progress("warm-up", job, s);
    if (s.failure) {
      throw new Error(`warm-up failed (${describeJob(job)}: ${s.failure}); nothing would be measured.\nprovider:\n${outputTail(bench.provider.output)}\nproxy:\n${outputTail(bench.proxies.get(job.via)?.output ?? bench.proxies.get("proxy")!.output)}`);
    }
    await Bun.sleep(PAUSE_MS);
  }
}

async function runRounds(bench: Bench, options: Options): Promise<{ results: Results; repeats: number; waitedS: number }> {
  const results = new Results();
  let repeats = 0;
  let waitedMs = 0;
  let extraMs = 0;
  const cores = [...(bench.pin.proxyCpu === undefined ? [] : [bench.pin.proxyCpu]), ...bench.pin.loadCpus];
  for (let round = 0; round < options.rounds; round++) {
    say(`bench: round ${round + 1} of ${options.rounds}`);
    for (const job of roundPlan(round, bench.floor !== undefined, bench.baseline, [...bench.peers.keys()])) {
      let s = await measure(bench, job, options.durationS);
      progress(`r${round + 1}`, job, s);
      // Another user's test run on these cores would pass for a slow proxy: measure again.
      for (let again = 0; again < MAX_REPEATS && noisy(s) && extraMs < EXTRA_BUDGET_MS; again++) {
        const started = performance.now();
        repeats++;
        waitedMs += await waitForQuiet(cores, () => ourTicks(bench), Math.min(QUIET_WAIT_MS, EXTRA_BUDGET_MS - extraMs));
        s = await measure(bench, job, options.durationS);
        progress("again", job, s);
        extraMs += performance.now() - started;
      }
      results.add(job, round, s);
      await Bun.sleep(PAUSE_MS);
    }
  }
  return { results, repeats, waitedS: waitedMs / 1000 };
}

function notesFor(bench: Bench, dir: string, run: { results: Results; repeats: number; waitedS: number }): string[] {
  const notes: string[] = [];
  if (bench.pin.proxyCpu !== undefined) notes.push(interferenceNote(run.results, NOISE_PCT, run.repeats, run.waitedS));
  const infoLog = logBytes(join(dir, "proxy-info", "logs"));
  const infoServed = bench.served.get("proxy") ?? 0;
  if (infoServed > 0) {
    notes.push(
      `At \`logging.level: info\` the proxy wrote ${(infoLog / 2 ** 20).toFixed(1)} MiB to \`general_file\` (${(infoLog / infoServed).toFixed(0)} bytes per request) and the same lines to stdout (a file here), for ${infoServed.toLocaleString("en-US")} proxied requests and streams.`,
    );
  }
  notes.push(
    `Proxy CPU is utime + stime of the serving process itself (checked to own the listening socket; for a peer, of all its processes) from /proc/PID/stat, CLK_TCK ${bench.ticks}, over each whole wrk or stream-client run and until the proxy is idle again (work left behind, such as a log backlog or GC, counts), divided by verified answers.`,
  );
  return notes;
}

async function fleetMain(options: Options, pin: Pinning, dir: string, host: string, binary: string | undefined, baseline: { cmd: string[]; describe: string } | undefined): Promise<number> {
  say(`bench: ${pin.description}`);
  const source = binary ? "" : commit();
  const proxyName = `${binary ? `llm-proxy executable ${binary}` : "llm-proxy from source (`bun src/main.ts`)"} with ${MAX_REQUESTS_ENV}=${MAX_HTTP_REQUESTS}${baseline ? `; baseline: ${baseline.describe}` : ""}`;
  const { report, code } = await runFleet({
    options,
    pin,
    dir,
    proxyCmd: proxyCommand(binary),
    proxyName,
    baselineCmd: baseline?.cmd,
    env: { [MAX_REQUESTS_ENV]: MAX_HTTP_REQUESTS },
    loadCpus: pin.loadCpus.length,
    header: [
      `## llm-proxy fleet benchmark, ${new Date().toISOString().slice(0, 16).replace("T", " ")} UTC`,
      "",
      `\`${["bun run bench", ...process.argv.slice(2)].join(" ")}\`: Bun ${Bun.version}; commit ${binary ? commit() : source}${process.env[NETNS_ENV] ? `; inside network namespace ${process.env[NETNS_ENV]} (loopback only)` : ""}.`,
      `Machine: ${host}. ${pin.description}.`,
    ],
  });
  emit(report, options.out);
  return code;
}

/** `--workers N`: its own placement of processes (scripts/bench/workers-run.ts), so this script is not pinned. */
async function workersMain(options: Options, host: string, binary: string | undefined): Promise<number> {
  const dir = mkdtempSync(join(tmpdir(), "llm-proxy-bench-"));
  work = dir;
  keep = options.keep;
  const { report, code } = await runWorkers({
    options,
    dir,
    proxyCmd: proxyCommand(binary),
    proxyName: `${binary ? `llm-proxy executable ${binary}` : "llm-proxy from source (`bun src/main.ts`)"} with ${MAX_REQUESTS_ENV}=${MAX_HTTP_REQUESTS}`,
    env: { [MAX_REQUESTS_ENV]: MAX_HTTP_REQUESTS },
    header: [
      `## llm-proxy workers benchmark, ${new Date().toISOString().slice(0, 16).replace("T", " ")} UTC`,
      "",
      `\`${["bun run bench", ...process.argv.slice(2)].join(" ")}\`: Bun ${Bun.version}; commit ${commit()}.`,
      `Machine: ${host}.`,
    ],
  });
  emit(report, options.out);
  return code;
}

async function main(): Promise<number> {
  const parsed = parseOptions(process.argv.slice(2));
  if (parsed === "help") {
    process.stdout.write(USAGE);
    return 0;
  }
  const options = parsed;
  // Checked here, before the run starts again inside a namespace, so a wrong --peer says so and not something about namespaces.
  const peerSpecs = !options.fleet && options.workers === undefined ? shortRequestPeers(options.peers) : [];
  if (options.peers.length > 0 && !process.env[NETNS_ENV]) {
    delegating = true;
    return rerunInNamespace();
  }
  const pin = preflight(!options.fleet);
  const host = machine();
  const binary = options.binary ? resolve(options.binary) : undefined;
  if (binary && !existsSync(binary)) throw new SetupError(`--binary ${options.binary}: no such file; bun run build --single makes dist/llm-proxy-<os>-<arch>`);
  const baseline = options.baseline ? baselineCommand(options.baseline) : undefined;
  if (options.workers !== undefined) return workersMain(options, host, binary);
  // This script's own work (spawning, reading /proc) stays off the proxy's core too.
  if (pin.proxy.length > 0) Bun.spawnSync(["taskset", "-a", "-p", "-c", pin.loadCpus.join(","), String(process.pid)], { stdout: "ignore" });

  const dir = mkdtempSync(join(tmpdir(), "llm-proxy-bench-"));
  work = dir;
  keep = options.keep;
  if (options.fleet) return fleetMain(options, pin, dir, host, binary, baseline);
  const peerVias = peerSpecs.map((p): Via => `peer:${p.name}`);
  const perRound = roundPlan(0, options.floor, baseline !== undefined, peerVias).length;
  const warmUps = 5 + (options.floor ? 2 : 0) + (baseline ? 3 : 0) + 2 * peerSpecs.length;
  const estimate = Math.round(options.rounds * perRound * (options.durationS + 0.7) + warmUps * (WARMUP_S + 0.7) + 5);
  say(`bench: ${options.rounds} rounds × ${perRound} measurements × ${options.durationS} s: about ${estimate} s, and up to ${EXTRA_BUDGET_MS / 1000} s more if other processes interfere`);
  say(`bench: ${pin.description}`);

  const source = binary ? "" : commit();
  if (options.keys !== undefined && options.page) throw new SetupError("--keys and --page do not go together: with --keys the proxy has no proxy key for the page's feed");
  const bench = await startAll(pin, binary, dir, options.floor, baseline?.cmd, options.keys, peerSpecs, options.peersDir ?? DEFAULT_PEERS_DIR);
  if (options.page) for (const via of ["proxy", "proxy-quiet"] as const) await openPage(bench.proxies.get(via)!);
  await warmUp(bench);
  const run = await runRounds(bench, options);
  for (const peer of bench.peers.values()) await stopPeer(peer);
  const report = render(run.results, {
    date: `${new Date().toISOString().slice(0, 16).replace("T", " ")} UTC`,
    command: ["bun run bench", ...process.argv.slice(2)].join(" "),
    proxy: `${binary ? `llm-proxy executable ${binary} (${sh([binary, "--version"]) || "version unknown"})` : "llm-proxy from source (`bun src/main.ts`)"} with BUN_CONFIG_MAX_HTTP_REQUESTS=${MAX_HTTP_REQUESTS} (as \`bun run start\`)`,
    bun: binary ? `${Bun.version} (running this script; the executable carries its own)` : Bun.version,
    commit: binary ? commit() : source,
    machine: host,
    pinning: pin.description,
    rounds: options.rounds,
    durationS: options.durationS,
    peakNote: bench.peakReset
      ? "Peak RSS: VmHWM after each measurement, reset before it (clear_refs), highest over rounds."
      : "Peak RSS: VmHWM since the proxy started (it could not be reset), so it includes earlier measurements.",
    notes: notesFor(bench, dir, run),
  }, [
    ...(baseline ? baselineTable(run.results, `${baseline.describe}${options.baseline?.kind === "source" ? `, commit ${commitOf(resolve(options.baseline.path))}` : ""}`) : []),
    ...peerSection(run.results, peerSpecs.map((p) => ({ via: `peer:${p.name}` as Via, spec: p }))),
  ], peerTargets(run.results, peerVias));
  emit(report, options.out);
  return run.results.failures().length > 0 ? 1 : 0;
}

main().then(
  (code) => shutdown(code),
  (error: Error) => {
    if (signalled === undefined) say(`bench: ${error instanceof SetupError ? error.message : (error.stack ?? error.message)}`);
    return shutdown(error instanceof SetupError ? 2 : 1);
  },
);
