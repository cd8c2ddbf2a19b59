/**
 * Usage objects of each protocol ⇄ the neutral `Usage` (counted the Anthropic way).
 *
 * OpenAI Chat's `prompt_tokens` includes cached tokens; Anthropic's `input_tokens`
 * does not, it counts cache reads and writes apart:
 *   prompt_tokens = input_tokens + cache_read_input_tokens + cache_creation_input_tokens
 *
 * Chat usage: https://platform.openai.com/docs/api-reference/chat/object#chat/object-usage
 * Messages usage: https://docs.anthropic.com/en/api/messages#response-usage
 */

import { isObject, num, obj, count } from "./json.ts";
import type { JsonObject, StreamEvent, Usage } from "./types.ts";

export const ZERO_USAGE: Usage = { input: 0, output: 0, cacheRead: 0, cacheWrite: 0, reasoning: 0 };

/** Field by field the larger of two: usage reported in pieces or cumulatively, by well-behaved and sloppy servers alike. */
export function maxUsage(a: Usage, b: Usage): Usage {
  return {
    input: Math.max(a.input, b.input),
    output: Math.max(a.output, b.output),
    cacheRead: Math.max(a.cacheRead, b.cacheRead),
    cacheWrite: Math.max(a.cacheWrite, b.cacheWrite),
    reasoning: Math.max(a.reasoning, b.reasoning),
  };
}

/**
 * The raw counts of a Chat usage object. Besides OpenAI's own fields this reads
 * DeepSeek's `prompt_cache_hit_tokens`, OpenRouter's `prompt_tokens_details.cache_write_tokens`
 * and the Anthropic-style cache fields some gateways (LiteLLM) add, so cache
 * tokens are not reported as 0 when a provider names them its own way.
 */
interface ChatCounts {
  readonly prompt: number;
  readonly completion: number;
  readonly cached: number;
  readonly cacheWrite: number;
  readonly reasoning: number;
}

function chatCounts(usage: JsonObject): ChatCounts {
  const prompt = obj(usage, "prompt_tokens_details");
  const completion = obj(usage, "completion_tokens_details");
  return {
    prompt: count(usage, "prompt_tokens"),
    completion: count(usage, "completion_tokens"),
    cached: count(prompt, "cached_tokens") || count(usage, "prompt_cache_hit_tokens") || count(usage, "cache_read_input_tokens"),
    cacheWrite: count(prompt, "cache_write_tokens") || count(prompt, "cache_creation_tokens") || count(usage, "cache_creation_input_tokens"),
    reasoning: count(completion, "reasoning_tokens"),
  };
}

function countsToUsage(c: ChatCounts): Usage {
  return {
    input: Math.max(0, c.prompt - c.cached - c.cacheWrite),
    output: c.completion,
    cacheRead: c.cached,
    cacheWrite: c.cacheWrite,
    reasoning: c.reasoning,
  };
}

/** A Chat usage object (`usage` of a completion or a chunk) as `Usage`; zeros for what is missing. */
export function usageFromChat(usage: unknown): Usage {
  return isObject(usage) ? countsToUsage(chatCounts(usage)) : ZERO_USAGE;
}

/** Every input token, cached ones included: what Chat calls `prompt_tokens` and Responses `input_tokens`. */
export const promptTokens = (u: Usage) => u.input + u.cacheRead + u.cacheWrite;

/**
 * `Usage` as a Chat usage object. Chat has no field for cache writes: they are
 * counted in `prompt_tokens` (as OpenAI counts them) and not named apart.
 */
export function chatUsage(u: Usage): JsonObject {
  const prompt = promptTokens(u);
  return {
    prompt_tokens: prompt,
    completion_tokens: u.output,
    total_tokens: prompt + u.output,
    prompt_tokens_details: { cached_tokens: u.cacheRead },
    completion_tokens_details: { reasoning_tokens: u.reasoning },
  };
}

/** An Anthropic usage object (answer, `message_start.message.usage` or `message_delta.usage`) as `Usage`. */
export function usageFromAnthropic(usage: unknown): Usage {
  if (!isObject(usage)) return ZERO_USAGE;
  // Older answers carry only the breakdown by cache lifetime.
  const breakdown = obj(usage, "cache_creation");
  const cacheWrite =
    num(usage, "cache_creation_input_tokens") !== undefined
      ? count(usage, "cache_creation_input_tokens")
      : count(breakdown, "ephemeral_5m_input_tokens") + count(breakdown, "ephemeral_1h_input_tokens");
  return {
    input: count(usage, "input_tokens"),
    output: count(usage, "output_tokens"),
    cacheRead: count(usage, "cache_read_input_tokens"),
    cacheWrite,
    reasoning: count(obj(usage, "output_tokens_details"), "thinking_tokens"),
  };
}

/** `Usage` as an Anthropic usage object; `output_tokens_details` only when reasoning was counted. */
export function anthropicUsage(u: Usage): JsonObject {
  const out: JsonObject = {
    input_tokens: u.input,
    output_tokens: u.output,
    cache_creation_input_tokens: u.cacheWrite,
    cache_read_input_tokens: u.cacheRead,
  };
  if (u.reasoning > 0) out.output_tokens_details = { thinking_tokens: u.reasoning };
  return out;
}

/** Usage of a whole Chat completion (JSON answer), or undefined when it has none. */
export function readChatUsage(answer: unknown): Usage | undefined {
  return isObject(answer) && isObject(answer.usage) ? usageFromChat(answer.usage) : undefined;
}

/** Usage of a whole Messages answer (JSON), or undefined when it has none. */
export function readAnthropicUsage(answer: unknown): Usage | undefined {
  return isObject(answer) && isObject(answer.usage) ? usageFromAnthropic(answer.usage) : undefined;
}

/** Follows a stream's events and keeps its usage. */
export interface UsageFollower {
  push(event: StreamEvent): void;
  /** Undefined until an event carried usage. */
  readonly usage: Usage | undefined;
}

/**
 * Usage of a Chat stream: the `usage` of any chunk (the include_usage chunk, or
 * servers that send it on every chunk). Raw counts are kept field by field at
 * their largest, then converted, so a chunk without details cannot undo the
 * cached-token split of another.
 */
export function followChatUsage(): UsageFollower {
  let best: ChatCounts | undefined;
  return {
    push(event) {
      if (!isObject(event.data) || !isObject(event.data.usage)) return;
      const c = chatCounts(event.data.usage);
      best = best
        ? {
            prompt: Math.max(best.prompt, c.prompt),
            completion: Math.max(best.completion, c.completion),
            cached: Math.max(best.cached, c.cached),
            cacheWrite: Math.max(best.cacheWrite, c.cacheWrite),
            reasoning: Math.max(best.reasoning, c.reasoning),
          }
        : c;
    },
    get usage() {
      return best ? countsToUsage(best) : undefined;
    },
  };
}

/** The usage object an Anthropic stream event carries, if any. */
export function anthropicEventUsage(data: unknown): unknown {
  if (!isObject(data)) return undefined;
  if (data.type === "message_start") return isObject(data.message) ? data.message.usage : undefined;
  if (data.type === "message_delta") return data.usage;
  return undefined;
}

/**
 * Usage of an Anthropic stream: `message_start.message.usage`, then
 * `message_delta.usage`, which is cumulative (a later value replaces, it does not
 * add). Some compatible servers send input 0 at the start and the real count
 * later, so each field keeps the largest value seen.
 */
export function followAnthropicUsage(): UsageFollower {
  let best: Usage | undefined;
  return {
    push(event) {
      const raw = anthropicEventUsage(event.data);
      if (!isObject(raw)) return;
      const u = usageFromAnthropic(raw);
      best = best ? maxUsage(best, u) : u;
    },
    get usage() {
      return best;
    },
  };
}
