/**
 * A provider's error answer in the client's protocol, and the stream endings that
 * tell a client honestly that its stream was cut.
 *
 * Anthropic errors: https://docs.anthropic.com/en/api/errors
 * OpenAI errors: https://platform.openai.com/docs/guides/error-codes
 */

import { isObject, str, obj, arr } from "./json.ts";
import type { JsonObject, StreamEvent, TranslatedError } from "./types.ts";

/** How much of an error text (an HTML page from a load balancer, say) reaches the client. */
const MAX_MESSAGE = 2000;

// https://docs.anthropic.com/en/api/errors#http-errors
const ANTHROPIC_TYPE_BY_STATUS: Readonly<Record<number, string>> = {
  400: "invalid_request_error",
  401: "authentication_error",
  402: "billing_error",
  403: "permission_error",
  404: "not_found_error",
  413: "request_too_large",
  429: "rate_limit_error",
  500: "api_error",
  503: "overloaded_error",
  504: "timeout_error",
  529: "overloaded_error",
};

const OPENAI_TYPE_BY_ANTHROPIC: Readonly<Record<string, string>> = {
  invalid_request_error: "invalid_request_error",
  request_too_large: "invalid_request_error",
  authentication_error: "authentication_error",
  permission_error: "permission_error",
  billing_error: "insufficient_quota",
  not_found_error: "not_found_error",
  rate_limit_error: "rate_limit_error",
  api_error: "server_error",
  timeout_error: "server_error",
  overloaded_error: "overloaded_error",
};

const ANTHROPIC_TYPE_BY_OPENAI: Readonly<Record<string, string>> = {
  invalid_request_error: "invalid_request_error",
  authentication_error: "authentication_error",
  permission_error: "permission_error",
  insufficient_quota: "billing_error",
  not_found_error: "not_found_error",
  rate_limit_error: "rate_limit_error",
  server_error: "api_error",
  api_error: "api_error",
  overloaded_error: "overloaded_error",
};

/**
 * The status each error type stands for, when an error comes as a stream's first event
 * (its HTTP status is the stream's 200): Anthropic's types as its API answers them
 * (https://docs.anthropic.com/en/api/errors#http-errors), and OpenAI's own names.
 */
const STATUS_BY_TYPE: Readonly<Record<string, number>> = {
  invalid_request_error: 400,
  authentication_error: 401,
  billing_error: 402,
  permission_error: 403,
  not_found_error: 404,
  request_too_large: 413,
  rate_limit_error: 429,
  insufficient_quota: 429,
  api_error: 500,
  server_error: 500,
  timeout_error: 504,
  overloaded_error: 529,
};

/**
 * The HTTP status an error event at the start of a stream stands for: its numeric
 * `code` (OpenRouter's), else its type (`rate_limit_error` 429, `overloaded_error`
 * 529, …), else OpenAI's `rate_limit_exceeded` code; undefined when it names none.
 */
export function statusOfErrorEvent(data: unknown): number | undefined {
  const error = isObject(data) ? data.error : undefined;
  if (!isObject(error)) return undefined;
  const code = error.code;
  const numeric = typeof code === "number" ? code : typeof code === "string" && /^\d{3}$/.test(code) ? Number(code) : undefined;
  if (numeric !== undefined && numeric >= 400 && numeric <= 599) return numeric;
  const byType = STATUS_BY_TYPE[str(error, "type") ?? ""];
  if (byType !== undefined) return byType;
  return code === "rate_limit_exceeded" ? 429 : undefined;
}

function anthropicTypeForStatus(status: number): string {
  return ANTHROPIC_TYPE_BY_STATUS[status] ?? (status >= 500 ? "api_error" : "invalid_request_error");
}

function clip(text: string): string {
  return text.length > MAX_MESSAGE ? `${text.slice(0, MAX_MESSAGE)}…` : text;
}

/**
 * The human message of an error body in whatever shape the provider chose:
 * `{error: {message}}` (OpenAI, Anthropic), `{error: "..."}`, `{message}`,
 * `{detail}` (FastAPI servers), `{errors: [{message}]}`, or plain text.
 */
export function errorMessage(body: unknown, status: number): string {
  const fallback = `upstream answered HTTP ${status}`;
  if (typeof body === "string") return body.trim() === "" ? fallback : clip(body.trim());
  if (!isObject(body)) return body === undefined || body === null ? fallback : clip(JSON.stringify(body));
  const error = body.error;
  if (typeof error === "string" && error !== "") return clip(error);
  const nested = isObject(error) ? (str(error, "message") ?? str(error, "msg")) : undefined;
  const detail = body.detail;
  const first = (arr(body, "errors") ?? []).find(isObject);
  const candidates = [nested, str(body, "message"), typeof detail === "string" ? detail : undefined, first ? str(first, "message") : undefined];
  const found = candidates.find((c): c is string => c !== undefined && c !== "");
  return clip(found ?? JSON.stringify(body));
}

/** The provider's own error type, where its body names one. */
function providerType(body: unknown): string | undefined {
  if (!isObject(body)) return undefined;
  const error = obj(body, "error");
  return (error && str(error, "type")) ?? undefined;
}

/** An Anthropic provider's error for an OpenAI client. 529 (overloaded) becomes 503, which OpenAI clients retry. */
export function chatErrorFromAnthropic(status: number, body: unknown): TranslatedError {
  const anthropicType = providerType(body) ?? anthropicTypeForStatus(status);
  const type = OPENAI_TYPE_BY_ANTHROPIC[anthropicType] ?? (status >= 500 ? "server_error" : "invalid_request_error");
  return {
    status: status === 529 ? 503 : status,
    body: { error: { message: errorMessage(body, status), type, param: null, code: null } },
  };
}

/**
 * An OpenAI-compatible provider's error for an Anthropic client; the status is
 * kept. OpenAI's types are loose (its 401 says `invalid_request_error`), so a
 * specific status decides the type; the provider's type refines only the generic
 * 400 and 500, and names quota exhaustion, which no retry cures.
 */
export function anthropicErrorFromChat(status: number, body: unknown): TranslatedError {
  const byType = ANTHROPIC_TYPE_BY_OPENAI[providerType(body) ?? ""];
  const byStatus = status === 400 || status === 500 ? undefined : ANTHROPIC_TYPE_BY_STATUS[status];
  const type = byType === "billing_error" ? byType : (byStatus ?? byType ?? anthropicTypeForStatus(status));
  return { status, body: anthropicErrorBody(type, errorMessage(body, status)) };
}

export function anthropicErrorBody(type: string, message: string): JsonObject {
  return { type: "error", error: { type, message } };
}

/** The Anthropic type for an OpenAI-style error object met in a stream (`{message, type, code}`; `code` is sometimes an HTTP status). */
export function anthropicTypeOfChatError(error: unknown): string {
  if (!isObject(error)) return "api_error";
  const known = ANTHROPIC_TYPE_BY_OPENAI[str(error, "type") ?? ""];
  if (known) return known;
  const code = error.code;
  const status = typeof code === "number" ? code : typeof code === "string" && /^\d{3}$/.test(code) ? Number(code) : undefined;
  return status !== undefined ? anthropicTypeForStatus(status) : "api_error";
}

export function openaiTypeOfAnthropic(type: string): string {
  return OPENAI_TYPE_BY_ANTHROPIC[type] ?? "server_error";
}

/** How Anthropic itself ends a stream that failed: one `error` event, nothing after it. */
export function anthropicStreamError(message: string, type = "api_error"): StreamEvent {
  return { event: "error", data: anthropicErrorBody(type, message) };
}

/**
 * How an OpenAI Chat stream tells its client it was cut: a data event carrying
 * `error`, and no `[DONE]`, so no client takes the answer for complete.
 */
export function chatStreamError(message: string, type = "upstream_error", code = "stream_cut"): StreamEvent {
  return { event: "", data: { error: { message, type, code } } };
}
