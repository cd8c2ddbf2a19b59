import { expect, test } from "bun:test";
import { costOf } from "../../src/ops/ledger-cost.ts";
import { tokensOf } from "../../src/ops/limits.ts";

const usage = { input: 1_000_000, output: 500_000, cacheRead: 2_000_000, cacheWrite: 100_000 };

test("cost is tokens times the price per million, for each kind of token", () => {
  const price = { input: 3, output: 15, cache_read: 0.3, cache_write: 3.75 };
  expect(costOf(usage, price)).toBeCloseTo(3 + 7.5 + 0.6 + 0.375, 12);
  expect(costOf({ input: 1, output: 0, cacheRead: 0, cacheWrite: 0 }, { input: 0.1, output: 0 })).toBeCloseTo(1e-7, 18);
});

test("cache tokens without a cache price are charged at the input price", () => {
  expect(costOf(usage, { input: 2, output: 10 })).toBeCloseTo(2 + 5 + 4 + 0.2, 12);
});

test("a backend without a price costs nothing in the ledger", () => {
  expect(costOf(usage, undefined)).toBe(0);
});

test("every token of a request counts toward tpm and token budgets", () => {
  expect(tokensOf(usage)).toBe(3_600_000);
});
