/**
 * A Responses event stream → Chat Completions chunks ending with `data: [DONE]`,
 * for a Chat client served by a Responses backend.
 * https://platform.openai.com/docs/api-reference/responses-streaming
 * https://platform.openai.com/docs/api-reference/chat-streaming
 *
 * Text deltas become `content`, refusal deltas `refusal`, reasoning summary (or
 * reasoning text) deltas `reasoning_content`, function-call items `tool_calls`
 * numbered 0, 1, … in the order the items are added. A backend that sends only
 * finished items (`output_item.done` without deltas) is caught up from the item.
 * `response.completed` / `response.incomplete` give the finish chunk, then a usage
 * chunk (`choices: []`) only when the client asked `stream_options.include_usage`,
 * then `[DONE]`; the stream is then `complete`. `response.failed`, an `error`
 * event or `fail()` end with an OpenAI-style `{error}` chunk and no `[DONE]`, so
 * the client can tell the answer was cut.
 */
import { isObject, num, obj, objects, str } from "./responses-guards.ts";
import { chatFinishReason, chatToolCall, reasoningText } from "./responses-answer-to-chat.ts";
import { chatCustomToolNames } from "./responses-tools.ts";
import { responsesUsageToChat } from "./responses-usage.ts";
import type { AnswerContext, JsonObject, StreamEvent, StreamTranslator } from "./types.ts";

interface ToolState {
  readonly index: number;
  /** A custom tool call sent as a Chat function call: its input is sent whole at the end. */
  readonly asFunction: boolean;
  sent: string;
}

/** What a finished item holds beyond what its deltas already sent. */
const rest = (full: string, sent: string): string => (full.startsWith(sent) ? full.slice(sent.length) : "");

class ResponsesToChatStream implements StreamTranslator {
  private readonly customTools: ReadonlySet<string>;
  private readonly wantsUsage: boolean;
  private readonly base: JsonObject;
  private out: StreamEvent[] = [];
  private started = false;
  private ended = false;
  private sawCompletion = false;
  /** Tool calls by output index; Chat numbers them 0, 1, … in the order they are added. */
  private readonly tools = new Map<number, ToolState>();
  private readonly sentText = new Map<number, string>();
  private readonly sentReasoning = new Map<number, string>();
  private anyText = false;
  private anyReasoning = false;
  private lastReasoningPart = "";

  constructor(ctx: AnswerContext) {
    this.customTools = chatCustomToolNames(ctx.request);
    this.wantsUsage = obj(ctx.request.stream_options).include_usage === true;
    this.base = { id: `chatcmpl-${ctx.id}`, object: "chat.completion.chunk", created: ctx.now, model: ctx.alias };
  }

  get complete(): boolean {
    return this.sawCompletion;
  }

  push(event: StreamEvent): StreamEvent[] {
    if (this.ended || !isObject(event.data)) return [];
    const type = str(event.data.type) ?? event.event;
    if (type !== "error") this.start();
    this.handle(event.data, type);
    return this.take();
  }

  end(): StreamEvent[] {
    if (!this.ended) this.error("the provider's stream ended before the response completed", "server_error");
    return this.take();
  }

  fail(message: string): StreamEvent[] {
    if (!this.ended) this.error(message, "server_error");
    return this.take();
  }

  private take(): StreamEvent[] {
    const events = this.out;
    this.out = [];
    return events;
  }

  private send(data: unknown): void {
    this.out.push({ event: "", data });
  }

  private delta(d: JsonObject, finishReason: string | null = null): void {
    this.send({ ...this.base, choices: [{ index: 0, delta: d, logprobs: null, finish_reason: finishReason }] });
  }

  private start(): void {
    if (this.started) return;
    this.started = true;
    this.delta({ role: "assistant", content: "" });
  }

  private handle(data: JsonObject, type: string): void {
    const index = num(data.output_index) ?? 0;
    switch (type) {
      case "response.output_item.added": {
        const item = obj(data.item);
        if (item.type === "function_call" || item.type === "custom_tool_call") this.addTool(index, item);
        return;
      }
      case "response.output_text.delta":
        return this.content(index, str(data.delta) ?? "");
      case "response.refusal.delta":
        if (str(data.delta)) this.delta({ refusal: data.delta });
        return;
      case "response.reasoning_summary_text.delta":
      case "response.reasoning_text.delta":
        return this.reasoning(index, `${index}:${num(data.summary_index) ?? num(data.content_index) ?? 0}`, str(data.delta) ?? "");
      case "response.function_call_arguments.delta":
      case "response.custom_tool_call_input.delta": {
        const state = this.tools.get(index);
        const custom = type === "response.custom_tool_call_input.delta";
        // A custom call shown as a Chat function gets its {"input"} whole, when the item is done.
        if (state !== undefined && !state.asFunction) this.toolPiece(state, str(data.delta) ?? "", custom);
        return;
      }
      case "response.output_item.done":
        return this.itemDone(index, obj(data.item));
      case "response.completed":
      case "response.incomplete":
        return this.close(obj(data.response));
      case "response.failed": {
        const err = obj(obj(data.response).error);
        return this.error(str(err.message) ?? "the provider's response failed", err.code);
      }
      case "error":
        return this.error(str(data.message) ?? "the provider reported an error in the stream", data.code);
      default:
        return;
    }
  }

  private content(outputIndex: number, text: string): void {
    if (text === "") return;
    const before = this.sentText.get(outputIndex);
    // Several message items read as one text: a blank line between them, as in the JSON answer.
    const piece = before === undefined && this.anyText ? `\n\n${text}` : text;
    this.sentText.set(outputIndex, (before ?? "") + text);
    this.anyText = true;
    this.delta({ content: piece });
  }

  private reasoning(outputIndex: number, part: string, text: string): void {
    if (text === "") return;
    const piece = part !== this.lastReasoningPart && this.anyReasoning ? `\n\n${text}` : text;
    this.lastReasoningPart = part;
    this.sentReasoning.set(outputIndex, (this.sentReasoning.get(outputIndex) ?? "") + text);
    this.anyReasoning = true;
    this.delta({ reasoning_content: piece });
  }

  private addTool(outputIndex: number, item: JsonObject): ToolState {
    const existing = this.tools.get(outputIndex);
    if (existing !== undefined) return existing;
    const call = chatToolCall(item, this.customTools);
    const asFunction = item.type === "custom_tool_call" && call.type === "function";
    const state: ToolState = { index: this.tools.size, asFunction, sent: "" };
    this.tools.set(outputIndex, state);
    if (call.type === "custom") {
      state.sent = str(obj(call.custom).input) ?? "";
      this.delta({ tool_calls: [{ index: state.index, ...call }] });
      return state;
    }
    const fn = obj(call.function);
    state.sent = asFunction ? "" : (str(fn.arguments) ?? "");
    this.delta({ tool_calls: [{ index: state.index, id: call.id, type: "function", function: { name: str(fn.name) ?? "", arguments: state.sent } }] });
    return state;
  }

  private toolPiece(state: ToolState, piece: string, custom: boolean): void {
    if (piece === "") return;
    state.sent += piece;
    this.delta({ tool_calls: [{ index: state.index, ...(custom ? { custom: { input: piece } } : { function: { arguments: piece } }) }] });
  }

  private itemDone(outputIndex: number, item: JsonObject): void {
    if (item.type === "message") {
      const text = objects(item.content).flatMap((p) => (p.type === "output_text" && typeof p.text === "string" ? [p.text] : [])).join("");
      this.content(outputIndex, rest(text, this.sentText.get(outputIndex) ?? ""));
    } else if (item.type === "reasoning") {
      this.reasoning(outputIndex, `${outputIndex}:done`, rest(reasoningText(item), this.sentReasoning.get(outputIndex) ?? ""));
    } else if (item.type === "function_call") {
      const state = this.addTool(outputIndex, item);
      this.toolPiece(state, rest(str(item.arguments) ?? "", state.sent), false);
    } else if (item.type === "custom_tool_call") {
      const state = this.addTool(outputIndex, item);
      const input = str(item.input) ?? "";
      if (state.asFunction) this.toolPiece(state, state.sent === "" ? JSON.stringify({ input }) : "", false);
      else this.toolPiece(state, rest(input, state.sent), true);
    }
  }

  private close(response: JsonObject): void {
    this.ended = true;
    this.sawCompletion = true;
    this.delta({}, chatFinishReason(response.status, obj(response.incomplete_details).reason, this.tools.size > 0));
    const usage = responsesUsageToChat(response.usage);
    if (this.wantsUsage && usage !== undefined) this.send({ ...this.base, choices: [], usage });
    this.send("[DONE]");
  }

  private error(message: string, code: unknown): void {
    this.ended = true;
    this.send({ error: { message, type: "server_error", param: null, code: typeof code === "string" ? code : "server_error" } });
  }
}

export function responsesStreamToChat(ctx: AnswerContext): StreamTranslator {
  return new ResponsesToChatStream(ctx);
}
