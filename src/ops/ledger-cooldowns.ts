// The one import of the cooldown table's types: when it moves, only this line changes.
import type { Cooldown, CooldownChange, CooldownTable } from "../proxy/cooldown.ts";
import type { CooldownWrites } from "./ledger-schema.ts";
import { decodePair, encodePair } from "../config/pair.ts";

/**
 * The cooldown table, saved in the ledger's database so a restart (even `kill -9`)
 * does not forget which backend+model pairs are cooling. Changes are collapsed per
 * pair in memory (so the pending set is bounded by the number of pairs, whatever the
 * rate of changes) and written by the ledger's flush, at least once a second.
 */

/** What is kept of a cooldown: `probing` and `gated` are about this run only. */
export interface SavedCooldown {
  readonly until: number;
  readonly since: number;
  readonly reason: string;
  readonly status: number | undefined;
  readonly failures: number;
}

// Pair keys hold NUL ("backend\u0000model"), which Postgres text cannot store: rows keep them encoded.

export class CooldownStore {
  private clearAll = false;
  private pending = new Map<string, SavedCooldown | null>();

  constructor(private readonly read: () => Promise<Map<string, SavedCooldown>>) {}

  /** Synchronous and cheap: remembers the change for the ledger's next timed flush (within `flushMs`). */
  save(change: CooldownChange): void {
    if (change.type === "enter") {
      const { until, since, reason, status, failures } = change.entry;
      this.pending.set(encodePair(change.key), { until, since, reason, status, failures });
    } else if (change.type === "succeeded") {
      this.pending.set(encodePair(change.key), null);
    } else if (change.key !== undefined) {
      this.pending.set(encodePair(change.key), null);
    } else {
      this.clearAll = true;
      this.pending.clear();
    }
  }

  /** The saved cooldowns still running at `now`, keyed as the table keys them; expired ones are dropped. */
  async load(now: number): Promise<[string, SavedCooldown][]> {
    const saved = await this.read();
    const out: [string, SavedCooldown][] = [];
    for (const [pair, entry] of saved) if (entry.until > now) out.push([decodePair(pair), entry]);
    return out;
  }

  get waiting(): boolean {
    return this.clearAll || this.pending.size > 0;
  }

  /** Hands the pending writes to the flush. */
  take(): CooldownWrites | undefined {
    if (!this.waiting) return undefined;
    const writes = { clearAll: this.clearAll, entries: this.pending };
    this.clearAll = false;
    this.pending = new Map();
    return writes;
  }

  /** The write failed: keep it, under whatever changed since (newer wins). */
  putBack(failed: CooldownWrites): void {
    if (this.clearAll) return;
    const merged = new Map(failed.entries);
    for (const [pair, entry] of this.pending) merged.set(pair, entry);
    this.pending = merged;
    this.clearAll = failed.clearAll;
  }
}

/** Saves every change the table makes through `store`. Returns the way to stop. */
export function persistCooldowns(table: CooldownTable, store: CooldownStore): () => void {
  return table.listen((change: CooldownChange) => store.save(change));
}

/**
 * Puts saved cooldowns back into a fresh table at start-up, failure counts kept.
 * `mirror` is the table's way in that does not report a change (these are already
 * saved); the entries are then ungated, since no cluster has granted a probe yet.
 */
export function restoreCooldowns(table: CooldownTable, saved: readonly [string, SavedCooldown][], now: number): number {
  for (const [key, entry] of saved) {
    const cooldown: Cooldown = { ...entry, probing: false, gated: false };
    table.mirror(key, cooldown, now);
    table.ungate(key);
  }
  return saved.length;
}
