/**
 * What a request cost, from the config's prices (USD per million tokens). Pure.
 */

export interface Price {
  readonly input: number;
  readonly output: number;
  /** Absent: charged at the input price (more than most providers ask, so budgets err on the safe side). */
  readonly cache_read?: number;
  /** Absent: charged at the input price. */
  readonly cache_write?: number;
}

export interface TokenUsage {
  readonly input: number;
  readonly output: number;
  readonly cacheRead: number;
  readonly cacheWrite: number;
}

const PER = 1_000_000;

/** USD for `usage` at `price`; 0 without a price (a backend nobody priced costs nothing in the ledger). */
export function costOf(usage: TokenUsage, price: Price | undefined): number {
  if (price === undefined) return 0;
  const cacheRead = price.cache_read ?? price.input;
  const cacheWrite = price.cache_write ?? price.input;
  return (usage.input * price.input + usage.output * price.output + usage.cacheRead * cacheRead + usage.cacheWrite * cacheWrite) / PER;
}
