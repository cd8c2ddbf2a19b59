import { BufferedLedger } from "./ledger-buffer.ts";
import type { CooldownStore } from "./ledger-cooldowns.ts";
import { PostgresStore } from "./ledger-postgres.ts";
import { isPostgresUrl } from "./ledger-schema.ts";
import { openSqliteReader, SqliteStore } from "./ledger-sqlite.ts";
import type { Spend } from "./limits-refusal.ts";

/**
 * The usage ledger: one row per proxied request, written in batches off the request
 * path to an embedded SQLite file (the default) or to Postgres, which several
 * instances can share. The same database keeps the cooldown table across restarts.
 */

/** One proxied request, as the request path hands it over when the request is over. */
export interface UsageRow {
  /** When the request arrived, epoch ms. */
  readonly time: number;
  /** The key's `name` from the config (never its value). */
  readonly key: string;
  readonly alias: string;
  /** The backend and model that answered last ("" when none was tried). */
  readonly backend: string;
  readonly model: string;
  /** The status the client got. */
  readonly status: number;
  /** How it ended, in the request path's words ("ok", "failed", "limited", "cut", …). */
  readonly outcome: string;
  readonly attempts: number;
  readonly input: number;
  readonly output: number;
  readonly cacheRead: number;
  readonly cacheWrite: number;
  readonly costUsd: number;
  readonly latencyMs: number;
  /** Until the first byte of the answer; null when none came. */
  readonly firstByteMs: number | null;
  /** For a stream: whether it ended complete; null for a non-stream answer. */
  readonly streamComplete: boolean | null;
}

export type GroupBy = "key" | "alias" | "backend" | "model" | "day";

export const GROUP_BYS: readonly GroupBy[] = ["key", "alias", "backend", "model", "day"];

export interface SummaryQuery<B extends GroupBy = GroupBy> {
  /** Epoch ms, inclusive. */
  readonly from: number;
  /** Epoch ms, exclusive. */
  readonly to: number;
  readonly by: B;
  /** Only this key name's rows. */
  readonly key?: string;
}

export interface UsageTotals {
  readonly requests: number;
  readonly input_tokens: number;
  readonly cache_read_tokens: number;
  readonly cache_write_tokens: number;
  readonly output_tokens: number;
  readonly cost_usd: number;
}

/** `{ key: "alice", requests: 3, … }` for `by: "key"`; days read `2026-12-02` (UTC). A union over `B` when `B` is. */
export type SummaryRow<B extends GroupBy = GroupBy> = B extends GroupBy ? { readonly [K in B]: string } & UsageTotals : never;

export type LogLevel = "info" | "warn" | "error";
export type LedgerLog = (level: LogLevel, message: string) => void;

export interface LedgerOptions {
  /** Rows older than this many days are deleted now and then; 0 keeps them forever. */
  readonly retentionDays: number;
  readonly log: LedgerLog;
  /** A flush runs at least this often (default 1000). */
  readonly flushMs?: number;
  /** …and as soon as this many rows wait (default 100). */
  readonly batchRows?: number;
  /** At most this many rows wait in memory while the database is away; the oldest go first (default 10 000). */
  readonly maxBufferRows?: number;
  /** How often old rows are pruned (default hourly). */
  readonly pruneEveryMs?: number;
}

export interface LedgerStats {
  /** Rows waiting in memory. */
  readonly buffered: number;
  /** Rows written since the ledger was opened. */
  readonly written: number;
  /** Rows thrown away because the buffer was full. */
  readonly dropped: number;
  /** Write statements (batches) that succeeded. */
  readonly batches: number;
  /** Writes the database refused (each is retried later). */
  readonly failedWrites: number;
  /** True while the database refuses writes. */
  readonly failing: boolean;
}

/** Reading the ledger: the same answers from SQLite and Postgres. */
export interface LedgerReader {
  summary<B extends GroupBy>(query: SummaryQuery<B>): Promise<SummaryRow<B>[]>;
  /** Tokens and dollars per key name since `since` (epoch ms): a budget period's spend. */
  spentSince(since: number): Promise<Map<string, Spend>>;
  close(): Promise<void>;
}

export interface Ledger extends LedgerReader {
  /** Appends to the in-memory buffer; synchronous, never throws, never waits. */
  record(row: UsageRow): void;
  /** Writes everything recorded (and every cooldown change saved) before the call; rejects when the database refused (the rows stay buffered). */
  flush(): Promise<void>;
  /** Deletes rows older than the retention; returns how many. */
  prune(now: number): Promise<number>;
  /** The cooldown table's saved state, in the same database. */
  readonly cooldowns: CooldownStore;
  stats(): LedgerStats;
  /** Stops the timers, makes a last flush and closes the database. */
  close(): Promise<void>;
}

/** Opens the ledger named by `usage.database`: a `postgres://` URL, or else a SQLite file path (its folder is created). */
export async function openLedger(database: string, options: LedgerOptions): Promise<Ledger> {
  const store = isPostgresUrl(database) ? await PostgresStore.open(database, options.log) : SqliteStore.open(database);
  return BufferedLedger.start(store, options);
}

/** Opens the ledger for reading only (the `usage` command): no timers, no writes, no file created. */
export async function openLedgerReader(database: string, log: LedgerLog): Promise<LedgerReader> {
  return isPostgresUrl(database) ? PostgresStore.open(database, log) : openSqliteReader(database);
}
