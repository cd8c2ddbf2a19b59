import { RedisClient } from "bun";
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { type Admission, type Admitted, type KeyLimits, LocalLimiter, UNLIMITED } from "../../src/ops/limits.ts";
import { RedisLimiter } from "../../src/ops/limits-redis.ts";
import { waitFor } from "../helpers/fake-provider.ts";
import { LogLines } from "../helpers/ledger-rows.ts";
import { redisTool, TestRedis } from "../helpers/redis.ts";

const maybe = redisTool.describe;

const none = { tokens: 0, usd: 0 };
const oks = (all: Admission[]) => all.filter((a): a is Admitted => a.ok);

maybe("key limits shared through Redis", () => {
  let redis: TestRedis;
  let run = 0;
  const started: RedisLimiter[] = [];

  beforeAll(async () => {
    redis = await TestRedis.start();
  });
  afterAll(async () => {
    for (const l of started) await l.stop();
    await redis?.[Symbol.asyncDispose]();
  });

  /** Two instances on one prefix of their own, connected. */
  const pair = async (options: { leaseMs?: number } = {}) => {
    const prefix = `test-${process.pid}-${++run}:limits:`;
    const logs = [new LogLines(), new LogLines()];
    const [a, b] = logs.map((l) => new RedisLimiter({ url: redis.url, prefix, log: l.log, ...options })) as [RedisLimiter, RedisLimiter];
    started.push(a, b);
    await Promise.all([a.start(), b.start()]);
    await waitFor(() => a.connected && b.connected, "both limiters to connect");
    return { a, b, logs };
  };

  test("a burst of 50 over two instances against rpm 10 admits exactly 10", async () => {
    const { a, b } = await pair();
    const now = Date.now();
    const all = await Promise.all(Array.from({ length: 50 }, (_, i) => (i % 2 === 0 ? a : b).admit("alice", { rpm: 10 }, now)));
    expect(oks(all)).toHaveLength(10);
    for (const r of all) if (!r.ok) expect([r.limit, r.retryAfterSeconds]).toEqual(["rpm", 60]);
  });

  test("Retry-After and the message are the same as the local limiter's", async () => {
    const { a, b } = await pair();
    const local = new LocalLimiter();
    const t0 = Date.now();
    const limits = { rpm: 2 };
    for (const l of [a, local]) await l.admit("alice", limits, t0);
    for (const l of [b, local]) await l.admit("alice", limits, t0 + 20_000);
    const [shared, mine] = await Promise.all([a.admit("alice", limits, t0 + 30_500), local.admit("alice", limits, t0 + 30_500)]);
    expect(shared).toEqual(mine);
    expect(shared.ok ? 0 : shared.retryAfterSeconds).toBe(30);
    expect(shared.ok ? 0 : shared.freesAt).toBe(t0 + 60_000);
  });

  test("concurrent 3 over two instances never has more than 3 in flight", async () => {
    const { a, b } = await pair();
    const limits = { concurrent: 3 };
    const burst = await Promise.all(Array.from({ length: 50 }, (_, i) => (i % 2 ? a : b).admit("alice", limits, Date.now())));
    expect(oks(burst)).toHaveLength(3);
    const refused = burst.find((r) => !r.ok);
    expect(refused?.ok === false && [refused.limit, refused.retryAfterSeconds]).toEqual(["concurrent", 1]);
    for (const r of oks(burst)) r.release(none, Date.now());
    // Requests that come and go on both instances at once.
    let inFlight = 0;
    let most = 0;
    let served = 0;
    const client = async (i: number) => {
      for (let round = 0; round < 8; round++) {
        const r = await (i % 2 ? a : b).admit("alice", limits, Date.now());
        if (!r.ok) continue;
        inFlight++;
        served++;
        most = Math.max(most, inFlight);
        // The request's own duration (simulated work), not a wait for a condition.
        await Bun.sleep(1 + (i % 4));
        inFlight--;
        r.release(none, Date.now());
      }
    };
    await Promise.all(Array.from({ length: 20 }, (_, i) => client(i)));
    expect(most).toBe(3);
    expect(served).toBeGreaterThan(3);
  });

  test("tokens and spend debited on one instance count on the other", async () => {
    const { a, b } = await pair();
    const now = Date.now();
    const tpm = { tpm: 1000 };
    ((await a.admit("alice", tpm, now)) as Admitted).release({ tokens: 1200, usd: 0 }, now);
    const refused = await waitForAdmission(() => b.admit("alice", tpm, now + 10), (r) => !r.ok);
    expect(refused.ok ? "" : refused.limit).toBe("tpm");
    expect(refused.ok ? "" : refused.message).toContain("1,200 used in the last minute");
    expect(refused.ok ? 0 : refused.freesAt).toBe((Math.floor(now / 1000) + 60) * 1000);

    const budget: KeyLimits = { budget: { usd: 1, per: "day" } };
    ((await b.admit("carol", budget, now)) as Admitted).release({ tokens: 5, usd: 1.25 }, now);
    const broke = await waitForAdmission(() => a.admit("carol", budget, now + 1), (r) => !r.ok);
    expect(broke.ok ? "" : broke.message).toContain("$1.00, $1.25 spent");
  });

  test("spend read from the ledger is seeded into Redis once, not once per instance", async () => {
    const { a, b } = await pair();
    const now = Date.now();
    a.seedSpend("dave", "month", { tokens: 100, usd: 5 }, now);
    b.seedSpend("dave", "month", { tokens: 100, usd: 5 }, now);
    const limits: KeyLimits = { budget: { usd: 5, per: "month" } };
    const refused = await waitForAdmission(() => b.admit("dave", limits, now), (r) => !r.ok);
    expect(refused.ok ? "" : refused.limit).toBe("budget");
    // 5 counted, not 10: under a budget of 9 the key is still admitted.
    expect((await a.admit("dave", { budget: { usd: 9, per: "month" } }, now)).ok).toBe(true);
  });

  test("a concurrency slot held by an instance that died frees itself when its lease lapses", async () => {
    const { a, b } = await pair({ leaseMs: 300 });
    const limits = { concurrent: 1 };
    expect((await a.admit("erin", limits, Date.now())).ok).toBe(true);
    // A long request on a living instance keeps its slot past the lease: renewals extend it.
    const held = (await waitForAdmission(() => b.admit("frank", limits, Date.now()), (r) => r.ok)) as Admitted;
    await a.stop(); // "dies" without releasing erin's slot
    expect((await b.admit("erin", limits, Date.now())).ok).toBe(false);
    await waitForAdmission(() => b.admit("erin", limits, Date.now()), (r) => r.ok, 3000);
    expect((await b.admit("frank", limits, Date.now())).ok).toBe(false);
    held.release(none, Date.now());
  });

  test("a command Redis refuses is decided locally and said once, without dropping the link", async () => {
    const prefix = `test-${process.pid}-${++run}:limits:`;
    const lines = new LogLines();
    const limiter = new RedisLimiter({ url: redis.url, prefix, log: lines.log });
    started.push(limiter);
    await limiter.start();
    const raw = new RedisClient(redis.url);
    await raw.set(`${prefix}{ivy}:rpm`, "not a sorted set");
    raw.close();
    const all = await Promise.all(Array.from({ length: 5 }, () => limiter.admit("ivy", { rpm: 3 }, Date.now())));
    expect(oks(all)).toHaveLength(3);
    expect(limiter.connected).toBe(true);
    expect(lines.count("refused a limits command (WRONGTYPE")).toBe(1);
    expect(lines.count("is unreachable")).toBe(0);
  });

  test("a key without limits costs nothing: no Redis round trip", async () => {
    const { a } = await pair();
    expect(a.admit("free", {}, Date.now())).toBe(UNLIMITED);
  });

  test("with Redis stopped each instance falls back to its own counters, logs it once, and shares again when it returns", async () => {
    const { a, b, logs } = await pair();
    const limits = { rpm: 10 };
    const now = () => Date.now();
    expect(oks(await Promise.all(Array.from({ length: 6 }, () => a.admit("gina", limits, now()))))).toHaveLength(6);
    await redis.pause();
    await waitFor(() => !a.connected && !b.connected, "both limiters to notice");
    // A remembers its 6 admissions; B counted none of them.
    expect(oks(await Promise.all(Array.from({ length: 10 }, () => a.admit("gina", limits, now()))))).toHaveLength(4);
    expect(oks(await Promise.all(Array.from({ length: 12 }, () => b.admit("gina", limits, now()))))).toHaveLength(10);
    // Several reconnection attempts fail meanwhile (250 ms, 500 ms, 1 s apart); still one line each.
    for (let i = 0; i < 6; i++) {
      await b.admit("other", limits, now());
      await Bun.sleep(300);
    }
    for (const l of logs) expect(l.count("is unreachable")).toBe(1);
    await redis.resume();
    await waitFor(() => a.connected && b.connected, "both limiters to reconnect", 15_000);
    for (const l of logs) expect(l.count("is back; key limits are shared again")).toBe(1);
    // The restarted Redis counts from zero, for both: exactly 10 between them.
    const all = await Promise.all(Array.from({ length: 30 }, (_, i) => (i % 2 ? a : b).admit("hank", limits, now())));
    expect(oks(all)).toHaveLength(10);
  }, 40_000);
});

/** Releases are sent without waiting: poll the admission until it says what the test expects. */
async function waitForAdmission(admit: () => Admission | Promise<Admission>, until: (r: Admission) => boolean, timeoutMs = 2000): Promise<Admission> {
  let last: Admission | undefined;
  await waitFor(async () => {
    last = await admit();
    if (last.ok && !until(last)) last.release(none, Date.now());
    return until(last);
  }, "the admission to change", timeoutMs);
  return last!;
}
