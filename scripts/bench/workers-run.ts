/**
 * `bun run bench --workers N`: the short-request bench (non-streaming, wrk) against
 * two llm-proxies in front of the same provider, one with `workers: 1` and one with
 * `workers: N`, in the same rounds. CPU is summed over every process of a proxy
 * (the primary and its workers); what wrk, the provider and this script use is
 * measured as well and kept apart, so the report can say how many cores the proxy
 * had left and what the scaling factor can and cannot show on this machine.
 */
import { join } from "node:path";
import { writeFileSync } from "node:fs";
import { allowedCpus, clockTicks, cpuStat, cpuTicks, listeningPorts, freePort, processTree, resetPeakRss, selfTicksWithChildren, settleTree, startServing, treePeakRssMiB, treeTicks, type Serving } from "./processes.ts";
import { fmtMs, fmtRate, median } from "./report.ts";
import { proxyConfig, writeBodies, type Options } from "./setup.ts";
import { runWrk, writeWrkScript } from "./wrk.ts";
import { API_PATH, BACKEND_KEY, PROXY_KEY } from "./workload.ts";

const say = (line: string) => process.stderr.write(`${line}\n`);
const LEVELS = [64, 256] as const;
const WARMUP_S = 2;
const PAUSE_MS = 200;
const SETTLE_MS = 3000;
const SIZE = 1024;

export interface WorkersContext {
  readonly options: Options;
  readonly dir: string;
  readonly proxyCmd: readonly string[];
  readonly proxyName: string;
  readonly env: Record<string, string>;
  readonly header: readonly string[];
}

type Via = "direct" | "one" | "many";

interface Sample {
  readonly rate: number;
  readonly p50: number;
  readonly ok: number;
  /** Proxy CPU per answer, all its processes, until idle again (µs). */
  readonly cpuUs: number;
  /** Cores each side kept busy during the wrk run: CPU seconds over wall seconds. */
  readonly proxyCores: number;
  readonly loadCores: number;
  /** Busy time of the CPUs this run may use, minus ours: other processes. */
  readonly otherCores: number;
  /** Time nothing ran (idle, iowait). */
  readonly idleCores: number;
  /** Interrupts (irq, softirq) and hypervisor steal: time no process is charged for. */
  readonly kernelCores: number;
  /** Each process's share of the proxy's CPU, primary first (%). */
  readonly split: readonly number[];
  readonly rssMiB: number;
  readonly failure?: string;
}

interface Placement {
  readonly proxy: readonly string[];
  readonly load: readonly string[];
  readonly loadCpus: readonly number[];
  readonly cpus: readonly number[];
  readonly pinned: boolean;
  readonly description: string;
}

/** With N + 2 CPUs or more the proxies get N of them and the load the rest; with fewer, everything shares every CPU. */
function placement(workers: number): Placement {
  const cpus = allowedCpus();
  if (cpus.length >= workers + 2 && Bun.which("taskset")) {
    const mine = cpus.slice(0, workers);
    const rest = cpus.slice(workers);
    return {
      proxy: ["taskset", "-c", mine.join(",")],
      load: ["taskset", "-c", rest.join(",")],
      loadCpus: rest,
      cpus,
      pinned: true,
      description: `Both proxies on CPUs ${mine.join(",")} (${workers} cores, taskset); provider, wrk and this script on CPUs ${rest.join(",")}`,
    };
  }
  return {
    proxy: [],
    load: [],
    loadCpus: cpus,
    cpus,
    pinned: false,
    description: `Not pinned: ${cpus.length} CPUs, fewer than the ${workers + 2} needed to give ${workers} proxy processes cores of their own beside the load, so the proxies, the provider and wrk share all of them`,
  };
}

/** Waits until `count` processes of the tree listen on the port: the primary and every worker it starts. */
async function allListening(s: Serving, count: number, timeoutMs = 20_000): Promise<number[]> {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    const tree = processTree(s.pid);
    const serving = tree.filter((pid) => listeningPorts(pid).includes(s.port));
    if (serving.length >= count) return tree;
    if (s.proc.exitCode !== null || s.proc.signalCode !== null) throw new Error(`${s.name} exited before its ${count} processes listened`);
    if (performance.now() > deadline) throw new Error(`${s.name}: ${serving.length} of ${count} processes listen on :${s.port} after ${timeoutMs} ms`);
    await Bun.sleep(50);
  }
}

interface Bench {
  readonly place: Placement;
  readonly ticks: number;
  readonly provider: Serving;
  readonly proxies: ReadonlyMap<Exclude<Via, "direct">, { serving: Serving; count: number }>;
  readonly scripts: ReadonlyMap<boolean, string>;
  readonly bodies: (viaProxy: boolean) => string;
}

const busyOf = (cpus: readonly number[]) => cpus.map(cpuStat).reduce((a, b) => ({ busy: a.busy + b.busy, idle: a.idle + b.idle, total: a.total + b.total }), { busy: 0, idle: 0, total: 0 });

async function measure(bench: Bench, via: Via, concurrency: number, durationS: number): Promise<Sample> {
  const proxy = via === "direct" ? undefined : bench.proxies.get(via)!;
  const server = proxy?.serving ?? bench.provider;
  const tree = proxy ? await allListening(proxy.serving, proxy.count) : [];
  const per = (pids: readonly number[]) => pids.map((pid) => treeTicks([pid]));
  for (const pid of tree) resetPeakRss(pid);
  const startedPer = per(tree);
  const proxyBefore = treeTicks(tree);
  const loadBefore = cpuTicks(bench.provider.pid) + selfTicksWithChildren();
  const machineBefore = busyOf(bench.place.cpus);
  const wallStart = performance.now();
  const viaProxy = via !== "direct";
  const w = await runWrk(bench.scripts.get(viaProxy)!, { port: server.port, path: API_PATH, key: viaProxy ? PROXY_KEY : BACKEND_KEY, bodyFile: bench.bodies(viaProxy), concurrency, durationS, prefix: bench.place.load });
  const wallS = (performance.now() - wallStart) / 1000;
  const proxyDuring = treeTicks(tree) - proxyBefore;
  const loadDuring = cpuTicks(bench.provider.pid) + selfTicksWithChildren() - loadBefore;
  const machine = busyOf(bench.place.cpus);
  const busy = machine.busy - machineBefore.busy;
  const idle = machine.idle - machineBefore.idle;
  const windowTicks = Math.max(machine.total - machineBefore.total, 1);
  if (proxy) await settleTree(tree, SETTLE_MS);
  const proxyAll = treeTicks(tree) - proxyBefore;
  const split = per(tree).map((t, i) => t - startedPer[i]!);
  const splitSum = split.reduce((a, b) => a + b, 0) || 1;
  const cores = (t: number) => t / bench.ticks / wallS;
  const cpuCount = bench.place.cpus.length;
  return {
    rate: w.perSecond,
    p50: w.p50Ms,
    ok: w.requests,
    cpuUs: proxy ? ((proxyAll / bench.ticks) * 1e6) / Math.max(w.requests, 1) : NaN,
    proxyCores: cores(proxyDuring),
    loadCores: cores(loadDuring),
    otherCores: Math.max(0, ((busy - proxyDuring - loadDuring) / windowTicks) * cpuCount),
    idleCores: Math.max(0, (idle / windowTicks) * cpuCount),
    kernelCores: Math.max(0, ((windowTicks - busy - idle) / windowTicks) * cpuCount),
    // Processes that did nothing (a launcher such as taskset is gone; bun's own helpers) are left out.
    split: split.filter((t) => t > 0).map((t) => (t / splitSum) * 100),
    rssMiB: proxy ? treePeakRssMiB(tree) : NaN,
    failure: w.failure,
  };
}

async function start(ctx: WorkersContext, place: Placement): Promise<Bench> {
  const { dir } = ctx;
  const workers = ctx.options.workers!;
  const body = writeBodies(dir, [SIZE]);
  const bodies = (viaProxy: boolean) => body("json", viaProxy, SIZE);
  const scripts = new Map<boolean, string>();
  for (const viaProxy of [false, true]) scripts.set(viaProxy, writeWrkScript(dir, `wrk-${viaProxy ? "proxy" : "direct"}`, { path: API_PATH, key: viaProxy ? PROXY_KEY : BACKEND_KEY, bodyFile: bodies(viaProxy) }));
  const provider = await startServing("fake provider", [...place.load, process.execPath, join(import.meta.dir, "provider.ts")], join(dir, "provider.out"));
  const proxies = new Map<Exclude<Via, "direct">, { serving: Serving; count: number }>();
  for (const [via, count] of [["one", 1], ["many", workers]] as const) {
    const tag = `workers-${count}`;
    const config = join(dir, `config-${tag}.yaml`);
    // Workers share one port through reusePort: it must be known before the primary starts them, so not 0.
    writeFileSync(config, proxyConfig(provider.port, "info", join(dir, tag, "logs"), { kind: "plain" }, { port: freePort(), workers: count }));
    const serving = await startServing(`llm-proxy (workers: ${count})`, [...place.proxy, ...ctx.proxyCmd, "-config", config], join(dir, `${tag}.out`), { cwd: dir, env: ctx.env });
    await allListening(serving, count);
    proxies.set(via, { serving, count });
  }
  return { place, ticks: clockTicks(), provider, proxies, scripts, bodies };
}

const nameOf = (via: Via, n: number) => (via === "direct" ? "direct" : `workers: ${via === "one" ? 1 : n}`);

function progress(label: string, via: Via, n: number, c: number, s: Sample): void {
  const name = nameOf(via, n);
  const cpu = Number.isFinite(s.cpuUs) ? `  CPU ${s.cpuUs.toFixed(1)} µs/req, ${s.proxyCores.toFixed(2)} cores (${s.split.map((p) => `${p.toFixed(0)}%`).join(" + ")})  RSS ${s.rssMiB.toFixed(1)} MiB` : "";
  say(`  ${label.padEnd(7)} c=${String(c).padEnd(4)} ${name.padEnd(11)} ${fmtRate(s.rate).padStart(7)} req/s  p50 ${fmtMs(s.p50)}${cpu}  load ${s.loadCores.toFixed(2)} cores  other ${s.otherCores.toFixed(2)}  irq+steal ${s.kernelCores.toFixed(2)}  idle ${s.idleCores.toFixed(2)}${s.failure ? `  FAILED: ${s.failure}` : ""}`);
}

export async function runWorkers(ctx: WorkersContext): Promise<{ report: string; code: number }> {
  const n = ctx.options.workers!;
  const place = placement(n);
  // This script's own work (spawning, reading /proc) stays off the proxies' cores when they have their own.
  if (place.pinned) Bun.spawnSync(["taskset", "-a", "-p", "-c", place.loadCpus.join(","), String(process.pid)], { stdout: "ignore" });
  const { rounds, durationS } = ctx.options;
  say(`bench: workers: 1 against workers: ${n}, non-streaming, c = ${LEVELS.join(", ")}, ${rounds} rounds × ${LEVELS.length * 3} measurements × ${durationS} s: about ${Math.round(rounds * LEVELS.length * 3 * (durationS + 0.8) + 3 * (WARMUP_S + 0.8) + 5)} s`);
  say(`bench: ${place.description}`);
  const bench = await start(ctx, place);
  say(`bench: provider PID ${bench.provider.pid} on :${bench.provider.port}; ${[...bench.proxies.values()].map((p) => `${p.serving.name} PID ${p.serving.pid} on :${p.serving.port}`).join("; ")}`);
  say("bench: warming up");
  for (const via of ["direct", "one", "many"] as const) {
    const s = await measure(bench, via, 64, WARMUP_S);
    progress("warm-up", via, n, 64, s);
    if (s.failure) throw new Error(`warm-up failed (${nameOf(via, n)}): ${s.failure}`);
    await Bun.sleep(PAUSE_MS);
  }
  const results = new Map<string, Sample[]>();
  const failures: string[] = [];
  for (let round = 0; round < rounds; round++) {
    say(`bench: round ${round + 1} of ${rounds}`);
    for (const c of LEVELS) {
      const order: Via[] = round % 2 === 0 ? ["direct", "one", "many"] : ["many", "one", "direct"];
      for (const via of order) {
        const s = await measure(bench, via, c, durationS);
        progress(`r${round + 1}`, via, n, c, s);
        if (s.failure) failures.push(`round ${round + 1}, c=${c}, ${nameOf(via, n)}: ${s.failure}`);
        else results.set(`${via}/${c}`, [...(results.get(`${via}/${c}`) ?? []), s]);
        await Bun.sleep(PAUSE_MS);
      }
    }
  }
  return { report: render(ctx, n, place, results, failures), code: failures.length > 0 ? 1 : 0 };
}

const fmt2 = (x: number) => (Number.isFinite(x) ? x.toFixed(2) : "—");
const fmtX = (x: number) => (Number.isFinite(x) ? `${x.toFixed(2)}×` : "—");

function render(ctx: WorkersContext, n: number, place: Placement, results: Map<string, Sample[]>, failures: string[]): string {
  const pick = (via: Via, c: number, f: (s: Sample) => number) => median((results.get(`${via}/${c}`) ?? []).map(f));
  const lines = [...ctx.header, `Proxy: ${ctx.proxyName}. ${place.description}. ${ctx.options.rounds} rounds of ${ctx.options.durationS} s per measurement, medians over rounds; wrk -t1, 1 KiB bodies, \`logging.level: info\`.`, ""];
  for (const c of LEVELS) {
    const one = (f: (s: Sample) => number) => pick("one", c, f);
    const many = (f: (s: Sample) => number) => pick("many", c, f);
    const rows: [string, string, string, string][] = [
      ["req/s", fmtRate(one((s) => s.rate)), fmtRate(many((s) => s.rate)), fmtX(many((s) => s.rate) / one((s) => s.rate))],
      ["p50 latency", fmtMs(one((s) => s.p50)), fmtMs(many((s) => s.p50)), ""],
      ["proxy CPU per request (all its processes)", `${one((s) => s.cpuUs).toFixed(1)} µs`, `${many((s) => s.cpuUs).toFixed(1)} µs`, fmtX(many((s) => s.cpuUs) / one((s) => s.cpuUs))],
      ["cores the proxy kept busy", fmt2(one((s) => s.proxyCores)), fmt2(many((s) => s.proxyCores)), ""],
      ["req/s per busy proxy core", fmtRate(one((s) => s.rate / s.proxyCores)), fmtRate(many((s) => s.rate / s.proxyCores)), fmtX(many((s) => s.rate / s.proxyCores) / one((s) => s.rate / s.proxyCores))],
      ["cores wrk, the provider and this script kept busy", fmt2(one((s) => s.loadCores)), fmt2(many((s) => s.loadCores)), ""],
      ["cores left idle", fmt2(one((s) => s.idleCores)), fmt2(many((s) => s.idleCores)), ""],
      ["cores in interrupts (irq, softirq) and steal", fmt2(one((s) => s.kernelCores)), fmt2(many((s) => s.kernelCores)), ""],
      ["cores used by other processes", fmt2(one((s) => s.otherCores)), fmt2(many((s) => s.otherCores)), ""],
      ["peak RSS, all processes (each reset before the measurement)", `${one((s) => s.rssMiB).toFixed(1)} MiB`, `${many((s) => s.rssMiB).toFixed(1)} MiB`, ""],
    ];
    const split = (results.get(`many/${c}`) ?? []).at(-1)?.split ?? [];
    lines.push(`### c=${c}: direct ${fmtRate(pick("direct", c, (s) => s.rate))} req/s`, "", `| figure | workers: 1 | workers: ${n} | ratio |`, "|---|--:|--:|--:|", ...rows.map((r) => `| ${r.join(" | ")} |`), "");
    if (split.length > 0) lines.push(`With \`workers: ${n}\` the proxy's CPU went ${split.map((p) => `${p.toFixed(0)}%`).join(" / ")} to its processes (primary first, last round): how evenly the kernel spread the connections.`, "");
  }
  lines.push(...reading(n, place, (via, f) => pick(via, 64, f)));
  if (failures.length > 0) lines.push("", "**Failed measurements** (left out of the medians):", ...failures.map((f) => `- ${f}`));
  return `${lines.join("\n")}\n`;
}

/** What the figures can and cannot show here, in plain words, from the c=64 medians. */
function reading(n: number, place: Placement, at: (via: Via, f: (s: Sample) => number) => number): string[] {
  const factor = at("many", (s) => s.rate) / at("one", (s) => s.rate);
  const perCore = at("many", (s) => s.rate / s.proxyCores) / at("one", (s) => s.rate / s.proxyCores);
  const load = at("many", (s) => s.loadCores);
  const oneCores = at("one", (s) => s.proxyCores);
  const manyCores = at("many", (s) => s.proxyCores);
  const idle = at("many", (s) => s.idleCores);
  const cpus = place.cpus.length;
  const out = ["### Reading it (c=64)", ""];
  out.push(`- Scaling factor, req/s with \`workers: ${n}\` over \`workers: 1\`: **${fmtX(factor)}**. Proxy CPU per request ${perCore >= 1 ? "did not grow" : `grew ${((1 / perCore - 1) * 100).toFixed(0)}%`} with ${n} processes (req/s per busy proxy core ${fmtX(perCore)}).`);
  if (place.pinned) {
    out.push(`- The proxies had ${n} cores of their own and the load its own ${cpus - n}; ${idle > 0.3 ? `${fmt2(idle)} cores stayed idle, so the load side may have limited the run` : "the machine was busy throughout"}. \`workers: 1\` kept ${fmt2(oneCores)} cores busy (its main thread and Bun's HTTP client thread), \`workers: ${n}\` ${fmt2(manyCores)}.`);
  } else {
    const left = cpus - load;
    out.push(
      `- On this ${cpus}-CPU machine everything shares the CPUs: wrk, the provider and this script kept ${fmt2(load)} cores busy, leaving at most ${fmt2(left)} for the proxy, which used ${fmt2(manyCores)} with \`workers: ${n}\` against ${fmt2(oneCores)} with \`workers: 1\`${idle > 0.3 ? ` (${fmt2(idle)} cores idle)` : ""}. The factor is therefore capped near ${fmtX(left / oneCores)} here whatever the proxy does: it shows whether ${n} processes serialise on each other and what a second process costs per request, not how the proxy scales on a machine with free cores.`,
      `- On a machine with ${n + 2} or more CPUs this run pins the proxies to ${n} cores and the load to the rest; there the factor is the scaling factor. If CPU per request stays as it is here, ${n} processes would carry about ${fmtX((n * perCore) / oneCores)} of one process's requests on ${n} free cores (one process keeps ${fmt2(oneCores)} cores busy: its event loop and Bun's HTTP client thread): an estimate from this run, not a measurement.`,
    );
  }
  return out;
}
