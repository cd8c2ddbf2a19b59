import type { LedgerReader } from "./ledger.ts";
import { hasBudget, type KeyLimits, type Limiter } from "./limits.ts";
import { periodStart, type Period } from "./periods.ts";

/**
 * Budgets at start-up: this period's spend of each budgeted key is read back from
 * the ledger, so a restart does not hand every key a fresh budget. One query per
 * period in use (day, week, month), not one per key.
 */
export async function restoreBudgets(
  ledger: Pick<LedgerReader, "spentSince">,
  keys: Iterable<{ readonly name: string; readonly limits: KeyLimits }>,
  limiter: Pick<Limiter, "seedSpend">,
  now: number,
): Promise<number> {
  const byPeriod = new Map<Period, string[]>();
  for (const { name, limits } of keys) {
    if (!hasBudget(limits.budget)) continue;
    const names = byPeriod.get(limits.budget.per) ?? [];
    names.push(name);
    byPeriod.set(limits.budget.per, names);
  }
  let seeded = 0;
  for (const [per, names] of byPeriod) {
    const spent = await ledger.spentSince(periodStart(per, now));
    for (const name of names) {
      const spend = spent.get(name);
      if (spend === undefined) continue;
      await limiter.seedSpend(name, per, spend, now);
      seeded++;
    }
  }
  return seeded;
}
