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
import { type ChatToolSet, responsesToolsToChat } from "./responses-tools.ts";
import { chatUsageToResponses } from "./responses-usage.ts";
import type { AnswerContext, JsonObject, StreamEvent, StreamTranslator } from "./types.ts";

type Status = "in_progress" | "completed" | "incomplete" | "failed";

class ChatToResponsesStream implements StreamTranslator {
  private readonly tools: ChatToolSet;
  private out: StreamEvent[] = [];
  private sequence = 0;
  private started = false;
  private ended = false;
  private sawDone = false;
  private finished = false;
  private finishReason: unknown;
  private usage: JsonObject | undefined;
  /** Builders made so far: the suffix of their item ids. */
  private made = 0;
  /** Items done, by output index. */
  private readonly done: JsonObject[] = [];
  private live: ItemBuilder | undefined;
  private callsBegan = false;
  private readonly waiting: ItemBuilder[] = [];
  private readonly calls = new Map<string, CallBuilder>();
  private readonly keyOfIndex = new Map<number, string>();
  private lastCallKey: string | undefined;
  private readonly emit: Emit = (type, fields) => {
    this.out.push({ event: type, data: { type, sequence_number: this.sequence++, ...fields } });
  };

  constructor(private readonly ctx: AnswerContext) {
    this.tools = responsesToolsToChat(ctx.request);
  }

  get complete(): boolean {
    return this.sawDone;
  }

  push(event: StreamEvent): StreamEvent[] {
    if (this.ended) return [];
    if (event.data === "[DONE]") {
      this.start();
      this.sawDone = true;
      this.terminal();
    } else if (isObject(event.data)) {
      this.chunk(event.data);
    }
    return this.take();
  }

  end(): StreamEvent[] {
    if (!this.ended) {
      if (this.finishReason !== undefined) this.terminal();
      else this.failed("the provider's stream ended before the answer finished");
    }
    return this.take();
  }

  fail(message: string): StreamEvent[] {
    if (!this.ended) this.failed(message);
    return this.take();
  }

  private take(): StreamEvent[] {
    const events = this.out;
    this.out = [];
    return events;
  }

  private envelope(status: Status, output: readonly JsonObject[], extra: { error?: JsonObject; reason?: string } = {}): JsonObject {
    const usage = status === "in_progress" ? undefined : this.usage;
    return responseEnvelope(this.ctx, { status, output, usage, error: extra.error, incompleteReason: extra.reason });
  }

  private start(): void {
    if (this.started) return;
    this.started = true;
    this.emit("response.created", { response: this.envelope("in_progress", []) });
    this.emit("response.in_progress", { response: this.envelope("in_progress", []) });
  }

  private chunk(data: JsonObject): void {
    if (isObject(data.error)) {
      this.failed(str(data.error.message) ?? "the provider reported an error in the stream", str(data.error.code) ?? "server_error");
      return;
    }
    this.start();
    this.usage = chatUsageToResponses(data.usage) ?? this.usage;
    for (const choice of objects(data.choices)) {
      if ((num(choice.index) ?? 0) !== 0 || this.finished) continue; // Responses has one answer: choice 0
      const delta = obj(choice.delta);
      this.text("reasoning", str(delta.reasoning_content) ?? str(delta.reasoning) ?? "", "text");
      this.text("message", str(delta.content) ?? "", "text");
      this.text("message", str(delta.refusal) ?? "", "refusal");
      for (const call of objects(delta.tool_calls)) this.toolCall(call);
      if (choice.finish_reason !== null && choice.finish_reason !== undefined) {
        this.finishReason = choice.finish_reason;
        this.finish();
      }
    }
  }

  private openItem(builder: ItemBuilder): void {
    if (builder.kind === "call") {
      const call = builder as CallBuilder;
      if (call.name === "") return; // announced once its name is known
      if (call.callId === "") call.merge(`call_${this.ctx.id}_${this.done.length}`, undefined, "");
    }
    builder.open(this.done.length);
  }

  private closeLive(status: "completed" | "incomplete" = "completed"): void {
    const live = this.live;
    this.live = undefined;
    if (live === undefined) return;
    if (!live.opened) this.openItem(live);
    if (live.opened) this.done.push(live.close(status));
  }

  private makeText(kind: "reasoning" | "message"): TextBuilder {
    const n = this.made++;
    return kind === "reasoning" ? reasoningBuilder(this.emit, itemId("rs", this.ctx, n)) : messageBuilder(this.emit, itemId("msg", this.ctx, n));
  }

  private text(kind: "reasoning" | "message", delta: string, part: "text" | "refusal"): void {
    if (delta === "") return;
    if (this.callsBegan) {
      const last = this.waiting[this.waiting.length - 1];
      const builder = last !== undefined && last.kind === kind ? (last as TextBuilder) : this.makeText(kind);
      if (builder !== last) this.waiting.push(builder);
      builder.add(delta, part);
      return;
    }
    if (this.live === undefined || this.live.kind !== kind) {
      this.closeLive();
      this.live = this.makeText(kind);
      this.openItem(this.live);
    }
    (this.live as TextBuilder).add(delta, part);
  }

  /** The key of a Chat tool-call delta; a repeated index with a new id is a new call (some servers reuse index 0). */
  private callKey(call: JsonObject): string {
    const index = num(call.index);
    const id = str(call.id) || undefined;
    if (index === undefined) {
      const byId = id === undefined ? undefined : [...this.calls.entries()].find(([, c]) => c.callId === id)?.[0];
      if (byId !== undefined) return byId;
      if (id === undefined && this.lastCallKey !== undefined) return this.lastCallKey;
      return `n${this.calls.size}`;
    }
    const key = this.keyOfIndex.get(index);
    const existing = key === undefined ? undefined : this.calls.get(key);
    if (key !== undefined && existing !== undefined && !(id !== undefined && existing.callId !== "" && existing.callId !== id)) return key;
    const fresh = `i${index}.${this.calls.size}`;
    this.keyOfIndex.set(index, fresh);
    return fresh;
  }

  private toolCall(delta: JsonObject): void {
    const key = this.callKey(delta);
    this.lastCallKey = key;
    let call = this.calls.get(key);
    if (call === undefined) {
      const n = this.made++;
      call = callBuilder(this.emit, this.tools, { fc: itemId("fc", this.ctx, n), ctc: itemId("ctc", this.ctx, n) });
      this.calls.set(key, call);
      if (this.callsBegan) this.waiting.push(call);
      else {
        this.callsBegan = true;
        this.closeLive();
        this.live = call;
      }
    }
    const fn = obj(delta.function);
    call.merge(str(delta.id) || undefined, str(fn.name) || undefined, str(fn.arguments) ?? "");
    if (call === this.live && !call.opened) this.openItem(call);
  }

  /** Closes the open item and sends the waiting ones; the last item is incomplete when the answer was cut. */
  private finish(): void {
    if (this.finished) return;
    this.finished = true;
    const rest = [...(this.live === undefined ? [] : [this.live]), ...this.waiting];
    this.waiting.length = 0;
    const cut = incompleteReason(this.finishReason) !== undefined;
    rest.forEach((builder, i) => {
      this.live = builder;
      this.closeLive(cut && i === rest.length - 1 ? "incomplete" : "completed");
    });
  }

  private terminal(): void {
    this.finish();
    this.ended = true;
    const reason = incompleteReason(this.finishReason);
    if (reason === undefined) this.emit("response.completed", { response: this.envelope("completed", this.done) });
    else this.emit("response.incomplete", { response: this.envelope("incomplete", this.done, { reason }) });
  }

  private failed(message: string, code = "server_error"): void {
    this.start();
    this.ended = true;
    const output = [...this.done, ...(this.live?.opened === true ? [this.live.snapshot("incomplete")] : [])];
    this.emit("response.failed", { response: this.envelope("failed", output, { error: { code, message } }) });
  }
}

export function chatStreamToResponses(ctx: AnswerContext): StreamTranslator {
  return new ChatToResponsesStream(ctx);
}
