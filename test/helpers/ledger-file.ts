import { Database } from "bun:sqlite";
import { existsSync } from "node:fs";
import { waitFor } from "./fake-provider.ts";

/** One row of `llm_proxy_usage` as the database holds it. */
export interface LedgerRow {
  id: number;
  time_ms: number;
  key_name: string;
  alias: string;
  backend: string;
  model: string;
  status: number;
  outcome: string;
  attempts: number;
  input_tokens: number;
  output_tokens: number;
  cache_read_tokens: number;
  cache_write_tokens: number;
  cost_usd: number;
  latency_ms: number;
  first_byte_ms: number | null;
  /** SQLite has no booleans: 1, 0 or null. */
  stream_complete: number | null;
}

/** Every ledger row of a SQLite file a proxy writes (read-only, beside the running proxy); none while the file is not there. */
export function sqliteRows(path: string): LedgerRow[] {
  if (!existsSync(path)) return [];
  const db = new Database(path, { readonly: true });
  try {
    db.run("PRAGMA busy_timeout = 2000");
    const table = db.query("SELECT name FROM sqlite_master WHERE type = 'table' AND name = 'llm_proxy_usage'").get();
    if (!table) return [];
    return db.query("SELECT * FROM llm_proxy_usage ORDER BY id").all() as LedgerRow[];
  } finally {
    db.close();
  }
}

/**
 * Waits until the ledger holds `n` rows matching `match` (the ledger writes at least
 * every second; the bound is far above), and returns them.
 */
export async function waitForRows(read: () => LedgerRow[] | Promise<LedgerRow[]>, match: (row: LedgerRow) => boolean, n = 1, timeoutMs = 15_000): Promise<LedgerRow[]> {
  let rows: LedgerRow[] = [];
  await waitFor(
    async () => {
      rows = (await read()).filter(match);
      return rows.length >= n;
    },
    `${n} ledger rows`,
    timeoutMs,
  ).catch((error: Error) => {
    throw new Error(`${error.message}; found ${rows.length}: ${JSON.stringify(rows)}`);
  });
  return rows;
}

/** The lowercase hex SHA-256 of a key, as `sha256:` wants it. */
export const sha256Hex = (key: string) => new Bun.CryptoHasher("sha256").update(key).digest("hex");
