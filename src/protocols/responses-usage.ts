/**
 * Token usage between the Responses API, Chat Completions and the neutral `Usage`.
 *
 * Responses `input_tokens` INCLUDES the cached tokens (and the tokens written to
 * the cache), exactly like Chat's `prompt_tokens`, so the two map field to field;
 * only the neutral `Usage` (Anthropic-style) subtracts them. Reading the wrong
 * field here is a known way to bill cache reads twice or not at all (LiteLLM
 * #28354, #40277).
 *
 * https://platform.openai.com/docs/api-reference/responses/object#responses/object-usage
 * https://platform.openai.com/docs/api-reference/chat/object#chat/object-usage
 */
import { isObject, num, obj } from "./responses-guards.ts";
import type { JsonObject, StreamEvent, Usage } from "./types.ts";
import { promptTokens } from "./usage.ts";

const count = (value: unknown): number => Math.max(0, Math.round(num(value) ?? 0));

/** A Responses `usage` object, or undefined when `value` is not one. */
function responsesCounts(value: unknown) {
  if (!isObject(value) || num(value.input_tokens) === undefined && num(value.output_tokens) === undefined) return undefined;
  const inputDetails = obj(value.input_tokens_details);
  const input = count(value.input_tokens);
  const output = count(value.output_tokens);
  return {
    input,
    output,
    // A provider can report more cached than input tokens (LiteLLM #40277): never more than the whole.
    cached: Math.min(input, count(inputDetails.cached_tokens)),
    cacheWrite: count(inputDetails.cache_write_tokens),
    reasoning: count(obj(value.output_tokens_details).reasoning_tokens),
    total: num(value.total_tokens) === undefined ? input + output : count(value.total_tokens),
  };
}

function chatCounts(value: unknown) {
  if (!isObject(value) || num(value.prompt_tokens) === undefined && num(value.completion_tokens) === undefined) return undefined;
  const input = count(value.prompt_tokens);
  const output = count(value.completion_tokens);
  return {
    input,
    output,
    cached: Math.min(input, count(obj(value.prompt_tokens_details).cached_tokens)),
    reasoning: count(obj(value.completion_tokens_details).reasoning_tokens),
    total: num(value.total_tokens) === undefined ? input + output : count(value.total_tokens),
  };
}

/** Chat `usage` → Responses `usage`; undefined when the chunk or body carried none. */
export function chatUsageToResponses(value: unknown): JsonObject | undefined {
  const c = chatCounts(value);
  if (c === undefined) return undefined;
  return {
    input_tokens: c.input,
    input_tokens_details: { cached_tokens: c.cached },
    output_tokens: c.output,
    output_tokens_details: { reasoning_tokens: c.reasoning },
    total_tokens: c.total,
  };
}

/** Responses `usage` → Chat `usage`; undefined when there is none. */
export function responsesUsageToChat(value: unknown): JsonObject | undefined {
  const c = responsesCounts(value);
  if (c === undefined) return undefined;
  return {
    prompt_tokens: c.input,
    completion_tokens: c.output,
    total_tokens: c.total,
    prompt_tokens_details: { cached_tokens: c.cached },
    completion_tokens_details: { reasoning_tokens: c.reasoning },
  };
}

/** Responses `usage` → neutral `Usage` (input without cache reads and writes). */
export function responsesUsageToNeutral(value: unknown): Usage | undefined {
  const c = responsesCounts(value);
  if (c === undefined) return undefined;
  const cacheWrite = Math.min(c.input - c.cached, c.cacheWrite);
  return { input: c.input - c.cached - cacheWrite, output: c.output, cacheRead: c.cached, cacheWrite, reasoning: c.reasoning };
}

/** Neutral `Usage` → Responses `usage` (input including cache reads and writes). */
export function neutralToResponsesUsage(usage: Usage): JsonObject {
  const input = promptTokens(usage);
  const inputDetails: JsonObject = { cached_tokens: usage.cacheRead };
  if (usage.cacheWrite > 0) inputDetails.cache_write_tokens = usage.cacheWrite;
  return {
    input_tokens: input,
    input_tokens_details: inputDetails,
    output_tokens: usage.output,
    output_tokens_details: { reasoning_tokens: usage.reasoning },
    total_tokens: input + usage.output,
  };
}

/** The usage of a whole Response JSON body (`POST /v1/responses` without streaming). */
export function responsesUsageFromResponse(body: unknown): Usage | undefined {
  return isObject(body) ? responsesUsageToNeutral(body.usage) : undefined;
}

/** Follows a Responses event stream; the usage is in the terminal event's `response.usage`. */
export interface ResponsesUsageReader {
  push(event: StreamEvent): void;
  readonly usage: Usage | undefined;
}

const TERMINAL = new Set(["response.completed", "response.incomplete", "response.failed"]);

export function responsesUsageReader(): ResponsesUsageReader {
  let usage: Usage | undefined;
  return {
    push(event) {
      const data = event.data;
      if (!isObject(data)) return;
      const type = typeof data.type === "string" ? data.type : event.event;
      if (!TERMINAL.has(type)) return;
      usage = responsesUsageFromResponse(data.response) ?? usage;
    },
    get usage() {
      return usage;
    },
  };
}
