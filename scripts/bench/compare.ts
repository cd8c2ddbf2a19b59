/**
 * The "this vs baseline" section of `bun run bench --baseline`: for every figure
 * of the report, the median over rounds of this proxy and of the baseline,
 * measured in the same rounds, and the difference of the two medians.
 */
import { fmtAdded, fmtMiB, fmtMs, fmtRate, fmtRatio, fmtUs, job, LARGE, LEVELS, MAIN, none, rate, type Job, type Pick, type Results, type Via } from "./report.ts";

interface Figure {
  readonly name: string;
  readonly of: (r: Results, proxy: Via, quiet: Via) => number;
  readonly shown: (x: number) => string;
  /** Which way is better, for the last column. */
  readonly lowerIsBetter: boolean;
}

const cpu: Pick = (s) => s.cpuUs;
const rss: Pick = (s) => s.rssMiB;
const p50: Pick = (s) => s.p50;
const p99: Pick = (s) => s.p99;
const ttfb50: Pick = (s) => s.ttfb50;
const ttfb99: Pick = (s) => s.ttfb99;
const direct = (j: Job): Job => ({ ...j, via: "direct" });

const med = (name: string, at: (via: Via) => Job, pick: Pick, shown: (x: number) => string, lowerIsBetter: boolean): Figure => ({
  name,
  of: (r, proxy) => r.median(at(proxy), pick),
  shown,
  lowerIsBetter,
});
const vsDirect = (name: string, at: (via: Via) => Job, combine: "ratio" | "added", pick: Pick, shown: (x: number) => string, lowerIsBetter: boolean): Figure => ({
  name,
  of: (r, proxy) => (combine === "ratio" ? r.ratio(at(proxy), direct(at(proxy)), pick) : r.added(at(proxy), direct(at(proxy)), pick)),
  shown,
  lowerIsBetter,
});

const json = (c: number, size?: number) => (via: Via) => job("json", via, c, size);
const stream = (c: number) => (via: Via) => job("stream", via, c);

/** The figures the targets use first, then every other figure of the report. */
export const FIGURES: readonly Figure[] = [
  med(`proxy CPU per non-stream request, c=${MAIN}`, json(MAIN), cpu, fmtUs, true),
  med(`non-stream req/s, c=${MAIN}`, json(MAIN), rate, fmtRate, false),
  vsDirect(`non-stream req/s ÷ direct, c=${MAIN}`, json(MAIN), "ratio", rate, fmtRatio, false),
  vsDirect("added p50 latency, c=1", json(1), "added", p50, fmtAdded, true),
  vsDirect("stream TTFB added, p50, c=16", stream(16), "added", ttfb50, fmtAdded, true),
  med("streams/s, c=256", stream(256), rate, fmtRate, false),
  vsDirect("streams/s ÷ direct, c=256", stream(256), "ratio", rate, fmtRatio, false),
  med("peak RSS during c=256 streams", stream(256), rss, fmtMiB, true),
  {
    name: `128 KiB ÷ 1 KiB body req/s, c=${MAIN}`,
    of: (r, proxy) => r.ratio(job("json", proxy, MAIN, LARGE), job("json", proxy, MAIN), rate),
    shown: fmtRatio,
    lowerIsBetter: false,
  },
  {
    name: `req/s, logging.level info ÷ error, c=${MAIN}`,
    of: (r, proxy, quiet) => r.ratio(job("json", proxy, MAIN), job("json", quiet, MAIN), rate),
    shown: fmtRatio,
    lowerIsBetter: false,
  },
  { name: `non-stream req/s with logging.level error, c=${MAIN}`, of: (r, _proxy, quiet) => r.median(job("json", quiet, MAIN), rate), shown: fmtRate, lowerIsBetter: false },
  ...LEVELS.filter((c) => c !== MAIN).map((c) => med(`non-stream req/s, c=${c}`, json(c), rate, fmtRate, false)),
  ...LEVELS.flatMap((c) => [
    med(`non-stream p50 latency, c=${c}`, json(c), p50, fmtMs, true),
    med(`non-stream p99 latency, c=${c}`, json(c), p99, fmtMs, true),
  ]),
  ...LEVELS.filter((c) => c !== MAIN).map((c) => med(`proxy CPU per non-stream request, c=${c}`, json(c), cpu, fmtUs, true)),
  ...LEVELS.map((c) => med(`peak RSS, non-stream c=${c}`, json(c), rss, fmtMiB, true)),
  med(`non-stream req/s, 128 KiB body, c=${MAIN}`, json(MAIN, LARGE), rate, fmtRate, false),
  med(`proxy CPU per 128 KiB request, c=${MAIN}`, json(MAIN, LARGE), cpu, fmtUs, true),
  ...LEVELS.filter((c) => c !== 256).map((c) => med(`streams/s, c=${c}`, stream(c), rate, fmtRate, false)),
  ...LEVELS.flatMap((c) => [med(`stream TTFB p50, c=${c}`, stream(c), ttfb50, fmtMs, true), med(`stream TTFB p99, c=${c}`, stream(c), ttfb99, fmtMs, true)]),
  ...LEVELS.map((c) => med(`stream time p50, c=${c}`, stream(c), p50, fmtMs, true)),
  ...LEVELS.map((c) => med(`proxy CPU per stream, c=${c}`, stream(c), cpu, fmtUs, true)),
  ...LEVELS.filter((c) => c !== 256).map((c) => med(`peak RSS, streams c=${c}`, stream(c), rss, fmtMiB, true)),
];

/** The difference keeps the figure's unit; a ratio's difference is a plain number. */
function difference(f: Figure, d: number): string {
  if (!Number.isFinite(d)) return none;
  const sign = d >= 0 ? "+" : "−";
  const shown = f.shown(Math.abs(d)).replace(/^[+−]/, "");
  return `${sign}${shown}`;
}

export function baselineTable(r: Results, baselineName: string): string[] {
  const rows = FIGURES.map((f) => {
    const mine = f.of(r, "proxy", "proxy-quiet");
    const theirs = f.of(r, "baseline", "baseline-quiet");
    const d = mine - theirs;
    const pct = Number.isFinite(d) && theirs !== 0 ? `${d >= 0 ? "+" : "−"}${Math.abs((d / Math.abs(theirs)) * 100).toFixed(1)}%` : none;
    const better = !Number.isFinite(d) ? none : d === 0 ? "same" : d < 0 === f.lowerIsBetter ? "this" : "baseline";
    return `| ${f.name} | ${f.shown(mine)} | ${f.shown(theirs)} | ${difference(f, d)} | ${pct} | ${better} |`;
  });
  return [
    "### This vs baseline",
    "",
    `This proxy against the baseline (${baselineName}), both with the same configuration, pinned to the same core and measured in the same rounds, the order alternating by round. Each figure is the median over the rounds that passed, for each side; a figure against direct is taken per round, then the median. The difference is this minus baseline, and in % of the baseline. Peak RSS is the median over rounds here (the tables above give the highest). Differences within the run-to-run spread of this machine (±10–25% on a shared virtual machine) are not established by one run.`,
    "",
    "| figure | this | baseline | difference | % | better |",
    "|---|--:|--:|--:|--:|---|",
    ...rows,
    "",
  ];
}
