import type { KeyLimits } from "../config/keys.ts";
import { refusal, type Refused, type Seen, type Spend } from "./limits-refusal.ts";
import { periodEnd, periodStart, type Period } from "./periods.ts";

export type { LimitName, Refused, Spend } from "./limits-refusal.ts";

/**
 * A key's limits, as the config gives them (config/keys.ts). A number that is absent
 * is no limit; 0 refuses every request. `rpm` and `concurrent` are exact; `tpm` and
 * the budget are soft caps: a request is admitted while the key's usage is under the
 * limit and debited when it ends, so the overshoot is at most what was already in flight.
 */
export type { KeyLimits };
export type Budget = NonNullable<KeyLimits["budget"]>;

export interface Admitted {
  readonly ok: true;
  /**
   * The request is over (answered, failed or cut): frees its concurrency slot and
   * debits what it used to `tpm` and the budget at `now`. Call it exactly once;
   * later calls do nothing.
   */
  release(spend: Spend, now: number): void;
}

export type Admission = Admitted | Refused;

/** Admit before the request, release after it. */
export interface Limiter {
  admit(keyName: string, limits: KeyLimits, now: number): Admission | Promise<Admission>;
  /** Adds spend found in the ledger at start-up to the key's current budget period. */
  seedSpend(keyName: string, per: Period, spend: Spend, now: number): void | Promise<void>;
}

const MINUTE_MS = 60_000;
const SECONDS = 60;

/** Admission for a key with no limits: nothing to count, nothing allocated. */
export const UNLIMITED: Admitted = Object.freeze({ ok: true as const, release() {} });

export function hasLimits(limits: KeyLimits): boolean {
  return limits.rpm !== undefined || limits.tpm !== undefined || limits.concurrent !== undefined || hasBudget(limits.budget);
}

export function hasBudget(budget: Budget | undefined): budget is Budget {
  return budget !== undefined && (budget.usd !== undefined || budget.tokens !== undefined);
}

/** Every token of a request counts for `tpm` and token budgets. */
export function tokensOf(usage: { readonly input: number; readonly output: number; readonly cacheRead: number; readonly cacheWrite: number }): number {
  return usage.input + usage.output + usage.cacheRead + usage.cacheWrite;
}

/** One key's counters. Typed arrays keep admit free of allocation beyond the release closure. */
class KeyState {
  /** Admission times of the last minute, oldest at `head` (a ring that grows when full). */
  times = new Float64Array(0);
  head = 0;
  count = 0;
  /** Tokens per whole second of the last minute, indexed by second % 60. */
  readonly tokenSeconds = new Float64Array(SECONDS).fill(-Infinity);
  readonly tokens = new Float64Array(SECONDS);
  inFlight = 0;
  budgetPer: Period | undefined;
  budgetStart = 0;
  budgetEnd = 0;
  spentUsd = 0;
  spentTokens = 0;

  /** Drops admissions older than a minute; returns how many remain. */
  recent(now: number): number {
    const cutoff = now - MINUTE_MS;
    const cap = this.times.length;
    while (this.count > 0 && this.times[this.head]! <= cutoff) {
      this.head = (this.head + 1) % cap;
      this.count--;
    }
    return this.count;
  }

  /** How long until fewer than `rpm` admissions remain in the window. */
  rpmWait(rpm: number, now: number): number {
    const index = this.count - rpm;
    if (index < 0 || index >= this.count) return MINUTE_MS;
    return this.times[(this.head + index) % this.times.length]! + MINUTE_MS - now;
  }

  pushTime(now: number): void {
    const cap = this.times.length;
    if (this.count === cap) {
      const grown = new Float64Array(Math.max(4, cap * 2));
      for (let i = 0; i < this.count; i++) grown[i] = this.times[(this.head + i) % cap]!;
      this.times = grown;
      this.head = 0;
    }
    this.times[(this.head + this.count) % this.times.length] = now;
    this.count++;
  }

  tokensUsed(now: number): number {
    const oldest = Math.floor(now / 1000) - SECONDS + 1;
    let sum = 0;
    for (let i = 0; i < SECONDS; i++) if (this.tokenSeconds[i]! >= oldest) sum += this.tokens[i]!;
    return sum;
  }

  /** How long until the tokens of the last minute fall under `tpm`: the buckets expire oldest first. */
  tpmWait(tpm: number, used: number, now: number): number {
    const second = Math.floor(now / 1000);
    let left = used;
    for (let s = second - SECONDS + 1; s <= second; s++) {
      const i = s % SECONDS;
      if (this.tokenSeconds[i] !== s) continue;
      left -= this.tokens[i]!;
      if (left < tpm) return (s + SECONDS) * 1000 - now;
    }
    return MINUTE_MS;
  }

  addTokens(tokens: number, now: number): void {
    const second = Math.floor(now / 1000);
    const i = second % SECONDS;
    if (this.tokenSeconds[i] !== second) {
      this.tokenSeconds[i] = second;
      this.tokens[i] = 0;
    }
    this.tokens[i]! += tokens;
  }

  /** Starts a new period when `now` left the one the spend belongs to. */
  period(per: Period, now: number): void {
    if (per === this.budgetPer && now >= this.budgetStart && now < this.budgetEnd) return;
    const start = periodStart(per, now);
    if (per !== this.budgetPer || start !== this.budgetStart) {
      this.spentUsd = 0;
      this.spentTokens = 0;
    }
    this.budgetPer = per;
    this.budgetStart = start;
    this.budgetEnd = periodEnd(per, now);
  }
}

/**
 * The counters of one instance. Synchronous and pure: every call takes `now`, does
 * no I/O and allocates only the release closure.
 */
export class LocalLimiter implements Limiter {
  private readonly keys = new Map<string, KeyState>();

  admit(keyName: string, limits: KeyLimits, now: number): Admission {
    if (!hasLimits(limits)) return UNLIMITED;
    const state = this.state(keyName);
    const seen = this.check(state, limits, now);
    return seen === undefined ? this.take(state, limits, now) : refusal(keyName, seen, now);
  }

  /**
   * Counts a request that another authority (Redis) admitted, without checking, so
   * these counters are warm when they have to decide alone.
   */
  track(keyName: string, limits: KeyLimits, now: number): Admitted {
    if (!hasLimits(limits)) return UNLIMITED;
    return this.take(this.state(keyName), limits, now);
  }

  seedSpend(keyName: string, per: Period, spend: Spend, now: number): void {
    const state = this.state(keyName);
    state.period(per, now);
    state.spentUsd += spend.usd;
    state.spentTokens += spend.tokens;
  }

  /** What the counters hold for a key right now (for status pages and tests). */
  snapshot(keyName: string, limits: KeyLimits, now: number): { requestsLastMinute: number; tokensLastMinute: number; inFlight: number; spent: Spend } {
    const state = this.state(keyName);
    if (limits.budget) state.period(limits.budget.per, now);
    return {
      requestsLastMinute: state.recent(now),
      tokensLastMinute: state.tokensUsed(now),
      inFlight: state.inFlight,
      spent: { usd: state.spentUsd, tokens: state.spentTokens },
    };
  }

  /** Keys with a budget and what they spent this period, to hand to a shared store. */
  budgets(): { keyName: string; per: Period; spent: Spend }[] {
    const out: { keyName: string; per: Period; spent: Spend }[] = [];
    for (const [keyName, s] of this.keys) if (s.budgetPer) out.push({ keyName, per: s.budgetPer, spent: { usd: s.spentUsd, tokens: s.spentTokens } });
    return out;
  }

  private state(keyName: string): KeyState {
    let state = this.keys.get(keyName);
    if (state === undefined) {
      state = new KeyState();
      this.keys.set(keyName, state);
    }
    return state;
  }

  /** The first limit the request is over, or undefined. Changes nothing but expiry. */
  private check(state: KeyState, limits: KeyLimits, now: number): Seen | undefined {
    const { rpm, tpm, concurrent, budget } = limits;
    if (concurrent !== undefined && state.inFlight >= concurrent) return { limit: "concurrent", concurrent };
    if (rpm !== undefined && state.recent(now) >= rpm) return { limit: "rpm", rpm, waitMs: state.rpmWait(rpm, now) };
    if (tpm !== undefined) {
      const used = state.tokensUsed(now);
      if (used >= tpm) return { limit: "tpm", tpm, used, waitMs: state.tpmWait(tpm, used, now) };
    }
    if (hasBudget(budget)) {
      state.period(budget.per, now);
      const overUsd = budget.usd !== undefined && state.spentUsd >= budget.usd;
      const overTokens = budget.tokens !== undefined && state.spentTokens >= budget.tokens;
      if (overUsd || overTokens) {
        const spent = { usd: state.spentUsd, tokens: state.spentTokens };
        return { limit: "budget", per: budget.per, usd: budget.usd, tokens: budget.tokens, spent, waitMs: state.budgetEnd - now };
      }
    }
    return undefined;
  }

  private take(state: KeyState, limits: KeyLimits, now: number): Admitted {
    if (limits.rpm !== undefined) {
      state.recent(now);
      state.pushTime(now);
    }
    state.inFlight++;
    const countTokens = limits.tpm !== undefined;
    const per = hasBudget(limits.budget) ? limits.budget.per : undefined;
    let open = true;
    return {
      ok: true,
      release(spend: Spend, at: number) {
        if (!open) return;
        open = false;
        state.inFlight--;
        if (countTokens && spend.tokens > 0) state.addTokens(spend.tokens, at);
        if (per !== undefined) {
          state.period(per, at);
          state.spentUsd += spend.usd;
          state.spentTokens += spend.tokens;
        }
      },
    };
  }
}
