import { describe, expect, test } from "bun:test";
import type { AuthStyle, Backend } from "../../src/config/types.ts";
import { testBackend } from "../helpers/backend.ts";
import { joinUrl } from "../../src/upstream/url.ts";

function backend(url: string, options: { apiKey?: string; auth?: AuthStyle; headers?: [string, string][] } = {}): Backend {
  return testBackend(url, { apiKey: options.apiKey ?? "", auth: options.auth ?? "bearer", headers: options.headers ?? [] });
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

describe("a backend URL with a query", () => {
  test("adds its query to the client's, or stands alone", () => {
    const b = backend("https://h/v1beta/openai?key=AIzaBackendKey000000000000000000");
    expect(joinUrl(b, "/v1/chat/completions", "")).toBe("https://h/v1beta/openai/v1/chat/completions?key=AIzaBackendKey000000000000000000");
    expect(joinUrl(b, "/v1/chat/completions", "?alt=sse")).toBe("https://h/v1beta/openai/v1/chat/completions?alt=sse&key=AIzaBackendKey000000000000000000");
  });
});
