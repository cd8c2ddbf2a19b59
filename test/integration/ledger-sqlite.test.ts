import { Database } from "bun:sqlite";
import { cooldownKey } from "../../src/config/pair.ts";
import { afterAll, describe, expect, test } from "bun:test";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { CooldownTable } from "../../src/proxy/cooldown.ts";
import { GROUP_BYS, openLedger, type Ledger } from "../../src/ops/ledger.ts";
import { persistCooldowns, restoreCooldowns } from "../../src/ops/ledger-cooldowns.ts";
import { usageReport } from "../../src/ops/ledger-query.ts";
import { groupOf, LedgerError } from "../../src/ops/ledger-schema.ts";
import { SqliteStore } from "../../src/ops/ledger-sqlite.ts";
import { waitFor } from "../helpers/fake-provider.ts";
import { expectedSummary, LogLines, sampleRows, usageRow } from "../helpers/ledger-rows.ts";

const dirs: string[] = [];
const tempDir = () => {
  const dir = mkdtempSync(join(tmpdir(), "llm-proxy-ledger-"));
  dirs.push(dir);
  return dir;
};
afterAll(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

const DAY = 86_400_000;
const NOW = Date.parse("2026-12-02T10:00:00Z");

/** A second connection, as another process would see the file. */
const countRows = (path: string) => {
  const db = new Database(path, { readonly: true });
  try {
    return (db.query("SELECT COUNT(*) AS n FROM llm_proxy_usage").get() as { n: number }).n;
  } finally {
    db.close();
  }
};

describe("the SQLite ledger", () => {
  test("creates its folder and file, in WAL mode, with the tables", async () => {
    const path = join(tempDir(), "data", "nested", "llm-proxy.db");
    const ledger = await openLedger(path, { retentionDays: 0, log: new LogLines().log });
    await ledger.close();
    expect(existsSync(path)).toBe(true);
    const db = new Database(path);
    expect((db.query("PRAGMA journal_mode").get() as { journal_mode: string }).journal_mode).toBe("wal");
    const tables = (db.query("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name").all() as { name: string }[]).map((t) => t.name);
    expect(tables).toEqual(["llm_proxy_cooldowns", "llm_proxy_usage"]);
    db.close();
  });

  test("150 rows recorded at once are written whole, in order, each row its own values (batched, several rows per INSERT)", async () => {
    const path = join(tempDir(), "batch.db");
    const ledger = await openLedger(path, { retentionDays: 0, log: new LogLines().log });
    for (let i = 0; i < 150; i++) ledger.record(usageRow({ input: i, output: 1000 + i, key: `k${i % 7}`, firstByteMs: i % 3 === 0 ? null : i }));
    await ledger.close();
    const db = new Database(path, { readonly: true });
    const rows = db.query("SELECT input_tokens AS input, output_tokens AS output, key_name AS key, first_byte_ms AS fb FROM llm_proxy_usage ORDER BY id").all() as { input: number; output: number; key: string; fb: number | null }[];
    db.close();
    expect(rows).toHaveLength(150);
    rows.forEach((r, i) => expect(r).toEqual({ input: i, output: 1000 + i, key: `k${i % 7}`, fb: i % 3 === 0 ? null : i }));
  });

  test("inserts of every size from 0 to 40 rows, and one of 300, keep every row once, in order (statements of 16, 8, 4, 2 and 1 rows)", async () => {
    const path = join(tempDir(), "store.db");
    const store = SqliteStore.open(path);
    const sizes = [...Array.from({ length: 41 }, (_, n) => n), 300];
    let next = 0;
    for (const size of sizes) {
      await store.insert(Array.from({ length: size }, () => usageRow({ input: next, alias: `a${next++}` })));
    }
    await store.close();
    const db = new Database(path, { readonly: true });
    const rows = db.query("SELECT input_tokens AS input, alias FROM llm_proxy_usage ORDER BY id").all() as { input: number; alias: string }[];
    db.close();
    expect(next).toBe(820 + 300);
    expect(rows).toEqual(Array.from({ length: next }, (_, i) => ({ input: i, alias: `a${i}` })));
  });

  test("keeps every field of a row as given, nulls included", async () => {
    const path = join(tempDir(), "fields.db");
    const ledger = await openLedger(path, { retentionDays: 0, log: new LogLines().log });
    ledger.record(usageRow({ streamComplete: true, firstByteMs: 120, cacheRead: 7, cacheWrite: 9, outcome: "ok", attempts: 2 }));
    ledger.record(usageRow({ streamComplete: false, firstByteMs: null, status: 502, outcome: "cut", key: "k\u0000nul" }));
    ledger.record(usageRow({ streamComplete: null }));
    await ledger.close();
    const db = new Database(path, { readonly: true });
    const rows = db.query("SELECT * FROM llm_proxy_usage ORDER BY id").all() as Record<string, unknown>[];
    db.close();
    expect(rows[0]).toEqual({
      id: 1,
      time_ms: NOW,
      key_name: "alice",
      alias: "gpt",
      backend: "openai",
      model: "gpt-4o",
      status: 200,
      outcome: "ok",
      attempts: 2,
      input_tokens: 100,
      output_tokens: 20,
      cache_read_tokens: 7,
      cache_write_tokens: 9,
      cost_usd: 0.0012,
      latency_ms: 850,
      first_byte_ms: 120,
      stream_complete: 1,
    });
    expect([rows[1]!.stream_complete, rows[1]!.first_byte_ms, rows[1]!.key_name]).toEqual([0, null, "k\uFFFDnul"]);
    expect(rows[2]!.stream_complete).toBeNull();
  });

  test("rows reach the file within one flush interval, many rows in one write", async () => {
    const path = join(tempDir(), "batching.db");
    const ledger = await openLedger(path, { retentionDays: 0, log: new LogLines().log, flushMs: 200 });
    for (const row of sampleRows(250, NOW, DAY)) ledger.record(row);
    expect(ledger.stats().buffered).toBe(250);
    expect(countRows(path)).toBe(0); // record only appends to memory
    await waitFor(() => countRows(path) === 250, "250 rows in the file", 2000);
    expect(ledger.stats().batches).toBe(1);
    const recorded = Date.now();
    for (const row of sampleRows(5, NOW, DAY)) ledger.record(row);
    await waitFor(() => countRows(path) === 255, "5 more rows in the file", 1500);
    console.log(`ledger: 5 rows reached the file ${Date.now() - recorded} ms after record (flushMs 200)`);
    expect(ledger.stats()).toMatchObject({ written: 255, batches: 2, buffered: 0, dropped: 0, failing: false });
    await ledger.close();
  });

  test("100 waiting rows are written at once, without waiting for the interval; 99 are not", async () => {
    const path = join(tempDir(), "by-size.db");
    // An interval far longer than the test: only the row count can trigger a write.
    const ledger = await openLedger(path, { retentionDays: 0, log: new LogLines().log, flushMs: 3_600_000, batchRows: 100 });
    const rows = sampleRows(100, NOW, DAY);
    for (const row of rows.slice(0, 99)) ledger.record(row);
    ledger.record(rows[99]!);
    await waitFor(() => countRows(path) === 100, "the 100 rows", 1000);
    // One write carried all 100, so the first 99 did not cause one of their own.
    expect(ledger.stats().batches).toBe(1);
    await ledger.close();
  });

  test("summaries by key, alias, backend, model and day add up the rows in the range", async () => {
    const path = join(tempDir(), "summary.db");
    const ledger = await openLedger(path, { retentionDays: 0, log: new LogLines().log });
    const rows = sampleRows(600, NOW - 5 * DAY, 10 * DAY);
    for (const row of rows) ledger.record(row);
    await ledger.flush();
    const from = NOW - 3 * DAY;
    const to = NOW + 2 * DAY;
    for (const by of GROUP_BYS) {
      for (const key of [undefined, "bob"]) {
        const got = await ledger.summary({ from, to, by, ...(key ? { key } : {}) });
        const want = expectedSummary(rows, by, from, to, key);
        expect(got.map((r) => groupOf(r, by)).sort()).toEqual([...want.keys()].sort());
        for (const row of got) {
          const { cost_usd, ...counts } = want.get(groupOf(row, by))!;
          expect(row).toMatchObject(counts);
          expect(row.cost_usd).toBeCloseTo(cost_usd, 9);
        }
      }
    }
    const days = await ledger.summary({ from, to, by: "day" });
    expect(days.map((d) => d.day)).toEqual(["2026-11-29", "2026-11-30", "2026-12-01", "2026-12-02", "2026-12-03", "2026-12-04"]);
    await ledger.close();
  });

  test("spend since the start of a period, per key, counts every kind of token", async () => {
    const path = join(tempDir(), "spent.db");
    const ledger = await openLedger(path, { retentionDays: 0, log: new LogLines().log });
    ledger.record(usageRow({ time: NOW - DAY, costUsd: 5 }));
    ledger.record(usageRow({ time: NOW, input: 1, output: 2, cacheRead: 3, cacheWrite: 4, costUsd: 0.25 }));
    ledger.record(usageRow({ time: NOW + 1, input: 10, output: 0, cacheRead: 0, cacheWrite: 0, costUsd: 0.5 }));
    ledger.record(usageRow({ time: NOW, key: "bob", costUsd: 1 }));
    await ledger.flush();
    const spent = await ledger.spentSince(NOW);
    expect(spent.get("alice")).toEqual({ tokens: 20, usd: 0.75 });
    expect(spent.get("bob")).toEqual({ tokens: 120, usd: 1 });
    await ledger.close();
  });

  test("retention deletes rows older than retention_days and keeps the rest; 0 keeps everything", async () => {
    const path = join(tempDir(), "retention.db");
    const lines = new LogLines();
    const ledger = await openLedger(path, { retentionDays: 90, log: lines.log });
    for (const age of [120, 91, 89, 1, 0]) ledger.record(usageRow({ time: NOW - age * DAY }));
    await ledger.flush();
    expect(await ledger.prune(NOW)).toBe(2);
    expect(countRows(path)).toBe(3);
    expect(lines.count("deleted 2 rows older than 90 days")).toBe(1);
    expect(await ledger.prune(NOW)).toBe(0);
    await ledger.close();

    const forever = await openLedger(path, { retentionDays: 0, log: lines.log });
    expect(await forever.prune(NOW + 1000 * DAY)).toBe(0);
    expect(countRows(path)).toBe(3);
    await forever.close();
  });

  test("a large prune goes in chunks and leaves newer rows alone", async () => {
    const path = join(tempDir(), "retention-big.db");
    const ledger = await openLedger(path, { retentionDays: 30, log: new LogLines().log, maxBufferRows: 20_000 });
    for (let i = 0; i < 12_000; i++) ledger.record(usageRow({ time: NOW - 40 * DAY + i }));
    for (let i = 0; i < 10; i++) ledger.record(usageRow({ time: NOW - i }));
    await ledger.flush();
    expect(await ledger.prune(NOW)).toBe(12_000);
    expect(countRows(path)).toBe(10);
    await ledger.close();
  });

  test("cooldowns are saved within a second of each change and come back after a restart, expired ones dropped", async () => {
    const path = join(tempDir(), "cooldowns.db");
    const ledger = await openLedger(path, { retentionDays: 0, log: new LogLines().log });
    const table = new CooldownTable();
    persistCooldowns(table, ledger.cooldowns);
    const now = Date.now();
    table.enter(cooldownKey("a", "m1"), now, 60_000, "status 429", 429);
    table.enter(cooldownKey("a", "m1"), now, 90_000, "status 429", 429); // the second failure in a row
    table.enter(cooldownKey("b", "m2"), now, 60_000, "network error");
    table.enter(cooldownKey("c", "m3"), now, 100, "status 503", 503); // expires before the restart
    table.enter(cooldownKey("d", "m4"), now, 60_000, "status 500", 500);
    table.succeeded(cooldownKey("d", "m4"));
    const saved = () => {
      const db = new Database(path, { readonly: true });
      try {
        return (db.query("SELECT COUNT(*) AS n FROM llm_proxy_cooldowns").get() as { n: number }).n;
      } finally {
        db.close();
      }
    };
    await waitFor(() => saved() === 3, "three cooldowns in the file", 1500);
    // No close: as after kill -9, the file is all there is.
    const again = await openLedger(path, { retentionDays: 0, log: new LogLines().log });
    const later = now + 1000;
    const loaded = await again.cooldowns.load(later);
    expect(loaded.map(([k]) => k).sort()).toEqual([cooldownKey("a", "m1"), cooldownKey("b", "m2")]);
    const fresh = new CooldownTable();
    expect(restoreCooldowns(fresh, loaded, later)).toBe(2);
    expect(fresh.get(cooldownKey("a", "m1"))).toMatchObject({ until: now + 90_000, since: now, failures: 2, status: 429, reason: "status 429", probing: false, gated: false });
    expect(fresh.get(cooldownKey("b", "m2"))?.status).toBeUndefined();
    expect(fresh.claim(cooldownKey("a", "m1"), later)).toBe("cooling");
    // Once the restored cooldown ends, the pair may be probed again (it is not left gated).
    expect(fresh.claim(cooldownKey("b", "m2"), now + 60_001)).toBe("probe");
    await ledger.close();
    await again.close();
  });

  test("clearing one or all cooldowns is saved too", async () => {
    const path = join(tempDir(), "cooldowns-clear.db");
    const ledger = await openLedger(path, { retentionDays: 0, log: new LogLines().log });
    const table = new CooldownTable();
    const undo = persistCooldowns(table, ledger.cooldowns);
    const now = Date.now();
    for (const pair of [cooldownKey("a", "m"), cooldownKey("b", "m"), cooldownKey("c", "m")]) table.enter(pair, now, 60_000, "status 429", 429);
    table.clear(cooldownKey("b", "m"));
    await ledger.flush();
    expect((await ledger.cooldowns.load(now)).map(([k]) => k).sort()).toEqual([cooldownKey("a", "m"), cooldownKey("c", "m")]);
    table.clear();
    table.enter(cooldownKey("d", "m"), now, 60_000, "status 429", 429);
    await ledger.flush();
    expect((await ledger.cooldowns.load(now)).map(([k]) => k)).toEqual([cooldownKey("d", "m")]);
    undo();
    table.enter(cooldownKey("e", "m"), now, 60_000, "status 429", 429);
    await ledger.flush();
    expect((await ledger.cooldowns.load(now)).map(([k]) => k)).toEqual([cooldownKey("d", "m")]);
    await ledger.close();
  });

  test("a file that is not a SQLite database is refused with a message naming usage.database", async () => {
    const path = join(tempDir(), "not-a-db.db");
    writeFileSync(path, "this is a text file, not a database ".repeat(200));
    const error = await openLedger(path, { retentionDays: 0, log: new LogLines().log }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(LedgerError);
    expect((error as Error).message).toContain(`usage.database: cannot use ${path} as a SQLite ledger`);
  });

  test("the usage command prints a table read-only beside a running ledger, and says when there is no database", async () => {
    const dir = tempDir();
    const path = join(dir, "report.db");
    const ledger: Ledger = await openLedger(path, { retentionDays: 0, log: new LogLines().log });
    ledger.record(usageRow({ time: NOW - 3_600_000, key: "alice", input: 1200, output: 300, costUsd: 0.006 }));
    ledger.record(usageRow({ time: NOW - 1_800_000, key: "bob", input: 10, output: 5, costUsd: 0.0001 }));
    ledger.record(usageRow({ time: NOW - 8 * DAY, key: "bob" }));
    await ledger.flush();
    const report = await usageReport(path, { since: "7d", by: "key" }, NOW, new LogLines().log);
    expect(report.ok).toBe(true);
    expect(report.text).toBe(
      [
        `usage from 2026-11-25T10:00:00Z to 2026-12-02T10:00:00Z, by key (${path})`,
        "",
        "key    requests  input  cache read  cache write  output  cost (USD)",
        "alice         1  1,200           0            0     300    0.006000",
        "bob           1     10           0            0       5    0.000100",
        "-----  --------  -----  ----------  -----------  ------  ----------",
        "total         2  1,210           0            0     305    0.006100",
        "",
      ].join("\n"),
    );
    await ledger.close();
    const missing = await usageReport(join(dir, "nothing-here.db"), {}, NOW, new LogLines().log);
    expect(missing.ok).toBe(false);
    expect(missing.text).toContain("there is no usage database at");
    const bad = await usageReport(path, { since: "last tuesday" }, NOW, new LogLines().log);
    expect(bad).toEqual({ ok: false, text: 'from: "last tuesday" is not a time; use ISO 8601 (2026-12-01, 2026-12-01T10:00:00Z) or a span back from now (30m, 24h, 7d, 2w)' });
  });
});
