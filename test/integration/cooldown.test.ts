import { describe, expect, test } from "bun:test";
import { chatCompletion, echo, FakeProvider, modelOf, waitFor } from "../helpers/fake-provider.ts";
import { anthropicError, openaiError, post } from "../helpers/http.ts";
import { startProxy } from "../helpers/proxy.ts";

describe("cooldown", () => {
  test("a failed pair is skipped on the next request and used again once its cooldown is over", async () => {
    let failNext = true;
    await using first = new FakeProvider((r) => {
      if (!failNext) return echo(r);
      failNext = false;
      return Response.json({ error: { message: "busy" } }, { status: 500 });
    });
    await using second = new FakeProvider(echo);
    await using proxy = startProxy(`
backends:
  - { name: a, url: "${first.url}/v1" }
  - { name: b, url: "${second.url}/v1" }
models:
  m:
    routes:
      - { backend: a, model: model-a, priority: 1 }
      - { backend: b, model: model-b, priority: 2 }
fallback:
  cooldown_seconds: 0.2
`);
    const failedAt = Date.now();
    const one = await post(`${proxy.url}/v1/chat/completions`, { model: "m" });
    expect(((await one.json()) as { model: string }).model).toBe("model-b");
    expect(first.received.length).toBe(1);

    const two = await post(`${proxy.url}/v1/chat/completions`, { model: "m" });
    expect(((await two.json()) as { model: string }).model).toBe("model-b");
    expect(first.received.length).toBe(1);
    expect(proxy.proxy.cooldowns.active(Date.now()).length).toBe(1);

    await waitFor(() => proxy.proxy.cooldowns.active(Date.now()).length === 0, "the cooldown to end");
    expect(Date.now() - failedAt).toBeGreaterThanOrEqual(150);
    const three = await post(`${proxy.url}/v1/chat/completions`, { model: "m" });
    expect(((await three.json()) as { model: string }).model).toBe("model-a");
    expect(first.received.length).toBe(2);
    expect(second.received.length).toBe(2);
  });

  test("every route cooling down is 503 with Retry-After in OpenAI's shape, without asking a provider", async () => {
    await using provider = new FakeProvider(() => Response.json({ error: { message: "down" } }, { status: 500 }));
    await using proxy = startProxy(`
backends:
  - { name: p, url: "${provider.url}/v1" }
models:
  m:
    routes:
      - { backend: p, model: x, priority: 1 }
      - { backend: p, model: y, priority: 2 }
fallback:
  cooldown_seconds: 30
`);
    const first = await post(`${proxy.url}/v1/chat/completions`, { model: "m" });
    expect(first.status).toBe(500);
    expect(provider.received.length).toBe(2);

    const res = await post(`${proxy.url}/v1/chat/completions`, { model: "m" });
    expect(res.status).toBe(503);
    const retryAfter = Number(res.headers.get("retry-after"));
    expect(Number.isInteger(retryAfter)).toBe(true);
    expect(retryAfter).toBeGreaterThanOrEqual(1);
    expect(retryAfter).toBeLessThanOrEqual(30);
    const body = await openaiError(res);
    expect(body.error.type).toBe("upstream_error");
    expect(body.error.code).toBe("no_route_available");
    expect(body.error.message).toContain('"m"');
    expect(provider.received.length).toBe(2);
  });

  test("every route cooling down is 503 with Retry-After in Anthropic's shape on /v1/messages", async () => {
    await using provider = new FakeProvider(() => Response.json({ type: "error", error: { type: "overloaded_error", message: "Overloaded" } }, { status: 529 }));
    await using proxy = startProxy(`
backends:
  - { name: p, url: "${provider.url}/v1", auth: x-api-key, api_key: sk-ant-backend-000000000 }
models:
  claude:
    routes: [{ backend: p, model: claude-real }]
fallback:
  cooldown_seconds: 5
`);
    const first = await post(`${proxy.url}/v1/messages`, { model: "claude", max_tokens: 1, messages: [] });
    expect(first.status).toBe(529);
    const res = await post(`${proxy.url}/v1/messages`, { model: "claude", max_tokens: 1, messages: [] });
    expect(res.status).toBe(503);
    const retryAfter = Number(res.headers.get("retry-after"));
    expect(retryAfter).toBeGreaterThanOrEqual(1);
    expect(retryAfter).toBeLessThanOrEqual(5);
    const body = await anthropicError(res);
    expect(body.type).toBe("error");
    expect(body.error.type).toBe("overloaded_error");
    expect(provider.received.length).toBe(1);
  });

  test("an alias with no usable route is 503 without Retry-After", async () => {
    await using provider = new FakeProvider(echo);
    await using proxy = startProxy(`
backends:
  - { name: p, url: "${provider.url}/v1", enabled: false }
models:
  m:
    routes:
      - { backend: p, model: x }
      - { backend: ghost, model: y }
      - { backend: p, model: z, enabled: false }
`);
    for (const [path, protocol] of [["/v1/chat/completions", "openai"], ["/v1/messages", "anthropic"]] as const) {
      const res = await post(proxy.url + path, { model: "m" });
      expect(res.status).toBe(503);
      expect(res.headers.get("retry-after")).toBeNull();
      if (protocol === "openai") expect((await openaiError(res)).error.code).toBe("no_route_available");
      else expect((await anthropicError(res)).error.type).toBe("overloaded_error");
    }
    expect(provider.received.length).toBe(0);
  });

  test("a request's own fault (400) falls back on a pattern but does not cool the route down", async () => {
    await using provider = new FakeProvider((r) => (modelOf(r) === "small" ? Response.json({ error: { message: "context_length_exceeded" } }, { status: 400 }) : echo(r)));
    await using proxy = startProxy(`
backends:
  - { name: p, url: "${provider.url}/v1" }
models:
  m:
    routes:
      - { backend: p, model: small, priority: 1 }
      - { backend: p, model: big, priority: 2 }
fallback:
  cooldown_seconds: 30
detection:
  error_codes: ["5xx"]
  error_patterns: ["context_length_exceeded"]
`);
    for (let i = 0; i < 2; i++) {
      const res = await post(`${proxy.url}/v1/chat/completions`, { model: "m" });
      expect(((await res.json()) as { model: string }).model).toBe("big");
    }
    expect(provider.received.map(modelOf)).toEqual(["small", "big", "small", "big"]);
    expect(proxy.proxy.cooldowns.active(Date.now())).toEqual([]);
  });

  test("a success clears a pair's failure count", async () => {
    let fail = true;
    await using provider = new FakeProvider((r) => (fail ? new Response("down", { status: 500 }) : echo(r)));
    await using proxy = startProxy(`
backends:
  - { name: p, url: "${provider.url}/v1" }
models:
  m: { routes: [{ backend: p, model: x }] }
fallback:
  cooldown_seconds: 0.05
`);
    expect((await post(`${proxy.url}/v1/chat/completions`, { model: "m" })).status).toBe(500);
    await waitFor(() => proxy.proxy.cooldowns.active(Date.now()).length === 0, "the cooldown to end");
    fail = false;
    expect((await post(`${proxy.url}/v1/chat/completions`, { model: "m" })).status).toBe(200);
    fail = true;
    expect((await post(`${proxy.url}/v1/chat/completions`, { model: "m" })).status).toBe(500);
    // active(0): every entry, expired or not, so the check does not race the short cooldown.
    const active = proxy.proxy.cooldowns.active(0);
    expect(active.length).toBe(1);
    expect(active[0]![1].failures).toBe(1);
  });
});
