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
import { isObject, num, obj, str } from "./responses-guards.ts";
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

export function responsesStreamToChat(ctx: AnswerContext): StreamTranslator {
  const customTools = chatCustomToolNames(ctx.request);
  const wantsUsage = obj(ctx.request.stream_options).include_usage === true;
  const base = { id: `chatcmpl-${ctx.id}`, object: "chat.completion.chunk", created: ctx.now, model: ctx.alias };
  let out: StreamEvent[] = [];
  const send = (data: unknown): void => {
    out.push({ event: "", data });
  };
  const delta = (d: JsonObject, finishReason: string | null = null): void => {
    send({ ...base, choices: [{ index: 0, delta: d, logprobs: null, finish_reason: finishReason }] });
  };

  let started = false;
  let ended = false;
  let complete = false;
  const tools = new Map<number, ToolState>();
  const sentText = new Map<number, string>();
  const sentReasoning = new Map<number, string>();
  let anyText = false;
  let anyReasoning = false;
  let lastReasoningPart = "";

  const start = (): void => {
    if (started) return;
    started = true;
    delta({ role: "assistant", content: "" });
  };

  const content = (outputIndex: number, text: string): void => {
    if (text === "") return;
    const before = sentText.get(outputIndex);
    // Several message items read as one text: a blank line between them, as in the JSON answer.
    const piece = before === undefined && anyText ? `\n\n${text}` : text;
    sentText.set(outputIndex, (before ?? "") + text);
    anyText = true;
    delta({ content: piece });
  };
  const reasoning = (outputIndex: number, part: string, text: string): void => {
    if (text === "") return;
    const piece = part !== lastReasoningPart && anyReasoning ? `\n\n${text}` : text;
    lastReasoningPart = part;
    sentReasoning.set(outputIndex, (sentReasoning.get(outputIndex) ?? "") + text);
    anyReasoning = true;
    delta({ reasoning_content: piece });
  };
  /** What a finished item holds beyond what its deltas already sent. */
  const rest = (full: string, sent: string): string => (full.startsWith(sent) ? full.slice(sent.length) : "");

  const addTool = (outputIndex: number, item: JsonObject): ToolState => {
    const existing = tools.get(outputIndex);
    if (existing !== undefined) return existing;
    const call = chatToolCall(item, customTools);
    const asFunction = item.type === "custom_tool_call" && call.type === "function";
    const state: ToolState = { index: tools.size, asFunction, sent: "" };
    tools.set(outputIndex, state);
    if (call.type === "custom") {
      state.sent = str(obj(call.custom).input) ?? "";
      delta({ tool_calls: [{ index: state.index, ...call }] });
    } else {
      const args = asFunction ? "" : str(obj(call.function).arguments) ?? "";
      state.sent = asFunction ? "" : args;
      delta({ tool_calls: [{ index: state.index, id: call.id, type: "function", function: { name: str(obj(call.function).name) ?? "", arguments: args } }] });
    }
    return state;
  };
  const toolPiece = (state: ToolState, piece: string, custom: boolean): void => {
    if (piece === "") return;
    state.sent += piece;
    delta({ tool_calls: [{ index: state.index, ...(custom ? { custom: { input: piece } } : { function: { arguments: piece } }) }] });
  };

  const itemDone = (outputIndex: number, item: JsonObject): void => {
    if (item.type === "message") {
      const full = obj(item).content;
      const text = (Array.isArray(full) ? full : []).flatMap((p) => (isObject(p) && p.type === "output_text" && typeof p.text === "string" ? [p.text] : [])).join("");
      content(outputIndex, rest(text, sentText.get(outputIndex) ?? ""));
    } else if (item.type === "reasoning") {
      reasoning(outputIndex, `${outputIndex}:done`, rest(reasoningText(item), sentReasoning.get(outputIndex) ?? ""));
    } else if (item.type === "function_call") {
      const state = addTool(outputIndex, item);
      toolPiece(state, rest(str(item.arguments) ?? "", state.sent), false);
    } else if (item.type === "custom_tool_call") {
      const state = addTool(outputIndex, item);
      const input = str(item.input) ?? "";
      if (state.asFunction) toolPiece(state, state.sent === "" ? JSON.stringify({ input }) : "", false);
      else toolPiece(state, rest(input, state.sent), true);
    }
  };

  const close = (response: JsonObject): void => {
    ended = true;
    complete = true;
    delta({}, chatFinishReason(response.status, obj(response.incomplete_details).reason, tools.size > 0));
    const usage = responsesUsageToChat(response.usage);
    if (wantsUsage && usage !== undefined) send({ ...base, choices: [], usage });
    send("[DONE]");
  };
  const error = (message: string, code: unknown): void => {
    ended = true;
    send({ error: { message, type: "server_error", param: null, code: typeof code === "string" ? code : "server_error" } });
  };

  const handle = (data: JsonObject, type: string): void => {
    const index = num(data.output_index) ?? 0;
    switch (type) {
      case "response.output_item.added": {
        const item = obj(data.item);
        if (item.type === "function_call" || item.type === "custom_tool_call") addTool(index, item);
        return;
      }
      case "response.output_text.delta":
        return content(index, str(data.delta) ?? "");
      case "response.refusal.delta":
        if (str(data.delta)) delta({ refusal: data.delta });
        return;
      case "response.reasoning_summary_text.delta":
      case "response.reasoning_text.delta":
        return reasoning(index, `${index}:${num(data.summary_index) ?? num(data.content_index) ?? 0}`, str(data.delta) ?? "");
      case "response.function_call_arguments.delta": {
        const state = tools.get(index);
        if (state !== undefined) toolPiece(state, str(data.delta) ?? "", false);
        return;
      }
      case "response.custom_tool_call_input.delta": {
        const state = tools.get(index);
        if (state !== undefined && !state.asFunction) toolPiece(state, str(data.delta) ?? "", true);
        return;
      }
      case "response.output_item.done":
        return itemDone(index, obj(data.item));
      case "response.completed":
      case "response.incomplete":
        return close(obj(data.response));
      case "response.failed": {
        const err = obj(obj(data.response).error);
        return error(str(err.message) ?? "the provider's response failed", err.code);
      }
      case "error":
        return error(str(data.message) ?? "the provider reported an error in the stream", data.code);
      default:
        return;
    }
  };

  const take = (): StreamEvent[] => {
    const events = out;
    out = [];
    return events;
  };

  return {
    push(event) {
      if (ended || !isObject(event.data)) return [];
      const type = str(event.data.type) ?? event.event;
      if (type !== "error") start();
      handle(event.data, type);
      return take();
    },
    get complete() {
      return complete;
    },
    end() {
      if (!ended) error("the provider's stream ended before the response completed", "server_error");
      return take();
    },
    fail(message) {
      if (!ended) error(message, "server_error");
      return take();
    },
  };
}
