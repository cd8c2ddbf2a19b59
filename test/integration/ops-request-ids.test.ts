import { describe, expect, test } from "bun:test";
import { chatCompletion, FakeProvider, modelOf } from "../helpers/fake-provider.ts";
import { post } from "../helpers/http.ts";
import { startProxy } from "../helpers/proxy.ts";

const KEY = "sk-proxy-ids-0123456789abcdef";
const AUTH = { authorization: `Bearer ${KEY}` };

/** Model "broken" fails with 503; others answer with the provider's own x-request-id. */
async function setup() {
  let n = 0;
  const provider = new FakeProvider((r) =>
    modelOf(r) === "broken"
      ? Response.json({ error: { message: "overloaded" } }, { status: 503, headers: { "x-request-id": `upstream-failed-${++n}` } })
      : Response.json(chatCompletion("hi", modelOf(r)), { headers: { "x-request-id": `upstream-${++n}` } }),
  );
  const proxy = startProxy(`
proxy_api_key: ${KEY}
backends:
  - { name: first, url: "${provider.url}/v1" }
  - { name: second, url: "${provider.url}/v1" }
models:
  m:
    routes:
      - { backend: first, model: broken, priority: 1 }
      - { backend: second, model: works, priority: 2 }
  direct: { routes: [{ backend: second, model: works }] }
fallback: { cooldown_seconds: 0 }
`);
  return { provider, proxy };
}

describe("request ids and the x-llm-proxy-* headers", () => {
  test("the client's own x-request-id comes back, reaches the provider, and the provider's id comes back as x-upstream-request-id", async () => {
    const { provider, proxy } = await setup();
    await using _p = provider;
    await using _x = proxy;
    const res = await post(`${proxy.url}/v1/chat/completions`, { model: "direct" }, { ...AUTH, "x-request-id": "client-abc-123" });
    expect(res.status).toBe(200);
    expect(res.headers.get("x-request-id")).toBe("client-abc-123");
    expect(res.headers.get("x-upstream-request-id")).toBe("upstream-1");
    expect(provider.received[0]!.headers.get("x-request-id")).toBe("client-abc-123");
  });

  test("without one the proxy makes its own, different for each request, and says which route served in how many attempts", async () => {
    const { provider, proxy } = await setup();
    await using _p = provider;
    await using _x = proxy;
    const one = await post(`${proxy.url}/v1/chat/completions`, { model: "m" }, AUTH);
    const two = await post(`${proxy.url}/v1/chat/completions`, { model: "direct" }, AUTH);
    const [a, b] = [one.headers.get("x-request-id"), two.headers.get("x-request-id")];
    expect(a).toMatch(/^req_\w+$/);
    expect(b).toMatch(/^req_\w+$/);
    expect(a).not.toBe(b);

    expect(one.status).toBe(200);
    expect(one.headers.get("x-llm-proxy-backend")).toBe("second");
    expect(one.headers.get("x-llm-proxy-model")).toBe("works");
    expect(one.headers.get("x-llm-proxy-attempts")).toBe("2");
    expect(one.headers.get("x-upstream-request-id")).toBe("upstream-2");
    expect(two.headers.get("x-llm-proxy-attempts")).toBe("1");
    expect(two.headers.get("x-llm-proxy-backend")).toBe("second");
  });

  test("a failed request says which route gave the answer returned, and answers the proxy makes itself carry an id too", async () => {
    const { provider, proxy } = await setup();
    await using _p = provider;
    await using _x = proxy;
    await using broken = startProxy(`
proxy_api_key: ${KEY}
backends:
  - { name: only, url: "${provider.url}/v1" }
models:
  m: { routes: [{ backend: only, model: broken }] }
`);
    const failed = await post(`${broken.url}/v1/chat/completions`, { model: "m" }, { ...AUTH, "x-request-id": "mine-1" });
    expect(failed.status).toBe(503);
    expect(failed.headers.get("x-request-id")).toBe("mine-1");
    expect(failed.headers.get("x-upstream-request-id")).toBe("upstream-failed-1");
    expect(failed.headers.get("x-llm-proxy-backend")).toBe("only");
    expect(failed.headers.get("x-llm-proxy-model")).toBe("broken");
    expect(failed.headers.get("x-llm-proxy-attempts")).toBe("1");

    const refused = await post(`${proxy.url}/v1/chat/completions`, { model: "m" }, { "x-request-id": "no-key-1" });
    expect(refused.status).toBe(401);
    expect(refused.headers.get("x-request-id")).toBe("no-key-1");
    const unknown = await post(`${proxy.url}/v1/chat/completions`, { model: "nope" }, AUTH);
    expect(unknown.status).toBe(404);
    expect(unknown.headers.get("x-request-id")).toMatch(/^req_\w+$/);
    expect(unknown.headers.get("x-llm-proxy-backend")).toBeNull();
  });

  test("an x-request-id that is not a sane token is replaced by the proxy's own", async () => {
    const { provider, proxy } = await setup();
    await using _p = provider;
    await using _x = proxy;
    const res = await post(`${proxy.url}/v1/chat/completions`, { model: "direct" }, { ...AUTH, "x-request-id": "x".repeat(200) });
    expect(res.headers.get("x-request-id")).toMatch(/^req_\w+$/);
  });

  test("every log line of one request carries its id, also when requests overlap", async () => {
    const { provider, proxy } = await setup();
    await using _p = provider;
    await using _x = proxy;
    const ids = ["overlap-a", "overlap-b", "overlap-c"];
    const responses = await Promise.all(ids.map((id) => post(`${proxy.url}/v1/chat/completions`, { model: "m" }, { ...AUTH, "x-request-id": id })));
    for (const res of responses) expect(res.status).toBe(200);

    const lines = proxy.log.lines.map((l) => l.trimEnd());
    for (const id of ids) {
      const mine = lines.filter((l) => l.includes(`[${id}]`)).map((l) => l.replace(/^\[[^\]]+\] \[[A-Z]+\] \[[^\]]+\] /, ""));
      expect(mine).toEqual([
        "POST /v1/chat/completions model=m",
        "first/broken failed (status 503); cooldown is off",
        expect.stringMatching(/^m → second\/works: 200 after 2 attempts in \d+\.\d ms$/),
      ]);
    }
    // No request line went out without an id.
    const untagged = lines.filter((l) => /\b(POST|failed|→)\b/.test(l) && !ids.some((id) => l.includes(`[${id}]`)));
    expect(untagged).toEqual([]);
  });
});
