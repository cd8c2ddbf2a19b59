import type { Config } from "../config/types.ts";

/** `detection.error_codes`, compiled: is this status a failure of the route? */
export function isErrorStatus(config: Config, status: number): boolean {
  return config.errorStatus[status] === 1;
}

/** The first `detection.error_patterns` entry found in a non-success body (case-sensitive, as the original). */
export function findPattern(config: Config, body: string): string | undefined {
  for (const pattern of config.errorPatterns) if (body.includes(pattern)) return pattern;
  return undefined;
}

const isRecord = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === "object" && !Array.isArray(v);

/** A 2xx JSON body that is really an error: a top-level `error` that is not null. */
export function jsonHasError(body: string): boolean {
  if (!body.includes('"error"')) return false;
  try {
    const value: unknown = JSON.parse(body);
    return isRecord(value) && value.error !== undefined && value.error !== null;
  } catch {
    // Not JSON after all: not ours to judge, the client gets it as it is.
    return false;
  }
}

/**
 * A stream's first event is an error: `event: error` (Anthropic), or data that is
 * a JSON object with a non-null `error` or `"type": "error"` (OpenAI-style providers).
 */
export function isErrorEvent(event: string, data: string): boolean {
  if (event === "error") return true;
  if (!data.includes("error")) return false;
  try {
    const value: unknown = JSON.parse(data);
    return isRecord(value) && ((value.error !== undefined && value.error !== null) || value.type === "error");
  } catch {
    // A data line that is not JSON is not an error event by these rules.
    return false;
  }
}

/** Statuses that can say a provider does not serve a path (rather than that the model failed). */
const NOT_SERVED = new Set([404, 405, 501]);

/**
 * A 404, 405 or 501 about the path, not the pair: the provider does not serve this
 * endpoint (embeddings on a chat-only server, Claude Code's count_tokens). It falls
 * back but cools nothing. One about the model (OpenAI's `model_not_found`, or a body
 * naming the route's model, as vLLM and Ollama answer) is still the pair's failure.
 */
export function isPathFault(status: number, body: string, model: string): boolean {
  return NOT_SERVED.has(status) && !body.includes("model_not_found") && !(model !== "" && body.includes(model));
}

const CONTEXT_TOO_LONG = /context[_ ]length[_ ]exceeded|context window|maximum context length|prompt is too long|too many tokens|input is too long/i;

/**
 * Answers that are the request's own fault: another route may accept it (a bigger
 * model), so it may fall back, but the route is healthy and must not cool down.
 */
export function isRequestFault(status: number, body: string): boolean {
  return status === 400 || status === 413 || status === 422 || CONTEXT_TOO_LONG.test(body);
}
