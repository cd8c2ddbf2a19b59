/**
 * A Chat Completions chunk stream → the Responses event stream a Responses client
 * (the openai SDK's `responses.stream()`, Codex) expects:
 * `response.created`, `response.in_progress`, then per output item
 * `output_item.added` … deltas … `output_item.done`, then exactly one of
 * `response.completed`, `response.incomplete` or `response.failed`.
 * `sequence_number` counts every event from 0; item ids derive from the request id.
 * https://platform.openai.com/docs/api-reference/responses-streaming
 * https://platform.openai.com/docs/api-reference/chat-streaming
 *
 * One output item is open at a time, which is what the Responses API itself does
 * and what clients rely on. Reasoning and text stream live, each new kind closing
 * the item before it. Tool calls: the first one streams live; Chat may interleave
 * the deltas of parallel calls by `index`, so any other call — and any text after
 * the calls began — is gathered whole and sent, in order of first appearance,
 * when the choice finishes. Deltas after `finish_reason` are ignored.
 *
 * The stream is `complete` once the provider's `data: [DONE]` arrives: the usage
 * chunk (`choices: []`) follows the finish chunk, so `response.completed` waits for
 * `[DONE]` to carry the usage. A `finish_reason` without `[DONE]` is not complete.
 * An `error` object in the Chat stream ends it with `response.failed` (honest, not
 * complete); `fail()` after the first event does the same.
 */
import { isObject, num, obj, objects, str } from "./responses-guards.ts";
import { incompleteReason } from "./responses-items.ts";
import { itemId, responseEnvelope } from "./responses-object.ts";
import { type CallBuilder, callBuilder, type Emit, type ItemBuilder, messageBuilder, reasoningBuilder, type TextBuilder } from "./responses-stream-items.ts";
import { responsesToolsToChat } from "./responses-tools.ts";
import { chatUsageToResponses } from "./responses-usage.ts";
import type { AnswerContext, JsonObject, StreamEvent, StreamTranslator } from "./types.ts";

export function chatStreamToResponses(ctx: AnswerContext): StreamTranslator {
  const tools = responsesToolsToChat(ctx.request);
  let out: StreamEvent[] = [];
  let sequence = 0;
  const emit: Emit = (type, fields) => {
    out.push({ event: type, data: { type, sequence_number: sequence++, ...fields } });
  };

  let started = false;
  let ended = false;
  let complete = false;
  let finished = false;
  let finishReason: unknown;
  let usage: JsonObject | undefined;
  let created = ctx.now;
  let made = 0; // builders made: the suffix of their ids
  const done: JsonObject[] = [];
  let live: ItemBuilder | undefined;
  let callsBegan = false;
  const waiting: ItemBuilder[] = [];
  const calls = new Map<string, CallBuilder>();
  const keyOfIndex = new Map<number, string>();
  let lastCallKey: string | undefined;

  const envelope = (status: "in_progress" | "completed" | "incomplete" | "failed", output: readonly JsonObject[], extra: { error?: JsonObject; reason?: string } = {}): JsonObject =>
    responseEnvelope(ctx, { status, output, usage: status === "in_progress" ? undefined : usage, error: extra.error, incompleteReason: extra.reason, createdAt: created });

  const start = (): void => {
    if (started) return;
    started = true;
    emit("response.created", { response: envelope("in_progress", []) });
    emit("response.in_progress", { response: envelope("in_progress", []) });
  };

  const openItem = (builder: ItemBuilder): void => {
    if (builder.kind === "call") {
      const call = builder as CallBuilder;
      if (call.name === "") return; // announced once its name is known
      if (call.callId === "") call.merge(`call_${ctx.id}_${done.length}`, undefined, "");
    }
    builder.open(done.length);
  };
  const closeLive = (status: "completed" | "incomplete" = "completed"): void => {
    if (live === undefined) return;
    if (!live.opened) openItem(live);
    if (live.opened) done.push(live.close(status));
    live = undefined;
  };

  const text = (kind: "reasoning" | "message", delta: string, part: "text" | "refusal"): void => {
    if (delta === "") return;
    const make = (): TextBuilder => {
      const n = made++;
      return kind === "reasoning" ? reasoningBuilder(emit, itemId("rs", ctx, n)) : messageBuilder(emit, itemId("msg", ctx, n));
    };
    if (callsBegan) {
      const last = waiting[waiting.length - 1];
      const builder = last !== undefined && last.kind === kind ? (last as TextBuilder) : make();
      if (builder !== last) waiting.push(builder);
      builder.add(delta, part);
      return;
    }
    if (live === undefined || live.kind !== kind) {
      closeLive();
      const builder = make();
      live = builder;
      openItem(builder);
    }
    (live as TextBuilder).add(delta, part);
  };

  /** The key of a Chat tool-call delta; a repeated index with a new id is a new call (some servers reuse index 0). */
  const callKey = (call: JsonObject): string => {
    const index = num(call.index);
    const id = str(call.id) || undefined;
    if (index === undefined) {
      const byId = id === undefined ? undefined : [...calls.entries()].find(([, c]) => c.callId === id)?.[0];
      if (byId !== undefined) return byId;
      if (id === undefined && lastCallKey !== undefined) return lastCallKey;
      return `n${calls.size}`;
    }
    const key = keyOfIndex.get(index);
    const existing = key === undefined ? undefined : calls.get(key);
    if (key !== undefined && existing !== undefined && !(id !== undefined && existing.callId !== "" && existing.callId !== id)) return key;
    const fresh = `i${index}.${calls.size}`;
    keyOfIndex.set(index, fresh);
    return fresh;
  };

  const toolCall = (delta: JsonObject): void => {
    const key = callKey(delta);
    lastCallKey = key;
    const fn = obj(delta.function);
    let call = calls.get(key);
    if (call === undefined) {
      const n = made++;
      call = callBuilder(emit, tools, { fc: itemId("fc", ctx, n), ctc: itemId("ctc", ctx, n) });
      calls.set(key, call);
      if (!callsBegan) {
        callsBegan = true;
        closeLive();
        live = call;
      } else {
        waiting.push(call);
      }
    }
    call.merge(str(delta.id) || undefined, str(fn.name) || undefined, str(fn.arguments) ?? "");
    if (call === live && !call.opened) openItem(call);
  };

  /** Closes the open item and sends the waiting ones; the last item is incomplete when the answer was cut. */
  const finish = (): void => {
    if (finished) return;
    finished = true;
    const rest = [...(live === undefined ? [] : [live]), ...waiting];
    waiting.length = 0;
    const cut = incompleteReason(finishReason) !== undefined;
    rest.forEach((builder, i) => {
      live = builder;
      closeLive(cut && i === rest.length - 1 ? "incomplete" : "completed");
    });
  };

  const terminal = (): void => {
    finish();
    ended = true;
    const reason = incompleteReason(finishReason);
    if (reason === undefined) emit("response.completed", { response: envelope("completed", done) });
    else emit("response.incomplete", { response: envelope("incomplete", done, { reason }) });
  };

  const failed = (message: string, code = "server_error"): void => {
    start();
    ended = true;
    const output = [...done, ...(live?.opened === true ? [live.snapshot("incomplete")] : [])];
    emit("response.failed", { response: envelope("failed", output, { error: { code, message } }) });
  };

  const chunk = (data: JsonObject): void => {
    if (isObject(data.error)) {
      failed(str(data.error.message) ?? "the provider reported an error in the stream", str(data.error.code) ?? "server_error");
      return;
    }
    if (num(data.created) !== undefined && !started) created = num(data.created) ?? created;
    start();
    const u = chatUsageToResponses(data.usage);
    if (u !== undefined) usage = u;
    for (const choice of objects(data.choices)) {
      if ((num(choice.index) ?? 0) !== 0 || finished) continue; // Responses has one answer: choice 0
      const delta = obj(choice.delta);
      text("reasoning", str(delta.reasoning_content) ?? str(delta.reasoning) ?? "", "text");
      text("message", str(delta.content) ?? "", "text");
      text("message", str(delta.refusal) ?? "", "refusal");
      for (const call of objects(delta.tool_calls)) toolCall(call);
      if (choice.finish_reason !== null && choice.finish_reason !== undefined) {
        finishReason = choice.finish_reason;
        finish();
      }
    }
  };

  const take = (): StreamEvent[] => {
    const events = out;
    out = [];
    return events;
  };

  return {
    push(event) {
      if (ended) return [];
      const data = event.data;
      if (data === "[DONE]") {
        start();
        complete = true;
        terminal();
      } else if (isObject(data)) {
        chunk(data);
      }
      return take();
    },
    get complete() {
      return complete;
    },
    end() {
      if (!ended) {
        if (finishReason !== undefined) terminal();
        else failed("the provider's stream ended before the answer finished");
      }
      return take();
    },
    fail(message) {
      if (!ended) failed(message);
      return take();
    },
  };
}
