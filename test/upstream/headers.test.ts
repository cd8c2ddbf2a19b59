import { describe, expect, test } from "bun:test";
import type { AuthStyle, Backend } from "../../src/config/types.ts";
import { testBackend } from "../helpers/backend.ts";
import { clientHeaders, upstreamHeaders } from "../../src/upstream/headers.ts";

function backend(url: string, options: { apiKey?: string; auth?: AuthStyle; headers?: [string, string][] } = {}): Backend {
  return testBackend(url, { apiKey: options.apiKey ?? "", auth: options.auth ?? "bearer", headers: options.headers ?? [] });
}

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
    const out = upstreamHeaders(client(), backend("https://h/v1"), { stream: false });
    expect([...out.keys()].sort()).toEqual(["anthropic-version", "content-type", "x-custom"]);
  });

  test("bearer sets Authorization, x-api-key sets x-api-key, none sets neither", () => {
    const bearer = upstreamHeaders(client(), backend("https://h/v1", { apiKey: "sk-b", auth: "bearer" }), { stream: false });
    expect(bearer.get("authorization")).toBe("Bearer sk-b");
    expect(bearer.get("x-api-key")).toBeNull();
    const xApiKey = upstreamHeaders(client(), backend("https://h/v1", { apiKey: "sk-b", auth: "x-api-key" }), { stream: false });
    expect(xApiKey.get("x-api-key")).toBe("sk-b");
    expect(xApiKey.get("authorization")).toBeNull();
    const none = upstreamHeaders(client(), backend("https://h/v1", { apiKey: "sk-b", auth: "none" }), { stream: false });
    expect(none.get("authorization")).toBeNull();
    expect(none.get("x-api-key")).toBeNull();
  });

  test("backend headers replace the client's of the same name and come last", () => {
    const out = upstreamHeaders(client(), backend("https://h/v1", { apiKey: "sk-b", headers: [["x-custom", "backend"], ["authorization", "Token t"]] }), { stream: false });
    expect(out.get("x-custom")).toBe("backend");
    expect(out.get("authorization")).toBe("Token t");
  });

  test("a stream asks for an uncompressed body; a plain request keeps the client's accept-encoding", () => {
    const headers = new Headers({ "accept-encoding": "gzip, br" });
    expect(upstreamHeaders(headers, backend("https://h"), { stream: true }).get("accept-encoding")).toBe("identity");
    expect(upstreamHeaders(headers, backend("https://h"), { stream: false }).get("accept-encoding")).toBe("gzip, br");
  });
});

describe("clientHeaders", () => {
  const passed = (upstream: Headers, decoded: boolean) => new Headers(clientHeaders(upstream, decoded, (t) => t));

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
    expect([...passed(upstream, true).keys()].sort()).toEqual(["content-type", "retry-after", "x-request-id"]);
    expect([...passed(upstream, false).keys()].sort()).toEqual(["content-encoding", "content-type", "retry-after", "x-request-id"]);
  });

  test("drops what describes the provider's origin or account: cookies, HSTS, Alt-Svc, organization and project", () => {
    const upstream = new Headers({
      "strict-transport-security": "max-age=31536000",
      "alt-svc": 'h3=":443"',
      "openai-organization": "org-secret",
      "openai-project": "proj_1",
      "anthropic-organization-id": "0000-org",
      "x-ratelimit-remaining-requests": "99",
      "request-id": "req_1",
    });
    upstream.append("set-cookie", "a=1");
    upstream.append("set-cookie", "b=2");
    expect([...passed(upstream, false).keys()].sort()).toEqual(["request-id", "x-ratelimit-remaining-requests"]);
  });

  test("masks every value passed back", () => {
    const out = clientHeaders(new Headers({ "www-authenticate": "Bearer key=sk-secret", "x-other": "sk-secret" }), false, (t) => t.replaceAll("sk-secret", "sk-****"));
    expect(out).toEqual([["www-authenticate", "Bearer key=sk-****"], ["x-other", "sk-****"]]);
  });
});

