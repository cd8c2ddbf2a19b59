/**
 * An Anthropic Messages stream → an OpenAI Chat Completions stream.
 * https://docs.anthropic.com/en/api/messages-streaming
 * https://platform.openai.com/docs/api-reference/chat-streaming/streaming
 *
 * The client gets a first chunk with `role: "assistant"`, then one chunk per
 * text, thinking (`reasoning_content`) or tool-argument delta, tool calls numbered
 * 0, 1, … in the order their blocks start, a finish chunk, the usage chunk when
 * the client asked for `stream_options.include_usage`, and `[DONE]`.
 *
 * - Complete on `message_stop` only. `end()` without it still closes the answer
 *   when a `message_delta` gave the stop reason (the message was whole); with
 *   neither, the client gets the cut-stream error: a completion is never faked.
 * - An `error` event ends the client stream with an error chunk and no `[DONE]`.
 * - Events whose data is not an object, unknown event types, `ping`, signature
 *   and citation deltas, redacted thinking and server tool blocks have no Chat
 *   chunk and are skipped; nothing here throws.
 * - A tool_use block whose input came whole in `content_block_start` (some
 *   compatible servers) is sent as one argument fragment at its stop.
 */

import { chatCompletionId } from "./anthropic-to-chat-answer.ts";
import { chatStreamError, openaiTypeOfAnthropic } from "./errors.ts";
import { isObject, num, str, obj } from "./json.ts";
import { finishReasonFromStop } from "./stop-reason.ts";
import type { AnswerContext, JsonObject, StreamEvent, StreamTranslator } from "./types.ts";
import { chatUsage, followAnthropicUsage, ZERO_USAGE } from "./usage.ts";

export const DONE: StreamEvent = { event: "", data: "[DONE]" };

type Block =
  | { readonly kind: "text" | "thinking" | "other" }
  | { readonly kind: "tool"; readonly toolIndex: number; readonly startInput: JsonObject; sentArguments: boolean };

/** Whether the client asked for the usage chunk. */
export function wantsUsage(request: JsonObject): boolean {
  const options = obj(request, "stream_options");
  return options?.include_usage === true;
}

export function anthropicStreamToChat(ctx: AnswerContext): StreamTranslator {
  const blocks = new Map<number, Block>();
  let started = false;
  let finished = false;
  let complete = false;
  let toolCount = 0;
  let stopReason: string | undefined;
  const usage = followAnthropicUsage();

  const chunk = (delta: JsonObject, finishReason: string | null = null): StreamEvent => ({
    event: "",
    data: {
      id: chatCompletionId(ctx),
      object: "chat.completion.chunk",
      created: ctx.now,
      model: ctx.alias,
      choices: [{ index: 0, delta, logprobs: null, finish_reason: finishReason }],
    },
  });

  /** The role chunk, once, before anything else the client sees. */
  const open = (out: StreamEvent[]): StreamEvent[] => {
    if (!started) {
      started = true;
      out.unshift(chunk({ role: "assistant", content: "" }));
    }
    return out;
  };

  const toolDelta = (toolIndex: number, fn: JsonObject, head?: JsonObject): StreamEvent =>
    chunk({ tool_calls: [{ index: toolIndex, ...head, function: fn }] });

  const closing = (): StreamEvent[] => {
    finished = true;
    const out = [chunk({}, finishReasonFromStop(stopReason, toolCount > 0))];
    if (wantsUsage(ctx.request)) out.push({ event: "", data: { id: chatCompletionId(ctx), object: "chat.completion.chunk", created: ctx.now, model: ctx.alias, choices: [], usage: chatUsage(usage.usage ?? ZERO_USAGE) } });
    out.push(DONE);
    return open(out);
  };

  const blockStart = (index: number, block: JsonObject): StreamEvent[] => {
    const type = block.type;
    if (type === "text" || type === "thinking") {
      blocks.set(index, { kind: type });
      // Some servers put the first token in the start event (LiteLLM PR #25212 lost it).
      const first = str(block, type) ?? "";
      return first === "" ? [] : [chunk(type === "text" ? { content: first } : { reasoning_content: first })];
    }
    if (type === "tool_use") {
      const toolIndex = toolCount++;
      blocks.set(index, { kind: "tool", toolIndex, startInput: obj(block, "input") ?? {}, sentArguments: false });
      return [toolDelta(toolIndex, { name: str(block, "name") ?? "", arguments: "" }, { id: str(block, "id") ?? "", type: "function" })];
    }
    blocks.set(index, { kind: "other" });
    return [];
  };

  const blockDelta = (index: number, delta: JsonObject): StreamEvent[] => {
    const block = blocks.get(index);
    if (delta.type === "text_delta") {
      const text = str(delta, "text") ?? "";
      return text === "" ? [] : [chunk({ content: text })];
    }
    if (delta.type === "thinking_delta") {
      const text = str(delta, "thinking") ?? "";
      return text === "" ? [] : [chunk({ reasoning_content: text })];
    }
    if (delta.type === "input_json_delta" && block?.kind === "tool") {
      const part = str(delta, "partial_json") ?? "";
      if (part === "") return [];
      block.sentArguments = true;
      return [toolDelta(block.toolIndex, { arguments: part })];
    }
    return [];
  };

  const blockStop = (index: number): StreamEvent[] => {
    const block = blocks.get(index);
    if (block?.kind !== "tool" || block.sentArguments || Object.keys(block.startInput).length === 0) return [];
    block.sentArguments = true;
    return [toolDelta(block.toolIndex, { arguments: JSON.stringify(block.startInput) })];
  };

  const fail = (message: string, type = "upstream_error", code = "stream_cut"): StreamEvent[] => {
    if (finished) return [];
    finished = true;
    return [chatStreamError(message, type, code)];
  };

  const handle = (data: JsonObject): StreamEvent[] => {
    usage.push({ event: "", data });
    const index = num(data, "index") ?? 0;
    switch (data.type) {
      case "message_start":
        return open([]);
      case "content_block_start":
        return blockStart(index, obj(data, "content_block") ?? {});
      case "content_block_delta":
        return blockDelta(index, obj(data, "delta") ?? {});
      case "content_block_stop":
        return blockStop(index);
      case "message_delta": {
        const reason = str(obj(data, "delta") ?? {}, "stop_reason");
        if (reason) stopReason = reason;
        return [];
      }
      case "message_stop":
        complete = true;
        return closing();
      case "error": {
        const error = obj(data, "error") ?? {};
        const type = str(error, "type") ?? "api_error";
        return fail(str(error, "message") ?? "the provider reported an error mid-stream", openaiTypeOfAnthropic(type), type);
      }
      default:
        return [];
    }
  };

  return {
    push(event) {
      if (finished || !isObject(event.data)) return [];
      const data = event.data.type === undefined && event.event !== "" ? { ...event.data, type: event.event } : event.data;
      const out = handle(data);
      // The role chunk goes before the first thing the client sees; an error ending needs none.
      return finished || out.length === 0 ? out : open(out);
    },
    get complete() {
      return complete;
    },
    end() {
      if (finished) return [];
      if (stopReason !== undefined) return closing();
      return fail("the upstream stream ended before the message was complete");
    },
    fail(message) {
      return fail(message);
    },
  };
}
