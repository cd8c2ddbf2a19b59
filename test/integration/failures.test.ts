import { describe, expect, test } from "bun:test";
import { chatCompletion, echo, FakeProvider } from "../helpers/fake-provider.ts";
import { resetting } from "../helpers/faults.ts";
import { anthropicError, openaiError, post } from "../helpers/http.ts";
import { startProxy } from "../helpers/proxy.ts";

/** Two routes: `first` at priority 1, `second` at priority 2, with the given fallback/detection YAML. */
function twoRoutes(first: string, second: string, extra = "") {
  return `
backends:
  - { name: a, url: "${first}/v1", api_key: sk-first-backend-key-1111 }
  - { name: b, url: "${second}/v1", api_key: sk-second-backend-key-2222 }
models:
  m:
    routes:
      - { backend: a, model: model-a, priority: 1 }
      - { backend: b, model: model-b, priority: 2 }
${extra}`;
}

describe("answers that are not failures", () => {
  test("a status that error_codes does not match (418) is returned as is", async () => {
    await using first = new FakeProvider(() => new Response('{"teapot":true,"n":1.0}', { status: 418, headers: { "content-type": "application/json", "x-up": "1" } }));
    await using second = new FakeProvider(echo);
    await using proxy = startProxy(twoRoutes(first.url, second.url));
    const res = await post(`${proxy.url}/v1/chat/completions`, { model: "m" });
    expect(res.status).toBe(418);
    expect(res.headers.get("x-up")).toBe("1");
    expect(await res.text()).toBe('{"teapot":true,"n":1.0}');
    expect(second.received.length).toBe(0);
  });

  test("a 400 with error_codes: [5xx] and no matching pattern is returned as is", async () => {
    const body = '{"error":{"message":"messages: field required","type":"invalid_request_error"}}';
    await using first = new FakeProvider(() => new Response(body, { status: 400, headers: { "content-type": "application/json" } }));
    await using second = new FakeProvider(echo);
    await using proxy = startProxy(twoRoutes(first.url, second.url, `detection:\n  error_codes: ["5xx"]\n  error_patterns: ["quota"]`));
    const res = await post(`${proxy.url}/v1/chat/completions`, { model: "m" });
    expect(res.status).toBe(400);
    expect(await res.text()).toBe(body);
    expect(second.received.length).toBe(0);
  });
});

describe("answers that are failures", () => {
  test("a non-2xx body matching an error_pattern falls back", async () => {
    await using first = new FakeProvider(() => Response.json({ error: { message: "You exceeded your current quota", code: "insufficient_quota" } }, { status: 400 }));
    await using second = new FakeProvider(echo);
    await using proxy = startProxy(twoRoutes(first.url, second.url, `detection:\n  error_codes: ["5xx"]\n  error_patterns: ["insufficient_quota"]`));
    const res = await post(`${proxy.url}/v1/chat/completions`, { model: "m" });
    expect(res.status).toBe(200);
    expect(((await res.json()) as { model: string }).model).toBe("model-b");
  });

  test("error_patterns do not apply to a 2xx body", async () => {
    await using first = new FakeProvider(() => Response.json(chatCompletion("your quota is fine")));
    await using second = new FakeProvider(echo);
    await using proxy = startProxy(twoRoutes(first.url, second.url, `detection:\n  error_patterns: ["quota"]`));
    const res = await post(`${proxy.url}/v1/chat/completions`, { model: "m" });
    expect(res.status).toBe(200);
    expect(await res.text()).toContain("your quota is fine");
    expect(second.received.length).toBe(0);
  });

  test("a 200 JSON body with a top-level error falls back", async () => {
    await using first = new FakeProvider(() => Response.json({ error: { message: "upstream overloaded", code: 529 } }));
    await using second = new FakeProvider(echo);
    await using proxy = startProxy(twoRoutes(first.url, second.url));
    const res = await post(`${proxy.url}/v1/chat/completions`, { model: "m" });
    expect(res.status).toBe(200);
    expect(((await res.json()) as { model: string }).model).toBe("model-b");
    expect(first.received.length).toBe(1);
  });

  test("a 200 JSON body with error: null is a success", async () => {
    await using first = new FakeProvider(() => Response.json({ ...chatCompletion("fine"), error: null }));
    await using second = new FakeProvider(echo);
    await using proxy = startProxy(twoRoutes(first.url, second.url));
    const res = await post(`${proxy.url}/v1/chat/completions`, { model: "m" });
    expect(await res.text()).toContain("fine");
    expect(second.received.length).toBe(0);
  });

  test("a redirect is not followed: the route fails and the next one serves", async () => {
    await using elsewhere = new FakeProvider(echo);
    await using first = new FakeProvider(() => new Response(null, { status: 302, headers: { location: `${elsewhere.url}/v1/chat/completions` } }));
    await using second = new FakeProvider(echo);
    await using proxy = startProxy(twoRoutes(first.url, second.url));
    const res = await post(`${proxy.url}/v1/chat/completions`, { model: "m" });
    expect(res.status).toBe(200);
    expect(((await res.json()) as { model: string }).model).toBe("model-b");
    expect(first.received.length).toBe(1);
    expect(elsewhere.received.length).toBe(0);
  });

  test("a 307 redirect to another host never carries the backend's key there", async () => {
    await using elsewhere = new FakeProvider(echo);
    await using only = new FakeProvider(() => new Response(null, { status: 307, headers: { location: `${elsewhere.url}/steal` } }));
    await using proxy = startProxy(`
backends:
  - { name: a, url: "${only.url}/v1", api_key: sk-first-backend-key-1111 }
models:
  m: { routes: [{ backend: a, model: x }] }
`);
    const res = await post(`${proxy.url}/v1/chat/completions`, { model: "m" });
    expect(res.status).toBeGreaterThanOrEqual(500);
    expect(res.headers.get("location")).toBeNull();
    expect(elsewhere.received.length).toBe(0);
  });
});

describe("the final answer when every route fails", () => {
  test("is the last upstream answer, status and body, with a configured key masked", async () => {
    await using first = new FakeProvider(() => Response.json({ error: { message: "rate limited" } }, { status: 429 }));
    await using second = new FakeProvider(() =>
      Response.json({ error: { message: "Incorrect API key provided: sk-second-backend-key-2222.", code: "invalid_api_key" } }, { status: 401, headers: { "x-provider": "b" } }),
    );
    await using proxy = startProxy(twoRoutes(first.url, second.url));
    const res = await post(`${proxy.url}/v1/chat/completions`, { model: "m" });
    expect(res.status).toBe(401);
    expect(res.headers.get("x-provider")).toBe("b");
    const text = await res.text();
    expect(text).not.toContain("sk-second-backend-key-2222");
    expect(text).toContain("sk-se****2222");
    expect((JSON.parse(text) as { error: { code: string } }).error.code).toBe("invalid_api_key");
    expect(proxy.log.text).not.toContain("sk-second-backend-key-2222");
    expect(proxy.log.text).not.toContain("sk-first-backend-key-1111");
  });

  test("is the last upstream answer even when a later attempt had a network error", async () => {
    await using first = new FakeProvider(() => Response.json({ error: { message: "first is down" } }, { status: 503 }));
    await using broken = resetting();
    await using proxy = startProxy(twoRoutes(first.url, broken.url));
    const res = await post(`${proxy.url}/v1/chat/completions`, { model: "m" });
    expect(broken.exchanges.length).toBeGreaterThanOrEqual(1);
    expect(res.status).toBe(503);
    expect(await res.text()).toContain("first is down");
  });

  test("is 502 upstream_unavailable when no attempt got an answer", async () => {
    await using one = resetting();
    await using two = resetting();
    await using proxy = startProxy(twoRoutes(one.url, two.url));
    const res = await post(`${proxy.url}/v1/chat/completions`, { model: "m" });
    expect(res.status).toBe(502);
    const body = await openaiError(res);
    expect(body.error.type).toBe("upstream_error");
    expect(body.error.code).toBe("upstream_unavailable");
    expect(body.error.message).toContain('"m"');
    expect(JSON.stringify(body)).not.toContain("sk-first-backend-key-1111");
    expect(one.exchanges.length).toBeGreaterThanOrEqual(1);
    expect(two.exchanges.length).toBeGreaterThanOrEqual(1);
  });

  test("is 502 api_error in Anthropic's shape on /v1/messages when no attempt got an answer", async () => {
    await using one = resetting();
    await using two = resetting();
    await using proxy = startProxy(twoRoutes(one.url, two.url));
    const res = await post(`${proxy.url}/v1/messages`, { model: "m", max_tokens: 1, messages: [] });
    expect(res.status).toBe(502);
    const body = await anthropicError(res);
    expect(body.type).toBe("error");
    expect(body.error.type).toBe("api_error");
  });
});
