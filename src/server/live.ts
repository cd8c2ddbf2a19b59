/**
 * GET /status/events: the status page's live feed, as server-sent events. A page gets a
 * `snapshot` when it connects, then one `tick` a second with what changed; a tick is
 * built once and sent to every page, and nothing runs while no page is connected.
 */
import type { Config } from "../config/types.ts";
import type { Mask } from "../log/mask.ts";
import { BUCKET_MS, type Point, type TrafficRecorder } from "../ops/traffic.ts";
import type { CooldownTable } from "../proxy/cooldown.ts";
import type { AliasInfo, Cooling, Failure, InstanceInfo, PairInfo, Snapshot, Tick } from "./live-model.ts";

const TICK_MS = 1_000;
/** Requests listed in one tick; a flood shows its newest, and the count of the rest. */
const TICK_RECENT = 8;
/** A tick stays under this (closed buckets of a handful of aliases and routes included): requests are left out first. */
const TICK_BYTES = 2048;
/** A page that stops reading is dropped once this many events wait for it (two minutes). */
const BACKLOG_EVENTS = 120;

export interface LiveSources {
  readonly config: () => Config;
  readonly mask: () => Mask;
  readonly cooldowns: CooldownTable;
  readonly traffic: TrafficRecorder;
  readonly instance: () => Omit<InstanceInfo, "configFile" | "loadedAt" | "warnings">;
}

/** The configuration as the page sees it: pairs (indexed) and the aliases' routes in plan order. */
interface Plan {
  readonly config: Config;
  readonly pairs: PairInfo[];
  readonly index: Map<string, number>;
  readonly aliases: AliasInfo[];
}

function planOf(config: Config): Plan {
  const pairs: PairInfo[] = [];
  const index = new Map<string, number>();
  const aliases: AliasInfo[] = [];
  for (const alias of config.aliases.values()) {
    const routes = alias.groups.flatMap((g) =>
      g.routes.map((r) => {
        let pair = index.get(r.key);
        if (pair === undefined) {
          pair = pairs.length;
          index.set(r.key, pair);
          pairs.push({ backend: r.backend.name, model: r.model, protocol: r.backend.protocol ?? "passthrough", usable: config.backends.get(r.backend.name)?.enabled ?? false });
        }
        return { pair, priority: r.priority, weight: r.weight };
      }),
    );
    aliases.push({ name: alias.name, fallbacks: alias.chain, routes });
  }
  return { config, pairs, index, aliases };
}

export class LiveStatus {
  private plan: Plan;
  private readonly pages = new Set<ReadableStreamDefaultController<Uint8Array>>();
  private timer: ReturnType<typeof setInterval> | undefined;
  private lastTick = Date.now();
  private lastSeq = 0;
  private readonly encoder = new TextEncoder();

  constructor(
    private readonly s: LiveSources,
    initial: Config,
  ) {
    this.plan = planOf(initial);
  }

  /** The event stream for one page; it ends when the page goes away. */
  subscribe(signal: AbortSignal): Response {
    let mine: ReadableStreamDefaultController<Uint8Array> | undefined;
    const stream = new ReadableStream<Uint8Array>({
      start: (controller) => {
        mine = controller;
        this.refreshPlan();
        controller.enqueue(this.event("snapshot", this.snapshot(Date.now())));
        this.pages.add(controller);
        this.timer ??= setInterval(() => this.tick(), TICK_MS);
      },
      cancel: () => this.drop(mine),
    });
    signal.addEventListener("abort", () => this.drop(mine), { once: true });
    return new Response(stream, { headers: { "content-type": "text/event-stream", "cache-control": "no-store", "x-accel-buffering": "no" } });
  }

  /** Closes every page's stream (shutdown). */
  close(): void {
    for (const page of this.pages) this.drop(page, true);
  }

  private snapshot(now: number): Snapshot {
    const { config, pairs, aliases } = this.plan;
    this.s.traffic.roll(now);
    this.lastTick = now;
    this.lastSeq = this.s.traffic.lastSeq;
    const series: Record<string, readonly Point[]> = {};
    for (const [name, points] of Object.entries(this.s.traffic.points())) {
      const renamed = this.seriesName(name);
      if (renamed !== undefined) series[renamed] = points;
    }
    return {
      now,
      bucketMs: BUCKET_MS,
      instance: { ...this.s.instance(), configFile: config.file, loadedAt: config.loadedAt.getTime(), warnings: config.warnings.length },
      pairs,
      aliases,
      keys: [...config.keys.values()].map((k) => ({ name: k.name, budget: k.limits.budget ? { ...k.limits.budget } : null })),
      cooling: this.cooling(now),
      failures: this.failures(0),
      series,
      recent: this.s.traffic.recent(),
    };
  }

  private tickAt(now: number): Tick {
    const closed = this.s.traffic.roll(now);
    const points: Record<string, Point> = {};
    for (const [name, point] of closed) {
      const renamed = this.seriesName(name);
      if (renamed !== undefined) points[renamed] = point;
    }
    const fresh = this.s.traffic.recent(this.lastSeq);
    const base = { now, cooling: this.cooling(now), failures: this.failures(this.lastTick), points };
    // Counted from the sequence numbers: a flood past the ring of 50 is counted too.
    const over = this.s.traffic.lastSeq - this.lastSeq;
    let recent = fresh.slice(-TICK_RECENT);
    let tick: Tick = { ...base, recent, more: over - recent.length };
    while (recent.length > 0 && JSON.stringify(tick).length > TICK_BYTES) {
      recent = recent.slice(1);
      tick = { ...base, recent, more: over - recent.length };
    }
    this.lastTick = now;
    this.lastSeq = this.s.traffic.lastSeq;
    return tick;
  }

  private tick(): void {
    const now = Date.now();
    // A reload changed what is served: every page starts over from a new snapshot.
    if (this.refreshPlan()) {
      const bytes = this.event("snapshot", this.snapshot(now));
      for (const page of this.pages) this.send(page, bytes);
      return;
    }
    const bytes = this.event("tick", this.tickAt(now));
    for (const page of this.pages) this.send(page, bytes);
  }

  private refreshPlan(): boolean {
    const config = this.s.config();
    if (config === this.plan.config) return false;
    this.plan = planOf(config);
    return true;
  }

  private seriesName(name: string): string | undefined {
    if (name.startsWith("alias:")) return name;
    const pair = this.plan.index.get(name.slice("route:".length));
    return pair === undefined ? undefined : `route:${pair}`;
  }

  private cooling(now: number): Cooling[] {
    const out: Cooling[] = [];
    for (const [key, c] of this.s.cooldowns.active(now)) {
      const pair = this.plan.index.get(key);
      if (pair !== undefined) out.push([pair, c.until, c.reason, c.status ?? null, c.probing]);
    }
    return out;
  }

  private failures(since: number): Failure[] {
    const mask = this.s.mask();
    const out: Failure[] = [];
    for (const [key, pair] of this.plan.index) {
      const f = this.s.traffic.lastFailure(key);
      if (f && f.at > since) out.push([pair, f.at, f.status, mask(f.message).slice(0, 300)]);
    }
    return out;
  }

  private event(name: string, data: unknown): Uint8Array {
    return this.encoder.encode(`event: ${name}\ndata: ${JSON.stringify(data)}\n\n`);
  }

  private send(page: ReadableStreamDefaultController<Uint8Array>, bytes: Uint8Array): void {
    if ((page.desiredSize ?? 0) < -BACKLOG_EVENTS) return this.drop(page, true);
    try {
      page.enqueue(bytes);
    } catch {
      this.drop(page);
    }
  }

  private drop(page: ReadableStreamDefaultController<Uint8Array> | undefined, close = false): void {
    if (!page || !this.pages.delete(page)) return;
    if (close) {
      try {
        page.close();
      } catch {
        // Already closed by the page going away.
      }
    }
    if (this.pages.size === 0 && this.timer) {
      clearInterval(this.timer);
      this.timer = undefined;
    }
  }
}
