import { describe, expect, test } from "bun:test";
import { chatCompletion, echo, FakeProvider } from "../helpers/fake-provider.ts";
import { BlackholeListener, cooldownOf, cooling, refusedUrl, resetting, twoRoutes } from "../helpers/faults.ts";
import { post, within } from "../helpers/http.ts";
import { startProxy, type TestProxy } from "../helpers/proxy.ts";
import { optionalTool } from "../helpers/tools.ts";

const python3Tool = optionalTool("python3", Bun.which("python3") !== null, "apt-get install python3", "a connect that never completes (a listener that never accepts) falls back in bounded time");

/**
 * Faults before the provider answers anything: no listener, a connect that never
 * completes, a reset, silence, a redirect. Each falls back to route b, cools a,
 * and leaves the proxy serving the next request normally.
 */

async function ask(proxy: TestProxy): Promise<{ status: number; model: string; ms: number }> {
  const started = performance.now();
  const res = await post(`${proxy.url}/v1/chat/completions`, { model: "m", messages: [{ role: "user", content: "hi" }] });
  const body = (await res.json()) as { model?: string };
  return { status: res.status, model: body.model ?? "", ms: performance.now() - started };
}

/** The proxy keeps serving: the next request goes to b at once, a is left alone while it cools. */
async function nextIsServedByB(proxy: TestProxy, second: FakeProvider): Promise<void> {
  const before = second.received.length;
  const next = await ask(proxy);
  expect(next.status).toBe(200);
  expect(next.model).toBe("model-b");
  expect(second.received.length).toBe(before + 1);
}

describe("faults before any answer", () => {
  test("a connection refused falls back at once and cools the pair", async () => {
    const nobody = refusedUrl();
    await using second = new FakeProvider(echo);
    await using proxy = startProxy(twoRoutes(nobody, second.url));
    const first = await ask(proxy);
    expect(first.status).toBe(200);
    expect(first.model).toBe("model-b");
    // Refused is immediate: no timer should have been needed.
    expect(first.ms).toBeLessThan(450);
    expect(cooling(proxy)).toEqual(["a/model-a"]);
    expect(cooldownOf(proxy, "a/model-a")!.reason).toContain("network error");
    await nextIsServedByB(proxy, second);
  });

  test.skipIf(!python3Tool.run)("a connect that never completes falls back within 2 × connect_seconds (connect_seconds, then a probe connection given as long), long before first_byte_seconds", async () => {
    await using hole = await BlackholeListener.start();
    await using second = new FakeProvider(echo);
    await using proxy = startProxy(twoRoutes(hole.url, second.url, undefined, "timeouts: { connect_seconds: 0.3, first_byte_seconds: 10, idle_seconds: 0.5 }"));
    const first = await ask(proxy);
    expect(first.status).toBe(200);
    expect(first.model).toBe("model-b");
    // connect_seconds (0.3 s), then a probe connection of at most as long; never the 10 s first-byte bound.
    expect(first.ms).toBeGreaterThanOrEqual(290);
    expect(first.ms).toBeLessThan(3000);
    expect(cooling(proxy)).toEqual(["a/model-a"]);
    expect(cooldownOf(proxy, "a/model-a")!.reason).toBe("no connection within 0.3 s (the provider's address did not accept one)");
    await nextIsServedByB(proxy, second);
  });

  test("a provider that accepts connections but is slow to answer is not a connect timeout: it has the whole first_byte_seconds", async () => {
    await using slow = new FakeProvider(async (r) => {
      await Bun.sleep(800);
      return echo(r);
    });
    await using second = new FakeProvider(echo);
    await using proxy = startProxy(twoRoutes(slow.url, second.url, undefined, "timeouts: { connect_seconds: 0.2, first_byte_seconds: 10, idle_seconds: 0.5 }"));
    const first = await ask(proxy);
    expect(first.status).toBe(200);
    expect(first.model).toBe("model-a");
    // Past connect_seconds and the probe's own bound: the probe connected, so the attempt kept waiting.
    expect(first.ms).toBeGreaterThanOrEqual(800);
    expect(second.received.length).toBe(0);
    expect(cooling(proxy)).toEqual([]);
  });

  test("a reset before the response head falls back and cools the pair", async () => {
    await using broken = resetting();
    await using second = new FakeProvider(echo);
    await using proxy = startProxy(twoRoutes(broken.url, second.url));
    const first = await ask(proxy);
    expect(first.status).toBe(200);
    expect(first.model).toBe("model-b");
    expect(broken.exchanges.length).toBeGreaterThanOrEqual(1);
    expect(cooling(proxy)).toEqual(["a/model-a"]);
    expect(cooldownOf(proxy, "a/model-a")!.reason).toContain("network error");
    const connections = broken.exchanges.length;
    await nextIsServedByB(proxy, second);
    expect(broken.exchanges.length).toBe(connections);
  });

  test("a provider that accepts but sends no head falls back after first_byte_seconds and sees the abort", async () => {
    await using silent = new FakeProvider((r) => r.aborted.then(() => new Response("too late")));
    await using second = new FakeProvider(echo);
    await using proxy = startProxy(twoRoutes(silent.url, second.url));
    const first = await ask(proxy);
    expect(first.status).toBe(200);
    expect(first.model).toBe("model-b");
    // The connection was made (the connect probe at 0.3 s finds a listener), so only the first-byte bound applies.
    expect(first.ms).toBeGreaterThanOrEqual(490);
    expect(first.ms).toBeLessThan(3000);
    expect(silent.received.length).toBe(1);
    await within(silent.received[0]!.aborted, "the silent provider to see its request aborted", 2000);
    expect(cooling(proxy)).toEqual(["a/model-a"]);
    expect(cooldownOf(proxy, "a/model-a")!.reason).toBe("no answer within 0.5 s");
    await nextIsServedByB(proxy, second);
    expect(silent.received.length).toBe(1);
  });

  for (const status of [301, 302, 307, 308]) {
    test(`a ${status} redirect is a failure that is never followed`, async () => {
      await using elsewhere = new FakeProvider(echo);
      await using redirecting = new FakeProvider(() => new Response(null, { status, headers: { location: `${elsewhere.url}/v1/chat/completions` } }));
      await using second = new FakeProvider(echo);
      await using proxy = startProxy(twoRoutes(redirecting.url, second.url));
      const res = await post(`${proxy.url}/v1/chat/completions`, { model: "m" });
      expect(res.status).toBe(200);
      expect(res.headers.get("location")).toBeNull();
      expect(((await res.json()) as { model: string }).model).toBe("model-b");
      expect(redirecting.received.length).toBe(1);
      expect(elsewhere.received.length).toBe(0);
      expect(cooling(proxy)).toEqual(["a/model-a"]);
      expect(cooldownOf(proxy, "a/model-a")!.reason).toBe(`redirect ${status} (not followed)`);
      await nextIsServedByB(proxy, second);
      expect(elsewhere.received.length).toBe(0);
    });
  }
});
