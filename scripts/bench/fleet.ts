/**
 * `bun run bench --fleet`: many slow streams at once. For each N, each row (direct,
 * llm-proxy, the baseline, peers; and with `--translated` the Anthropic rows) keeps
 * N streams open through the same provider for a ramp and a window, and the
 * orchestrator reads the serving processes' CPU time and memory over the window.
 */
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { childEnv, clockTicks, cpuTicks, outputTail, resetPeakRss, settle, spawnTracked, startServing, treePeakRssMiB, treeRssMiB, treeTicks, watchCpus, type Serving } from "./processes.ts";
import type { Pinning } from "./setup.ts";
import type { ClientResult, ClientSpec } from "./fleet-client.ts";
import { clientRequest, fleetConfig, type Kind } from "./fleet-rows.ts";
import { FLEET_TRANSLATED_MODEL, Histogram, nowUs } from "./fleet-workload.ts";
import { startPeer, stopPeer, type PeerSpec, type RunningPeer } from "./peer-run.ts";
import { proxyConfig } from "./setup.ts";

const HERE = import.meta.dir;
const RAMP_MS = 1000;
/** Time for the client processes to start before their ramp begins. */
const LEAD_MS = 500;
const GRACE_MS = 10_000;

export interface FleetOptions {
  readonly streams: readonly number[];
  readonly events: number;
  readonly intervalMs: number;
  readonly windowS: number;
  readonly rounds: number;
  readonly clients: number;
  readonly translated: boolean;
  readonly peers: readonly PeerSpec[];
  readonly peersDir: string;
}

export interface Row {
  readonly id: string;
  readonly label: string;
  readonly kind: Kind;
  readonly port: number;
  readonly request: ReturnType<typeof clientRequest>;
  /** The serving processes, empty for direct. */
  readonly pids: () => number[];
  readonly alive: () => boolean;
  readonly output?: string;
}

export interface FleetSample {
  readonly events: number;
  readonly nominal: number;
  readonly perSecond: number;
  readonly p50Us: number;
  readonly p99Us: number;
  readonly maxUs: number;
  /** CPU time of the serving processes per 1,000 delivered events, ms; NaN for direct. */
  readonly cpuMsPer1000: number;
  /** Their CPU time in % of one core over the window. */
  readonly corePct: number;
  readonly peakMiB: number;
  readonly idleMiB: number;
  readonly ok: number;
  readonly failures: number;
  readonly reasons: Record<string, number>;
  readonly cut: number;
  readonly openAtWindow: number;
  /** The provider's and the clients' CPU in % of one core over the window. */
  readonly loadPct: number;
  /** Other processes on the proxy's core, %. */
  readonly otherPct: number;
}

export interface FleetBench {
  readonly provider: Serving;
  readonly rows: Row[];
  readonly peers: RunningPeer[];
  readonly ticks: number;
}

const servingRow = (id: string, label: string, kind: Kind, s: Serving, who: "llm-proxy", upstream: string): Row => ({
  id,
  label,
  kind,
  port: s.port,
  request: clientRequest(kind, who, upstream),
  pids: () => [s.pid],
  alive: () => s.proc.exitCode === null && s.proc.signalCode === null,
  output: s.output,
});

export async function startFleet(o: FleetOptions, pin: Pinning, dir: string, proxyCmd: string[], baselineCmd: string[] | undefined, env: Record<string, string>): Promise<FleetBench> {
  const provider = await startServing("fleet provider", [...pin.load, process.execPath, join(HERE, "fleet-provider.ts"), JSON.stringify({ events: o.events, intervalMs: o.intervalMs })], join(dir, "fleet-provider.out"));
  const upstream = `http://127.0.0.1:${provider.port}`;
  const startProxy = async (name: string, cmd: string[], tag: string) => {
    const config = join(dir, `fleet-${tag}.yaml`);
    writeFileSync(config, fleetConfig(provider.port, join(dir, `fleet-${tag}`, "logs"), o.translated));
    return startServing(name, [...pin.proxy, ...cmd, "-config", config], join(dir, `fleet-${tag}.out`), { cwd: dir, env });
  };
  const proxy = await startProxy("llm-proxy", proxyCmd, "proxy");
  const baseline = baselineCmd ? await startProxy("baseline llm-proxy", baselineCmd, "baseline") : undefined;
  const peers: RunningPeer[] = [];
  for (const spec of o.peers) {
    if (spec.protocol === "anthropic" && !o.translated) throw new Error(`peer ${spec.name} serves Anthropic clients only: add --translated`);
    peers.push(await startPeer(spec, { upstreamPort: provider.port, dir, peersDir: o.peersDir, llmProxyConfig: (port) => proxyConfig(provider.port, "info", join(dir, `peer-${spec.name}`, "logs")).replace('listen: "127.0.0.1:0"', `listen: "127.0.0.1:${port}"`) }, pin.proxy, FLEET_TRANSLATED_MODEL));
  }
  const rows: Row[] = [];
  const direct = (kind: Kind): Row => ({ id: `direct/${kind}`, label: kind === "passthrough" ? "direct" : "direct (Anthropic, served by the provider)", kind, port: provider.port, request: clientRequest(kind, "direct", upstream), pids: () => [], alive: () => true });
  for (const kind of ["passthrough", ...(o.translated ? ["translated" as const] : [])] as Kind[]) {
    rows.push(direct(kind));
    rows.push(servingRow(`proxy/${kind}`, "llm-proxy", kind, proxy, "llm-proxy", upstream));
    if (baseline) rows.push(servingRow(`baseline/${kind}`, "baseline llm-proxy", kind, baseline, "llm-proxy", upstream));
    for (const peer of peers) {
      if ((peer.spec.protocol === "anthropic") !== (kind === "translated")) continue;
      rows.push({ id: `${peer.spec.name}/${kind}`, label: peer.spec.name, kind, port: peer.port, request: clientRequest(kind, peer.spec.client, upstream), pids: peer.pids, alive: () => peer.proc.exitCode === null && peer.proc.signalCode === null, output: peer.output });
    }
  }
  return { provider, rows, peers, ticks: clockTicks() };
}

export const stopFleetPeers = (bench: FleetBench) => Promise.all(bench.peers.map(stopPeer));

async function runClient(pin: Pinning, spec: ClientSpec): Promise<{ pid: number; result: Promise<ClientResult | string> }> {
  const proc = spawnTracked([...pin.load, process.execPath, join(HERE, "fleet-client.ts"), JSON.stringify(spec)], { env: childEnv(), stdout: "pipe", stderr: "pipe" });
  const limit = setTimeout(() => proc.kill("SIGKILL"), LEAD_MS + spec.rampMs + spec.windowMs + 20_000);
  const result = (async () => {
    const [stdout, stderr, code] = await Promise.all([new Response(proc.stdout as ReadableStream).text(), new Response(proc.stderr as ReadableStream).text(), proc.exited]);
    clearTimeout(limit);
    if (code !== 0) return `fleet client exited with ${code}: ${(stderr || stdout).trim().slice(0, 400)}`;
    try {
      return JSON.parse(stdout) as ClientResult;
    } catch {
      return `fleet client printed no result: ${(stderr || stdout).trim().slice(0, 400)}`;
    }
  })();
  return { pid: proc.pid, result };
}

const safeTicks = (pid: number) => {
  try {
    return cpuTicks(pid);
  } catch {
    // The client exited already; its time is no longer readable here.
    return 0;
  }
};

export async function measureFleet(bench: FleetBench, o: FleetOptions, pin: Pinning, row: Row, n: number, windowS: number): Promise<FleetSample | string> {
  const pids = row.pids();
  for (const pid of pids) resetPeakRss(pid);
  const idleMiB = pids.length ? treeRssMiB(pids) : NaN;
  const startAtUs = nowUs() + LEAD_MS * 1000;
  const k = Math.max(1, Math.min(o.clients, n));
  const clients = await Promise.all(
    Array.from({ length: k }, (_, i) =>
      runClient(pin, {
        port: row.port,
        ...row.request,
        events: o.events,
        intervalMs: o.intervalMs,
        streams: Math.floor(n / k) + (i < n % k ? 1 : 0),
        first: i,
        stride: k,
        total: n,
        startAtUs,
        rampMs: RAMP_MS,
        windowMs: windowS * 1000,
        graceMs: GRACE_MS,
      }),
    ),
  );
  const sleepUntil = (us: number) => Bun.sleep(Math.max(0, (us - nowUs()) / 1000));
  const windowStart = startAtUs + RAMP_MS * 1000;
  await sleepUntil(windowStart);
  const load = () => cpuTicks(bench.provider.pid) + clients.reduce((t, c) => t + safeTicks(c.pid), 0);
  const ours = () => treeTicks(row.pids().length ? row.pids() : []);
  const proxyCore = pin.proxyCpu !== undefined ? watchCpus([pin.proxyCpu], ours) : undefined;
  const cpuBefore = ours();
  const loadBefore = load();
  const t0 = nowUs();
  await sleepUntil(windowStart + windowS * 1_000_000);
  const cpuAfter = ours();
  const loadAfter = load();
  const seconds = (nowUs() - t0) / 1e6;
  const peakMiB = pids.length ? treePeakRssMiB(row.pids()) : NaN;
  const other = proxyCore?.().otherPct ?? NaN;
  const results = await Promise.all(clients.map((c) => c.result));
  const broken = results.find((r): r is string => typeof r === "string");
  if (broken) return broken;
  if (!row.alive()) return `${row.label} exited during the measurement:\n${row.output ? outputTail(row.output) : ""}`;
  if (pids.length) await settle(pids[0]!, 3000);
  const all = results as ClientResult[];
  const delays = new Histogram();
  const reasons: Record<string, number> = {};
  for (const r of all) {
    delays.merge(r.delays);
    for (const [why, count] of Object.entries(r.reasons)) reasons[why] = (reasons[why] ?? 0) + count;
  }
  const events = all.reduce((s, r) => s + r.events, 0);
  const cpuS = (cpuAfter - cpuBefore) / bench.ticks;
  return {
    events,
    nominal: (n * windowS * 1000) / o.intervalMs,
    perSecond: events / windowS,
    p50Us: delays.percentile(50),
    p99Us: delays.percentile(99),
    maxUs: delays.max,
    cpuMsPer1000: pids.length && events > 0 ? (cpuS * 1000) / (events / 1000) : NaN,
    corePct: pids.length ? (cpuS / seconds) * 100 : NaN,
    peakMiB,
    idleMiB,
    ok: all.reduce((s, r) => s + r.ok, 0),
    failures: all.reduce((s, r) => s + r.failures, 0),
    reasons,
    cut: all.reduce((s, r) => s + r.cut, 0),
    openAtWindow: all.reduce((s, r) => s + r.openAtWindow, 0),
    loadPct: ((loadAfter - loadBefore) / bench.ticks / seconds) * 100,
    otherPct: other,
  };
}

/** One round: for each N, every row of each kind back to back, the order reversed every other round. */
export function fleetPlan(rows: readonly Row[], streams: readonly number[], round: number): { row: Row; n: number }[] {
  return streams.flatMap((n) =>
    (["passthrough", "translated"] as const).flatMap((kind) => {
      const group = rows.filter((r) => r.kind === kind).map((row) => ({ row, n }));
      return round % 2 === 1 ? group.reverse() : group;
    }),
  );
}
