export interface Cooldown {
  /** Epoch milliseconds when the pair may be used again. */
  readonly until: number;
  /** When the cooldown began (epoch ms). */
  readonly since: number;
  readonly reason: string;
  readonly status: number | undefined;
  /** Failures in a row, reset by a success. */
  readonly failures: number;
  /** After the cooldown ended, one request is trying the pair; the others keep away until it answers. */
  readonly probing: boolean;
  /**
   * Shared through a cluster: when the cooldown ends, the pair stays closed here until
   * the cluster link says this instance may probe it (another instance may be probing).
   */
  readonly gated?: boolean;
}

/** A change to the table made by this process, for the cluster link to share. */
export type CooldownChange =
  | { readonly type: "enter"; readonly key: string; readonly entry: Cooldown }
  | { readonly type: "succeeded"; readonly key: string }
  | { readonly type: "clear"; readonly key?: string };

/** What a request may do with a pair right now. */
export type Access = "free" | "probe" | "cooling";

/**
 * Backend+model pairs that failed recently, keyed as the original keys them.
 * Pure: every method takes `now`, so tests need no timers. Lives outside the
 * configuration, so cooldowns survive reloads.
 */
export class CooldownTable {
  private readonly entries = new Map<string, Cooldown>();
  /** Hear every change this process makes: the cluster link shares them, the ledger saves them. */
  private readonly listeners = new Set<(change: CooldownChange) => void>();
  /** Set by the cluster link while it is connected: cooldowns it shares end gated. */
  gateShared = false;

  /** Calls `listener` with every change this process makes from now on; returns the way to stop. */
  listen(listener: (change: CooldownChange) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  private changed(change: CooldownChange): void {
    for (const listener of this.listeners) listener(change);
  }

  /** Milliseconds until the pair is free; 0 when it may be tried (or probed) now. A pair being probed counts as 1 s. */
  remaining(key: string, now: number): number {
    const entry = this.entries.get(key);
    if (entry === undefined) return 0;
    if (entry.until > now) return entry.until - now;
    return entry.probing || entry.gated ? 1000 : 0;
  }

  /**
   * Claims a pair for an attempt. A pair whose cooldown has ended is handed to one
   * request as a probe; until that probe succeeds or fails, the others skip it.
   */
  claim(key: string, now: number): Access {
    const entry = this.entries.get(key);
    if (entry === undefined) return "free";
    if (entry.until > now || entry.probing || entry.gated) return "cooling";
    this.entries.set(key, { ...entry, probing: true });
    return "probe";
  }

  /** The probe ended without a verdict (the client went away): the next request may probe. */
  release(key: string): void {
    const entry = this.entries.get(key);
    if (entry?.probing) this.entries.set(key, { ...entry, probing: false });
  }

  failuresOf(key: string): number {
    return this.entries.get(key)?.failures ?? 0;
  }

  /** Cools a pair down for `ms`; never shortens a longer cooldown already running. */
  enter(key: string, now: number, ms: number, reason: string, status?: number): Cooldown {
    const previous = this.entries.get(key);
    const running = previous !== undefined && previous.until > now;
    const entry: Cooldown = {
      until: Math.max(now + ms, running ? previous.until : 0),
      since: running ? previous.since : now,
      reason,
      status,
      failures: (previous?.failures ?? 0) + 1,
      probing: false,
      gated: this.gateShared,
    };
    this.entries.set(key, entry);
    this.changed({ type: "enter", key, entry });
    return entry;
  }

  /** A success: the pair is healthy, its failure count starts again. */
  succeeded(key: string): void {
    if (this.entries.delete(key)) this.changed({ type: "succeeded", key });
  }

  clear(key?: string): number {
    this.changed(key === undefined ? { type: "clear" } : { type: "clear", key });
    return this.forget(key);
  }

  /** Another instance's cooldown, as the cluster link heard it: kept unless a longer one runs here. */
  mirror(key: string, entry: Cooldown, now: number): void {
    const mine = this.entries.get(key);
    if (mine !== undefined && mine.until > now && mine.until >= entry.until) return;
    this.entries.set(key, { ...entry, probing: false, gated: true });
  }

  /** Removes entries without telling the cluster (it told us). */
  forget(key?: string): number {
    if (key === undefined) {
      const n = this.entries.size;
      this.entries.clear();
      return n;
    }
    return this.entries.delete(key) ? 1 : 0;
  }

  /** The cluster link lets this instance probe a pair whose cooldown ended (or Redis is away). */
  ungate(key?: string): void {
    const keys = key === undefined ? [...this.entries.keys()] : [key];
    for (const k of keys) {
      const entry = this.entries.get(k);
      if (entry?.gated) this.entries.set(k, { ...entry, gated: false });
    }
  }

  get(key: string): Cooldown | undefined {
    return this.entries.get(key);
  }

  /** Pairs still cooling (or being probed) at `now`. Expired entries stay, to keep their failure count. */
  active(now: number): [string, Cooldown][] {
    const out: [string, Cooldown][] = [];
    for (const [key, entry] of this.entries) if (entry.until > now || entry.probing || entry.gated) out.push([key, entry]);
    return out;
  }
}
