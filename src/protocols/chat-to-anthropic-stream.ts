/**
 * An OpenAI Chat Completions stream → an Anthropic Messages stream.
 * https://platform.openai.com/docs/api-reference/chat-streaming/streaming
 * https://docs.anthropic.com/en/api/messages-streaming
 *
 * One `message_start` (at the first chunk, never twice: LiteLLM #33224), the
 * content blocks (see anthropic-blocks.ts), then `message_delta` with the stop
 * reason and usage, and `message_stop`. The finish_reason chunk closes the blocks,
 * but the message waits for `[DONE]`: the include_usage chunk comes after the
 * finish_reason chunk, and its counts belong in `message_delta`.
 *
 * - Complete on `[DONE]` only. `end()` without it still closes the message when a
 *   finish_reason came (some providers never send `[DONE]`); with neither, the
 *   client gets an `error` event: a completion is never faked.
 * - A chunk carrying `error` (OpenRouter and others report failures mid-stream
 *   that way) ends the stream with an Anthropic `error` event.
 * - Only choice 0 is read. Data that is not an object, and deltas of unknown
 *   shape, are skipped; nothing here throws.
 * - A signature for thinking is sent only when the provider gave one
 *   (OpenRouter's `reasoning_details[].signature`).
 */

import { AnthropicBlocks } from "./anthropic-blocks.ts";
import { anthropicMessageId, reasoningText } from "./chat-to-anthropic-answer.ts";
import { anthropicStreamError, anthropicTypeOfChatError } from "./errors.ts";
import { isObject, num, str, obj, objects } from "./json.ts";
import { stopReasonFromFinish } from "./stop-reason.ts";
import { anthropicToolId, madeUpToolId } from "./tool-ids.ts";
import type { AnswerContext, JsonObject, StreamEvent, StreamTranslator } from "./types.ts";
import { anthropicUsage, followChatUsage, ZERO_USAGE } from "./usage.ts";

function event(type: string, payload: JsonObject = {}): StreamEvent {
  return { event: type, data: { type, ...payload } };
}

function signatures(delta: JsonObject): string[] {
  return objects(delta, "reasoning_details").flatMap((d) => {
    const signature = str(d, "signature");
    return signature ? [signature] : [];
  });
}

export function chatStreamToAnthropic(ctx: AnswerContext): StreamTranslator {
  const blocks = new AnthropicBlocks((n) => madeUpToolId(ctx.id, n));
  let started = false;
  let finished = false;
  let complete = false;
  let finishReason: string | undefined;
  let refused = false;
  const usage = followChatUsage();

  const start = (out: StreamEvent[]): void => {
    if (started) return;
    started = true;
    out.push(
      event("message_start", {
        message: { id: anthropicMessageId(ctx), type: "message", role: "assistant", model: ctx.alias, content: [], stop_reason: null, stop_sequence: null, usage: anthropicUsage(usage.usage ?? ZERO_USAGE) },
      }),
    );
  };

  const closing = (): StreamEvent[] => {
    const out: StreamEvent[] = [];
    start(out);
    blocks.finish(out);
    finished = true;
    const reason = stopReasonFromFinish(refused ? "content_filter" : finishReason, blocks.toolCalls > 0);
    out.push(event("message_delta", { delta: { stop_reason: reason, stop_sequence: null }, usage: anthropicUsage(usage.usage ?? ZERO_USAGE) }), event("message_stop"));
    return out;
  };

  const fail = (message: string, type?: string): StreamEvent[] => {
    if (finished) return [];
    finished = true;
    return [anthropicStreamError(message, type)];
  };

  const delta = (d: JsonObject, out: StreamEvent[]): void => {
    blocks.thinking(reasoningText(d), out);
    for (const signature of signatures(d)) blocks.signature(signature, out);
    blocks.text(str(d, "content") ?? "", out);
    const refusal = str(d, "refusal") ?? "";
    if (refusal !== "") {
      refused = true;
      blocks.text(refusal, out);
    }
    for (const [position, call] of objects(d, "tool_calls").entries()) {
      const fn = obj(call, "function") ?? {};
      const id = str(call, "id");
      // Without an index (some servers omit it) the position in this delta is the best key there is.
      const key = num(call, "index") ?? position;
      blocks.tool(key, id ? anthropicToolId(id) : undefined, str(fn, "name"), str(fn, "arguments") ?? "", out);
    }
  };

  const chunk = (e: StreamEvent, data: JsonObject): StreamEvent[] => {
    if (data.error !== undefined && data.error !== null) {
      const error = data.error;
      const message = isObject(error) ? (str(error, "message") ?? JSON.stringify(error)) : String(error);
      return fail(message, anthropicTypeOfChatError(error));
    }
    usage.push(e);
    const out: StreamEvent[] = [];
    start(out);
    const choice = objects(data, "choices").find((c) => (num(c, "index") ?? 0) === 0);
    if (!choice) return out;
    const d = obj(choice, "delta");
    if (d) delta(d, out);
    const reason = str(choice, "finish_reason");
    if (reason) {
      finishReason = reason;
      blocks.finish(out);
    }
    return out;
  };

  return {
    push(e) {
      if (finished) return [];
      if (typeof e.data === "string" && e.data.trim() === "[DONE]") {
        complete = true;
        return closing();
      }
      return isObject(e.data) ? chunk(e, e.data) : [];
    },
    get complete() {
      return complete;
    },
    end() {
      if (finished) return [];
      if (finishReason !== undefined) return closing();
      return fail("the upstream stream ended before the answer was complete");
    },
    fail(message) {
      return fail(message);
    },
  };
}
