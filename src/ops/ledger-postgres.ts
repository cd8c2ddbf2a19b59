import { SQL } from "bun";
import type { GroupBy, LedgerLog, SummaryQuery, SummaryRow, UsageRow } from "./ledger.ts";
import type { SavedCooldown } from "./ledger-cooldowns.ts";
import {
  COOLDOWN_TABLE,
  cooldownFromRow,
  type CooldownWrites,
  LedgerError,
  type LedgerStore,
  PRUNE_CHUNK,
  safeDatabaseUrl,
  spentRows,
  spentSql,
  summaryRows,
  summarySql,
  USAGE_COLUMNS,
  USAGE_TABLE,
  usageDdl,
  usageValues,
} from "./ledger-schema.ts";
import type { Spend } from "./limits-refusal.ts";

const reason = (error: unknown) => (error instanceof Error ? error.message : String(error));
const dollar = (n: number) => `$${n}`;

/** Serialises the CREATE TABLEs of instances that start at once (CREATE … IF NOT EXISTS races in Postgres). */
const SCHEMA_LOCK = 0x6c6c6d70; // "llmp"

/**
 * The shared ledger: Postgres through Bun.SQL, for several instances. Connecting is
 * lazy and the pool reconnects by itself; while the server is away, `insert`
 * rejects and the buffered ledger keeps the rows and retries. The tables are created
 * when missing, at open or, when the server was away then, before the first write.
 */
export class PostgresStore implements LedgerStore {
  private ready = false;

  private constructor(
    private readonly sql: SQL,
    readonly where: string,
  ) {}

  /** Resolves even when the server does not answer yet (said in the log): the proxy must start anyway. */
  static async open(url: string, log: LedgerLog): Promise<PostgresStore> {
    // Short connection timeout: a flush that cannot connect should fail and retry, not hang for 30 s.
    let sql: SQL;
    try {
      sql = new SQL({ url, max: 3, connectionTimeout: 5, idleTimeout: 60 });
    } catch (error) {
      throw new LedgerError(`usage.database: ${safeDatabaseUrl(url)} is not a usable Postgres URL (${reason(error)}); expected postgres://user:password@host:5432/database`, { cause: error });
    }
    const store = new PostgresStore(sql, safeDatabaseUrl(url));
    try {
      await store.schema();
    } catch (error) {
      log("warn", `ledger: Postgres at ${store.where} does not answer (${reason(error)}); usage rows wait in memory and the tables are created when it does`);
    }
    return store;
  }

  private async schema(): Promise<void> {
    if (this.ready) return;
    await this.sql.begin(async (tx) => {
      await tx`SELECT pg_advisory_xact_lock(${SCHEMA_LOCK})`;
      for (const ddl of usageDdl("postgres")) await tx.unsafe(ddl);
    });
    this.ready = true;
  }

  async insert(rows: readonly UsageRow[]): Promise<void> {
    if (rows.length === 0) return;
    await this.schema();
    const width = USAGE_COLUMNS.length;
    const params: (string | number | boolean | null)[] = [];
    const tuples: string[] = [];
    rows.forEach((row, r) => {
      params.push(...usageValues(row));
      tuples.push(`(${USAGE_COLUMNS.map((_, c) => dollar(r * width + c + 1)).join(", ")})`);
    });
    await this.sql.unsafe(`INSERT INTO ${USAGE_TABLE} (${USAGE_COLUMNS.join(", ")}) VALUES ${tuples.join(", ")}`, params);
  }

  async summary<B extends GroupBy>(query: SummaryQuery<B>): Promise<SummaryRow<B>[]> {
    await this.schema();
    const { text, params } = summarySql(query, dollar);
    return summaryRows(query.by, (await this.sql.unsafe(text, params)) as Record<string, unknown>[]);
  }

  async spentSince(since: number): Promise<Map<string, Spend>> {
    await this.schema();
    return spentRows((await this.sql.unsafe(spentSql(dollar), [since])) as Record<string, unknown>[]);
  }

  async prune(before: number): Promise<number> {
    await this.schema();
    let total = 0;
    for (;;) {
      const result = await this.sql.unsafe(`DELETE FROM ${USAGE_TABLE} WHERE id IN (SELECT id FROM ${USAGE_TABLE} WHERE time_ms < $1 LIMIT ${PRUNE_CHUNK})`, [before]);
      const changes = Number((result as { count?: unknown }).count ?? 0);
      total += changes;
      if (changes < PRUNE_CHUNK) return total;
    }
  }

  async saveCooldowns(writes: CooldownWrites): Promise<void> {
    await this.schema();
    await this.sql.begin(async (tx) => {
      if (writes.clearAll) await tx.unsafe(`DELETE FROM ${COOLDOWN_TABLE}`);
      for (const [pair, c] of writes.entries) {
        if (c === null) {
          await tx.unsafe(`DELETE FROM ${COOLDOWN_TABLE} WHERE pair = $1`, [pair]);
        } else {
          await tx.unsafe(
            `INSERT INTO ${COOLDOWN_TABLE} (pair, until_ms, since_ms, reason, status, failures) VALUES ($1, $2, $3, $4, $5, $6)
             ON CONFLICT (pair) DO UPDATE SET until_ms = excluded.until_ms, since_ms = excluded.since_ms, reason = excluded.reason, status = excluded.status, failures = excluded.failures`,
            [pair, Math.round(c.until), Math.round(c.since), c.reason.replaceAll("\u0000", "\uFFFD"), c.status ?? null, c.failures],
          );
        }
      }
    });
  }

  async loadCooldowns(): Promise<Map<string, SavedCooldown>> {
    await this.schema();
    const rows = (await this.sql.unsafe(`SELECT pair, until_ms, since_ms, reason, status, failures FROM ${COOLDOWN_TABLE}`)) as Record<string, unknown>[];
    return new Map(rows.map((r) => [String(r.pair), cooldownFromRow(r)]));
  }

  async close(): Promise<void> {
    await this.sql.close({ timeout: 5 });
  }
}
