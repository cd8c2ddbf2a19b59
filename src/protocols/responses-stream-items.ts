/**
 * Builders of the output items of a Responses stream: each opens its item
 * (`response.output_item.added` and its first part), streams its deltas, and
 * closes it (`….done` events, `response.output_item.done`). The stream state
 * machine (responses-stream-from-chat.ts) decides when.
 * https://platform.openai.com/docs/api-reference/responses-streaming
 */
import { customInput, type ItemStatus, messageItem, outputTextPart, reasoningItem, toolCallItem } from "./responses-items.ts";
import type { ChatToolSet } from "./responses-tools.ts";
import type { JsonObject } from "./types.ts";

/** Sends one event of the client's stream; the sequence number is added by the caller. */
export type Emit = (type: string, fields: JsonObject) => void;

export interface ItemBuilder {
  readonly kind: "reasoning" | "message" | "call";
  readonly opened: boolean;
  /** Announces the item at `outputIndex`, with any content gathered while it waited. */
  open(outputIndex: number): void;
  /** Ends the item; returns it as `output_item.done` carried it. */
  close(status: ItemStatus): JsonObject;
  /** The item as it stands, for a response that failed while it was open. */
  snapshot(status: ItemStatus): JsonObject;
}

export interface TextBuilder extends ItemBuilder {
  readonly kind: "reasoning" | "message";
  add(text: string, part: "text" | "refusal"): void;
}

export interface CallBuilder extends ItemBuilder {
  readonly kind: "call";
  readonly callId: string;
  readonly name: string;
  /** Merges one Chat tool-call delta: the id and name arrive once, the arguments in pieces. */
  merge(callId: string | undefined, name: string | undefined, args: string): void;
}

export function reasoningBuilder(emit: Emit, id: string): TextBuilder {
  let text = "";
  let index = -1;
  const at = (): JsonObject => ({ item_id: id, output_index: index, summary_index: 0 });
  return {
    kind: "reasoning",
    get opened() {
      return index >= 0;
    },
    open(outputIndex) {
      index = outputIndex;
      emit("response.output_item.added", { output_index: index, item: reasoningItem(id, "", "in_progress") });
      emit("response.reasoning_summary_part.added", { ...at(), part: { type: "summary_text", text: "" } });
      if (text !== "") emit("response.reasoning_summary_text.delta", { ...at(), delta: text });
    },
    add(delta) {
      text += delta;
      if (index >= 0) emit("response.reasoning_summary_text.delta", { ...at(), delta });
    },
    close(status) {
      emit("response.reasoning_summary_text.done", { ...at(), text });
      emit("response.reasoning_summary_part.done", { ...at(), part: { type: "summary_text", text } });
      const item = reasoningItem(id, text, status);
      emit("response.output_item.done", { output_index: index, item });
      return item;
    },
    snapshot: (status) => reasoningItem(id, text, status),
  };
}

interface Part {
  readonly type: "text" | "refusal";
  text: string;
}

const partObject = (p: Part): JsonObject => (p.type === "text" ? outputTextPart(p.text) : { type: "refusal", refusal: p.text });
const emptyPart = (type: Part["type"]): JsonObject => partObject({ type, text: "" });

/** An assistant message: output_text parts, and a refusal part when the model refused. */
export function messageBuilder(emit: Emit, id: string): TextBuilder {
  const parts: Part[] = [];
  let index = -1;
  const at = (content: number): JsonObject => ({ item_id: id, output_index: index, content_index: content });
  const openPart = (content: number, part: Part): void => {
    emit("response.content_part.added", { ...at(content), part: emptyPart(part.type) });
  };
  const deltaPart = (content: number, part: Part, delta: string): void => {
    if (part.type === "text") emit("response.output_text.delta", { ...at(content), delta, logprobs: [] });
    else emit("response.refusal.delta", { ...at(content), delta });
  };
  const closePart = (content: number, part: Part): void => {
    if (part.type === "text") emit("response.output_text.done", { ...at(content), text: part.text, logprobs: [] });
    else emit("response.refusal.done", { ...at(content), refusal: part.text });
    emit("response.content_part.done", { ...at(content), part: partObject(part) });
  };
  return {
    kind: "message",
    get opened() {
      return index >= 0;
    },
    open(outputIndex) {
      index = outputIndex;
      emit("response.output_item.added", { output_index: index, item: messageItem(id, [], "in_progress") });
      parts.forEach((part, i) => {
        openPart(i, part);
        deltaPart(i, part, part.text);
        if (i < parts.length - 1) closePart(i, part);
      });
    },
    add(delta, type) {
      let last = parts[parts.length - 1];
      if (last === undefined || last.type !== type) {
        if (last !== undefined && index >= 0) closePart(parts.length - 1, last);
        last = { type, text: "" };
        parts.push(last);
        if (index >= 0) openPart(parts.length - 1, last);
      }
      last.text += delta;
      if (index >= 0) deltaPart(parts.length - 1, last, delta);
    },
    close(status) {
      const last = parts[parts.length - 1];
      if (last !== undefined) closePart(parts.length - 1, last);
      const item = messageItem(id, parts.map(partObject), status);
      emit("response.output_item.done", { output_index: index, item });
      return item;
    },
    snapshot: (status) => messageItem(id, parts.map(partObject), status),
  };
}

/**
 * A tool call. Function arguments stream as they come; a custom tool's input is
 * the decoded `input` of its JSON arguments, known only once they are complete,
 * so it is sent whole when the call closes.
 */
export function callBuilder(emit: Emit, tools: ChatToolSet, ids: { readonly fc: string; readonly ctc: string }): CallBuilder {
  let callId = "";
  let name = "";
  let args = "";
  let index = -1;
  const item = (status: ItemStatus, full: boolean): JsonObject => {
    const built = toolCallItem(tools, ids, { callId, chatName: name, args: full ? args : "" }, status);
    if (!full && built.type === "custom_tool_call") built.input = "";
    return built;
  };
  const custom = (): boolean => tools.byChatName(name)?.custom === true;
  const itemId = (): string => (custom() ? ids.ctc : ids.fc);
  return {
    kind: "call",
    get opened() {
      return index >= 0;
    },
    get callId() {
      return callId;
    },
    get name() {
      return name;
    },
    open(outputIndex) {
      index = outputIndex;
      emit("response.output_item.added", { output_index: index, item: item("in_progress", false) });
      if (args !== "" && !custom()) emit("response.function_call_arguments.delta", { item_id: itemId(), output_index: index, delta: args });
    },
    merge(id, fnName, delta) {
      if (callId === "" && id !== undefined) callId = id;
      if (name === "" && fnName !== undefined) name = fnName;
      args += delta;
      if (index >= 0 && delta !== "" && !custom()) {
        emit("response.function_call_arguments.delta", { item_id: itemId(), output_index: index, delta });
      }
    },
    close(status) {
      if (custom()) {
        const input = customInput(args);
        if (input !== "") emit("response.custom_tool_call_input.delta", { item_id: itemId(), output_index: index, delta: input });
        emit("response.custom_tool_call_input.done", { item_id: itemId(), output_index: index, input });
      } else {
        emit("response.function_call_arguments.done", { item_id: itemId(), output_index: index, arguments: args });
      }
      const done = item(status, true);
      emit("response.output_item.done", { output_index: index, item: done });
      return done;
    },
    snapshot: (status) => item(status, true),
  };
}
