/**
 * GET /status/spend: the status page's usage panel, from the ledger: today and this
 * month (UTC), by key and by alias, and what is left of each key's budget.
 */
import type { Config } from "../config/types.ts";
import type { SummaryRow } from "../ops/ledger.ts";
import { periodEnd, periodStart } from "../ops/periods.ts";
import type { KeyServices } from "../ops/usage-services.ts";
import type { BudgetLeft, Spend, SpendRow } from "./live-model.ts";

const row = (name: string, r: SummaryRow): SpendRow => ({
  name,
  requests: r.requests,
  input: r.input_tokens,
  cached: r.cache_read_tokens + r.cache_write_tokens,
  output: r.output_tokens,
  usd: r.cost_usd,
});

export async function spendReport(config: Config, services: KeyServices, now: number): Promise<Spend> {
  const { ledger } = services;
  const empty = { byKey: [], byAlias: [] };
  if (!ledger) return { enabled: false, day: empty, month: empty, budgets: [] };
  // Rows wait up to a second in memory: the panel counts what was answered before it asked.
  await ledger.flush().catch(() => {
    // The database refused: the panel shows what it holds; the ledger logs the outage.
  });
  const span = async (from: number) => {
    const [byKey, byAlias] = await Promise.all([ledger.summary({ from, to: now + 1, by: "key" }), ledger.summary({ from, to: now + 1, by: "alias" })]);
    return { byKey: byKey.map((r) => row(r.key, r)), byAlias: byAlias.map((r) => row(r.alias, r)) };
  };
  const [day, month] = await Promise.all([span(periodStart("day", now)), span(periodStart("month", now))]);
  const budgets: BudgetLeft[] = [];
  const spentBy = new Map<string, Awaited<ReturnType<typeof ledger.spentSince>>>();
  for (const key of config.keys.values()) {
    const budget = key.limits.budget;
    if (!budget) continue;
    let spent = spentBy.get(budget.per);
    if (!spent) {
      spent = await ledger.spentSince(periodStart(budget.per, now));
      spentBy.set(budget.per, spent);
    }
    const mine = spent.get(key.name) ?? { usd: 0, tokens: 0 };
    budgets.push({ key: key.name, per: budget.per, usd: budget.usd ?? null, spentUsd: mine.usd, tokens: budget.tokens ?? null, spentTokens: mine.tokens, resetsAt: periodEnd(budget.per, now) });
  }
  return { enabled: true, day, month, budgets };
}
