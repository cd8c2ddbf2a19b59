import type { GroupBy, LedgerReader, SummaryQuery, SummaryRow, UsageRow } from "./ledger.ts";
import type { SavedCooldown } from "./ledger-cooldowns.ts";
import type { Spend } from "./limits-refusal.ts";
import { utcDay } from "./periods.ts";

/**
 * The tables, and the SQL both dialects share. Times are epoch ms in integer columns
 * and days are computed by integer division, so SQLite and Postgres group and sum
 * the same rows the same way, whatever the server's time zone.
 */

export const USAGE_TABLE = "llm_proxy_usage";
export const COOLDOWN_TABLE = "llm_proxy_cooldowns";

const DAY_MS = 86_400_000;

/** What a database must do for the ledger; one implementation per dialect. */
export interface LedgerStore extends LedgerReader {
  /** For messages: the file path, or the URL without its password. */
  readonly where: string;
  insert(rows: readonly UsageRow[]): Promise<void>;
  /** Deletes rows older than `before` (epoch ms), a chunk at a time; returns how many. */
  prune(before: number): Promise<number>;
  saveCooldowns(changes: CooldownWrites): Promise<void>;
  loadCooldowns(): Promise<Map<string, SavedCooldown>>;
}

/** Cooldown changes collapsed per pair: the latest state of each, after an optional clear of all. */
export interface CooldownWrites {
  readonly clearAll: boolean;
  /** null: the pair's row is deleted. */
  readonly entries: ReadonlyMap<string, SavedCooldown | null>;
}

export const isPostgresUrl = (database: string) => /^postgres(ql)?:\/\//i.test(database);

/** `postgres://user:secret@host/db` → `postgres://user:****@host/db`, for logs. */
export const safeDatabaseUrl = (database: string) => database.replace(/^(postgres(?:ql)?:\/\/[^:@/]*:)[^@/]*@/i, "$1****@");

/** A problem with `usage.database` that a person must fix; says which and how. */
export class LedgerError extends Error {
  override name = "LedgerError";
}

/** Column order of an insert; `record` gives the values in this order. */
export const USAGE_COLUMNS = [
  "time_ms",
  "key_name",
  "alias",
  "backend",
  "model",
  "status",
  "outcome",
  "attempts",
  "input_tokens",
  "output_tokens",
  "cache_read_tokens",
  "cache_write_tokens",
  "cost_usd",
  "latency_ms",
  "first_byte_ms",
  "stream_complete",
] as const;

export type UsageColumn = (typeof USAGE_COLUMNS)[number];

export function usageDdl(dialect: "sqlite" | "postgres"): string[] {
  const id = dialect === "sqlite" ? "id INTEGER PRIMARY KEY" : "id BIGSERIAL PRIMARY KEY";
  const real = dialect === "sqlite" ? "REAL" : "DOUBLE PRECISION";
  const bool = dialect === "sqlite" ? "INTEGER" : "BOOLEAN";
  return [
    `CREATE TABLE IF NOT EXISTS ${USAGE_TABLE} (
      ${id},
      time_ms BIGINT NOT NULL,
      key_name TEXT NOT NULL,
      alias TEXT NOT NULL,
      backend TEXT NOT NULL,
      model TEXT NOT NULL,
      status INTEGER NOT NULL,
      outcome TEXT NOT NULL,
      attempts INTEGER NOT NULL,
      input_tokens BIGINT NOT NULL,
      output_tokens BIGINT NOT NULL,
      cache_read_tokens BIGINT NOT NULL,
      cache_write_tokens BIGINT NOT NULL,
      cost_usd ${real} NOT NULL,
      latency_ms BIGINT NOT NULL,
      first_byte_ms BIGINT,
      stream_complete ${bool}
    )`,
    `CREATE INDEX IF NOT EXISTS ${USAGE_TABLE}_time ON ${USAGE_TABLE} (time_ms)`,
    `CREATE INDEX IF NOT EXISTS ${USAGE_TABLE}_key_time ON ${USAGE_TABLE} (key_name, time_ms)`,
    `CREATE TABLE IF NOT EXISTS ${COOLDOWN_TABLE} (
      pair TEXT PRIMARY KEY,
      until_ms BIGINT NOT NULL,
      since_ms BIGINT NOT NULL,
      reason TEXT NOT NULL,
      status INTEGER,
      failures INTEGER NOT NULL
    )`,
  ];
}

// Postgres text cannot hold NUL; the request path's strings come from clients.
const text = (s: string) => (s.includes("\u0000") ? s.replaceAll("\u0000", "\uFFFD") : s);
const int = (n: number) => (Number.isFinite(n) ? Math.round(n) : 0);
const count = (n: number) => Math.max(0, int(n));

/** A row's values in `USAGE_COLUMNS` order, cleaned so no database can refuse them. */
export function usageValues(row: UsageRow): [number, string, string, string, string, number, string, number, number, number, number, number, number, number, number | null, boolean | null] {
  return [
    int(row.time),
    text(row.key),
    text(row.alias),
    text(row.backend),
    text(row.model),
    int(row.status),
    text(row.outcome),
    count(row.attempts),
    count(row.input),
    count(row.output),
    count(row.cacheRead),
    count(row.cacheWrite),
    Number.isFinite(row.costUsd) ? row.costUsd : 0,
    count(row.latencyMs),
    row.firstByteMs === null ? null : count(row.firstByteMs),
    row.streamComplete,
  ];
}

const GROUP_EXPRESSIONS: Record<GroupBy, string> = {
  key: "key_name",
  alias: "alias",
  backend: "backend",
  model: "model",
  // Integer division of integers in both dialects: the UTC day number.
  day: `time_ms / ${DAY_MS}`,
};

/** The summary statement, with `$1`-style or `?` placeholders for from, to and (optionally) key. */
export function summarySql(query: SummaryQuery, placeholder: (n: number) => string): { text: string; params: (number | string)[] } {
  const params: (number | string)[] = [query.from, query.to];
  let where = `time_ms >= ${placeholder(1)} AND time_ms < ${placeholder(2)}`;
  if (query.key !== undefined) {
    params.push(query.key);
    where += ` AND key_name = ${placeholder(3)}`;
  }
  const text = `SELECT ${GROUP_EXPRESSIONS[query.by]} AS grp, COUNT(*) AS requests,
      SUM(input_tokens) AS input_tokens, SUM(cache_read_tokens) AS cache_read_tokens,
      SUM(cache_write_tokens) AS cache_write_tokens, SUM(output_tokens) AS output_tokens,
      SUM(cost_usd) AS cost_usd
    FROM ${USAGE_TABLE} WHERE ${where} GROUP BY grp`;
  return { text, params };
}

export function spentSql(placeholder: (n: number) => string): string {
  return `SELECT key_name, SUM(input_tokens + output_tokens + cache_read_tokens + cache_write_tokens) AS tokens, SUM(cost_usd) AS usd
    FROM ${USAGE_TABLE} WHERE time_ms >= ${placeholder(1)} GROUP BY key_name`;
}

/** The group a summary row is about (its `by` field). */
export function groupOf<B extends GroupBy>(row: SummaryRow<B>, by: B): string {
  return (row as unknown as Record<GroupBy, string>)[by];
}

/** Dollars summed in a different order differ in the last bits; a billionth of a dollar is plenty. */
const dollars = (n: unknown) => Math.round(Number(n) * 1e9) / 1e9;

/**
 * Database rows (numbers as numbers or, from Postgres, as strings) to summary rows,
 * in one order for both dialects: days in order, else the most expensive first.
 */
export function summaryRows<B extends GroupBy>(by: B, raw: readonly Record<string, unknown>[]): SummaryRow<B>[] {
  const rows = raw.map((r) => {
    const group = by === "day" ? utcDay(Number(r.grp) * DAY_MS) : String(r.grp);
    const row: Record<string, string | number> = {
      [by]: group,
      requests: Number(r.requests),
      input_tokens: Number(r.input_tokens),
      cache_read_tokens: Number(r.cache_read_tokens),
      cache_write_tokens: Number(r.cache_write_tokens),
      output_tokens: Number(r.output_tokens),
      cost_usd: dollars(r.cost_usd),
    };
    // A computed key cannot be typed as the mapped `{ [K in B]: string }`; it is `by` itself.
    return row as unknown as SummaryRow<B>;
  });
  const name = (r: SummaryRow<B>) => groupOf(r, by);
  return rows.sort((a, b) => {
    if (by !== "day") {
      if (a.cost_usd !== b.cost_usd) return b.cost_usd - a.cost_usd;
      if (a.requests !== b.requests) return b.requests - a.requests;
    }
    return name(a) < name(b) ? -1 : name(a) > name(b) ? 1 : 0;
  });
}

export function spentRows(raw: readonly Record<string, unknown>[]): Map<string, Spend> {
  const out = new Map<string, Spend>();
  for (const r of raw) out.set(String(r.key_name), { tokens: Number(r.tokens), usd: dollars(r.usd) });
  return out;
}

export function cooldownFromRow(r: Record<string, unknown>): SavedCooldown {
  return {
    until: Number(r.until_ms),
    since: Number(r.since_ms),
    reason: String(r.reason),
    status: r.status === null || r.status === undefined ? undefined : Number(r.status),
    failures: Number(r.failures),
  };
}

/** Old rows go a chunk at a time, so a large prune never holds the database (or SQLite, the event loop) for long. */
export const PRUNE_CHUNK = 5000;
