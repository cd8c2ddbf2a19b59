import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { chatCompletion, FakeProvider } from "../helpers/fake-provider.ts";
import { anthropicError, openaiError, post } from "../helpers/http.ts";
import { startProxy, type TestProxy } from "../helpers/proxy.ts";

const KEY = "sk-proxy-key-0123456789abcdef";
const auth = { authorization: `Bearer ${KEY}` };

let provider: FakeProvider;
let proxy: TestProxy;

beforeAll(() => {
  provider = new FakeProvider(() => Response.json(chatCompletion("hi")));
  proxy = startProxy(`
proxy_api_key: ${KEY}
backends:
  - name: p
    url: ${provider.url}/v1
    api_key: sk-backend-key-000000000
models:
  m:
    routes:
      - backend: p
        model: real
  off:
    enabled: false
    routes:
      - backend: p
        model: real-off
  zeta:
    routes:
      - backend: p
        model: real-zeta
`);
});

afterAll(async () => {
  await proxy[Symbol.asyncDispose]();
  await provider[Symbol.asyncDispose]();
});

describe("health", () => {
  for (const path of ["/health", "/healthz"]) {
    test(`GET ${path} answers 200 "ok" without a key`, async () => {
      const res = await fetch(proxy.url + path);
      expect(res.status).toBe(200);
      expect(await res.text()).toBe("ok");
    });
  }

  test("a POST to /health is 405 with Allow: GET", async () => {
    const res = await fetch(`${proxy.url}/health`, { method: "POST", headers: auth, body: "{}" });
    expect(res.status).toBe(405);
    expect(res.headers.get("allow")).toBe("GET");
    const body = await openaiError(res);
    expect(body.error.code).toBe("method_not_allowed");
    expect(body.error.type).toBe("invalid_request_error");
  });
});

describe("models", () => {
  for (const path of ["/v1/models", "/models"]) {
    test(`GET ${path} lists the enabled aliases in OpenAI's format without a key`, async () => {
      const res = await fetch(proxy.url + path);
      expect(res.status).toBe(200);
      const body = (await res.json()) as { object: string; data: { id: string; object: string; owned_by: string; created: number }[] };
      expect(body.object).toBe("list");
      expect(body.data.map((m) => m.id).sort()).toEqual(["m", "zeta"]);
      for (const model of body.data) {
        expect(model.object).toBe("model");
        expect(typeof model.created).toBe("number");
        expect(typeof model.owned_by).toBe("string");
      }
    });
  }

  test("lists models in Anthropic's format when the request carries anthropic-version", async () => {
    const res = await fetch(`${proxy.url}/v1/models`, { headers: { "anthropic-version": "2023-06-01", "x-api-key": KEY } });
    expect(res.status).toBe(200);
    const body = (await res.json()) as { data: { type: string; id: string; display_name: string; created_at: string }[]; has_more: boolean; first_id: string; last_id: string };
    expect(body.data.map((m) => m.id).sort()).toEqual(["m", "zeta"]);
    expect(body.data.every((m) => m.type === "model" && typeof m.display_name === "string" && !Number.isNaN(Date.parse(m.created_at)))).toBe(true);
    expect(body.has_more).toBe(false);
    expect([body.first_id, body.last_id].sort()).toEqual(["m", "zeta"]);
  });

  test("a DELETE on /v1/models is 405", async () => {
    const res = await fetch(`${proxy.url}/v1/models`, { method: "DELETE", headers: auth });
    expect(res.status).toBe(405);
    expect((await openaiError(res)).error.code).toBe("method_not_allowed");
  });
});

describe("requests the proxy answers itself", () => {
  test("a GET on a POST-only path is 405 in OpenAI's shape", async () => {
    const res = await fetch(`${proxy.url}/v1/chat/completions`, { headers: auth });
    expect(res.status).toBe(405);
    expect(res.headers.get("allow")).toBe("POST");
    expect((await openaiError(res)).error.code).toBe("method_not_allowed");
  });

  test("a GET on /v1/messages is 405 in Anthropic's shape", async () => {
    const res = await fetch(`${proxy.url}/v1/messages`, { headers: { "x-api-key": KEY } });
    expect(res.status).toBe(405);
    const body = await anthropicError(res);
    expect(body.type).toBe("error");
    expect(body.error.type).toBe("invalid_request_error");
  });

  test("a WebSocket upgrade request is 426 in OpenAI's shape", async () => {
    const res = await fetch(`${proxy.url}/v1/responses`, { headers: { ...auth, connection: "Upgrade", upgrade: "websocket", "sec-websocket-version": "13", "sec-websocket-key": "dGhlIHNhbXBsZSBub25jZQ==" } });
    expect(res.status).toBe(426);
    const body = await openaiError(res);
    expect(body.error.code).toBe("upgrade_required");
    expect(body.error.type).toBe("invalid_request_error");
    expect(provider.received.length).toBe(0);
  });

  test("a WebSocket upgrade request on /v1/messages is 426 in Anthropic's shape", async () => {
    const res = await fetch(`${proxy.url}/v1/messages`, { headers: { "x-api-key": KEY, connection: "Upgrade", upgrade: "websocket", "sec-websocket-version": "13", "sec-websocket-key": "dGhlIHNhbXBsZSBub25jZQ==" } });
    expect(res.status).toBe(426);
    expect((await anthropicError(res)).error.type).toBe("invalid_request_error");
  });

  test("an unknown alias is 404 model_not_found in OpenAI's shape", async () => {
    const res = await post(`${proxy.url}/v1/chat/completions`, { model: "nope", messages: [] }, auth);
    expect(res.status).toBe(404);
    const body = await openaiError(res);
    expect(body.error.type).toBe("invalid_request_error");
    expect(body.error.code).toBe("model_not_found");
    expect(body.error.message).toContain("nope");
  });

  test("a disabled alias is 404, as if it did not exist", async () => {
    const res = await post(`${proxy.url}/v1/chat/completions`, { model: "off", messages: [] }, auth);
    expect(res.status).toBe(404);
    expect((await openaiError(res)).error.code).toBe("model_not_found");
    expect(provider.received.some((r) => r.text.includes("real-off"))).toBe(false);
  });

  test("an unknown alias on /v1/messages is 404 not_found_error in Anthropic's shape", async () => {
    const res = await post(`${proxy.url}/v1/messages`, { model: "nope", max_tokens: 1, messages: [] }, { "x-api-key": KEY });
    expect(res.status).toBe(404);
    const body = await anthropicError(res);
    expect(body.type).toBe("error");
    expect(body.error.type).toBe("not_found_error");
  });

  test("a body that is not JSON is 400 invalid_json", async () => {
    const res = await post(`${proxy.url}/v1/chat/completions`, '{"model": "m",', auth);
    expect(res.status).toBe(400);
    const body = await openaiError(res);
    expect(body.error.type).toBe("invalid_request_error");
    expect(body.error.code).toBe("invalid_json");
  });

  test("a JSON body that is not an object is 400 invalid_json", async () => {
    const res = await post(`${proxy.url}/v1/chat/completions`, '["m"]', auth);
    expect(res.status).toBe(400);
    expect((await openaiError(res)).error.code).toBe("invalid_json");
  });

  test("a body without a model is 400 missing_model", async () => {
    const res = await post(`${proxy.url}/v1/chat/completions`, { messages: [] }, auth);
    expect(res.status).toBe(400);
    expect((await openaiError(res)).error.code).toBe("missing_model");
  });

  test("a bad body on /v1/messages is 400 in Anthropic's shape", async () => {
    for (const body of ["not json", '{"max_tokens": 1}']) {
      const res = await post(`${proxy.url}/v1/messages`, body, { "x-api-key": KEY });
      expect(res.status).toBe(400);
      const err = await anthropicError(res);
      expect(err.type).toBe("error");
      expect(err.error.type).toBe("invalid_request_error");
    }
  });

  test("none of these requests reached the provider", () => {
    expect(provider.received.length).toBe(0);
  });
});

describe("proxied", () => {
  test("a known alias is proxied and answered by the provider", async () => {
    const res = await post(`${proxy.url}/v1/chat/completions`, { model: "zeta", messages: [] }, auth);
    expect(res.status).toBe(200);
    expect(((await res.json()) as { choices: { message: { content: string } }[] }).choices[0]!.message.content).toBe("hi");
    expect(JSON.parse(provider.received.at(-1)!.text).model).toBe("real-zeta");
  });
});
