import { describe, expect, test } from "bun:test";
import { chatCompletion, FakeProvider } from "../helpers/fake-provider.ts";
import { anthropicError, openaiError, post } from "../helpers/http.ts";
import { startProxy } from "../helpers/proxy.ts";

const KEY = "sk-proxy-key-0123456789abcdef";
const BACKEND_KEY = "sk-backend-key-9876543210fedcba";

const ok = () => Response.json(chatCompletion("hi"));

function withKey(providerUrl: string, extra = "") {
  return `
proxy_api_key: ${KEY}
backends:
  - name: p
    url: ${providerUrl}/v1
    api_key: ${BACKEND_KEY}
${extra}
models:
  m:
    routes:
      - backend: p
        model: real
`;
}

describe("the proxy's key", () => {
  test("is accepted as Authorization: Bearer", async () => {
    await using provider = new FakeProvider(ok);
    await using proxy = startProxy(withKey(provider.url));
    const res = await post(`${proxy.url}/v1/chat/completions`, { model: "m" }, { authorization: `Bearer ${KEY}` });
    expect(res.status).toBe(200);
    expect(provider.received.length).toBe(1);
  });

  test("is accepted as x-api-key", async () => {
    await using provider = new FakeProvider(ok);
    await using proxy = startProxy(withKey(provider.url));
    const res = await post(`${proxy.url}/v1/messages`, { model: "m", max_tokens: 1 }, { "x-api-key": KEY });
    expect(res.status).toBe(200);
    expect(provider.received.length).toBe(1);
  });

  test("a wrong or missing key is 401 in OpenAI's shape and reaches no provider", async () => {
    await using provider = new FakeProvider(ok);
    await using proxy = startProxy(withKey(provider.url));
    const cases: Record<string, string>[] = [{}, { authorization: "Bearer sk-wrong" }, { "x-api-key": "sk-wrong" }, { authorization: `Bearer ${KEY}x` }, { authorization: `Bearer ${KEY.slice(0, -1)}` }];
    for (const headers of cases) {
      const res = await post(`${proxy.url}/v1/chat/completions`, { model: "m" }, headers);
      expect(res.status).toBe(401);
      const body = await openaiError(res);
      expect(body.error.type).toBe("authentication_error");
      expect(body.error.code).toBe("invalid_api_key");
      expect(JSON.stringify(body)).not.toContain(KEY);
    }
    expect(provider.received.length).toBe(0);
  });

  test("a wrong or missing key on /v1/messages is 401 in Anthropic's shape", async () => {
    await using provider = new FakeProvider(ok);
    await using proxy = startProxy(withKey(provider.url));
    const cases: Record<string, string>[] = [{}, { "x-api-key": "sk-wrong" }];
    for (const headers of cases) {
      const res = await post(`${proxy.url}/v1/messages`, { model: "m", max_tokens: 1 }, headers);
      expect(res.status).toBe(401);
      const body = await anthropicError(res);
      expect(body.type).toBe("error");
      expect(body.error.type).toBe("authentication_error");
    }
    expect(provider.received.length).toBe(0);
  });

  test("no key configured means no key is needed", async () => {
    await using provider = new FakeProvider(ok);
    await using proxy = startProxy(withKey(provider.url).replace(`proxy_api_key: ${KEY}`, ""));
    const res = await post(`${proxy.url}/v1/chat/completions`, { model: "m" });
    expect(res.status).toBe(200);
    const withStray = await post(`${proxy.url}/v1/chat/completions`, { model: "m" }, { authorization: "Bearer anything" });
    expect(withStray.status).toBe(200);
    expect(provider.received.length).toBe(2);
    expect(provider.received[1]!.headers.get("authorization")).toBe(`Bearer ${BACKEND_KEY}`);
  });
});

describe("credentials sent upstream", () => {
  const styles = [
    { auth: "bearer", authorization: `Bearer ${BACKEND_KEY}`, xApiKey: null },
    { auth: "x-api-key", authorization: null, xApiKey: BACKEND_KEY },
    { auth: "none", authorization: null, xApiKey: null },
  ] as const;
  for (const style of styles) {
    test(`auth: ${style.auth} sends the backend's key ${style.auth === "none" ? "nowhere" : `as ${style.auth}`} and never the client's`, async () => {
      await using provider = new FakeProvider(ok);
      await using proxy = startProxy(withKey(provider.url, `    auth: ${style.auth}`));
      const res = await post(`${proxy.url}/v1/chat/completions`, { model: "m" }, { authorization: `Bearer ${KEY}`, "x-api-key": KEY });
      expect(res.status).toBe(200);
      const got = provider.received[0]!;
      expect(got.headers.get("authorization")).toBe(style.authorization);
      expect(got.headers.get("x-api-key")).toBe(style.xApiKey);
      expect(JSON.stringify([...got.headers])).not.toContain(KEY);
      expect(JSON.parse(got.text).model).toBe("real");
      expect(proxy.log.text).not.toContain(KEY);
      expect(proxy.log.text).not.toContain(BACKEND_KEY);
    });
  }

  test("a backend without api_key gets no credential at all", async () => {
    await using provider = new FakeProvider(ok);
    await using proxy = startProxy(withKey(provider.url).replace(`api_key: ${BACKEND_KEY}`, ""));
    await post(`${proxy.url}/v1/messages`, { model: "m" }, { "x-api-key": KEY, authorization: `Bearer ${KEY}` });
    const got = provider.received[0]!;
    expect(got.headers.get("authorization")).toBeNull();
    expect(got.headers.get("x-api-key")).toBeNull();
  });

  test("backends[].headers are set and replace a client header of the same name", async () => {
    await using provider = new FakeProvider(ok);
    const extra = `    headers:
      X-Custom: from-backend
      anthropic-beta: backend-beta
      api-key: azure-style-key`;
    await using proxy = startProxy(withKey(provider.url, extra));
    await post(`${proxy.url}/v1/chat/completions`, { model: "m" }, { authorization: `Bearer ${KEY}`, "x-custom": "from-client", "anthropic-beta": "client-beta", "x-client-only": "kept" });
    const got = provider.received[0]!;
    expect(got.headers.get("x-custom")).toBe("from-backend");
    expect(got.headers.get("anthropic-beta")).toBe("backend-beta");
    expect(got.headers.get("api-key")).toBe("azure-style-key");
    expect(got.headers.get("x-client-only")).toBe("kept");
    expect(got.headers.get("authorization")).toBe(`Bearer ${BACKEND_KEY}`);
  });
});

describe("headers that never reach a provider", () => {
  test("client credentials and hop-by-hop headers are dropped; other headers and the query string are kept", async () => {
    await using provider = new FakeProvider(ok);
    await using proxy = startProxy(withKey(provider.url));
    const res = await post(
      `${proxy.url}/v1/chat/completions?api-version=2024-10-21&x=a%20b`,
      { model: "m" },
      {
        authorization: `Bearer ${KEY}`,
        "x-api-key": KEY,
        "proxy-authorization": "Basic c2VjcmV0OnNlY3JldA==",
        cookie: "session=client-secret",
        connection: "keep-alive, x-hop-secret",
        "x-hop-secret": "hop-value",
        "keep-alive": "timeout=5",
        te: "trailers",
        upgrade: "h2c",
        "anthropic-version": "2023-06-01",
        "user-agent": "test-client/1.0",
        "x-request-id": "req-123",
      },
    );
    expect(res.status).toBe(200);
    const got = provider.received[0]!;
    expect(got.url.pathname).toBe("/v1/chat/completions");
    expect(got.url.search).toBe("?api-version=2024-10-21&x=a%20b");
    for (const name of ["x-api-key", "proxy-authorization", "cookie", "x-hop-secret", "keep-alive", "te", "upgrade"]) {
      expect(`${name}: ${got.headers.get(name)}`).toBe(`${name}: null`);
    }
    expect(got.headers.get("authorization")).toBe(`Bearer ${BACKEND_KEY}`);
    expect(got.headers.get("connection") ?? "").not.toContain("x-hop-secret");
    const all = JSON.stringify([...got.headers]);
    expect(all).not.toContain(KEY);
    expect(all).not.toContain("client-secret");
    expect(all).not.toContain("hop-value");
    expect(got.headers.get("anthropic-version")).toBe("2023-06-01");
    expect(got.headers.get("user-agent")).toBe("test-client/1.0");
    expect(got.headers.get("x-request-id")).toBe("req-123");
  });
});
