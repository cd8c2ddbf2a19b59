import { GROUP_BYS, type GroupBy, type LedgerLog, openLedgerReader, type SummaryQuery, type SummaryRow, type UsageTotals } from "./ledger.ts";
import { groupOf, isPostgresUrl, safeDatabaseUrl } from "./ledger-schema.ts";
import { periodStart } from "./periods.ts";

/**
 * Reading the ledger for people: `GET /usage?from=…&to=…&by=…&key=…` and the
 * `llm-proxy usage` command parse their input here and render the answer here.
 */

export type Parsed<T> = { readonly ok: true; readonly value: T } | { readonly ok: false; readonly message: string };

const UNITS: Record<string, number> = { m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 };
const RELATIVE = /^(\d+(?:\.\d+)?)(m|h|d|w)$/;
const ISO = /^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(\.\d{1,9})?)?)?(Z|[+-]\d{2}:?\d{2})?$/i;
const HINT = "use ISO 8601 (2026-12-01, 2026-12-01T10:00:00Z) or a span back from now (30m, 24h, 7d, 2w)";

const iso = (ms: number) => new Date(ms).toISOString().replace(/\.000Z$/, "Z");

/** One instant: ISO 8601 (no zone means UTC), a span back from `now`, or `now`. */
export function parseInstant(name: string, raw: string, now: number): Parsed<number> {
  const value = raw.trim();
  if (value === "now") return { ok: true, value: now };
  const relative = RELATIVE.exec(value);
  if (relative) return { ok: true, value: now - Number(relative[1]) * UNITS[relative[2]!]! };
  const m = ISO.exec(value);
  if (m) {
    const [, y, mo, d, h = "00", mi = "00", s = "00", frac = "", zone] = m;
    // Date.parse would read a zone-less time as local time; the ledger speaks UTC.
    const offset = zone === undefined || zone.toUpperCase() === "Z" ? "Z" : zone.length === 5 ? `${zone.slice(0, 3)}:${zone.slice(3)}` : zone;
    const ms = Date.parse(`${y}-${mo}-${d}T${h}:${mi}:${s}${frac.slice(0, 4)}${offset}`);
    // Rejects 2026-02-30 and 25:00, which some parsers roll over into the next day.
    const fields = new Date(Date.UTC(Number(y), Number(mo) - 1, Number(d), Number(h), Number(mi), Number(s)));
    const real = fields.getUTCFullYear() === Number(y) && fields.getUTCMonth() === Number(mo) - 1 && fields.getUTCDate() === Number(d) && fields.getUTCHours() === Number(h);
    if (Number.isFinite(ms) && real && Number(mi) < 60 && Number(s) < 60) return { ok: true, value: ms };
  }
  return { ok: false, message: `${name}: ${JSON.stringify(raw)} is not a time; ${HINT}` };
}

/** `from` (inclusive) and `to` (exclusive); by default this UTC month so far. */
export function parseUsageRange(from: string | undefined, to: string | undefined, now: number): Parsed<{ from: number; to: number }> {
  const start = from === undefined || from === "" ? { ok: true as const, value: periodStart("month", now) } : parseInstant("from", from, now);
  if (!start.ok) return start;
  const end = to === undefined || to === "" ? { ok: true as const, value: now } : parseInstant("to", to, now);
  if (!end.ok) return end;
  if (start.value >= end.value) return { ok: false, message: `from (${iso(start.value)}) must be before to (${iso(end.value)})` };
  return { ok: true, value: { from: start.value, to: end.value } };
}

export function parseGroupBy(raw: string | undefined): Parsed<GroupBy> {
  const value = raw === undefined || raw === "" ? "key" : raw;
  const by = GROUP_BYS.find((g) => g === value);
  if (by) return { ok: true, value: by };
  return { ok: false, message: `by: ${JSON.stringify(raw)} is not one of ${GROUP_BYS.join(", ")}` };
}

/** The query string of `GET /usage`: from, to, by (default key) and key (one key's rows). */
export function parseUsageQuery(params: URLSearchParams, now: number): Parsed<SummaryQuery> {
  const range = parseUsageRange(params.get("from") ?? undefined, params.get("to") ?? undefined, now);
  if (!range.ok) return range;
  const by = parseGroupBy(params.get("by") ?? undefined);
  if (!by.ok) return by;
  const key = params.get("key");
  return { ok: true, value: { ...range.value, by: by.value, ...(key ? { key } : {}) } };
}

const HEADINGS = ["requests", "input", "cache read", "cache write", "output", "cost (USD)"] as const;

const number = (n: number) => n.toLocaleString("en-US");
const money = (n: number) => n.toFixed(n !== 0 && Math.abs(n) < 0.01 ? 6 : 4);

/** A plain-text table, numbers right-aligned, with a total line when there is more than one row. */
export function formatUsageTable(rows: readonly SummaryRow[], by: GroupBy): string {
  const cells = (name: string, r: UsageTotals) => [
    name,
    number(r.requests),
    number(r.input_tokens),
    number(r.cache_read_tokens),
    number(r.cache_write_tokens),
    number(r.output_tokens),
    money(r.cost_usd),
  ];
  const body = rows.map((r) => cells(groupOf(r, by), r));
  if (rows.length > 1) {
    const sum = (f: (r: SummaryRow) => number) => rows.reduce((a, r) => a + f(r), 0);
    body.push(
      cells("total", {
        requests: sum((r) => r.requests),
        input_tokens: sum((r) => r.input_tokens),
        cache_read_tokens: sum((r) => r.cache_read_tokens),
        cache_write_tokens: sum((r) => r.cache_write_tokens),
        output_tokens: sum((r) => r.output_tokens),
        cost_usd: Math.round(sum((r) => r.cost_usd) * 1e9) / 1e9,
      }),
    );
  }
  const table = [[by, ...HEADINGS], ...body];
  const widths = table[0]!.map((_, c) => Math.max(...table.map((row) => row[c]!.length)));
  const line = (row: string[]) => row.map((cell, c) => (c === 0 ? cell.padEnd(widths[c]!) : cell.padStart(widths[c]!))).join("  ").trimEnd();
  const out = table.map(line);
  if (rows.length > 1) out.splice(out.length - 1, 0, widths.map((w) => "-".repeat(w)).join("  "));
  if (rows.length === 0) out.push("(no requests in this period)");
  return `${out.join("\n")}\n`;
}

export interface UsageCommand {
  /** `--since`: where the report starts (ISO 8601 or 7d, 24h, 30m); default this UTC month. */
  readonly since?: string;
  readonly to?: string;
  /** `--by`: key (default), alias, backend, model or day. */
  readonly by?: string;
  /** `--key`: only this key name. */
  readonly key?: string;
}

/**
 * `llm-proxy usage`: the report for `usage.database` as text. `ok: false` carries the
 * message for a person (bad input, no database yet, Postgres away); the caller prints
 * it and exits non-zero. Opens the database read-only, so it runs beside a server.
 */
export async function usageReport(database: string, command: UsageCommand, now: number, log: LedgerLog): Promise<{ ok: boolean; text: string }> {
  const range = parseUsageRange(command.since, command.to, now);
  if (!range.ok) return { ok: false, text: range.message };
  const by = parseGroupBy(command.by);
  if (!by.ok) return { ok: false, text: by.message };
  const where = isPostgresUrl(database) ? safeDatabaseUrl(database) : database;
  try {
    const reader = await openLedgerReader(database, log);
    try {
      const rows = await reader.summary({ ...range.value, by: by.value, ...(command.key ? { key: command.key } : {}) });
      const scope = command.key ? ` for key ${JSON.stringify(command.key)}` : "";
      return { ok: true, text: `usage from ${iso(range.value.from)} to ${iso(range.value.to)}${scope}, by ${by.value} (${where})\n\n${formatUsageTable(rows, by.value)}` };
    } finally {
      await reader.close();
    }
  } catch (error) {
    return { ok: false, text: `usage: cannot read ${where}: ${error instanceof Error ? error.message : String(error)}` };
  }
}
