/**
 * Provider errors between Chat Completions and the Responses API. Both speak the
 * OpenAI error shape, `{error: {message, type, param, code}}`, so the work is
 * normalising what OpenAI-compatible servers really send (a bare string, `{error:
 * "text"}`, FastAPI's `{detail}`, `{message}`) into it. The status is kept.
 * https://platform.openai.com/docs/guides/error-codes
 */
import { isObject, str } from "./responses-guards.ts";
import type { TranslatedError } from "./types.ts";

/** OpenAI's `type` for a status, when the provider named none. */
function typeForStatus(status: number): string {
  if (status === 401) return "authentication_error";
  if (status === 403) return "permission_error";
  if (status === 404) return "not_found_error";
  if (status === 429) return "rate_limit_error";
  if (status >= 500) return "server_error";
  return "invalid_request_error";
}

function messageOf(body: unknown): string | undefined {
  if (typeof body === "string") return body.trim() === "" ? undefined : body;
  if (!isObject(body)) return undefined;
  const error = body.error;
  if (typeof error === "string") return error;
  if (isObject(error) && str(error.message) !== undefined) return str(error.message);
  if (typeof body.detail === "string") return body.detail;
  if (Array.isArray(body.detail)) return JSON.stringify(body.detail);
  return str(body.message);
}

const scalar = (value: unknown): string | null => (typeof value === "string" ? value : typeof value === "number" ? String(value) : null);

export function openAIShapedError(status: number, body: unknown): TranslatedError {
  const error = isObject(body) && isObject(body.error) ? body.error : {};
  return {
    status,
    body: {
      error: {
        message: messageOf(body) ?? `the provider answered ${status} without an error message`,
        type: str(error.type) ?? typeForStatus(status),
        param: scalar(error.param),
        code: scalar(error.code),
      },
    },
  };
}
