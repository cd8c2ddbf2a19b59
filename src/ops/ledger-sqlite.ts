import { Database } from "bun:sqlite";
import { existsSync, mkdirSync } from "node:fs";
import { dirname, resolve } from "node:path";
import type { GroupBy, LedgerReader, SummaryQuery, SummaryRow, UsageRow } from "./ledger.ts";
import type { SavedCooldown } from "./ledger-cooldowns.ts";
import {
  COOLDOWN_TABLE,
  cooldownFromRow,
  type CooldownWrites,
  LedgerError,
  type LedgerStore,
  PRUNE_CHUNK,
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

type Bind = string | number | null;

/**
 * Rows per INSERT statement: one statement for many rows costs less per row than one
 * each (measured alone, 100-row batches on disk: 3.5 µs per row at 16 or 20 rows per
 * statement, the same at 100, 5.5 µs one by one). Only these sizes are prepared, once:
 * a batch is cut into them largest first (37 rows: 16 + 16 + 4 + 1). A statement per
 * batch size met, as before, held up to 128 statements at once, 19 MiB measured.
 */
const STATEMENT_ROWS = [16, 8, 4, 2, 1] as const;

/**
 * The embedded ledger: one SQLite file through bun:sqlite, in WAL mode. A commit is
 * durable once `insert` returns, against a killed process (a power cut may lose the
 * last commits with synchronous=NORMAL, never corrupt the file). Statements run
 * on the event loop, but only from the ledger's timers and a batch at a time, which
 * takes well under a millisecond for 100 rows.
 */
export class SqliteStore implements LedgerStore {
  private readonly insertMany: (rows: readonly UsageRow[]) => void;
  private readonly writeCooldowns: (writes: CooldownWrites) => void;

  private constructor(
    private readonly db: Database,
    readonly where: string,
  ) {
    const columns = USAGE_COLUMNS.join(", ");
    const placeholders = `(${USAGE_COLUMNS.map(() => "?").join(", ")})`;
    const width = USAGE_COLUMNS.length;
    // Each statement with its own array of values, refilled for every run: no arrays made per row.
    const inserts = STATEMENT_ROWS.map((n) => ({
      n,
      values: new Array<Bind>(n * width).fill(null),
      statement: db.prepare(`INSERT INTO ${USAGE_TABLE} (${columns}) VALUES ${Array.from({ length: n }, () => placeholders).join(", ")}`),
    }));
    this.insertMany = db.transaction((rows: readonly UsageRow[]) => {
      let i = 0;
      for (const { n, values, statement } of inserts) {
        for (; i + n <= rows.length; i += n) {
          for (let r = 0; r < n; r++) {
            const row = usageValues(rows[i + r]!);
            for (let c = 0; c < width; c++) values[r * width + c] = bindable(row[c]!);
          }
          statement.run(...values);
        }
      }
    });
    const upsert = db.prepare(
      `INSERT INTO ${COOLDOWN_TABLE} (pair, until_ms, since_ms, reason, status, failures) VALUES (?, ?, ?, ?, ?, ?)
       ON CONFLICT (pair) DO UPDATE SET until_ms = excluded.until_ms, since_ms = excluded.since_ms, reason = excluded.reason, status = excluded.status, failures = excluded.failures`,
    );
    const remove = db.prepare(`DELETE FROM ${COOLDOWN_TABLE} WHERE pair = ?`);
    this.writeCooldowns = db.transaction((writes: CooldownWrites) => {
      if (writes.clearAll) db.run(`DELETE FROM ${COOLDOWN_TABLE}`);
      for (const [pair, c] of writes.entries) {
        if (c === null) remove.run(pair);
        else upsert.run(pair, Math.round(c.until), Math.round(c.since), c.reason, c.status ?? null, c.failures);
      }
    });
  }

  /** Opens (or creates, with its folder) the file, in WAL mode, with the tables. */
  static open(path: string): SqliteStore {
    if (path !== ":memory:") {
      try {
        mkdirSync(dirname(resolve(path)), { recursive: true });
      } catch (error) {
        throw new LedgerError(`usage.database: cannot create the folder for ${path} (${reason(error)}); choose a writable path`, { cause: error });
      }
    }
    let db: Database | undefined;
    try {
      db = new Database(path, { create: true, strict: true });
      db.run("PRAGMA journal_mode = WAL");
      db.run("PRAGMA synchronous = NORMAL");
      // Writes run on the event loop, which must not stall: another process (a worker) holding
      // the write lock longer than this makes the flush fail and be tried again shortly.
      db.run("PRAGMA busy_timeout = 20");
      for (const ddl of usageDdl("sqlite")) db.run(ddl);
      return new SqliteStore(db, path);
    } catch (error) {
      db?.close();
      throw new LedgerError(`usage.database: cannot use ${path} as a SQLite ledger (${reason(error)}); point it at a new file or a SQLite database of llm-proxy's`, { cause: error });
    }
  }

  /** Read-only, for the `usage` command next to a running server; refuses a file that is not there. */
  static openReadOnly(path: string): SqliteStore {
    if (!existsSync(path)) {
      throw new LedgerError(`usage.database: there is no usage database at ${resolve(path)} yet; llm-proxy creates it when it first serves with usage recording on`);
    }
    try {
      const db = new Database(path, { readonly: true, strict: true });
      db.run("PRAGMA busy_timeout = 1000");
      db.query(`SELECT 1 FROM ${USAGE_TABLE} LIMIT 1`).all();
      return new SqliteStore(db, path);
    } catch (error) {
      throw new LedgerError(`usage.database: cannot read ${path} as llm-proxy's usage database (${reason(error)})`, { cause: error });
    }
  }

  async insert(rows: readonly UsageRow[]): Promise<void> {
    this.insertMany(rows);
  }

  async summary<B extends GroupBy>(query: SummaryQuery<B>): Promise<SummaryRow<B>[]> {
    const { text, params } = summarySql(query, () => "?");
    return summaryRows(query.by, this.db.query(text).all(...params) as Record<string, unknown>[]);
  }

  async spentSince(since: number): Promise<Map<string, Spend>> {
    return spentRows(this.db.query(spentSql(() => "?")).all(since) as Record<string, unknown>[]);
  }

  async prune(before: number): Promise<number> {
    const chunk = this.db.prepare(`DELETE FROM ${USAGE_TABLE} WHERE id IN (SELECT id FROM ${USAGE_TABLE} WHERE time_ms < ? LIMIT ${PRUNE_CHUNK})`);
    let total = 0;
    for (;;) {
      const { changes } = chunk.run(before);
      total += changes;
      if (changes < PRUNE_CHUNK) return total;
      // Lets requests run between chunks of a large prune.
      await Bun.sleep(0);
    }
  }

  async saveCooldowns(writes: CooldownWrites): Promise<void> {
    this.writeCooldowns(writes);
  }

  async loadCooldowns(): Promise<Map<string, SavedCooldown>> {
    const rows = this.db.query(`SELECT pair, until_ms, since_ms, reason, status, failures FROM ${COOLDOWN_TABLE}`).all() as Record<string, unknown>[];
    return new Map(rows.map((r) => [String(r.pair), cooldownFromRow(r)]));
  }

  async close(): Promise<void> {
    this.db.close();
  }
}

export function openSqliteReader(path: string): LedgerReader {
  return SqliteStore.openReadOnly(path);
}

/** bun:sqlite binds numbers, strings and null; a boolean column is 0/1 in SQLite. */
const bindable = (value: string | number | boolean | null): Bind => (typeof value === "boolean" ? (value ? 1 : 0) : value);
