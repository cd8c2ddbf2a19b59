/**
 * What the status page charts and lists, kept only while the page is on: requests in
 * 5-second buckets over the last 15 minutes (per alias and per route), the last 50
 * requests, and each pair's last failure. It is fed once per request, when the request
 * is over (from the same record the logs get), so the request path pays a few array
 * writes and nothing else; percentiles are worked out when a bucket closes.
 */
import { promptTokens } from "../protocols/usage.ts";
import type { RequestRecord } from "../proxy/forward.ts";
import type { Point, RecentRequest } from "./traffic-types.ts";

export type { Point, RecentRequest };

export const BUCKET_MS = 5_000;
/** 15 minutes of buckets. */
export const HISTORY_BUCKETS = 180;
export const RECENT = 50;
/** Durations kept per bucket for its percentiles; past this, a uniform sample of them. */
const SAMPLE_CAP = 512;

/** A series is an alias (`alias:name`) or a backend+model pair (`route:key`). */
const aliasSeries = (alias: string) => `alias:${alias}`;
const routeSeries = (pairKey: string) => `route:${pairKey}`;

export interface LastFailure {
  /** Epoch ms. */
  readonly at: number;
  readonly status: number | null;
  /** As the request path said it: the page shows it masked. */
  readonly message: string;
}

class OpenBucket {
  served = 0;
  failed = 0;
  fellBack = 0;
  seen = 0;
  readonly durations: number[] = [];
  readonly firstBytes: number[] = [];

  add(served: boolean, failed: boolean, fellBack: boolean, ms: number | undefined, firstByteMs: number | undefined): void {
    if (served) this.served++;
    if (failed) this.failed++;
    if (fellBack) this.fellBack++;
    if (ms === undefined) return;
    this.seen++;
    // Reservoir sampling keeps the percentiles fair under a flood at a fixed cost.
    const slot = this.durations.length < SAMPLE_CAP ? this.durations.length : Math.floor(Math.random() * this.seen);
    if (slot < SAMPLE_CAP) {
      this.durations[slot] = ms;
      if (firstByteMs !== undefined) this.firstBytes[slot] = firstByteMs;
    }
  }

  close(t: number): Point {
    const [p50, p95] = percentiles(this.durations);
    const [f50, f95] = percentiles(this.firstBytes.filter((n) => n !== undefined));
    return [t, this.served, this.failed, this.fellBack, p50, p95, f50, f95];
  }
}

function percentiles(values: number[]): [number | null, number | null] {
  if (values.length === 0) return [null, null];
  const sorted = values.slice().sort((a, b) => a - b);
  const at = (q: number) => Math.round(sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!);
  return [at(0.5), at(0.95)];
}

export class TrafficRecorder {
  private openStart = 0;
  private open = new Map<string, OpenBucket>();
  private readonly history = new Map<string, Point[]>();
  private readonly recentRing: RecentRequest[] = [];
  private seq = 0;
  private readonly failures = new Map<string, LastFailure>();

  constructor(private readonly now: () => number = Date.now) {}

  /** One request that is over. */
  record(r: RequestRecord): void {
    const now = this.now();
    this.roll(now);
    const served = r.outcome === "served";
    const fellBack = served && r.attempts.length > 1;
    const alias = r.request.alias.name;
    this.bucket(aliasSeries(alias)).add(served, r.outcome === "failed", fellBack, served ? r.totalMs : undefined, r.firstByteMs);
    for (const a of r.attempts) {
      const ok = a.result === "ok";
      const gone = a.result === "client gone";
      if (!ok && !gone) this.failures.set(a.key, { at: now, status: a.status ?? null, message: a.result });
      if (ok) this.bucket(routeSeries(a.key)).add(true, false, fellBack, r.totalMs, r.firstByteMs);
      else if (!gone) this.bucket(routeSeries(a.key)).add(false, true, false, undefined, undefined);
    }
    const last = r.attempts.at(-1);
    this.recentRing.push({
      seq: ++this.seq,
      at: now,
      id: r.id,
      key: r.request.key ?? "",
      alias,
      route: last?.route ?? "",
      attempts: r.attempts.length,
      status: r.status,
      outcome: r.outcome,
      ms: Math.round(r.totalMs),
      inputTokens: r.usage ? promptTokens(r.usage) : null,
      outputTokens: r.usage ? r.usage.output : null,
    });
    if (this.recentRing.length > RECENT) this.recentRing.shift();
  }

  /** Closes the open buckets when their 5 seconds are over; returns the points closed now, by series. */
  roll(now: number): Map<string, Point> {
    const start = now - (now % BUCKET_MS);
    const closed = new Map<string, Point>();
    if (start === this.openStart) return closed;
    for (const [series, bucket] of this.open) {
      const point = bucket.close(this.openStart);
      closed.set(series, point);
      const points = this.history.get(series) ?? [];
      points.push(point);
      this.history.set(series, points);
    }
    this.open = new Map();
    this.openStart = start;
    const oldest = start - HISTORY_BUCKETS * BUCKET_MS;
    for (const [series, points] of this.history) {
      while (points.length > 0 && points[0]![0] < oldest) points.shift();
      if (points.length === 0) this.history.delete(series);
    }
    return closed;
  }

  /** Every series' closed points of the last 15 minutes. */
  points(): Record<string, readonly Point[]> {
    return Object.fromEntries(this.history);
  }

  /** The last requests, oldest first; only those after `afterSeq` when given. */
  recent(afterSeq = 0): readonly RecentRequest[] {
    return afterSeq === 0 ? this.recentRing.slice() : this.recentRing.filter((r) => r.seq > afterSeq);
  }

  get lastSeq(): number {
    return this.seq;
  }

  lastFailure(pairKey: string): LastFailure | undefined {
    return this.failures.get(pairKey);
  }

  private bucket(series: string): OpenBucket {
    let bucket = this.open.get(series);
    if (!bucket) {
      bucket = new OpenBucket();
      this.open.set(series, bucket);
    }
    return bucket;
  }
}
