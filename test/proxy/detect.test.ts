import { describe, expect, test } from "bun:test";
import { findPattern, isErrorEvent, isErrorStatus, isRequestFault, jsonHasError } from "../../src/proxy/detect.ts";
import { configFrom } from "../helpers/proxy.ts";

const withDetection = (detection: string) => configFrom(`detection:\n${detection}`);

describe("isErrorStatus", () => {
  test("defaults to 401, 402, 403, 404, 408, 429 and every 5xx", () => {
    const config = configFrom("");
    const matching = [401, 402, 403, 404, 408, 429, 500, 502, 503, 529, 599];
    const passing = [200, 201, 204, 301, 400, 405, 409, 413, 418, 422];
    for (const s of matching) expect(`${s}: ${isErrorStatus(config, s)}`).toBe(`${s}: true`);
    for (const s of passing) expect(`${s}: ${isErrorStatus(config, s)}`).toBe(`${s}: false`);
  });

  test("matches exact codes and x wildcards, given as numbers or strings", () => {
    const config = withDetection(`  error_codes: [429, "50x", "4X1"]`);
    for (const s of [429, 500, 503, 509, 401, 491]) expect(`${s}: ${isErrorStatus(config, s)}`).toBe(`${s}: true`);
    for (const s of [428, 430, 510, 511, 400, 402]) expect(`${s}: ${isErrorStatus(config, s)}`).toBe(`${s}: false`);
  });

  test("4xx and 5xx match their whole class", () => {
    const config = withDetection(`  error_codes: ["4xx", "5xx"]`);
    expect([400, 418, 499, 500, 599].every((s) => isErrorStatus(config, s))).toBe(true);
    expect([200, 302, 399].some((s) => isErrorStatus(config, s))).toBe(false);
  });

  test("an empty list matches nothing", () => {
    const config = withDetection("  error_codes: []");
    expect([429, 500, 503].some((s) => isErrorStatus(config, s))).toBe(false);
  });
});

describe("findPattern", () => {
  const config = withDetection(`  error_patterns: ["insufficient_quota", "rate_limit"]`);

  test("returns the first configured pattern found in the body", () => {
    expect(findPattern(config, '{"error":{"code":"rate_limit","type":"insufficient_quota"}}')).toBe("insufficient_quota");
    expect(findPattern(config, "rate_limit exceeded")).toBe("rate_limit");
  });

  test("is case-sensitive, as the original, and finds nothing in a clean body", () => {
    expect(findPattern(config, "RATE_LIMIT")).toBeUndefined();
    expect(findPattern(config, '{"error":"bad request"}')).toBeUndefined();
  });

  test("an empty pattern never matches everything", () => {
    expect(findPattern(withDetection(`  error_patterns: [""]`), "anything")).toBeUndefined();
  });
});

describe("jsonHasError", () => {
  test("a top-level error object or string is an error", () => {
    expect(jsonHasError('{"error":{"message":"overloaded"}}')).toBe(true);
    expect(jsonHasError('{"error":"overloaded"}')).toBe(true);
    expect(jsonHasError('{ "id": "x", "error" : { "code": 500 } }')).toBe(true);
  });

  test("a null error, a nested error or a success is not", () => {
    expect(jsonHasError('{"id":"x","error":null}')).toBe(false);
    expect(jsonHasError('{"choices":[{"message":{"content":"\\"error\\""}}],"meta":{"error":"x"}}')).toBe(false);
    expect(jsonHasError(JSON.stringify({ choices: [{ message: { content: "no error here" } }] }))).toBe(false);
  });

  test("a body that is not a JSON object is not judged", () => {
    expect(jsonHasError('["error"]')).toBe(false);
    expect(jsonHasError('{"error": ')).toBe(false);
    expect(jsonHasError("error")).toBe(false);
  });
});

describe("isErrorEvent", () => {
  test("Anthropic's event: error is an error whatever its data", () => {
    expect(isErrorEvent("error", '{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}')).toBe(true);
    expect(isErrorEvent("error", "not json")).toBe(true);
  });

  test("data with a top-level error or type error is an error", () => {
    expect(isErrorEvent("message", '{"error":{"message":"quota exceeded"}}')).toBe(true);
    expect(isErrorEvent("message", '{"type":"error","message":"boom"}')).toBe(true);
  });

  test("ordinary events are not, even when their text mentions error", () => {
    expect(isErrorEvent("message", JSON.stringify({ choices: [{ delta: { content: "error" } }] }))).toBe(false);
    expect(isErrorEvent("content_block_delta", JSON.stringify({ type: "content_block_delta", delta: { type: "text_delta", text: '{"error":1}' } }))).toBe(false);
    expect(isErrorEvent("message", '{"error":null,"choices":[]}')).toBe(false);
    expect(isErrorEvent("message", "[DONE]")).toBe(false);
    expect(isErrorEvent("message", "an error in plain text")).toBe(false);
  });
});

describe("isRequestFault", () => {
  test("400, 413 and 422 are the request's own fault", () => {
    for (const s of [400, 413, 422]) expect(isRequestFault(s, "{}")).toBe(true);
  });

  test("a context-too-long message is the request's fault whatever the status", () => {
    expect(isRequestFault(500, '{"error":{"code":"context_length_exceeded"}}')).toBe(true);
    expect(isRequestFault(429, "This model's maximum context length is 8192 tokens")).toBe(true);
    expect(isRequestFault(403, "prompt is too long: 210000 tokens > 200000 maximum")).toBe(true);
  });

  test("rate limits, auth failures and server errors are the route's fault", () => {
    for (const s of [401, 403, 404, 429, 500, 503]) expect(isRequestFault(s, '{"error":{"message":"try again"}}')).toBe(false);
  });
});
