import { describe, expect, test } from "bun:test";
import { chatCompletion, FakeProvider, modelOf } from "../helpers/fake-provider.ts";
import { post } from "../helpers/http.ts";
import { startProxy } from "../helpers/proxy.ts";

const KEY = "sk-proxy-status-0123456789abcdef";
const AUTH = { authorization: `Bearer ${KEY}` };
const BACKEND_KEY = "sk-ant-api03-status0123456789abcdefghijklmnopqrstu";
const GOOGLE_KEY = "AIzaSyStatus0123456789abcdefghijklmnopq";
const HEADER_KEY = "hdr-secret-0123456789";

interface Cooldown {
  backend: string;
  model: string;
  reason: string;
  status: number | null;
  seconds_left: number;
}
interface Status {
  version: string;
  backends: { name: string; url: string; enabled: boolean; auth: string }[];
  models: { alias: string; fallbacks: string[]; routes: { alias: string; backend: string; model: string; priority: number; weight: number }[] }[];
  cooldowns: Cooldown[];
}

/** "org/limited" answers 429 and "broken" 500 while `failing` holds; "ok" always answers. */
async function setup() {
  const state = { failing: true };
  const provider = new FakeProvider((r) => {
    const model = modelOf(r);
    if (state.failing && model === "org/limited") return Response.json({ error: { message: "slow down" } }, { status: 429 });
    if (state.failing && model === "broken") return Response.json({ error: { message: "down" } }, { status: 500 });
    return Response.json(chatCompletion("hi", model));
  });
  const proxy = startProxy(`
proxy_api_key: ${KEY}
backends:
  - { name: a, url: "${provider.url}/v1", api_key: ${BACKEND_KEY} }
  - { name: g, url: "${provider.url}/v1beta?key=${GOOGLE_KEY}", auth: none, headers: { x-custom-token: ${HEADER_KEY} } }
  - { name: off, url: "${provider.url}/v1", enabled: false }
models:
  m:
    routes:
      - { backend: a, model: org/limited, priority: 1 }
      - { backend: a, model: broken, priority: 2 }
      - { backend: g, model: ok, priority: 3, weight: 2 }
      - { backend: off, model: never, priority: 3 }
  spare: { routes: [{ backend: g, model: ok }] }
fallback:
  cooldown_seconds: 600
  alias_fallback: { m: [spare] }
`);
  return { provider, proxy, state };
}

const status = async (url: string) => (await (await fetch(`${url}/status`, { headers: AUTH })).json()) as Status;
const clear = (url: string, query = "") => fetch(`${url}/status/cooldowns${query}`, { method: "DELETE", headers: AUTH });

describe("/status and /status/cooldowns", () => {
  test("needs the proxy key, lists backends with their enabled state, routes and fallbacks, and never shows a key", async () => {
    const { provider, proxy } = await setup();
    await using _p = provider;
    await using _x = proxy;
    expect((await fetch(`${proxy.url}/status`)).status).toBe(401);
    expect((await fetch(`${proxy.url}/status`, { headers: { "x-api-key": "wrong" } })).status).toBe(401);
    expect((await fetch(`${proxy.url}/status/cooldowns`, { method: "DELETE" })).status).toBe(401);

    const res = await fetch(`${proxy.url}/status`, { headers: { "x-api-key": KEY } });
    expect(res.status).toBe(200);
    const text = await res.text();
    for (const secret of [KEY, BACKEND_KEY, GOOGLE_KEY, HEADER_KEY]) expect(text).not.toContain(secret);
    const body = JSON.parse(text) as Status;
    expect(body.backends.map((b) => [b.name, b.enabled, b.auth])).toEqual([
      ["a", true, "bearer"],
      ["g", true, "none"],
      ["off", false, "bearer"],
    ]);
    expect(body.backends[1]!.url).toBe(`${provider.url}/v1beta`);
    const m = body.models.find((x) => x.alias === "m")!;
    expect(m.fallbacks).toEqual(["spare"]);
    expect(m.routes.map((r) => [r.alias, r.backend, r.model, r.priority, r.weight])).toEqual([
      ["m", "a", "org/limited", 1, 1],
      ["m", "a", "broken", 2, 1],
      ["m", "g", "ok", 3, 2],
    ]);
    expect(body.cooldowns).toEqual([]);
  });

  test("lists each cooling pair with its reason, status and seconds left", async () => {
    const { provider, proxy } = await setup();
    await using _p = provider;
    await using _x = proxy;
    const res = await post(`${proxy.url}/v1/chat/completions`, { model: "m" }, AUTH);
    expect(res.status).toBe(200);
    expect(res.headers.get("x-llm-proxy-backend")).toBe("g");

    const { cooldowns } = await status(proxy.url);
    expect(cooldowns.map((c) => [c.backend, c.model, c.reason, c.status])).toEqual([
      ["a", "org/limited", "status 429", 429],
      ["a", "broken", "status 500", 500],
    ]);
    for (const c of cooldowns) {
      expect(c.seconds_left).toBeGreaterThan(590);
      expect(c.seconds_left).toBeLessThanOrEqual(600);
    }
    const listed = (await (await fetch(`${proxy.url}/status/cooldowns`, { headers: AUTH })).json()) as { cooldowns: Cooldown[] };
    expect(listed.cooldowns.map((c) => [c.backend, c.model, c.reason, c.status])).toEqual(cooldowns.map((c) => [c.backend, c.model, c.reason, c.status]));
  });

  test("DELETE with ?backend=&model= clears one pair (a model with a slash), which is then used again", async () => {
    const { provider, proxy, state } = await setup();
    await using _p = provider;
    await using _x = proxy;
    await post(`${proxy.url}/v1/chat/completions`, { model: "m" }, AUTH);
    state.failing = false;
    const calls = (model: string) => provider.received.filter((r) => modelOf(r) === model).length;
    expect(calls("org/limited")).toBe(1);

    // Still cooling: skipped.
    expect((await post(`${proxy.url}/v1/chat/completions`, { model: "m" }, AUTH)).headers.get("x-llm-proxy-backend")).toBe("g");
    expect(calls("org/limited")).toBe(1);

    const cleared = await clear(proxy.url, `?backend=a&model=${encodeURIComponent("org/limited")}`);
    expect(cleared.status).toBe(200);
    expect(await cleared.json()).toEqual({ cleared: 1 });
    expect((await status(proxy.url)).cooldowns.map((c) => c.model)).toEqual(["broken"]);
    expect(proxy.log.text).toContain("cooldowns cleared by an operator: a/org/limited (1 active)");

    const again = await post(`${proxy.url}/v1/chat/completions`, { model: "m" }, AUTH);
    expect(again.headers.get("x-llm-proxy-backend")).toBe("a");
    expect(again.headers.get("x-llm-proxy-model")).toBe("org/limited");
    expect(calls("org/limited")).toBe(2);

    // Only one of backend and model is a mistake, not "clear all".
    expect((await clear(proxy.url, "?backend=a")).status).toBe(400);
    expect((await status(proxy.url)).cooldowns.map((c) => c.model)).toEqual(["broken"]);
  });

  test("DELETE without a query clears every cooldown, and the pairs are used again", async () => {
    const { provider, proxy, state } = await setup();
    await using _p = provider;
    await using _x = proxy;
    await post(`${proxy.url}/v1/chat/completions`, { model: "m" }, AUTH);
    expect((await status(proxy.url)).cooldowns).toHaveLength(2);

    const res = await clear(proxy.url);
    expect(await res.json()).toEqual({ cleared: 2 });
    expect((await status(proxy.url)).cooldowns).toEqual([]);

    state.failing = false;
    const again = await post(`${proxy.url}/v1/chat/completions`, { model: "m" }, AUTH);
    expect(again.headers.get("x-llm-proxy-model")).toBe("org/limited");
    expect(again.headers.get("x-llm-proxy-attempts")).toBe("1");
  });

  test("DELETE for a pair nobody knows is a 404 naming it and listing the known pairs; a known pair not cooling is cleared: 0 with a note", async () => {
    const { provider, proxy } = await setup();
    await using _p = provider;
    await using _x = proxy;
    await post(`${proxy.url}/v1/chat/completions`, { model: "m" }, AUTH);

    const unknown = await clear(proxy.url, "?backend=nope&model=x");
    expect(unknown.status).toBe(404);
    const body = (await unknown.json()) as { error: { message: string; code: string } };
    expect(body.error.code).toBe("not_found");
    expect(body.error.message).toBe(
      'unknown backend "nope" (no route uses it and nothing of it is cooling down), so there is no nope/x cooldown to clear; known pairs: a/org/limited, a/broken, g/ok',
    );

    const wrongModel = await clear(proxy.url, "?backend=a&model=gpt-4o");
    expect(wrongModel.status).toBe(404);
    expect(((await wrongModel.json()) as { error: { message: string } }).error.message).toBe('backend "a" has no route to model "gpt-4o"; its models: org/limited, broken');

    const idle = await clear(proxy.url, "?backend=g&model=ok");
    expect(idle.status).toBe(200);
    expect(await idle.json()).toEqual({ cleared: 0, note: "g/ok was not cooling down" });
    // Nothing was cleared by the mistakes.
    expect((await status(proxy.url)).cooldowns.map((c) => c.model)).toEqual(["org/limited", "broken"]);
  });

  test("a backend whose url has no scheme is listed as unusable, with the problem, and its routes are skipped", async () => {
    await using provider = new FakeProvider((r) => Response.json(chatCompletion("hi", modelOf(r))));
    await using proxy = startProxy(`
proxy_api_key: ${KEY}
backends:
  - { name: typo, url: "api.example.com/v1?key=${GOOGLE_KEY}" }
  - { name: ok, url: "${provider.url}/v1" }
  - { name: off, url: "${provider.url}/v1", enabled: false }
models:
  m:
    routes:
      - { backend: typo, model: first, priority: 1 }
      - { backend: ok, model: second, priority: 2 }
`);
    const res = await fetch(`${proxy.url}/status`, { headers: AUTH });
    const text = await res.text();
    expect(text).not.toContain(GOOGLE_KEY);
    const body = JSON.parse(text) as { backends: { name: string; url: string; enabled: boolean; usable: boolean; problem?: string }[] };
    expect(body.backends).toEqual([
      { name: "ok", url: `${provider.url}/v1`, enabled: true, auth: "bearer", usable: true },
      { name: "off", url: `${provider.url}/v1`, enabled: false, auth: "bearer", usable: false, problem: "disabled (enabled: false)" },
      {
        name: "typo",
        url: "api.example.com/v1",
        enabled: true,
        auth: "bearer",
        usable: false,
        problem: `its url "api.example.com/v1?key=${GOOGLE_KEY}" is not an http:// or https:// URL: every route to it is skipped`.replace(GOOGLE_KEY, "AIzaS****nopq"),
      },
    ] as never);
    const answer = await post(`${proxy.url}/v1/chat/completions`, { model: "m" }, AUTH);
    expect(answer.headers.get("x-llm-proxy-backend")).toBe("ok");
    expect(answer.headers.get("x-llm-proxy-attempts")).toBe("1");
  });
});
