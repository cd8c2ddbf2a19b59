import { SQL } from "bun";
import { cooldownKey } from "../../src/config/pair.ts";
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { CooldownTable } from "../../src/proxy/cooldown.ts";
import { GROUP_BYS, openLedger, type Ledger } from "../../src/ops/ledger.ts";
import { persistCooldowns, restoreCooldowns } from "../../src/ops/ledger-cooldowns.ts";
import { usageReport } from "../../src/ops/ledger-query.ts";
import { waitFor } from "../helpers/fake-provider.ts";
import { LogLines, sampleRows, usageRow } from "../helpers/ledger-rows.ts";
import { postgresTool, TestPostgres } from "../helpers/postgres.ts";

// Under CI a missing postgres fails (TestPostgres.start says what to install) instead of skipping.
const maybe = postgresTool.describe;

const DAY = 86_400_000;
const NOW = Date.parse("2026-12-02T10:00:00Z");

maybe("the Postgres ledger", () => {
  let pg: TestPostgres;
  let admin: SQL;
  const dir = mkdtempSync(join(tmpdir(), "llm-proxy-ledger-pg-"));
  const open: Ledger[] = [];
  const ledger = async (options: Partial<Parameters<typeof openLedger>[1]> = {}, lines = new LogLines()) => {
    const l = await openLedger(pg.url, { retentionDays: 0, log: lines.log, ...options });
    open.push(l);
    return l;
  };
  const count = async () => Number((await admin`SELECT COUNT(*) AS n FROM llm_proxy_usage`)[0].n);

  beforeAll(async () => {
    pg = await TestPostgres.start();
    admin = new SQL({ url: pg.url, max: 1 });
  });

  afterAll(async () => {
    for (const l of open) await l.close();
    await admin?.close({ timeout: 0 });
    await pg?.[Symbol.asyncDispose]();
    rmSync(dir, { recursive: true, force: true });
  });

  const reset = async () => {
    await admin.unsafe("TRUNCATE llm_proxy_usage; TRUNCATE llm_proxy_cooldowns");
  };

  test("creates the tables when missing, and two instances write to one ledger", async () => {
    const a = await ledger();
    const b = await ledger();
    const tables = await admin`SELECT table_name FROM information_schema.tables WHERE table_name LIKE 'llm_proxy_%' ORDER BY table_name`;
    expect(tables.map((t: { table_name: string }) => t.table_name)).toEqual(["llm_proxy_cooldowns", "llm_proxy_usage"]);
    await reset();
    a.record(usageRow({ key: "from-a" }));
    b.record(usageRow({ key: "from-b" }));
    await Promise.all([a.flush(), b.flush()]);
    const keys = (await a.summary({ from: 0, to: NOW + DAY, by: "key" })).map((r) => ("key" in r ? r.key : ""));
    expect(keys.sort()).toEqual(["from-a", "from-b"]);
  });

  test("rows reach Postgres within one flush interval, in batches", async () => {
    await reset();
    const l = await ledger({ flushMs: 250 });
    for (const row of sampleRows(130, NOW, DAY)) l.record(row);
    await waitFor(async () => (await count()) === 130, "130 rows in Postgres", 2000);
    expect(l.stats().batches).toBeLessThanOrEqual(2);
    l.record(usageRow());
    await waitFor(async () => (await count()) === 131, "one more row", 1500);
  });

  test("every field survives the round trip, nulls and booleans included", async () => {
    await reset();
    const l = await ledger();
    l.record(usageRow({ streamComplete: true, firstByteMs: 120, cacheRead: 7, cacheWrite: 9, attempts: 2, key: "nul\u0000key" }));
    l.record(usageRow({ streamComplete: false, firstByteMs: null }));
    l.record(usageRow({ streamComplete: null }));
    await l.flush();
    const rows = await admin`SELECT key_name, time_ms, attempts, cache_read_tokens, cache_write_tokens, cost_usd, first_byte_ms, stream_complete FROM llm_proxy_usage ORDER BY id`;
    expect([...rows]).toEqual([
      { key_name: "nul\uFFFDkey", time_ms: String(NOW), attempts: 2, cache_read_tokens: "7", cache_write_tokens: "9", cost_usd: 0.0012, first_byte_ms: "120", stream_complete: true },
      { key_name: "alice", time_ms: String(NOW), attempts: 1, cache_read_tokens: "0", cache_write_tokens: "0", cost_usd: 0.0012, first_byte_ms: null, stream_complete: false },
      { key_name: "alice", time_ms: String(NOW), attempts: 1, cache_read_tokens: "0", cache_write_tokens: "0", cost_usd: 0.0012, first_byte_ms: "300", stream_complete: null },
    ]);
  });

  test("summaries by every field, and spend per key, are the same from SQLite and Postgres for the same rows", async () => {
    await reset();
    const rows = sampleRows(800, NOW - 20 * DAY, 40 * DAY);
    const pgLedger = await ledger();
    const sqlite = await openLedger(join(dir, "same.db"), { retentionDays: 0, log: new LogLines().log });
    for (const row of rows) {
      pgLedger.record(row);
      sqlite.record(row);
    }
    await Promise.all([pgLedger.flush(), sqlite.flush()]);
    const from = NOW - 10 * DAY;
    const to = NOW + 10 * DAY;
    let compared = 0;
    for (const by of GROUP_BYS) {
      for (const key of [undefined, "carol", "nobody"]) {
        const query = { from, to, by, ...(key ? { key } : {}) };
        const [fromPg, fromSqlite] = await Promise.all([pgLedger.summary(query), sqlite.summary(query)]);
        expect(fromPg).toEqual(fromSqlite);
        if (key !== "nobody") expect(fromPg.length).toBeGreaterThan(0);
        compared += fromPg.length;
      }
    }
    expect(compared).toBeGreaterThan(50);
    expect(await pgLedger.spentSince(NOW - 3 * DAY)).toEqual(await sqlite.spentSince(NOW - 3 * DAY));
    const [reportPg, reportSqlite] = await Promise.all([
      usageReport(pg.url, { since: new Date(from).toISOString(), to: new Date(to).toISOString(), by: "model" }, NOW, new LogLines().log),
      usageReport(join(dir, "same.db"), { since: new Date(from).toISOString(), to: new Date(to).toISOString(), by: "model" }, NOW, new LogLines().log),
    ]);
    expect(reportPg.ok && reportSqlite.ok).toBe(true);
    // Everything but the header line, which names the database.
    expect(reportPg.text.split("\n").slice(1)).toEqual(reportSqlite.text.split("\n").slice(1));
    await sqlite.close();
  });

  test("retention deletes old rows in Postgres too", async () => {
    await reset();
    const l = await ledger({ retentionDays: 7 });
    for (const age of [30, 8, 6, 0]) l.record(usageRow({ time: NOW - age * DAY }));
    await l.flush();
    expect(await l.prune(NOW)).toBe(2);
    expect(await count()).toBe(2);
  });

  test("cooldowns saved in Postgres come back in another instance, expired ones dropped", async () => {
    await reset();
    const a = await ledger();
    const table = new CooldownTable();
    persistCooldowns(table, a.cooldowns);
    const now = Date.now();
    table.enter(cooldownKey("openai", "gpt-4o"), now, 60_000, "status 429", 429);
    table.enter(cooldownKey("groq", "llama"), now, 10, "network error");
    table.enter(cooldownKey("anthropic", "claude"), now, 60_000, "status 529", 529);
    table.succeeded(cooldownKey("anthropic", "claude"));
    await waitFor(async () => Number((await admin`SELECT COUNT(*) AS n FROM llm_proxy_cooldowns`)[0].n) === 2, "two saved cooldowns", 1500);
    const b = await ledger();
    const loaded = await b.cooldowns.load(now + 1000);
    expect(loaded.map(([k]) => k)).toEqual([cooldownKey("openai", "gpt-4o")]);
    const fresh = new CooldownTable();
    restoreCooldowns(fresh, loaded, now + 1000);
    expect(fresh.remaining(cooldownKey("openai", "gpt-4o"), now + 1000)).toBe(59_000);
  });

  test("while Postgres is away rows wait in memory, the outage is logged once, and they are written when it is back", async () => {
    await reset();
    const lines = new LogLines();
    const l = await ledger({ flushMs: 100 }, lines);
    l.record(usageRow({ latencyMs: 0 }));
    await l.flush();
    await pg.pause();
    for (let i = 1; i <= 150; i++) l.record(usageRow({ latencyMs: i }));
    // Several failed writes (the retry backs off from a second), one warning.
    await waitFor(() => l.stats().failedWrites >= 2, "two failed writes", 10_000);
    expect(l.stats()).toMatchObject({ failing: true, buffered: 150, dropped: 0 });
    expect(lines.count("cannot write to postgres://test@127.0.0.1")).toBe(1);
    // record stays synchronous and cheap with the database away.
    const started = performance.now();
    for (let i = 151; i <= 250; i++) l.record(usageRow({ latencyMs: i }));
    expect(performance.now() - started).toBeLessThan(50);
    await pg.resume();
    await waitFor(async () => l.stats().buffered === 0 && !l.stats().failing, "the waiting rows to be written", 40_000);
    expect(await count()).toBe(251);
    const seq = (await admin`SELECT latency_ms FROM llm_proxy_usage ORDER BY id`).map((r: { latency_ms: string }) => Number(r.latency_ms));
    expect(seq).toEqual(Array.from({ length: 251 }, (_, i) => i));
    expect(lines.count("writing to postgres://test@127.0.0.1")).toBe(1);
    expect(lines.count("no rows lost")).toBe(1);
  }, 60_000);

  test("a full buffer drops the oldest rows, says so once, and keeps the newest", async () => {
    await reset();
    const lines = new LogLines();
    const l = await ledger({ flushMs: 100, batchRows: 50, maxBufferRows: 200 }, lines);
    await pg.pause();
    for (let i = 0; i < 500; i++) l.record(usageRow({ latencyMs: i }));
    const { dropped, buffered } = l.stats();
    expect(buffered).toBeLessThanOrEqual(200);
    expect(dropped + buffered).toBe(500);
    expect(lines.count("dropping the oldest rows")).toBe(1);
    await pg.resume();
    await l.flush();
    const seq = (await admin`SELECT latency_ms FROM llm_proxy_usage ORDER BY id`).map((r: { latency_ms: string }) => Number(r.latency_ms));
    expect(seq).toEqual(Array.from({ length: buffered }, (_, i) => 500 - buffered + i));
    await waitFor(() => lines.count(`${dropped} rows dropped meanwhile`) === 1, "the recovery line with the count", 5000);
  }, 60_000);

  test("Postgres away at start: the ledger opens anyway, warns, and creates the tables when it answers", async () => {
    await admin.unsafe("DROP TABLE llm_proxy_usage; DROP TABLE llm_proxy_cooldowns");
    await pg.pause();
    const lines = new LogLines();
    const l = await ledger({ flushMs: 100 }, lines);
    expect(lines.count("does not answer")).toBe(1);
    l.record(usageRow());
    await pg.resume();
    await waitFor(() => l.stats().written === 1, "the row to be written", 40_000);
    expect(await count()).toBe(1);
  }, 60_000);

  test("closing while Postgres is away returns and says how many rows were not written", async () => {
    const lines = new LogLines();
    const l = await openLedger(pg.url, { retentionDays: 0, log: lines.log });
    await pg.pause();
    l.record(usageRow());
    l.record(usageRow());
    await l.close();
    expect(lines.count("closing with 2 rows")).toBe(1);
    await pg.resume();
  }, 30_000);
});
