import { describe, expect, test } from "bun:test";
import { LocalLimiter, UNLIMITED, type Admission, type Admitted, type KeyLimits } from "../../src/ops/limits.ts";
import { humanDuration } from "../../src/ops/limits-refusal.ts";

const T0 = Date.parse("2026-12-02T10:00:00.000Z");
const none = { tokens: 0, usd: 0 };

const burst = (limiter: LocalLimiter, limits: KeyLimits, n: number, now: number): Admission[] => Array.from({ length: n }, () => limiter.admit("alice", limits, now));
const admitted = (all: Admission[]) => all.filter((a): a is Admitted => a.ok);

describe("local limits", () => {
  test("a key without limits is admitted with the shared no-op admission", () => {
    const limiter = new LocalLimiter();
    expect(limiter.admit("free", {}, T0)).toBe(UNLIMITED);
    expect(limiter.admit("free", { budget: { per: "day" } }, T0)).toBe(UNLIMITED);
  });

  test("a burst of 50 against rpm 10 admits exactly 10, and the 429s say rpm and when it frees", () => {
    const limiter = new LocalLimiter();
    const all = burst(limiter, { rpm: 10 }, 50, T0);
    expect(admitted(all)).toHaveLength(10);
    const refused = all.filter((a) => !a.ok);
    expect(refused).toHaveLength(40);
    for (const r of refused) {
      if (r.ok) continue;
      expect(r.limit).toBe("rpm");
      expect(r.retryAfterSeconds).toBe(60);
      expect(r.message).toBe('key "alice" is over its request rate limit (rpm: 10 requests per minute); it frees in 1 min, at 2026-12-02T10:01:00Z');
    }
  });

  test("rpm is a sliding minute: a slot frees exactly a minute after the request that took it", () => {
    const limiter = new LocalLimiter();
    const limits = { rpm: 2 };
    expect(limiter.admit("alice", limits, T0).ok).toBe(true);
    expect(limiter.admit("alice", limits, T0 + 20_000).ok).toBe(true);
    const third = limiter.admit("alice", limits, T0 + 30_500);
    expect(third.ok).toBe(false);
    if (!third.ok) {
      expect(third.retryAfterSeconds).toBe(30); // 29.5 s, rounded up
      expect(third.freesAt).toBe(T0 + 60_000);
    }
    expect(limiter.admit("alice", limits, T0 + 59_999).ok).toBe(false);
    expect(limiter.admit("alice", limits, T0 + 60_000).ok).toBe(true);
    expect(limiter.admit("alice", limits, T0 + 60_001).ok).toBe(false);
  });

  test("lowering rpm below what was used waits for enough old requests to expire", () => {
    const limiter = new LocalLimiter();
    for (let i = 0; i < 5; i++) limiter.admit("alice", { rpm: 5 }, T0 + i * 1000);
    const r = limiter.admit("alice", { rpm: 2 }, T0 + 10_000);
    // 5 in the window, 1 allowed after 4 expire: the fourth (at T0+3s) expires at T0+63s.
    expect(r.ok ? undefined : r.freesAt).toBe(T0 + 63_000);
  });

  test("concurrent 3 never has more than 3 in flight, and a release frees a slot", () => {
    const limiter = new LocalLimiter();
    const limits = { concurrent: 3 };
    const all = burst(limiter, limits, 50, T0);
    const ok = admitted(all);
    expect(ok).toHaveLength(3);
    const refused = all.find((a) => !a.ok);
    expect(refused?.ok === false && refused.limit).toBe("concurrent");
    expect(refused?.ok === false && refused.retryAfterSeconds).toBe(1);
    expect(refused?.ok === false && refused.message).toContain("concurrent: 3 requests in flight");
    ok[0]!.release(none, T0 + 5);
    ok[0]!.release(none, T0 + 5); // a second release must not free a second slot
    expect(limiter.snapshot("alice", limits, T0 + 5).inFlight).toBe(2);
    expect(admitted(burst(limiter, limits, 10, T0 + 6))).toHaveLength(1);
  });

  test("tpm is a soft cap: admitted while under it, so the overshoot is at most the requests in flight", () => {
    const limiter = new LocalLimiter();
    const limits = { tpm: 1000 };
    // Five requests start while nothing is used, then each uses 400 tokens.
    const inFlight = admitted(burst(limiter, limits, 5, T0));
    expect(inFlight).toHaveLength(5);
    for (const a of inFlight) a.release({ tokens: 400, usd: 0 }, T0 + 1500);
    expect(limiter.snapshot("alice", limits, T0 + 1500).tokensLastMinute).toBe(2000);
    const r = limiter.admit("alice", limits, T0 + 2000);
    expect(r.ok).toBe(false);
    if (!r.ok) {
      expect(r.limit).toBe("tpm");
      // The tokens were debited in second T0+1: they leave the window a minute later.
      expect(r.freesAt).toBe(T0 + 61_000);
      expect(r.retryAfterSeconds).toBe(59);
      expect(r.message).toContain("tpm: 1,000 tokens per minute, 2,000 used in the last minute");
    }
    expect(limiter.admit("alice", limits, T0 + 61_000).ok).toBe(true);
  });

  test("tpm frees as soon as enough of the oldest seconds leave the window", () => {
    const limiter = new LocalLimiter();
    const limits = { tpm: 1000 };
    admitted(burst(limiter, limits, 1, T0))[0]!.release({ tokens: 600, usd: 0 }, T0);
    admitted(burst(limiter, limits, 1, T0 + 10_000))[0]!.release({ tokens: 600, usd: 0 }, T0 + 10_000);
    const r = limiter.admit("alice", limits, T0 + 20_000);
    // 1200 used; once the 600 of T0 leave, 600 < 1000.
    expect(r.ok ? undefined : r.freesAt).toBe(T0 + 60_000);
  });

  test("a usd budget refuses once spent, until the next UTC day, and says so", () => {
    const limiter = new LocalLimiter();
    const limits: KeyLimits = { budget: { usd: 1, per: "day" } };
    const a = limiter.admit("alice", limits, T0);
    const b = limiter.admit("alice", limits, T0);
    expect(a.ok && b.ok).toBe(true);
    (a as Admitted).release({ tokens: 10, usd: 0.7 }, T0 + 1);
    (b as Admitted).release({ tokens: 10, usd: 0.7 }, T0 + 2);
    const r = limiter.admit("alice", limits, T0 + 3);
    expect(r.ok).toBe(false);
    if (!r.ok) {
      expect(r.limit).toBe("budget");
      expect(r.freesAt).toBe(Date.parse("2026-12-03T00:00:00Z"));
      expect(r.retryAfterSeconds).toBe(14 * 3600);
      expect(r.message).toBe(
        'key "alice" has used up its daily budget (budget: $1.00, $1.40 spent since 2026-12-02T00:00:00Z); it frees in 14 h, at 2026-12-03T00:00:00Z',
      );
    }
    expect(limiter.admit("alice", limits, Date.parse("2026-12-03T00:00:00Z")).ok).toBe(true);
  });

  test("a token budget per week counts every token and resets on Monday 00:00 UTC", () => {
    const limiter = new LocalLimiter();
    const limits: KeyLimits = { budget: { tokens: 100, per: "week" } };
    const sunday = Date.parse("2026-12-06T23:00:00Z");
    (limiter.admit("alice", limits, sunday) as Admitted).release({ tokens: 100, usd: 0 }, sunday);
    const r = limiter.admit("alice", limits, sunday + 1000);
    expect(r.ok ? undefined : r.limit).toBe("budget");
    expect(r.ok ? "" : r.message).toContain("weekly budget (budget: 100 tokens, 100 used since 2026-11-30T00:00:00Z)");
    expect(limiter.admit("alice", limits, Date.parse("2026-12-07T00:00:00Z")).ok).toBe(true);
  });

  test("spend read back from the ledger at start-up counts toward this period's budget", () => {
    const limiter = new LocalLimiter();
    limiter.seedSpend("alice", "month", { tokens: 0, usd: 9.99 }, T0);
    const limits: KeyLimits = { budget: { usd: 10, per: "month" } };
    (limiter.admit("alice", limits, T0) as Admitted).release({ tokens: 1, usd: 0.02 }, T0);
    const r = limiter.admit("alice", limits, T0);
    expect(r.ok ? undefined : r.limit).toBe("budget");
  });

  test("a request that ends in the next period is debited to that period", () => {
    const limiter = new LocalLimiter();
    const limits: KeyLimits = { budget: { usd: 1, per: "day" } };
    const late = Date.parse("2026-12-02T23:59:59Z");
    const a = limiter.admit("alice", limits, late) as Admitted;
    a.release({ tokens: 0, usd: 5 }, late + 2000);
    expect(limiter.admit("alice", limits, late + 3000).ok).toBe(false);
    expect(limiter.snapshot("alice", limits, late + 3000).spent.usd).toBe(5);
  });

  test("keys are counted apart", () => {
    const limiter = new LocalLimiter();
    expect(limiter.admit("alice", { rpm: 1 }, T0).ok).toBe(true);
    expect(limiter.admit("alice", { rpm: 1 }, T0).ok).toBe(false);
    expect(limiter.admit("bob", { rpm: 1 }, T0).ok).toBe(true);
  });

  test("the first limit a request is over is the one named: concurrent, then rpm, tpm, budget", () => {
    const limiter = new LocalLimiter();
    const limits: KeyLimits = { concurrent: 1, rpm: 1, tpm: 1, budget: { usd: 0, per: "day" } };
    const r = limiter.admit("alice", limits, T0);
    expect(r.ok ? undefined : r.limit).toBe("budget");
    const open = limiter.admit("alice", { rpm: 1, concurrent: 1 }, T0) as Admitted;
    expect(open.ok).toBe(true);
    expect(limiter.admit("alice", { rpm: 1, concurrent: 1 }, T0).ok ? "" : "concurrent").toBe("concurrent");
    open.release({ tokens: 5, usd: 0 }, T0);
    const again = limiter.admit("alice", { rpm: 1, concurrent: 1, tpm: 1 }, T0);
    expect(again.ok ? undefined : again.limit).toBe("rpm");
  });

  test("durations in messages read as people say them", () => {
    expect(humanDuration(400)).toBe("1 s");
    expect(humanDuration(59_000)).toBe("59 s");
    expect(humanDuration(60_000)).toBe("1 min");
    expect(humanDuration(245_000)).toBe("4 min 5 s");
    expect(humanDuration(5 * 3_600_000 + 12 * 60_000 + 30_000)).toBe("5 h 12 min");
    expect(humanDuration(3 * 86_400_000 + 4 * 3_600_000)).toBe("3 d 4 h");
  });
});
