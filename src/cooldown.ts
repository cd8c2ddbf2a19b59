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
}

/** What a request may do with a pair right now. */
export type Access = "free" | "probe" | "cooling";

/**
 * Backend+model pairs that failed recently, keyed as the original keys them.
 * Pure: every method takes `now`, so tests need no timers. Lives outside the
 * configuration, so cooldowns survive reloads.
 */
export class CooldownTable {
  private readonly entries = new Map<string, Cooldown>();

  /** Milliseconds until the pair is free; 0 when it may be tried (or probed) now. A pair being probed counts as 1 s. */
  remaining(key: string, now: number): number {
    const entry = this.entries.get(key);
    if (entry === undefined) return 0;
    if (entry.until > now) return entry.until - now;
    return entry.probing ? 1000 : 0;
  }

  /**
   * Claims a pair for an attempt. A pair whose cooldown has ended is handed to one
   * request as a probe; until that probe succeeds or fails, the others skip it.
   */
  claim(key: string, now: number): Access {
    const entry = this.entries.get(key);
    if (entry === undefined) return "free";
    if (entry.until > now || entry.probing) return "cooling";
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
    };
    this.entries.set(key, entry);
    return entry;
  }

  /** A success: the pair is healthy, its failure count starts again. */
  succeeded(key: string): void {
    this.entries.delete(key);
  }

  clear(key?: string): number {
    if (key === undefined) {
      const n = this.entries.size;
      this.entries.clear();
      return n;
    }
    return this.entries.delete(key) ? 1 : 0;
  }

  /** Pairs still cooling (or being probed) at `now`. Expired entries stay, to keep their failure count. */
  active(now: number): [string, Cooldown][] {
    const out: [string, Cooldown][] = [];
    for (const [key, entry] of this.entries) if (entry.until > now || entry.probing) out.push([key, entry]);
    return out;
  }
}
