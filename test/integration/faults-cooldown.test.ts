import { describe, expect, test } from "bun:test";
import { chatCompletion, echo, FakeProvider, waitFor } from "../helpers/fake-provider.ts";
import { cooldownOf, cooling, oneRoute, twoRoutes } from "../helpers/faults.ts";
import { post } from "../helpers/http.ts";
import { startProxy, type TestProxy } from "../helpers/proxy.ts";

/** How long a fault cools a pair, and what happens when the cooldown ends. */

async function servedBy(proxy: TestProxy): Promise<string> {
  const res = await post(`${proxy.url}/v1/chat/completions`, { model: "m" });
  expect(res.status).toBe(200);
  return ((await res.json()) as { model: string }).model;
}

/** Length of a pair's cooldown as entered (until − since), in ms. */
const lengthOf = (proxy: TestProxy, pair: string) => {
  const entry = cooldownOf(proxy, pair)!;
  return entry.until - entry.since;
};

describe("what the provider says sets the cooldown", () => {
  test("a 429 with Retry-After: 1 under cooldown_seconds: 300 makes the pair usable again after about a second", async () => {
    let limited = true;
    await using first = new FakeProvider((r) => {
      if (!limited) return echo(r);
      limited = false;
      return Response.json({ error: { message: "Rate limit reached", type: "rate_limit_error" } }, { status: 429, headers: { "retry-after": "1" } });
    });
    await using second = new FakeProvider(echo);
    await using proxy = startProxy(twoRoutes(first.url, second.url, "fallback: { cooldown_seconds: 300 }"));
    const limitedAt = Date.now();
    expect(await servedBy(proxy)).toBe("model-b");
    expect(cooling(proxy)).toEqual(["a/model-a"]);
    expect(lengthOf(proxy, "a/model-a")).toBe(1000);
    expect(cooldownOf(proxy, "a/model-a")!.status).toBe(429);
    // While it cools, b serves and a is not asked.
    expect(await servedBy(proxy)).toBe("model-b");
    expect(first.received.length).toBe(1);

    await waitFor(() => cooling(proxy).length === 0, "the 1 s cooldown to end (not 300 s)", 5000);
    expect(Date.now() - limitedAt).toBeGreaterThanOrEqual(990);
    expect(await servedBy(proxy)).toBe("model-a");
    expect(first.received.length).toBe(2);
    expect(proxy.proxy.cooldowns.active(0)).toEqual([]);
  });

  test("a 401 cools the pair for max_cooldown_seconds and is logged as an error", async () => {
    await using first = new FakeProvider(() => Response.json({ error: { message: "Incorrect API key provided", code: "invalid_api_key" } }, { status: 401 }));
    await using second = new FakeProvider(echo);
    await using proxy = startProxy(twoRoutes(first.url, second.url, "fallback: { cooldown_seconds: 5, max_cooldown_seconds: 120 }"));
    expect(await servedBy(proxy)).toBe("model-b");
    expect(cooling(proxy)).toEqual(["a/model-a"]);
    expect(lengthOf(proxy, "a/model-a")).toBe(120_000);
    expect(cooldownOf(proxy, "a/model-a")!.status).toBe(401);
    expect(proxy.log.text).toMatch(/\[ERROR\].*a\/model-a refused the key/);
    expect(proxy.log.text).not.toContain("sk-first-backend-key-1111");
    expect(await servedBy(proxy)).toBe("model-b");
    expect(first.received.length).toBe(1);
  });
});

describe("a request's own fault cools nothing", () => {
  const tooLong = { error: { message: "This model's maximum context length is 8192 tokens. However, you requested 9000 tokens.", type: "invalid_request_error", code: "context_length_exceeded" } };
  const detection = 'detection: { error_codes: ["4xx"], error_patterns: ["exceeded"] }\nfallback: { cooldown_seconds: 300 }';

  test("a 400 context_length_exceeded with error_codes [4xx] and error_patterns [exceeded] falls back and cools nothing", async () => {
    await using first = new FakeProvider(() => Response.json(tooLong, { status: 400 }));
    await using second = new FakeProvider(echo);
    await using proxy = startProxy(twoRoutes(first.url, second.url, detection));
    expect(await servedBy(proxy)).toBe("model-b");
    expect(proxy.proxy.cooldowns.active(0)).toEqual([]);
    // The next request still starts with a: it was the request, not the provider.
    expect(await servedBy(proxy)).toBe("model-b");
    expect(first.received.length).toBe(2);
    expect(second.received.length).toBe(2);
    expect(proxy.proxy.cooldowns.active(0)).toEqual([]);
  });

  test("when every route refuses the request, the client gets the last refusal and nothing is cooled", async () => {
    await using first = new FakeProvider(() => Response.json(tooLong, { status: 400 }));
    await using second = new FakeProvider(() => Response.json({ ...tooLong, from: "b" }, { status: 400 }));
    await using proxy = startProxy(twoRoutes(first.url, second.url, detection));
    const res = await post(`${proxy.url}/v1/chat/completions`, { model: "m" });
    expect(res.status).toBe(400);
    expect(((await res.json()) as { from?: string }).from).toBe("b");
    expect(proxy.proxy.cooldowns.active(0)).toEqual([]);
    expect(first.received.length).toBe(1);
    expect(second.received.length).toBe(1);
  });
});

describe("after a cooldown ends", () => {
  test("only one request probes the pair; concurrent others use the other route until it answers", async () => {
    let mode: "fail" | "slow" = "fail";
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    await using first = new FakeProvider(async (r) => {
      if (mode === "fail") return Response.json({ error: { message: "busy" } }, { status: 503 });
      await gate;
      return echo(r);
    });
    await using second = new FakeProvider(echo);
    await using proxy = startProxy(twoRoutes(first.url, second.url, "fallback: { cooldown_seconds: 0.3 }"));
    expect(await servedBy(proxy)).toBe("model-b");
    expect(first.received.length).toBe(1);
    mode = "slow";
    await waitFor(() => cooling(proxy).length === 0, "the cooldown to end", 5000);

    let answered = 0;
    const concurrent = Array.from({ length: 6 }, () => servedBy(proxy).finally(() => answered++));
    // Five were answered by b while the sixth, the probe, is still held at a; nobody else went to a.
    await waitFor(() => answered === 5, "five requests to be answered while the probe is held", 5000);
    expect(first.received.length).toBe(2);
    expect(second.received.length).toBe(6);
    expect(cooling(proxy)).toEqual(["a/model-a"]);
    expect(cooldownOf(proxy, "a/model-a")!.probing).toBe(true);
    release();
    const models = await Promise.all(concurrent);
    expect(models.filter((m) => m === "model-a").length).toBe(1);
    expect(models.filter((m) => m === "model-b").length).toBe(5);
    expect(first.received.length).toBe(2);
    // The probe succeeded: the pair is healthy again and first in line.
    expect(proxy.proxy.cooldowns.active(0)).toEqual([]);
    expect(await servedBy(proxy)).toBe("model-a");
  });

  test("with backoff: exponential each failure in a row doubles the cooldown, and a success resets it", async () => {
    let fail = true;
    await using first = new FakeProvider((r) => (fail ? Response.json({ error: { message: "down" } }, { status: 500 }) : echo(r)));
    await using proxy = startProxy(oneRoute(first.url, "fallback: { cooldown_seconds: 0.1, backoff: exponential, max_cooldown_seconds: 0.5 }"));
    const lengths: number[] = [];
    for (let i = 0; i < 4; i++) {
      await waitFor(() => cooling(proxy).length === 0, `cooldown ${i} to end`, 5000);
      expect((await post(`${proxy.url}/v1/chat/completions`, { model: "m" })).status).toBe(500);
      lengths.push(lengthOf(proxy, "a/model-a"));
    }
    // 0.1, 0.2, 0.4, then capped at max_cooldown_seconds.
    expect(lengths).toEqual([100, 200, 400, 500]);
    expect(first.received.length).toBe(4);

    await waitFor(() => cooling(proxy).length === 0, "the last cooldown to end", 5000);
    fail = false;
    expect(await servedBy(proxy)).toBe("model-a");
    fail = true;
    expect((await post(`${proxy.url}/v1/chat/completions`, { model: "m" })).status).toBe(500);
    expect(lengthOf(proxy, "a/model-a")).toBe(100);
  });
});
