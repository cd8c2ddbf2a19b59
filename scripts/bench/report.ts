/**
 * Turns the rounds of `bun run bench` into its Markdown report: medians over
 * rounds, and every proxy figure against the direct figure of the same round
 * (ratio or difference per round, then the median of those), then the targets.
 */

export type Mode = "json" | "stream";
/**
 * `proxy-quiet` is the second proxy, identical but for `logging.level: error`; `floor` is the bare forwarder of `--floor`;
 * `baseline` and `baseline-quiet` the same two of `--baseline`; `peer:NAME` another proxy given with `--peer`.
 */
export type Via = "direct" | "proxy" | "proxy-quiet" | "floor" | "baseline" | "baseline-quiet" | `peer:${string}`;

const VIA_NAMES: Record<string, string> = {
  "proxy-quiet": "proxy (level error)",
  floor: "floor (bare forwarder)",
  "baseline-quiet": "baseline (level error)",
};
export const viaName = (via: Via) => VIA_NAMES[via] ?? (via.startsWith("peer:") ? via.slice(5) : via);

export interface Job {
  readonly mode: Mode;
  readonly via: Via;
  readonly concurrency: number;
  /** Request body size in bytes. */
  readonly size: number;
}

export interface Sample {
  /** Verified answers (2xx; for streams, complete and ending in [DONE]). */
  readonly ok: number;
  /** Requests or streams per second. */
  readonly rate: number;
  /** Latency (non-streaming) or whole-stream time (streaming), ms. */
  readonly p50: number;
  readonly p99: number;
  /** Time to the first body byte of a stream, ms. */
  readonly ttfb50: number;
  readonly ttfb99: number;
  /** The proxy's CPU time (utime + stime) per verified answer, µs; NaN for direct. */
  readonly cpuUs: number;
  /** The proxy's peak RSS during this measurement, MiB; NaN for direct. */
  readonly rssMiB: number;
  /** Share of the proxy's core used by processes outside the benchmark during the measurement, %; NaN when not pinned. */
  readonly otherPct: number;
  /** The same on the cores of the provider and the load generators. */
  readonly loadOtherPct: number;
  /** Share of those cores' time taken by the hypervisor (steal), %. */
  readonly stealPct: number;
  /** Why this measurement does not count. */
  readonly failure?: string;
}

export const describeJob = (j: Job) =>
  `${j.mode === "json" ? "non-stream" : "stream"} c=${j.concurrency} ${viaName(j.via)}${j.size !== SMALL ? ` ${kib(j.size)} body` : ""}`;

export const SMALL = 1024;
export const LARGE = 128 * 1024;
export const LEVELS = [1, 16, 64, 256] as const;
export const MAIN = 64;

const kib = (bytes: number) => `${bytes / 1024} KiB`;
const key = (j: Job) => `${j.mode}/${j.via}/${j.concurrency}/${j.size}`;

export interface Meta {
  readonly date: string;
  readonly command: string;
  readonly proxy: string;
  readonly bun: string;
  readonly commit: string;
  readonly machine: string;
  readonly pinning: string;
  readonly rounds: number;
  readonly durationS: number;
  readonly peakNote: string;
  readonly notes: readonly string[];
}

export type Pick = (s: Sample) => number;

export const median = (xs: number[]) => {
  if (xs.length === 0) return NaN;
  const s = xs.slice().sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
};

export class Results {
  private readonly byJob = new Map<string, { job: Job; rounds: (Sample | undefined)[] }>();

  add(job: Job, round: number, sample: Sample): void {
    const entry = this.byJob.get(key(job)) ?? { job, rounds: [] };
    entry.rounds[round] = sample;
    this.byJob.set(key(job), entry);
  }

  private rounds(job: Job): (Sample | undefined)[] {
    return this.byJob.get(key(job))?.rounds ?? [];
  }

  /** Median over the rounds that passed. */
  median(job: Job, pick: Pick): number {
    return median(this.rounds(job).filter((s): s is Sample => s !== undefined && !s.failure).map(pick));
  }

  max(job: Job, pick: Pick): number {
    const xs = this.rounds(job).filter((s): s is Sample => s !== undefined && !s.failure).map(pick);
    return xs.length ? Math.max(...xs) : NaN;
  }

  /** Median over rounds where both passed of combine(a, b), a and b from the same round. */
  paired(a: Job, b: Job, combine: (a: Sample, b: Sample) => number): number {
    const rb = this.rounds(b);
    const xs: number[] = [];
    this.rounds(a).forEach((sa, i) => {
      const sb = rb[i];
      if (sa && sb && !sa.failure && !sb.failure) xs.push(combine(sa, sb));
    });
    return median(xs);
  }

  ratio(a: Job, b: Job, pick: Pick): number {
    return this.paired(a, b, (x, y) => pick(x) / pick(y));
  }

  added(a: Job, b: Job, pick: Pick): number {
    return this.paired(a, b, (x, y) => pick(x) - pick(y));
  }

  all(): { job: Job; round: number; sample: Sample }[] {
    const out: { job: Job; round: number; sample: Sample }[] = [];
    for (const { job, rounds } of this.byJob.values()) {
      rounds.forEach((sample, round) => {
        if (sample) out.push({ job, round, sample });
      });
    }
    return out;
  }

  failures(): { job: Job; round: number; failure: string }[] {
    const out: { job: Job; round: number; failure: string }[] = [];
    for (const { job, rounds } of this.byJob.values()) {
      rounds.forEach((s, round) => {
        if (s?.failure) out.push({ job, round, failure: s.failure });
      });
    }
    return out;
  }

  totals(): { measurements: number; answers: number } {
    let measurements = 0;
    let answers = 0;
    for (const { rounds } of this.byJob.values()) {
      for (const s of rounds) {
        if (!s) continue;
        measurements++;
        answers += s.ok;
      }
    }
    return { measurements, answers };
  }
}

/** What else ran on the benchmark's cores: a busy neighbour makes every figure low. */
export function interferenceNote(r: Results, noisePct: number, repeats: number, waitedS: number): string {
  const all = r.all();
  if (all.length === 0) return "";
  const worst = (pick: (s: Sample) => number) => all.reduce((a, b) => (pick(b.sample) > pick(a.sample) ? b : a));
  const proxyCore = worst((s) => s.otherPct);
  const loadCore = worst((s) => s.loadOtherPct);
  const steal = Math.max(...all.map((s) => s.sample.stealPct));
  const noisy = all.filter((s) => s.sample.otherPct > noisePct || s.sample.loadOtherPct > noisePct || s.sample.stealPct > noisePct);
  const where = (x: typeof proxyCore) => `round ${x.round + 1}, ${describeJob(x.job)}`;
  const text = `Processes outside the benchmark used at most ${proxyCore.sample.otherPct.toFixed(1)}% of the proxy's core (${where(proxyCore)}) and ${loadCore.sample.loadOtherPct.toFixed(1)}% of the load core (${where(loadCore)}) during a measurement; hypervisor steal at most ${steal.toFixed(1)}%. ${repeats} measurement${repeats === 1 ? " was" : "s were"} repeated because another process or hypervisor steal took more than ${noisePct}% of a core${repeats > 0 ? `, after waiting ${waitedS.toFixed(0)} s in all for the machine to be quiet` : ""}.`;
  return noisy.length === 0 ? text : `**The machine was not quiet**: ${noisy.length} measurement${noisy.length === 1 ? "" : "s"} kept more than ${noisePct}% interference (other processes or steal) after repeating; their figures are low. ${text}`;
}

export const none = "—";
export const fmtRate = (x: number) => (Number.isFinite(x) ? Math.round(x).toLocaleString("en-US") : none);
export const fmtMs = (x: number) => (Number.isFinite(x) ? `${x.toFixed(Math.abs(x) < 1 ? 3 : Math.abs(x) < 10 ? 2 : 1)} ms` : none);
export const fmtAdded = (x: number) => (Number.isFinite(x) ? `${x >= 0 ? "+" : "−"}${fmtMs(Math.abs(x))}` : none);
export const fmtUs = (x: number) => (Number.isFinite(x) ? `${x.toFixed(x < 10 ? 1 : 0)} µs` : none);
export const fmtMiB = (x: number) => (Number.isFinite(x) ? `${x.toFixed(1)} MiB` : none);
export const fmtRatio = (x: number) => (Number.isFinite(x) ? x.toFixed(2) : none);
export const pair = (a: number, b: number) => (Number.isFinite(a) ? `${fmtMs(a).replace(" ms", "")} / ${fmtMs(b)}` : none);

export const job = (mode: Mode, via: Via, concurrency: number, size = SMALL): Job => ({ mode, via, concurrency, size });
export const rate: Pick = (s) => s.rate;

export interface Target {
  readonly name: string;
  readonly goal: string;
  readonly value: number;
  readonly shown: string;
  readonly met: boolean;
}

export function targets(r: Results): Target[] {
  const t = (name: string, goal: string, value: number, shown: (x: number) => string, ok: (x: number) => boolean): Target => ({
    name,
    goal,
    value,
    shown: shown(value),
    met: Number.isFinite(value) && ok(value),
  });
  return [
    t(`non-stream req/s at c=${MAIN}, proxy ÷ direct`, "≥ 0.6", r.ratio(job("json", "proxy", MAIN), job("json", "direct", MAIN), rate), fmtRatio, (x) => x >= 0.6),
    t(`proxy CPU per non-stream request (c=${MAIN})`, "≤ 40 µs", r.median(job("json", "proxy", MAIN), (s) => s.cpuUs), fmtUs, (x) => x <= 40),
    t("added p50 latency at c=1", "≤ 0.1 ms", r.added(job("json", "proxy", 1), job("json", "direct", 1), (s) => s.p50), fmtAdded, (x) => x <= 0.1),
    t("stream time to first byte added, p50, at c=16", "≤ 0.5 ms", r.added(job("stream", "proxy", 16), job("stream", "direct", 16), (s) => s.ttfb50), fmtAdded, (x) => x <= 0.5),
    t("streams/s at c=256, proxy ÷ direct", "≥ 0.9", r.ratio(job("stream", "proxy", 256), job("stream", "direct", 256), rate), fmtRatio, (x) => x >= 0.9),
    t("proxy peak RSS during c=256 streams", "≤ 80 MiB", r.max(job("stream", "proxy", 256), (s) => s.rssMiB), fmtMiB, (x) => x <= 80),
    t(`128 KiB body req/s ÷ 1 KiB body req/s (proxy, c=${MAIN})`, "≥ 0.5", r.ratio(job("json", "proxy", MAIN, LARGE), job("json", "proxy", MAIN), rate), fmtRatio, (x) => x >= 0.5),
    t(`req/s with logging.level info ÷ error (c=${MAIN})`, "within 15% (0.85–1.15)", r.ratio(job("json", "proxy", MAIN), job("json", "proxy-quiet", MAIN), rate), fmtRatio, (x) => x >= 0.85 && x <= 1.15),
  ];
}

function nonStreamTable(r: Results): string[] {
  const rows = [
    "| c | direct req/s | proxy req/s | proxy ÷ direct | direct p50 / p99 | proxy p50 / p99 | added p50 | proxy CPU per request | proxy peak RSS |",
    "|--:|--:|--:|--:|--:|--:|--:|--:|--:|",
  ];
  for (const c of LEVELS) {
    const d = job("json", "direct", c);
    const p = job("json", "proxy", c);
    rows.push(
      `| ${c} | ${fmtRate(r.median(d, rate))} | ${fmtRate(r.median(p, rate))} | ${fmtRatio(r.ratio(p, d, rate))} | ${pair(r.median(d, (s) => s.p50), r.median(d, (s) => s.p99))} | ${pair(r.median(p, (s) => s.p50), r.median(p, (s) => s.p99))} | ${fmtAdded(r.added(p, d, (s) => s.p50))} | ${fmtUs(r.median(p, (s) => s.cpuUs))} | ${fmtMiB(r.max(p, (s) => s.rssMiB))} |`,
    );
  }
  return rows;
}

function streamTable(r: Results): string[] {
  const rows = [
    "| c | direct streams/s | proxy streams/s | proxy ÷ direct | direct TTFB p50 | proxy TTFB p50 / p99 | added TTFB p50 | proxy stream time p50 / p99 | proxy CPU per stream | proxy peak RSS |",
    "|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|",
  ];
  for (const c of LEVELS) {
    const d = job("stream", "direct", c);
    const p = job("stream", "proxy", c);
    rows.push(
      `| ${c} | ${fmtRate(r.median(d, rate))} | ${fmtRate(r.median(p, rate))} | ${fmtRatio(r.ratio(p, d, rate))} | ${fmtMs(r.median(d, (s) => s.ttfb50))} | ${pair(r.median(p, (s) => s.ttfb50), r.median(p, (s) => s.ttfb99))} | ${fmtAdded(r.added(p, d, (s) => s.ttfb50))} | ${pair(r.median(p, (s) => s.p50), r.median(p, (s) => s.p99))} | ${fmtUs(r.median(p, (s) => s.cpuUs))} | ${fmtMiB(r.max(p, (s) => s.rssMiB))} |`,
    );
  }
  return rows;
}

function extraTable(r: Results): string[] {
  const line = (what: string, a: Job, b: Job) =>
    `| ${what} | ${fmtRate(r.median(a, rate))} | ${fmtRate(r.median(b, rate))} | ${fmtRatio(r.ratio(a, b, rate))} | ${fmtUs(r.median(a, (s) => s.cpuUs))} / ${fmtUs(r.median(b, (s) => s.cpuUs))} |`;
  return [
    "| comparison | req/s | against req/s | ratio | proxy CPU per request |",
    "|---|--:|--:|--:|--:|",
    line("proxy: 128 KiB body against 1 KiB body", job("json", "proxy", MAIN, LARGE), job("json", "proxy", MAIN)),
    line("direct: 128 KiB body against 1 KiB body (the provider and wrk alone)", job("json", "direct", MAIN, LARGE), job("json", "direct", MAIN)),
    line("128 KiB body: proxy against direct", job("json", "proxy", MAIN, LARGE), job("json", "direct", MAIN, LARGE)),
    line("proxy: logging.level info against error", job("json", "proxy", MAIN), job("json", "proxy-quiet", MAIN)),
  ];
}

/** The proxy against the bare forwarder of `--floor`, measured in the same rounds; empty without it. */
function floorTable(r: Results): string[] {
  const f = (mode: Mode, c: number) => job(mode, "floor", c);
  const p = (mode: Mode, c: number) => job(mode, "proxy", c);
  const d = (mode: Mode, c: number) => job(mode, "direct", c);
  if (!Number.isFinite(r.median(f("json", MAIN), rate))) return [];
  const cpu: Pick = (s) => s.cpuUs;
  const p50: Pick = (s) => s.p50;
  const ttfb: Pick = (s) => s.ttfb50;
  const own = (x: number, shown: (x: number) => string) => (Number.isFinite(x) ? `${x >= 0 ? "+" : "−"}${shown(Math.abs(x))}` : none);
  const rows: [string, string, string, string, string][] = [
    [`non-stream req/s at c=${MAIN}, ÷ direct`, "≥ 0.6", fmtRatio(r.ratio(f("json", MAIN), d("json", MAIN), rate)), fmtRatio(r.ratio(p("json", MAIN), d("json", MAIN), rate)), none],
    ...[MAIN, 1].map((c): [string, string, string, string, string] => [
      `CPU per non-stream request, c=${c}`,
      c === MAIN ? "≤ 40 µs" : none,
      fmtUs(r.median(f("json", c), cpu)),
      fmtUs(r.median(p("json", c), cpu)),
      own(r.paired(p("json", c), f("json", c), (a, b) => a.cpuUs - b.cpuUs), fmtUs),
    ]),
    ["added p50 latency at c=1", "≤ 0.1 ms", fmtAdded(r.added(f("json", 1), d("json", 1), p50)), fmtAdded(r.added(p("json", 1), d("json", 1), p50)), own(r.added(p("json", 1), f("json", 1), p50), fmtMs)],
    ["stream TTFB added, p50, c=16", "≤ 0.5 ms", fmtAdded(r.added(f("stream", 16), d("stream", 16), ttfb)), fmtAdded(r.added(p("stream", 16), d("stream", 16), ttfb)), own(r.added(p("stream", 16), f("stream", 16), ttfb), fmtMs)],
    ["streams/s at c=256, ÷ direct", "≥ 0.9", fmtRatio(r.ratio(f("stream", 256), d("stream", 256), rate)), fmtRatio(r.ratio(p("stream", 256), d("stream", 256), rate)), none],
    ["CPU per stream, c=256", none, fmtUs(r.median(f("stream", 256), cpu)), fmtUs(r.median(p("stream", 256), cpu)), own(r.paired(p("stream", 256), f("stream", 256), (a, b) => a.cpuUs - b.cpuUs), fmtUs)],
    ["peak RSS during c=256 streams", "≤ 80 MiB", fmtMiB(r.max(f("stream", 256), (s) => s.rssMiB)), fmtMiB(r.max(p("stream", 256), (s) => s.rssMiB)), own(r.max(p("stream", 256), (s) => s.rssMiB) - r.max(f("stream", 256), (s) => s.rssMiB), fmtMiB)],
  ];
  return [
    "### The proxy against a bare forwarder (`--floor`)",
    "",
    "The floor is scripts/bench/floor.ts: Bun.serve, the proxy's own upstream client and its direct stream, and nothing else (no JSON parsing, routing, failure detection, timers, logs or metrics), pinned and measured like the proxy in the same rounds. The floor against direct is what the runtime and the machine cost; the proxy against the floor is the proxy's own work.",
    "",
    "| figure | target | floor | proxy | proxy's own work |",
    "|---|---|--:|--:|--:|",
    ...rows.map((row) => `| ${row.join(" | ")} |`),
    "",
  ];
}

/** `sections`: further Markdown (the baseline comparison, peers, workers), put before the targets. */
export function render(r: Results, meta: Meta, sections: readonly string[] = [], extraTargets: readonly Target[] = []): string {
  const ts = [...targets(r), ...extraTargets];
  const failures = r.failures();
  const { measurements, answers } = r.totals();
  const out = [
    `## llm-proxy benchmark, ${meta.date}`,
    "",
    `\`${meta.command}\`: ${meta.proxy}; Bun ${meta.bun}; commit ${meta.commit}.`,
    `Machine: ${meta.machine}. ${meta.pinning}.`,
    `${meta.rounds} rounds, ${meta.durationS} s per measurement, direct and proxy interleaved (order alternating by round).`,
    "Figures are medians over rounds; a ratio or an added latency is taken per round against the direct figure of the same round, then the median.",
    `Non-streaming: wrk, ${kib(SMALL)} request, ~600-byte completion. Streaming: 20 chunks 5 ms apart ending in \`[DONE]\`, ${kib(SMALL)} request. ${meta.peakNote}`,
    "",
    "### Non-streaming",
    "",
    ...nonStreamTable(r),
    "",
    "### Streaming",
    "",
    ...streamTable(r),
    "",
    `### Request size and logging (non-streaming, c=${MAIN})`,
    "",
    ...extraTable(r),
    "",
    ...floorTable(r),
    ...sections,
    "### Targets",
    "",
    "| target | goal | measured | |",
    "|---|---|--:|---|",
    ...ts.map((t) => `| ${t.name} | ${t.goal} | ${t.shown} | ${t.met ? "met" : "**not met**"} |`),
    "",
    `${ts.filter((t) => t.met).length} of ${ts.length} targets met.`,
    "",
    failures.length === 0
      ? `Every answer was verified (${measurements} measurements, ${answers.toLocaleString("en-US")} answers: 2xx with the full completion; streams complete, byte for byte, ending in \`[DONE]\`); no failures.`
      : `**${failures.length} of ${measurements} measurements failed** and are left out of the figures:\n\n${failures.map((f) => `- round ${f.round + 1}, ${describeJob(f.job)}: ${f.failure}`).join("\n")}`,
  ];
  const notes = meta.notes.filter(Boolean);
  if (notes.length) out.push("", ...notes.map((n) => `- ${n}`));
  return `${out.join("\n")}\n`;
}
