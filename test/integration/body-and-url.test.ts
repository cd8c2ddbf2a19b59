import { describe, expect, test } from "bun:test";
import { chatCompletion, FakeProvider } from "../helpers/fake-provider.ts";
import { openaiError, post } from "../helpers/http.ts";
import { startProxy } from "../helpers/proxy.ts";

const ok = () => Response.json(chatCompletion("hi"));

const oneRoute = (url: string, model = "real-model") => `
backends:
  - name: p
    url: ${url}
    api_key: sk-backend-key-000000000
models:
  m:
    routes:
      - backend: p
        model: ${model}
`;

const encoder = new TextEncoder();

describe("body", () => {
  test("only the model value changes: big integers, 1.0, key order, whitespace and unicode survive byte for byte", async () => {
    await using provider = new FakeProvider(ok);
    await using proxy = startProxy(oneRoute(`${provider.url}/v1`));
    const before = `{\n  "z": 1,\r\n\t"big": 12345678901234567890, "f": 1.0, "e": 1E+2, "neg": -0,\n  "model" :  "m" ,\n  "messages": [{"role": "user", "content": "héllo 😀 \\u00e9 \\"model\\": \\"m\\"", "model": "m"}],\n  "a": {"model": "m"}, "uni": "日本語"\n}  `;
    const after = before.replace('"model" :  "m"', '"model" :  "real-model"');
    const res = await post(`${proxy.url}/v1/chat/completions`, encoder.encode(before));
    expect(res.status).toBe(200);
    const got = provider.received[0]!;
    expect(Buffer.from(got.body).equals(Buffer.from(encoder.encode(after)))).toBe(true);
    expect(got.text).toBe(after);
  });

  test("a model name that needs escaping is written as a valid JSON string", async () => {
    await using provider = new FakeProvider(ok);
    await using proxy = startProxy(oneRoute(`${provider.url}/v1`, `'we"ird\\model'`));
    const res = await post(`${proxy.url}/v1/chat/completions`, '{"model":"m","n":1.0}');
    expect(res.status).toBe(200);
    expect(provider.received[0]!.text).toBe(`{"model":${JSON.stringify('we"ird\\model')},"n":1.0}`);
  });

  test("an alias written with escapes in the request is found and rewritten", async () => {
    await using provider = new FakeProvider(ok);
    await using proxy = startProxy(oneRoute(`${provider.url}/v1`));
    const res = await post(`${proxy.url}/v1/chat/completions`, '{"n":1.0,"model":"\\u006d"}');
    expect(res.status).toBe(200);
    expect(provider.received[0]!.text).toBe('{"n":1.0,"model":"real-model"}');
  });

  test("a body with a byte that is not UTF-8 is either passed on byte for byte or refused with 400", async () => {
    await using provider = new FakeProvider(ok);
    await using proxy = startProxy(oneRoute(`${provider.url}/v1`));
    const bytes = (s: string) => [...encoder.encode(s)];
    const body = new Uint8Array([...bytes('{"x":"'), 0xff, 0xfe, ...bytes('","model":"m","n":1.0}')]);
    const res = await post(`${proxy.url}/v1/chat/completions`, body);
    if (res.status === 400) {
      expect((await openaiError(res)).error.code).toBe("invalid_json");
      expect(provider.received.length).toBe(0);
      return;
    }
    expect(res.status).toBe(200);
    const expected = new Uint8Array([...bytes('{"x":"'), 0xff, 0xfe, ...bytes('","model":"real-model","n":1.0}')]);
    expect(Buffer.from(provider.received[0]!.body).toString("hex")).toBe(Buffer.from(expected).toString("hex"));
  });

  test("the provider's status and body come back to the client unchanged", async () => {
    const answer = '{"id":"x","big":12345678901234567890,"f":1.0}';
    await using provider = new FakeProvider(() => new Response(answer, { status: 201, headers: { "content-type": "application/json", "x-request-id": "up-1" } }));
    await using proxy = startProxy(oneRoute(`${provider.url}/v1`));
    const res = await post(`${proxy.url}/v1/chat/completions`, { model: "m" });
    expect(res.status).toBe(201);
    expect(res.headers.get("x-upstream-request-id")).toBe("up-1");
    expect(await res.text()).toBe(answer);
  });
});

describe("URL join", () => {
  test("a request path that starts with the backend's base path is used as is", async () => {
    await using provider = new FakeProvider(ok);
    await using proxy = startProxy(oneRoute(`${provider.url}/v1`));
    await post(`${proxy.url}/v1/chat/completions`, { model: "m" });
    await post(`${proxy.url}/v1/messages?beta=true`, { model: "m" });
    expect(provider.received.map((r) => r.url.pathname + r.url.search)).toEqual(["/v1/chat/completions", "/v1/messages?beta=true"]);
  });

  test("any other request path gets the backend's base path prefixed", async () => {
    await using provider = new FakeProvider(ok);
    await using proxy = startProxy(oneRoute(`${provider.url}/api`));
    await post(`${proxy.url}/v1/chat/completions`, { model: "m" });
    await post(`${proxy.url}/chat/completions?x=1`, { model: "m" });
    expect(provider.received.map((r) => r.url.pathname + r.url.search)).toEqual(["/api/v1/chat/completions", "/api/chat/completions?x=1"]);
  });

  test("a backend URL with a trailing slash or no path joins cleanly", async () => {
    await using provider = new FakeProvider(ok);
    await using slash = startProxy(oneRoute(`${provider.url}/v1/`));
    await post(`${slash.url}/v1/chat/completions`, { model: "m" });
    await using bare = startProxy(oneRoute(provider.url));
    await post(`${bare.url}/v1/chat/completions`, { model: "m" });
    expect(provider.received.map((r) => r.url.pathname)).toEqual(["/v1/chat/completions", "/v1/chat/completions"]);
  });

  test("a base path is matched on whole segments: /v1 is not a prefix of /v1beta", async () => {
    await using provider = new FakeProvider(ok);
    await using proxy = startProxy(oneRoute(`${provider.url}/v1`));
    await post(`${proxy.url}/v1beta/models/gemini:generateContent`, { model: "m" });
    expect(provider.received[0]!.url.pathname).toBe("/v1/v1beta/models/gemini:generateContent");
  });
});
