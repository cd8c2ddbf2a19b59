/**
 * Helpers for stream tests: provider events to replay, and checkers that assert a
 * client stream's invariants while folding it into the message a client sees.
 */

import type { AnswerContext, JsonObject, StreamEvent, StreamTranslator } from "../../src/protocols/types.ts";

export function context(request: JsonObject = {}): AnswerContext {
  return { alias: "my-alias", id: "req1", request, now: 1_700_000_000 };
}

/** An Anthropic event as a provider sends it: `event:` name and the same `type` in data. */
export function aev(type: string, payload: JsonObject = {}): StreamEvent {
  return { event: type, data: { type, ...payload } };
}

/** A Chat chunk from a provider, choice 0 with this delta. */
export function chunk(delta: JsonObject, finish: string | null = null, extra: JsonObject = {}): StreamEvent {
  return { event: "", data: { id: "chatcmpl-up", object: "chat.completion.chunk", created: 1, model: "up-model", choices: [{ index: 0, delta, finish_reason: finish }], ...extra } };
}

export function usageChunk(usage: JsonObject): StreamEvent {
  return { event: "", data: { id: "chatcmpl-up", object: "chat.completion.chunk", created: 1, model: "up-model", choices: [], usage } };
}

export const DONE: StreamEvent = { event: "", data: "[DONE]" };

/** Pushes every event, then ends the stream the given way; all client events in order. */
export function replay(t: StreamTranslator, events: readonly StreamEvent[], ending: "end" | "none" | { fail: string } = "end"): StreamEvent[] {
  const out = events.flatMap((e) => t.push(e));
  if (ending === "end") out.push(...t.end());
  else if (ending !== "none") out.push(...t.fail(ending.fail));
  return out;
}

function fail(message: string, events: readonly StreamEvent[]): never {
  throw new Error(`${message}\n${events.map((e) => `${e.event} ${JSON.stringify(e.data)}`).join("\n")}`);
}

function isObj(v: unknown): v is JsonObject {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

export interface AnthropicFolded {
  readonly id: string;
  readonly model: string;
  readonly content: JsonObject[];
  readonly stopReason: unknown;
  readonly usage: JsonObject;
  readonly ended: "message_stop" | "error" | "open";
  readonly error?: JsonObject;
}

/**
 * Asserts an Anthropic client stream is well formed (one message_start first;
 * block indexes 0, 1, …; one block open at a time; deltas of the open block's
 * kind; no empty text blocks; message_delta then message_stop last, or one error
 * event and nothing after) and folds it into the message.
 */
export function foldAnthropic(events: readonly StreamEvent[]): AnthropicFolded {
  const content: JsonObject[] = [];
  const json: string[] = [];
  let open: number | undefined;
  let started: JsonObject | undefined;
  let stopReason: unknown;
  let usage: JsonObject = {};
  let ended: AnthropicFolded["ended"] = "open";
  let error: JsonObject | undefined;
  let sawDelta = false;
  for (const [i, e] of events.entries()) {
    if (!isObj(e.data)) fail(`event ${i} has data that is not an object`, events);
    const d = e.data;
    if (e.event !== d.type) fail(`event ${i}: event name ${e.event} differs from data.type ${String(d.type)}`, events);
    if (ended !== "open") fail(`event ${i} after the stream ended`, events);
    if (d.type === "error") {
      ended = "error";
      error = d;
      continue;
    }
    if (d.type === "ping") continue;
    if (d.type === "message_start") {
      if (started) fail(`a second message_start at ${i}`, events);
      started = d.message as JsonObject;
      usage = { ...(started.usage as JsonObject) };
      continue;
    }
    if (!started) fail(`event ${i} (${String(d.type)}) before message_start`, events);
    switch (d.type) {
      case "content_block_start": {
        if (sawDelta) fail(`block start after message_delta at ${i}`, events);
        if (open !== undefined) fail(`block ${String(d.index)} starts while ${open} is open`, events);
        if (d.index !== content.length) fail(`block index ${String(d.index)} where ${content.length} was next`, events);
        open = content.length;
        content.push({ ...(d.content_block as JsonObject) });
        json.push("");
        break;
      }
      case "content_block_delta": {
        if (d.index !== open || open === undefined) fail(`delta for block ${String(d.index)} while ${String(open)} is open`, events);
        const block = content[open] as JsonObject;
        const delta = d.delta as JsonObject;
        const want: Record<string, string> = { text_delta: "text", thinking_delta: "thinking", signature_delta: "thinking", input_json_delta: "tool_use" };
        if (want[String(delta.type)] !== block.type) fail(`a ${String(delta.type)} inside a ${String(block.type)} block at ${i}`, events);
        if (delta.type === "text_delta") block.text = String(block.text) + String(delta.text);
        if (delta.type === "thinking_delta") block.thinking = String(block.thinking) + String(delta.thinking);
        if (delta.type === "signature_delta") block.signature = String(block.signature ?? "") + String(delta.signature);
        if (delta.type === "input_json_delta") json[open] += String(delta.partial_json);
        break;
      }
      case "content_block_stop": {
        if (d.index !== open || open === undefined) fail(`stop for block ${String(d.index)} while ${String(open)} is open`, events);
        const block = content[open] as JsonObject;
        if (block.type === "text" && String(block.text).trim() === "") fail(`empty text block ${open}`, events);
        if (block.type === "tool_use") {
          const text = json[open] ?? "";
          try {
            block.input = text === "" ? block.input : JSON.parse(text);
          } catch {
            fail(`tool_use block ${open}: partial_json fragments are not valid JSON: ${text}`, events);
          }
        }
        open = undefined;
        break;
      }
      case "message_delta": {
        if (open !== undefined) fail(`message_delta while block ${open} is open`, events);
        sawDelta = true;
        stopReason = (d.delta as JsonObject).stop_reason;
        usage = { ...usage, ...(d.usage as JsonObject) };
        break;
      }
      case "message_stop":
        if (!sawDelta) fail("message_stop without message_delta", events);
        ended = "message_stop";
        break;
      default:
        fail(`unknown event ${String(d.type)}`, events);
    }
  }
  return { id: String(started?.id), model: String(started?.model), content, stopReason, usage, ended, ...(error ? { error } : {}) };
}

export interface ChatFolded {
  readonly id: string;
  readonly model: string;
  readonly content: string;
  readonly reasoning: string;
  readonly toolCalls: { id: string; name: string; arguments: string }[];
  readonly finishReason: unknown;
  readonly usage: JsonObject | undefined;
  readonly done: boolean;
  readonly error?: JsonObject;
}

/**
 * Asserts an OpenAI Chat client stream is well formed (first chunk role
 * assistant; no event names; tool call indexes from 0 with id, type and name in
 * their first delta; one finish chunk; usage chunk after it with no choices;
 * [DONE] last, or an error chunk and no [DONE]) and folds it.
 */
export function foldChat(events: readonly StreamEvent[]): ChatFolded {
  let content = "";
  let reasoning = "";
  const calls: { id: string; name: string; arguments: string }[] = [];
  let finishReason: unknown = null;
  let usage: JsonObject | undefined;
  let done = false;
  let error: JsonObject | undefined;
  let id = "";
  let model = "";
  for (const [i, e] of events.entries()) {
    if (e.event !== "") fail(`event ${i} has an event name`, events);
    if (done || error) fail(`event ${i} after the end`, events);
    if (e.data === "[DONE]") {
      done = true;
      continue;
    }
    if (!isObj(e.data)) fail(`event ${i} is not an object`, events);
    if (isObj(e.data.error)) {
      error = e.data.error;
      continue;
    }
    const c = e.data;
    if (c.object !== "chat.completion.chunk") fail(`event ${i} is not a chunk`, events);
    id ||= String(c.id);
    model ||= String(c.model);
    if (c.id !== id) fail(`chunk ${i} has another id`, events);
    const choices = c.choices as JsonObject[];
    if (c.usage !== undefined) {
      if (choices.length !== 0) fail("usage on a chunk with choices", events);
      if (finishReason === null) fail("usage chunk before the finish chunk", events);
      usage = c.usage as JsonObject;
      continue;
    }
    const choice = choices[0] as JsonObject;
    const delta = choice.delta as JsonObject;
    if (i === 0 && (delta.role !== "assistant" || delta.content !== "")) fail("first chunk is not the role chunk", events);
    if (i > 0 && delta.role !== undefined) fail(`role again in chunk ${i}`, events);
    if (finishReason !== null) fail(`chunk ${i} after the finish chunk`, events);
    if (typeof delta.content === "string") content += delta.content;
    if (typeof delta.reasoning_content === "string") reasoning += delta.reasoning_content;
    for (const call of (delta.tool_calls as JsonObject[] | undefined) ?? []) {
      const index = call.index as number;
      const fn = call.function as JsonObject;
      if (index === calls.length) {
        if (typeof call.id !== "string" || call.type !== "function" || typeof fn.name !== "string" || fn.arguments !== "") fail(`tool call ${index} does not open with id, type, name and arguments ""`, events);
        calls.push({ id: call.id, name: fn.name, arguments: "" });
      } else if (index > calls.length || index < 0) fail(`tool call index ${index} out of order`, events);
      else (calls[index] as { arguments: string }).arguments += String(fn.arguments ?? "");
    }
    if (choice.finish_reason !== null) finishReason = choice.finish_reason;
  }
  return { id, model, content, reasoning, toolCalls: calls, finishReason, usage, done, ...(error ? { error } : {}) };
}
