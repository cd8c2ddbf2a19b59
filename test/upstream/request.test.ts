import { describe, expect, test } from "bun:test";
import type { AuthStyle, Backend } from "../../src/config/types.ts";
import { clientHeaderList, joinUrl, modelValueRanges, rewriteModel, upstreamHeaders } from "../../src/upstream/request.ts";

function backend(url: string, options: { apiKey?: string; auth?: AuthStyle; headers?: [string, string][] } = {}): Backend {
  const u = new URL(url);
  const basePath = u.pathname.replace(/\/+$/, "");
  return { name: "p", url: u.origin + basePath, origin: u.origin, basePath, query: u.search.slice(1), apiKey: options.apiKey ?? "", auth: options.auth ?? "bearer", headers: options.headers ?? [], timeouts: { connectMs: 10_000, firstByteMs: 60_000, idleMs: 300_000, totalMs: 0 } };
}

describe("joinUrl", () => {
  test("a path that starts with the base path is used as is", () => {
    expect(joinUrl(backend("https://h/v1"), "/v1/chat/completions", "")).toBe("https://h/v1/chat/completions");
    expect(joinUrl(backend("https://h/v1"), "/v1", "")).toBe("https://h/v1");
  });

  test("any other path gets the base path prefixed", () => {
    expect(joinUrl(backend("https://h/api"), "/v1/chat/completions", "")).toBe("https://h/api/v1/chat/completions");
    expect(joinUrl(backend("https://h/v1"), "/v1beta/models", "")).toBe("https://h/v1/v1beta/models");
    expect(joinUrl(backend("https://h/openai/v1"), "/v1/chat/completions", "")).toBe("https://h/openai/v1/v1/chat/completions");
  });

  test("no base path, a port and the query string", () => {
    expect(joinUrl(backend("http://127.0.0.1:8080"), "/v1/messages", "?beta=true")).toBe("http://127.0.0.1:8080/v1/messages?beta=true");
    expect(joinUrl(backend("http://127.0.0.1:8080/v1/"), "/v1/messages", "?a=1&b=2")).toBe("http://127.0.0.1:8080/v1/messages?a=1&b=2");
  });
});

describe("upstreamHeaders", () => {
  const client = () =>
    new Headers({
      authorization: "Bearer sk-client",
      "x-api-key": "sk-client",
      "proxy-authorization": "Basic abc",
      cookie: "s=1",
      connection: "keep-alive, X-Listed",
      "x-listed": "hop",
      "keep-alive": "timeout=5",
      te: "trailers",
      upgrade: "h2c",
      "transfer-encoding": "chunked",
      host: "proxy.local",
      "content-length": "12",
      expect: "100-continue",
      "content-type": "application/json",
      "anthropic-version": "2023-06-01",
      "x-custom": "client",
    });

  test("drops client credentials, hop-by-hop headers, those listed in Connection, host, content-length and expect", () => {
    const out = upstreamHeaders(client(), backend("https://h/v1"), false);
    expect([...out.keys()].sort()).toEqual(["anthropic-version", "content-type", "x-custom"]);
  });

  test("bearer sets Authorization, x-api-key sets x-api-key, none sets neither", () => {
    const bearer = upstreamHeaders(client(), backend("https://h/v1", { apiKey: "sk-b", auth: "bearer" }), false);
    expect(bearer.get("authorization")).toBe("Bearer sk-b");
    expect(bearer.get("x-api-key")).toBeNull();
    const xApiKey = upstreamHeaders(client(), backend("https://h/v1", { apiKey: "sk-b", auth: "x-api-key" }), false);
    expect(xApiKey.get("x-api-key")).toBe("sk-b");
    expect(xApiKey.get("authorization")).toBeNull();
    const none = upstreamHeaders(client(), backend("https://h/v1", { apiKey: "sk-b", auth: "none" }), false);
    expect(none.get("authorization")).toBeNull();
    expect(none.get("x-api-key")).toBeNull();
  });

  test("backend headers replace the client's of the same name and come last", () => {
    const out = upstreamHeaders(client(), backend("https://h/v1", { apiKey: "sk-b", headers: [["x-custom", "backend"], ["authorization", "Token t"]] }), false);
    expect(out.get("x-custom")).toBe("backend");
    expect(out.get("authorization")).toBe("Token t");
  });

  test("a stream asks for an uncompressed body; a plain request keeps the client's accept-encoding", () => {
    const headers = new Headers({ "accept-encoding": "gzip, br" });
    expect(upstreamHeaders(headers, backend("https://h"), true).get("accept-encoding")).toBe("identity");
    expect(upstreamHeaders(headers, backend("https://h"), false).get("accept-encoding")).toBe("gzip, br");
  });
});

describe("clientHeaderList", () => {
  const clientHeaders = (upstream: Headers, decoded: boolean) => new Headers(clientHeaderList([...upstream], decoded));

  test("drops framing and hop-by-hop headers, and the encoding of a decoded body, and keeps the rest", () => {
    const upstream = new Headers({
      "content-type": "application/json",
      "content-encoding": "gzip",
      "content-length": "99",
      "transfer-encoding": "chunked",
      connection: "close, x-conn",
      "x-conn": "1",
      "keep-alive": "timeout=5",
      "x-request-id": "r1",
      "retry-after": "3",
    });
    expect([...clientHeaders(upstream, true).keys()].sort()).toEqual(["content-type", "retry-after", "x-request-id"]);
    expect([...clientHeaders(upstream, false).keys()].sort()).toEqual(["content-encoding", "content-type", "retry-after", "x-request-id"]);
  });

  test("keeps every set-cookie line", () => {
    const upstream = new Headers();
    upstream.append("set-cookie", "a=1");
    upstream.append("set-cookie", "b=2");
    expect(clientHeaders(upstream, true).getSetCookie()).toEqual(["a=1", "b=2"]);
  });
});

describe("modelValueRanges", () => {
  test("finds a second top-level model after non-ASCII text, with the bytes given", () => {
    const text = '{"model":"a","x":"ünïcödé ✓","model":"b"}';
    const bytes = new TextEncoder().encode(text);
    expect(modelValueRanges(text, bytes).map(([s, e]) => text.slice(s, e))).toEqual(['"a"', '"b"']);
  });

  // With and without the body's bytes (the byte search for a second "model"): the same ranges.
  const values = (text: string) => {
    const ranges = modelValueRanges(text);
    expect(modelValueRanges(text, new TextEncoder().encode(text))).toEqual(ranges);
    return ranges.map(([s, e]) => text.slice(s, e));
  };

  test("finds the top-level model value only", () => {
    expect(values('{"a":{"model":"inner"},"messages":[{"model":"x"}],"model":"top"}')).toEqual(['"top"']);
  });

  test("is not fooled by model inside strings, keys of other values, or escapes", () => {
    expect(values('{"a":"model","b":"\\"model\\":\\"no\\"","model" : "m\\"q"}')).toEqual(['"m\\"q"']);
    expect(values('{"mod\\u0065l":"escaped-key"}')).toEqual(['"escaped-key"']);
    expect(values('{"x":["model","y"],"model":"m"}')).toEqual(['"m"']);
  });

  test("a model that is not a string has no range", () => {
    expect(values('{"model":42}')).toEqual([]);
    expect(values('{"model":null,"x":"y"}')).toEqual([]);
  });

  test("whitespace and newlines anywhere", () => {
    expect(values('\n{\n  "n" : 1.0 ,\r\n  "model"\t:\n  "m"\n}\n')).toEqual(['"m"']);
  });
});

describe("rewriteModel", () => {
  const encoder = new TextEncoder();
  const rewrite = (text: string, model: string) => new TextDecoder().decode(rewriteModel(encoder.encode(text), text, modelValueRanges(text), model));

  test("replaces only the model value, byte for byte elsewhere", () => {
    const text = '{"big":12345678901234567890,"f":1.0,"u":"héllo 😀 日本","model":"m","z":[1.0e3]}';
    expect(rewrite(text, "real")).toBe('{"big":12345678901234567890,"f":1.0,"u":"héllo 😀 日本","model":"real","z":[1.0e3]}');
  });

  test("writes a model name that needs escaping as a JSON string", () => {
    const out = rewrite('{"model":"m"}', 'a"b\\c/é');
    expect(JSON.parse(out)).toEqual({ model: 'a"b\\c/é' });
  });

  test("a body without a model comes back unchanged", () => {
    const body = encoder.encode('{"x":1}');
    expect(rewriteModel(body, '{"x":1}', [], "real")).toBe(body);
  });

  test("byte offsets stay right for a model after multi-byte characters", () => {
    const text = '{"a":"ü","😀😀":"😀","model":"m","tail":"ß"}';
    expect(rewrite(text, "longer-model-name")).toBe('{"a":"ü","😀😀":"😀","model":"longer-model-name","tail":"ß"}');
  });
});

describe("a backend URL with a query", () => {
  test("adds its query to the client's, or stands alone", () => {
    const b = backend("https://h/v1beta/openai?key=AIzaBackendKey000000000000000000");
    expect(joinUrl(b, "/v1/chat/completions", "")).toBe("https://h/v1beta/openai/v1/chat/completions?key=AIzaBackendKey000000000000000000");
    expect(joinUrl(b, "/v1/chat/completions", "?alt=sse")).toBe("https://h/v1beta/openai/v1/chat/completions?alt=sse&key=AIzaBackendKey000000000000000000");
  });
});
