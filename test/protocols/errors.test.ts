import { describe, expect, test } from "bun:test";
import { anthropicToChat, chatToAnthropic } from "../../src/protocols/openai-anthropic.ts";

const anthropicBody = (type: string, message = "m") => ({ type: "error", error: { type, message }, request_id: "req_1" });

describe("an Anthropic provider's error for an OpenAI client", () => {
  const cases: [number, string, number, string][] = [
    [400, "invalid_request_error", 400, "invalid_request_error"],
    [401, "authentication_error", 401, "authentication_error"],
    [403, "permission_error", 403, "permission_error"],
    [404, "not_found_error", 404, "not_found_error"],
    [413, "request_too_large", 413, "invalid_request_error"],
    [429, "rate_limit_error", 429, "rate_limit_error"],
    [500, "api_error", 500, "server_error"],
    [529, "overloaded_error", 503, "overloaded_error"],
    [402, "billing_error", 402, "insufficient_quota"],
  ];
  for (const [status, type, wantStatus, wantType] of cases) {
    test(`${status} ${type} → ${wantStatus} ${wantType}`, () => {
      const out = chatToAnthropic.error(status, anthropicBody(type, "details here"));
      expect(out).toEqual({ status: wantStatus, body: { error: { message: "details here", type: wantType, param: null, code: null } } });
    });
  }

  test("a non-JSON body becomes the message, the type from the status", () => {
    const out = chatToAnthropic.error(502, "<html>Bad Gateway</html>\n");
    expect(out).toEqual({ status: 502, body: { error: { message: "<html>Bad Gateway</html>", type: "server_error", param: null, code: null } } });
  });

  test("an empty body says which status came back", () => {
    expect(chatToAnthropic.error(529, "").body).toEqual({ error: { message: "upstream answered HTTP 529", type: "overloaded_error", param: null, code: null } });
  });

  test("a very long text body is clipped", () => {
    const message = (chatToAnthropic.error(500, "x".repeat(10_000)).body.error as { message: string }).message;
    expect(message.length).toBeLessThan(2100);
  });
});

describe("an OpenAI-compatible provider's error for an Anthropic client", () => {
  const cases: [number, unknown, string][] = [
    [400, { error: { message: "m", type: "invalid_request_error", param: "messages", code: null } }, "invalid_request_error"],
    [401, { error: { message: "m", type: "invalid_request_error", code: "invalid_api_key" } }, "authentication_error"],
    [400, { error: { message: "m", type: "server_error" } }, "api_error"],
    [401, { error: { message: "m" } }, "authentication_error"],
    [403, { error: { message: "m" } }, "permission_error"],
    [404, { error: { message: "m", type: "not_found_error" } }, "not_found_error"],
    [429, { error: { message: "m", type: "requests", code: "rate_limit_exceeded" } }, "rate_limit_error"],
    [429, { error: { message: "m", type: "insufficient_quota" } }, "billing_error"],
    [500, { error: { message: "m", type: "server_error" } }, "api_error"],
    [503, { error: { message: "m" } }, "overloaded_error"],
    [504, { error: { message: "m" } }, "timeout_error"],
    [418, { error: { message: "m" } }, "invalid_request_error"],
    [599, { error: { message: "m" } }, "api_error"],
  ];
  for (const [status, body, type] of cases) {
    test(`${status} ${JSON.stringify(body)} → ${type}, status kept`, () => {
      expect(anthropicToChat.error(status, body)).toEqual({ status, body: { type: "error", error: { type, message: "m" } } });
    });
  }

  const shapes: [string, unknown, string][] = [
    ["error as a string", { error: "quota exceeded" }, "quota exceeded"],
    ["a top-level message", { message: "bad model" }, "bad model"],
    ["FastAPI's detail", { detail: "Not Found" }, "Not Found"],
    ["a list of errors", { errors: [{ message: "first" }] }, "first"],
    ["an unknown object is shown as JSON", { weird: 1 }, '{"weird":1}'],
    ["plain text", "upstream connect error", "upstream connect error"],
  ];
  for (const [name, body, message] of shapes) {
    test(`the message of ${name}`, () => expect(anthropicToChat.error(400, body).body).toEqual({ type: "error", error: { type: "invalid_request_error", message } }));
  }
});
