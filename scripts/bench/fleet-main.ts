/**
 * The fleet run end to end: start, warm up, rounds, report (scripts/bench/fleet.ts
 * measures, scripts/bench/fleet-report.ts renders).
 */
import { join } from "node:path";
import { fleetPlan, measureFleet, startFleet, stopFleetPeers, type FleetOptions, type FleetSample } from "./fleet.ts";
import { FleetResults, fleetTables, fleetTargets } from "./fleet-report.ts";
import { parsePeer, DEFAULT_PEERS_DIR } from "./peer-run.ts";
import type { Options, Pinning } from "./setup.ts";
import { SetupError } from "./setup.ts";

const say = (line: string) => process.stderr.write(`${line}\n`);
const WARMUP_S = 2;

export interface FleetContext {
  readonly options: Options;
  readonly pin: Pinning;
  readonly dir: string;
  readonly proxyCmd: string[];
  readonly proxyName: string;
  readonly baselineCmd?: string[];
  readonly env: Record<string, string>;
  readonly header: readonly string[];
  readonly loadCpus: number;
}

function fleetOptions(ctx: FleetContext): FleetOptions {
  const f = ctx.options.fleet!;
  let peers;
  try {
    peers = ctx.options.peers.map(parsePeer);
  } catch (error) {
    throw new SetupError((error as Error).message);
  }
  return {
    streams: f.streams,
    events: f.events,
    intervalMs: f.intervalMs,
    windowS: ctx.options.given.has("--duration") ? ctx.options.durationS : 10,
    rounds: ctx.options.given.has("--rounds") ? ctx.options.rounds : 1,
    clients: f.clients ?? ctx.loadCpus,
    translated: f.translated,
    peers,
    peersDir: ctx.options.peersDir ?? DEFAULT_PEERS_DIR,
  };
}

const line = (label: string, n: number, s: FleetSample | string) =>
  typeof s === "string"
    ? `  ${label.padEnd(40)} N=${n}  BROKEN: ${s.split("\n")[0]}`
    : `  ${label.padEnd(40)} N=${n}  ${Math.round(s.perSecond).toLocaleString("en-US")} events/s (${((s.events / s.nominal) * 100).toFixed(0)}%)  delay p50 ${(s.p50Us / 1000).toFixed(2)} p99 ${(s.p99Us / 1000).toFixed(2)} max ${(s.maxUs / 1000).toFixed(1)} ms${Number.isFinite(s.cpuMsPer1000) ? `  CPU ${s.cpuMsPer1000.toFixed(1)} ms/1000 ev (${s.corePct.toFixed(0)}%)  RSS ${s.peakMiB.toFixed(1)} MiB (idle ${s.idleMiB.toFixed(1)})` : ""}  load ${s.loadPct.toFixed(0)}%  ok ${s.ok} cut ${s.cut} open ${s.openAtWindow}${s.failures ? `  FAILURES ${s.failures}: ${Object.keys(s.reasons).slice(0, 2).join("; ")}` : ""}`;

export async function runFleet(ctx: FleetContext): Promise<{ report: string; code: number }> {
  const o = fleetOptions(ctx);
  const rowsPerN = (2 + (ctx.baselineCmd ? 1 : 0) + o.peers.filter((p) => p.protocol === "openai").length) + (o.translated ? 2 + (ctx.baselineCmd ? 1 : 0) + o.peers.filter((p) => p.protocol === "anthropic").length : 0);
  const perMeasurement = o.windowS + 1 + 0.5 + 1;
  say(`bench: fleet, N = ${o.streams.join(", ")}, ${o.events} events ${o.intervalMs} ms apart, ${o.windowS} s window, ${o.rounds} round${o.rounds === 1 ? "" : "s"}, ${o.clients} client process${o.clients === 1 ? "" : "es"}: about ${Math.round(o.rounds * o.streams.length * rowsPerN * perMeasurement + rowsPerN * (WARMUP_S + 2.5))} s`);
  const bench = await startFleet(o, ctx.pin, ctx.dir, ctx.proxyCmd, ctx.baselineCmd, ctx.env);
  try {
    say(`bench: fleet provider PID ${bench.provider.pid} on :${bench.provider.port}; rows: ${bench.rows.map((r) => `${r.label} (${r.kind}) :${r.port}`).join(", ")}`);
    say("bench: warming up");
    const smallest = Math.min(...o.streams);
    const notes: string[] = [];
    for (const row of [...bench.rows]) {
      const s = await measureFleet(bench, o, ctx.pin, row, smallest, WARMUP_S);
      say(line(`warm-up ${row.label} (${row.kind})`, smallest, s));
      if (typeof s === "string" || s.failures > 0) {
        const why = typeof s === "string" ? s : Object.keys(s.reasons).join("; ");
        // While translation is being integrated, a proxy that cannot translate yet loses its row, not the run.
        if (row.kind !== "translated" || row.id.startsWith("direct/")) throw new Error(`fleet warm-up failed for ${row.label} (${row.kind}): ${why}`);
        bench.rows.splice(bench.rows.indexOf(row), 1);
        notes.push(`${row.label} (translated) left out: its warm-up failed: ${why.split("\n")[0]}`);
        say(`bench: ${notes.at(-1)}`);
      }
    }
    const results = new FleetResults();
    for (let round = 0; round < o.rounds; round++) {
      say(`bench: fleet round ${round + 1} of ${o.rounds}`);
      for (const { row, n } of fleetPlan(bench.rows, o.streams, round)) {
        const s = await measureFleet(bench, o, ctx.pin, row, n, o.windowS);
        say(line(`r${round + 1} ${row.label} (${row.kind})`, n, s));
        results.add(row.id, n, round, s);
      }
    }
    const broken = results.broken();
    const failures = results.failures();
    const targets = fleetTargets(results, o.streams, o.translated);
    const out = [
      ...ctx.header,
      `Fleet: N = ${o.streams.map((n) => n.toLocaleString("en-US")).join(", ")} streams open at once, each ${o.events} events ${o.intervalMs} ms apart (nominal ${(1000 / o.intervalMs).toFixed(0)} events/s per stream), started over ${1} s and started again when they end; figures over a ${o.windowS} s window after that ramp; ${o.rounds} round${o.rounds === 1 ? "" : "s"}, rows interleaved (order reversed every other round); ${o.clients} client process${o.clients === 1 ? "" : "es"}. ${ctx.proxyName}.`,
      "Delay: the client's arrival time minus the provider's send stamp (CLOCK_MONOTONIC µs), per stamped event; direct is what the harness itself takes. CPU and RSS: the serving processes (all of a peer's), over the window. Medians over the valid rounds.",
      "",
      ...fleetTables(results, bench.rows, o.streams, o.rounds),
      "### Fleet targets",
      "",
      "| target | goal | measured | |",
      "|---|---|--:|---|",
      ...targets.map((t) => `| ${t.name} | ${t.goal} | ${t.shown} | ${t.met ? "met" : "**not met**"} |`),
      "",
      `${targets.filter((t) => t.met).length} of ${targets.length} targets met.`,
      "",
      broken.length === 0 && failures === 0
        ? "Every stream was checked (passthrough byte for byte but for the stamps; translated for text, tool call and usage); no failures."
        : `**${failures} failed streams; ${broken.length} measurements broke**${broken.length ? `:\n\n${broken.map((b) => `- round ${b.round + 1}, ${b.key}: ${b.why.split("\n")[0]}`).join("\n")}` : ""}`,
      ...(notes.length ? ["", ...notes.map((n) => `- ${n}`)] : []),
    ];
    return { report: `${out.join("\n")}\n`, code: broken.length > 0 || failures > 0 ? 1 : 0 };
  } finally {
    await stopFleetPeers(bench);
  }
}

