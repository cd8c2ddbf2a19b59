/** The page's picture of the proxy: the last snapshot, with every tick applied to it. */
import type { Cooling, Failure, Point, RecentRequest, Snapshot, Tick } from "../live-model.ts";

/** What the charts span: the 15 minutes the proxy keeps. */
export const HISTORY_MS = 15 * 60_000;
const RECENT = 50;

export type PairState = { readonly kind: "ok" } | { readonly kind: "disabled" } | { readonly kind: "cooling" | "probing"; readonly until: number; readonly reason: string; readonly status: number | null };

export class PageState {
  snapshot: Snapshot | undefined;
  /** Server time minus this browser's clock, so countdowns agree with the proxy. */
  private skew = 0;
  private cooling = new Map<number, Cooling>();
  readonly failures = new Map<number, Failure>();
  readonly series = new Map<string, Point[]>();
  recent: RecentRequest[] = [];
  /** Requests a flood left out of the list since the page connected. */
  skipped = 0;

  apply(s: Snapshot): void {
    this.snapshot = s;
    this.skew = s.now - Date.now();
    this.cooling = new Map(s.cooling.map((c) => [c[0], c]));
    this.failures.clear();
    for (const f of s.failures) this.failures.set(f[0], f);
    this.series.clear();
    for (const [name, points] of Object.entries(s.series)) this.series.set(name, [...points]);
    this.recent = [...s.recent];
    this.skipped = 0;
  }

  tick(t: Tick): void {
    this.skew = t.now - Date.now();
    this.cooling = new Map(t.cooling.map((c) => [c[0], c]));
    for (const f of t.failures) this.failures.set(f[0], f);
    for (const [name, point] of Object.entries(t.points)) {
      const points = this.series.get(name) ?? [];
      points.push(point);
      while (points.length > 0 && points[0]![0] < t.now - HISTORY_MS) points.shift();
      this.series.set(name, points);
    }
    this.recent.push(...t.recent);
    this.recent = this.recent.slice(-RECENT);
    this.skipped += t.more;
  }

  /** The proxy's clock, now. */
  now(): number {
    return Date.now() + this.skew;
  }

  stateOf(pair: number): PairState {
    const info = this.snapshot?.pairs[pair];
    if (info && !info.usable) return { kind: "disabled" };
    const c = this.cooling.get(pair);
    if (!c) return { kind: "ok" };
    return { kind: c[4] ? "probing" : "cooling", until: c[1], reason: c[2], status: c[3] };
  }
}
