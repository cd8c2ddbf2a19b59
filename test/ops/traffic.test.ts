import { describe, expect, test } from "bun:test";
import { BUCKET_MS, HISTORY_BUCKETS, TrafficRecorder } from "../../src/ops/traffic.ts";
import type { AttemptRecord, RequestRecord } from "../../src/proxy/forward.ts";

const A = "a\u0000m1";
const B = "b\u0000m2";

function record(outcome: RequestRecord["outcome"], attempts: AttemptRecord[], totalMs = 100, firstByteMs = 10): RequestRecord {
  return { id: "req_1", request: { alias: { name: "chat" }, key: "alice" }, attempts, status: outcome === "served" ? 200 : 502, outcome, totalMs, firstByteMs, usage: { input: 3, output: 4, cacheRead: 1, cacheWrite: 0, reasoning: 0 } } as unknown as RequestRecord;
}
const ok = (key: string): AttemptRecord => ({ route: key.replace("\u0000", "/"), key, ms: 5, status: 200, result: "ok" });
const bad = (key: string, status = 500): AttemptRecord => ({ route: key.replace("\u0000", "/"), key, ms: 5, status, result: `status ${status}` });

describe("TrafficRecorder", () => {
  test("a bucket closes after its 5 seconds with served, failed and fell-back counts per alias and per route", () => {
    let now = 1_000 * BUCKET_MS;
    const t = new TrafficRecorder(() => now);
    t.record(record("served", [ok(A)]));
    t.record(record("served", [bad(A), ok(B)]));
    t.record(record("failed", [bad(A), bad(B)]));
    expect(t.roll(now).size).toBe(0);
    now += BUCKET_MS;
    const closed = t.roll(now);
    expect(closed.get("alias:chat")!.slice(0, 4)).toEqual([1_000 * BUCKET_MS, 2, 1, 1]);
    expect(closed.get(`route:${A}`)!.slice(1, 4)).toEqual([1, 2, 0]);
    expect(closed.get(`route:${B}`)!.slice(1, 4)).toEqual([1, 1, 1]);
    expect(t.lastFailure(B)).toMatchObject({ status: 500, message: "status 500" });
  });

  test("p50 and p95 of the served requests' durations and first bytes", () => {
    let now = 7 * BUCKET_MS;
    const t = new TrafficRecorder(() => now);
    for (let ms = 1; ms <= 100; ms++) t.record(record("served", [ok(A)], ms, ms / 10));
    now += BUCKET_MS;
    const [, , , , p50, p95, f50, f95] = t.roll(now).get("alias:chat")!;
    expect([p50, p95]).toEqual([51, 96]);
    expect([f50, f95]).toEqual([5, 10]);
  });

  test("a bucket with only failures has no latency; history keeps 15 minutes", () => {
    let now = 3 * BUCKET_MS;
    const t = new TrafficRecorder(() => now);
    t.record(record("failed", [bad(A)]));
    now += BUCKET_MS;
    expect(t.roll(now).get("alias:chat")!.slice(4)).toEqual([null, null, null, null]);
    now += HISTORY_BUCKETS * BUCKET_MS;
    t.roll(now);
    expect(t.points()).toEqual({});
  });

  test("the last 50 requests, with a sequence number the feed reads on from", () => {
    const t = new TrafficRecorder(() => 0);
    for (let i = 0; i < 60; i++) t.record(record("served", [ok(A)]));
    expect(t.recent()).toHaveLength(50);
    expect(t.recent()[0]!.seq).toBe(11);
    expect(t.recent(58).map((r) => r.seq)).toEqual([59, 60]);
    expect(t.recent()[0]).toMatchObject({ key: "alice", alias: "chat", route: "a/m1", attempts: 1, status: 200, inputTokens: 4, outputTokens: 4 });
  });

  test("a flood keeps at most 512 durations per bucket, sampled fairly", () => {
    let now = 9 * BUCKET_MS;
    const t = new TrafficRecorder(() => now);
    for (let i = 0; i < 20_000; i++) t.record(record("served", [ok(A)], i < 10_000 ? 10 : 1000));
    now += BUCKET_MS;
    const point = t.roll(now).get("alias:chat")!;
    expect(point[1]).toBe(20_000);
    // Half the requests took 10 ms and half 1000 ms: a fair sample puts p95 at 1000 and p50 at either.
    expect(point[5]).toBe(1000);
  });
});
