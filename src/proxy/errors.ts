/**
 * Errors the proxy makes itself, in the caller's protocol: Anthropic's shape on
 * paths starting with /v1/messages, OpenAI's everywhere else. This is the one
 * place an error becomes an HTTP response.
 * https://platform.openai.com/docs/guides/error-codes · https://docs.anthropic.com/en/api/errors
 */
import type { Protocol } from "../protocols/types.ts";

export type { Protocol };

const KINDS = {
  invalid_json: { status: 400, type: "invalid_request_error", anthropic: "invalid_request_error" },
  missing_model: { status: 400, type: "invalid_request_error", anthropic: "invalid_request_error" },
  duplicate_model: { status: 400, type: "invalid_request_error", anthropic: "invalid_request_error" },
  invalid_api_key: { status: 401, type: "authentication_error", anthropic: "authentication_error" },
  key_expired: { status: 401, type: "authentication_error", anthropic: "authentication_error" },
  model_not_allowed: { status: 403, type: "permission_error", anthropic: "permission_error" },
  operator_only: { status: 403, type: "permission_error", anthropic: "permission_error" },
  rate_limit_exceeded: { status: 429, type: "rate_limit_error", anthropic: "rate_limit_error" },
  budget_exceeded: { status: 429, type: "rate_limit_error", anthropic: "rate_limit_error" },
  model_not_found: { status: 404, type: "invalid_request_error", anthropic: "not_found_error" },
  not_found: { status: 404, type: "invalid_request_error", anthropic: "not_found_error" },
  not_translatable: { status: 400, type: "invalid_request_error", anthropic: "invalid_request_error" },
  no_route_for_endpoint: { status: 400, type: "invalid_request_error", anthropic: "invalid_request_error" },
  method_not_allowed: { status: 405, type: "invalid_request_error", anthropic: "invalid_request_error" },
  request_too_large: { status: 413, type: "invalid_request_error", anthropic: "request_too_large" },
  upgrade_required: { status: 426, type: "invalid_request_error", anthropic: "invalid_request_error" },
  internal_error: { status: 500, type: "server_error", anthropic: "api_error" },
  upstream_unavailable: { status: 502, type: "upstream_error", anthropic: "api_error" },
  no_route_available: { status: 503, type: "upstream_error", anthropic: "overloaded_error" },
} as const;

export type ErrorKind = keyof typeof KINDS;

/** The client's protocol, from its path: Anthropic's Messages under /v1/messages, the Responses API under /responses, else OpenAI's. */
export function protocolOf(path: string): Protocol {
  if (path.startsWith("/v1/messages")) return "anthropic";
  if (path === "/v1/responses" || path === "/responses" || path.startsWith("/v1/responses/")) return "openai-responses";
  return "openai";
}

/** An error the proxy makes, as a status and a body in the client's protocol. */
export function errorBody(kind: ErrorKind, protocol: Protocol, message: string): { status: number; body: Record<string, unknown> } {
  const k = KINDS[kind];
  const body =
    protocol === "anthropic"
      ? { type: "error", error: { type: k.anthropic, message } }
      : { error: { message, type: k.type, param: null, code: kind } };
  return { status: k.status, body };
}

export function errorResponse(kind: ErrorKind, protocol: Protocol, message: string, headers?: Record<string, string>): Response {
  const { status, body } = errorBody(kind, protocol, message);
  return Response.json(body, { status, headers });
}
