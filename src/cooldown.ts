export interface Cooldown {
  /** Epoch milliseconds when the pair may be used again. */
  readonly until: number;
  readonly reason: string;
  readonly status: number | undefined;
  /** Failures in a row, reset by a success. */
  readonly failures: number;
}

/**
 * Backend+model pairs that failed recently, keyed as the original keys them.
 * Pure: every method takes `now`, so tests need no timers. Lives outside the
 * configuration, so cooldowns survive reloads.
 */
export class CooldownTable {
  private readonly entries = new Map<string, Cooldown>();

  /** Milliseconds until the pair is free; 0 when it is not cooling. */
  remaining(key: string, now: number): number {
    const entry = this.entries.get(key);
    return entry !== undefined && entry.until > now ? entry.until - now : 0;
  }

  /** Cools a pair down for `ms`; never shortens a longer cooldown already running. */
  enter(key: string, now: number, ms: number, reason: string, status?: number): Cooldown {
    const previous = this.entries.get(key);
    const failures = (previous?.failures ?? 0) + 1;
    const until = Math.max(now + ms, previous && previous.until > now ? previous.until : 0);
    const entry: Cooldown = { until, reason, status, failures };
    this.entries.set(key, entry);
    return entry;
  }

  /** A success: the pair's failure count starts again. */
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

  /** Pairs still cooling at `now`. Expired entries stay, to keep their failure count. */
  active(now: number): [string, Cooldown][] {
    const out: [string, Cooldown][] = [];
    for (const [key, entry] of this.entries) {
      if (entry.until > now) out.push([key, entry]);
    }
    return out;
  }
}
