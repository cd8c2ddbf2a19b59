import { afterAll, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { openLedger } from "../../src/ops/ledger.ts";
import { type KeyLimits, LocalLimiter } from "../../src/ops/limits.ts";
import { restoreBudgets } from "../../src/ops/limits-seed.ts";
import { LogLines, usageRow } from "../helpers/ledger-rows.ts";

const dir = mkdtempSync(join(tmpdir(), "llm-proxy-budgets-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

test("after a restart each key's budget counts what the ledger holds for the current UTC period", async () => {
  const path = join(dir, "budgets.db");
  // Wednesday 2 December 2026; the week began on Monday the 30th of November.
  const now = Date.parse("2026-12-02T10:00:00Z");
  const before = await openLedger(path, { retentionDays: 0, log: new LogLines().log });
  before.record(usageRow({ key: "daily", time: Date.parse("2026-12-01T23:59:59Z"), costUsd: 100 })); // yesterday: not counted
  before.record(usageRow({ key: "daily", time: Date.parse("2026-12-02T00:00:00Z"), costUsd: 0.6 }));
  before.record(usageRow({ key: "daily", time: Date.parse("2026-12-02T09:00:00Z"), costUsd: 0.5 }));
  before.record(usageRow({ key: "weekly", time: Date.parse("2026-11-29T23:00:00Z"), input: 5000, output: 0 })); // Sunday: last week
  before.record(usageRow({ key: "weekly", time: Date.parse("2026-11-30T00:00:00Z"), input: 900, output: 50, cacheRead: 40, cacheWrite: 10 }));
  before.record(usageRow({ key: "monthly", time: Date.parse("2026-11-30T12:00:00Z"), costUsd: 50 })); // November
  before.record(usageRow({ key: "monthly", time: Date.parse("2026-12-01T00:00:00Z"), costUsd: 2 }));
  await before.close();

  const keys: { name: string; limits: KeyLimits }[] = [
    { name: "daily", limits: { budget: { usd: 1, per: "day" } } },
    { name: "weekly", limits: { budget: { tokens: 1000, per: "week" } } },
    { name: "monthly", limits: { budget: { usd: 10, per: "month" } } },
    { name: "unbudgeted", limits: { rpm: 5 } },
  ];
  const ledger = await openLedger(path, { retentionDays: 0, log: new LogLines().log });
  const limiter = new LocalLimiter();
  expect(await restoreBudgets(ledger, keys, limiter, now)).toBe(3);
  const admit = (name: string) => limiter.admit(name, keys.find((k) => k.name === name)!.limits, now);
  const daily = admit("daily");
  expect(daily.ok ? "" : daily.message).toContain("$1.00, $1.10 spent since 2026-12-02T00:00:00Z");
  const weekly = admit("weekly");
  expect(weekly.ok ? "" : weekly.message).toContain("1,000 tokens, 1,000 used since 2026-11-30T00:00:00Z");
  expect(admit("monthly").ok).toBe(true);
  expect(limiter.snapshot("monthly", keys[2]!.limits, now).spent.usd).toBe(2);
  await ledger.close();
});
