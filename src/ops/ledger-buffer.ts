import type { GroupBy, Ledger, LedgerLog, LedgerOptions, LedgerStats, SummaryQuery, SummaryRow, UsageRow } from "./ledger.ts";
import { CooldownStore } from "./ledger-cooldowns.ts";
import type { LedgerStore } from "./ledger-schema.ts";
import type { Spend } from "./limits-refusal.ts";

const DAY_MS = 86_400_000;
/** The most rows one insert statement carries (16 columns each: well under Postgres's 65 535 parameters). */
const MAX_INSERT_ROWS = 1000;
const RETRY_MIN_MS = 1000;
/** A flush that found the SQLite file locked by another process is tried again this soon. */
const BUSY_RETRY_MS = 50;
const RETRY_MAX_MS = 30_000;

const reason = (error: unknown) => (error instanceof Error ? error.message : String(error));

/**
 * The ledger's write side: `record` appends to memory; a flush, at least every
 * `flushMs` or as soon as `batchRows` wait, writes them to the store in one
 * statement per batch. While the store refuses, the rows wait (at most
 * `maxBufferRows`, the oldest dropped first, said once per outage) and the flush
 * retries with backoff. Nothing here throws into the request path or crashes the
 * process: timers catch everything and log.
 */
export class BufferedLedger implements Ledger {
  readonly cooldowns: CooldownStore;
  private buffer: UsageRow[] = [];
  private readonly flushMs: number;
  private readonly batchRows: number;
  private readonly maxBufferRows: number;
  private readonly log: LedgerLog;
  private flushTimer: Timer | undefined;
  private pruneTimer: Timer | undefined;
  private pruneSoon: Timer | undefined;
  private soon: Timer | undefined;
  private running: Promise<void> | undefined;
  private pruning: Promise<number> | undefined;
  private closed = false;
  private written = 0;
  private dropped = 0;
  private batches = 0;
  private failedWrites = 0;
  private failing = false;
  /** The last failure was a busy file, not an outage: nothing was said, nothing to say on recovery. */
  private busy = false;
  private retryAt = 0;
  private retryMs = RETRY_MIN_MS;
  /** Counted over one outage, for the message when it ends. */
  private droppedInOutage = 0;

  private constructor(
    private readonly store: LedgerStore,
    private readonly options: LedgerOptions,
  ) {
    this.flushMs = options.flushMs ?? 1000;
    this.batchRows = options.batchRows ?? 100;
    this.maxBufferRows = Math.max(this.batchRows, options.maxBufferRows ?? 10_000);
    this.log = options.log;
    this.cooldowns = new CooldownStore(() => store.loadCooldowns());
  }

  static start(store: LedgerStore, options: LedgerOptions): BufferedLedger {
    const ledger = new BufferedLedger(store, options);
    ledger.flushTimer = setInterval(() => ledger.tick(), ledger.flushMs);
    ledger.flushTimer.unref?.();
    if (options.retentionDays > 0) {
      const prune = () => void ledger.prune(Date.now()).catch((error) => ledger.log("warn", `ledger: pruning ${store.where} failed (${reason(error)}); trying again later`));
      const every = options.pruneEveryMs ?? 3_600_000;
      ledger.pruneTimer = setInterval(prune, every);
      ledger.pruneTimer.unref?.();
      // The first prune a minute after start, not during it: start-up has enough to do.
      ledger.pruneSoon = setTimeout(prune, Math.min(every, 60_000));
      ledger.pruneSoon.unref?.();
    }
    return ledger;
  }

  record(row: UsageRow): void {
    if (this.closed) return;
    this.buffer.push(row);
    if (this.buffer.length > this.maxBufferRows) this.drop();
    // While the database is away the interval retries; a full batch need not ask again on every row.
    if (this.buffer.length >= this.batchRows && !this.failing) this.wake();
  }

  stats(): LedgerStats {
    const { written, dropped, batches, failedWrites, failing } = this;
    return { buffered: this.buffer.length, written, dropped, batches, failedWrites, failing };
  }

  async flush(): Promise<void> {
    // A timed flush may be running with only part of what was recorded before this call: wait, then write the rest.
    while (this.running) await this.running.catch(() => undefined);
    const run = this.write(this.buffer.length);
    this.running = run;
    try {
      await run;
    } finally {
      if (this.running === run) this.running = undefined;
    }
  }

  summary<B extends GroupBy>(query: SummaryQuery<B>): Promise<SummaryRow<B>[]> {
    return this.store.summary(query);
  }

  spentSince(since: number): Promise<Map<string, Spend>> {
    return this.store.spentSince(since);
  }

  async prune(now: number): Promise<number> {
    if (this.options.retentionDays <= 0) return 0;
    // One prune at a time: two would only race for the same rows.
    while (this.pruning) await this.pruning.catch(() => 0);
    const run = this.store.prune(now - this.options.retentionDays * DAY_MS);
    this.pruning = run;
    let deleted: number;
    try {
      deleted = await run;
    } finally {
      this.pruning = undefined;
    }
    if (deleted > 0) this.log("info", `ledger: deleted ${deleted} rows older than ${this.options.retentionDays} days from ${this.store.where} (usage.retention_days)`);
    return deleted;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.flushTimer);
    clearInterval(this.pruneTimer);
    clearTimeout(this.pruneSoon);
    clearTimeout(this.soon);
    await this.pruning?.catch(() => 0);
    try {
      await this.flush();
    } catch (error) {
      const lost = this.buffer.length;
      if (lost > 0 || this.cooldowns.waiting) this.log("error", `ledger: closing with ${lost} rows (and cooldown changes) not written to ${this.store.where}: ${reason(error)}`);
    }
    await this.store.close();
  }

  /** A flush soon, outside the caller's stack (the caller may be the request path). */
  private wake(): void {
    if (this.soon || this.closed) return;
    this.soon = setTimeout(() => {
      this.soon = undefined;
      this.tick();
    }, 0);
  }

  /** The timers' flush: at most one at a time, none while backing off, errors logged. */
  private tick(): void {
    if (this.running || (this.failing && Date.now() < this.retryAt)) return;
    if (this.buffer.length === 0 && !this.cooldowns.waiting) return;
    const run = this.write(this.buffer.length);
    this.running = run;
    run
      .catch(() => undefined)
      .finally(() => {
        if (this.running === run) this.running = undefined;
        if (!this.failing && this.buffer.length >= this.batchRows) this.wake();
      });
  }

  /** Writes the first `n` rows and the pending cooldown changes; the outage bookkeeping lives here. */
  private async write(n: number): Promise<void> {
    try {
      const writes = this.cooldowns.take();
      if (writes) {
        try {
          await this.store.saveCooldowns(writes);
        } catch (error) {
          this.cooldowns.putBack(writes);
          throw error;
        }
      }
      let left = Math.min(n, this.buffer.length);
      while (left > 0) {
        // Taken out first, so dropping the oldest while this waits cannot hit rows in flight.
        const batch = this.buffer.splice(0, Math.min(left, MAX_INSERT_ROWS));
        try {
          await this.store.insert(batch);
        } catch (error) {
          this.buffer = batch.concat(this.buffer);
          if (this.buffer.length > this.maxBufferRows) this.drop();
          throw error;
        }
        left -= batch.length;
        this.written += batch.length;
        this.batches++;
      }
      this.recovered();
    } catch (error) {
      this.failed(error);
      throw error;
    }
  }

  private failed(error: unknown): void {
    this.failedWrites++;
    // Another process held the file's write lock (workers share it): not an outage, just later.
    if ((error as { code?: unknown } | undefined)?.code === "SQLITE_BUSY" && (!this.failing || this.busy)) {
      this.failing = true;
      this.busy = true;
      this.retryAt = Date.now() + BUSY_RETRY_MS;
      return;
    }
    if (!this.failing || this.busy) {
      this.failing = true;
      this.busy = false;
      this.retryMs = RETRY_MIN_MS;
      this.log("warn", `ledger: cannot write to ${this.store.where} (${reason(error)}); keeping up to ${this.maxBufferRows} rows in memory and retrying`);
    } else {
      this.retryMs = Math.min(this.retryMs * 2, RETRY_MAX_MS);
    }
    this.retryAt = Date.now() + this.retryMs;
  }

  private recovered(): void {
    if (!this.failing && this.droppedInOutage === 0) return;
    this.failing = false;
    if (this.busy) {
      this.busy = false;
      if (this.droppedInOutage === 0) return;
    }
    const lost = this.droppedInOutage === 0 ? "no rows lost" : `${this.droppedInOutage} rows dropped meanwhile`;
    this.log("info", `ledger: writing to ${this.store.where} again; ${lost}`);
    this.droppedInOutage = 0;
  }

  /** The buffer is over its bound: the oldest tenth goes, so dropping is rare work, not per row. */
  private drop(): void {
    const excess = this.buffer.length - this.maxBufferRows;
    const n = Math.max(excess, Math.ceil(this.maxBufferRows / 10));
    this.buffer.splice(0, n);
    if (this.droppedInOutage === 0) {
      this.log("error", `ledger: ${this.maxBufferRows} usage rows wait for ${this.store.where}, which is unreachable or too slow; dropping the oldest rows until it catches up`);
    }
    this.dropped += n;
    this.droppedInOutage += n;
  }
}
