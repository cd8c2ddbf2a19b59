/**
 * The Markdown report of `bun run bench --fleet`: per kind (passthrough,
 * translated) and per N, one table of every row measured in the same run, medians
 * over the valid rounds; a round of an N in which the provider and the client
 * could not deliver 90% of the nominal event rate directly measured the harness and
 * gives no figures. Then the fleet targets.
 */
import { median, none, type Target } from "./report.ts";
import type { FleetSample, Row } from "./fleet.ts";
import type { Kind } from "./fleet-rows.ts";

export const VALID_SHARE = 0.9;

export class FleetResults {
  private readonly samples = new Map<string, (FleetSample | string)[]>();

  add(rowId: string, n: number, round: number, s: FleetSample | string): void {
    const key = `${rowId}@${n}`;
    const list = this.samples.get(key) ?? [];
    list[round] = s;
    this.samples.set(key, list);
  }

  rounds(rowId: string, n: number): (FleetSample | string | undefined)[] {
    return this.samples.get(`${rowId}@${n}`) ?? [];
  }

  /** Whether direct delivered enough in this round for the other rows of the kind to count. */
  valid(kind: Kind, n: number, round: number): boolean {
    const d = this.rounds(`direct/${kind}`, n)[round];
    return typeof d === "object" && d.events >= VALID_SHARE * d.nominal;
  }

  /** The samples of the rounds that were valid and did not break. */
  good(rowId: string, kind: Kind, n: number): FleetSample[] {
    return this.rounds(rowId, n).filter((s, round): s is FleetSample => typeof s === "object" && this.valid(kind, n, round));
  }

  med(rowId: string, kind: Kind, n: number, pick: (s: FleetSample) => number): number {
    return median(this.good(rowId, kind, n).map(pick));
  }

  broken(): { key: string; round: number; why: string }[] {
    const out: { key: string; round: number; why: string }[] = [];
    for (const [key, list] of this.samples) list.forEach((s, round) => typeof s === "string" && out.push({ key, round, why: s }));
    return out;
  }

  failures(): number {
    let n = 0;
    for (const list of this.samples.values()) for (const s of list) if (typeof s === "object") n += s.failures;
    return n;
  }
}

const ms = (us: number) => (Number.isFinite(us) ? `${(us / 1000).toFixed(us < 10_000 ? 2 : 1)}` : none);
const num = (x: number, digits = 0) => (Number.isFinite(x) ? x.toLocaleString("en-US", { maximumFractionDigits: digits, minimumFractionDigits: digits }) : none);
export const perStreamKiB = (s: FleetSample, n: number) => ((s.peakMiB - s.idleMiB) * 1024) / n;

function table(r: FleetResults, rows: readonly Row[], kind: Kind, n: number, rounds: number): string[] {
  const direct = r.rounds(`direct/${kind}`, n);
  const validRounds = direct.map((_, i) => r.valid(kind, n, i)).filter(Boolean).length;
  if (validRounds === 0) {
    const shares = direct.map((d) => (typeof d === "object" ? `${((d.events / d.nominal) * 100).toFixed(0)}%` : "broken")).join(", ");
    return [`**N = ${n.toLocaleString("en-US")}: invalid.** Directly, the provider and the client delivered ${shares} of the nominal event rate (at least ${VALID_SHARE * 100}% needed): this measured the harness, not the proxy, so no figures are given.`, ""];
  }
  const out = [
    `**N = ${n.toLocaleString("en-US")}** streams open (${validRounds} of ${rounds} rounds valid)`,
    "",
    "| row | events/s | of nominal | delay p50 / p99 / max, ms | CPU per 1,000 events | CPU, % of a core | peak RSS | per stream above idle | streams ok | failures |",
    "|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|",
  ];
  for (const row of rows.filter((x) => x.kind === kind)) {
    const good = r.good(row.id, kind, n);
    const m = (pick: (s: FleetSample) => number) => r.med(row.id, kind, n, pick);
    if (good.length === 0) {
      const why = r.rounds(row.id, n).find((s): s is string => typeof s === "string");
      out.push(`| ${row.label} | ${none} | ${none} | ${none} | ${none} | ${none} | ${none} | ${none} | ${none} | ${why ? `broken: ${why.split("\n")[0]!.slice(0, 120)}` : none} |`);
      continue;
    }
    const failures = good.reduce((s, x) => s + x.failures, 0);
    const share = m((s) => s.events / s.nominal);
    out.push(
      `| ${row.label} | ${num(m((s) => s.perSecond))} | ${(share * 100).toFixed(0)}%${share < VALID_SHARE ? " (saturated)" : ""} | ${ms(m((s) => s.p50Us))} / ${ms(m((s) => s.p99Us))} / ${ms(m((s) => s.maxUs))} | ${!Number.isFinite(m((s) => s.cpuMsPer1000)) ? none : `${num(m((s) => s.cpuMsPer1000), 1)} ms`} | ${Number.isFinite(m((s) => s.corePct)) ? `${num(m((s) => s.corePct))}%` : none} | ${Number.isFinite(m((s) => s.peakMiB)) ? `${num(m((s) => s.peakMiB), 1)} MiB` : none} | ${Number.isFinite(m((s) => s.peakMiB)) ? `${num(m((s) => perStreamKiB(s, n)), 1)} KiB` : none} | ${num(good.reduce((s, x) => s + x.ok, 0))} | ${failures}${failures ? ` (${Object.entries(good.flatMap((x) => Object.entries(x.reasons)).reduce<Record<string, number>>((acc, [why, c]) => ((acc[why] = (acc[why] ?? 0) + c), acc), {})).map(([why, c]) => `${why} ×${c}`).slice(0, 3).join("; ")})` : ""} |`,
    );
  }
  const load = r.med(`direct/${kind}`, kind, n, (s) => s.loadPct);
  out.push("", `Directly, the provider and the client processes used ${num(load)}% of a core (median over rounds).`, "");
  return out;
}

export function fleetTables(r: FleetResults, rows: readonly Row[], streams: readonly number[], rounds: number): string[] {
  const out: string[] = [];
  for (const kind of ["passthrough", "translated"] as const) {
    if (!rows.some((x) => x.kind === kind)) continue;
    out.push(kind === "passthrough" ? "### Passthrough streams (OpenAI clients, OpenAI provider)" : "### Translated streams (Anthropic clients, OpenAI provider)", "");
    for (const n of streams) out.push(...table(r, rows, kind, n, rounds));
  }
  return out;
}

export function fleetTargets(r: FleetResults, streams: readonly number[], translated: boolean): Target[] {
  const t = (name: string, goal: string, value: number, shown: string, ok: boolean): Target => ({ name, goal, value, shown, met: Number.isFinite(value) && ok });
  const at = (n: number) => streams.includes(n);
  const p = (n: number, pick: (s: FleetSample) => number, row = "proxy", kind: Kind = "passthrough") => r.med(`${row}/${kind}`, kind, n, pick);
  const out: Target[] = [];
  if (at(1000)) {
    const fails = r.good("proxy/passthrough", "passthrough", 1000).reduce((s, x) => s + x.failures, 0);
    const counted = r.good("proxy/passthrough", "passthrough", 1000).length > 0;
    out.push(t("1,000 streams: failures", "0", counted ? fails : NaN, counted ? String(fails) : none, fails === 0));
    const p99 = p(1000, (s) => s.p99Us) / 1000;
    const n99 = p(1000, (s) => s.p99Us, "nginx") / 1000;
    out.push(t("1,000 streams: delay per event p99", "≤ 5 ms", p99, `${ms(p99 * 1000)} ms`, p99 <= 5));
    out.push(t("1,000 streams: delay p99 against nginx's", "≤ 2×", p99 / n99, Number.isFinite(n99) ? `${(p99 / n99).toFixed(2)}× (nginx ${ms(n99 * 1000)} ms)` : "no nginx in this run", p99 / n99 <= 2));
    const p50 = p(1000, (s) => s.p50Us) / 1000;
    out.push(t("1,000 streams: delay per event p50 (no batching)", "≤ 0.5 ms", p50, `${ms(p50 * 1000)} ms`, p50 <= 0.5));
    const cpu = p(1000, (s) => s.cpuMsPer1000);
    const ncpu = p(1000, (s) => s.cpuMsPer1000, "nginx");
    out.push(t("1,000 streams: proxy CPU against nginx's", "≤ 1.2×", cpu / ncpu, Number.isFinite(ncpu) ? `${(cpu / ncpu).toFixed(2)}× (${num(cpu, 1)} against ${num(ncpu, 1)} ms per 1,000 events)` : "no nginx in this run", cpu / ncpu <= 1.2));
    if (translated) {
      // ms per 1,000 events is µs per event.
      const above = p(1000, (s) => s.cpuMsPer1000, "proxy", "translated") - cpu;
      out.push(t("1,000 streams: translated CPU per event above passthrough", "≤ 5 µs", above, Number.isFinite(above) ? `${above >= 0 ? "+" : "−"}${num(Math.abs(above), 1)} µs` : none, above <= 5));
    }
  }
  if (at(2500)) {
    const peak = p(2500, (s) => s.peakMiB);
    out.push(t("2,500 streams: proxy peak RSS", "≤ 300 MiB", peak, Number.isFinite(peak) ? `${num(peak, 1)} MiB` : none, peak <= 300));
    const per = p(2500, (s) => perStreamKiB(s, 2500));
    out.push(t("2,500 streams: RSS per open stream above idle", "≤ 100 KiB", per, Number.isFinite(per) ? `${num(per, 1)} KiB` : none, per <= 100));
  }
  return out;
}
