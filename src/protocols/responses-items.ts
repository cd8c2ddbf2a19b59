/**
 * Output items of a Response, built from what a Chat answer carries. Shared by
 * the JSON answer and the stream so both produce the same items.
 * https://platform.openai.com/docs/api-reference/responses/object#responses/object-output
 */
import { isObject } from "./responses-guards.ts";
import type { ChatToolSet } from "./responses-tools.ts";
import type { JsonObject } from "./types.ts";

export type ItemStatus = "in_progress" | "completed" | "incomplete";

export const outputTextPart = (text: string): JsonObject => ({ type: "output_text", text, annotations: [], logprobs: [] });

export function messageItem(id: string, parts: readonly JsonObject[], status: ItemStatus): JsonObject {
  return { id, type: "message", status, role: "assistant", content: [...parts] };
}

export function reasoningItem(id: string, text: string, status: ItemStatus): JsonObject {
  return { id, type: "reasoning", status, summary: text === "" ? [] : [{ type: "summary_text", text }] };
}

/**
 * The freeform input of a custom tool from the Chat function arguments it was
 * called with (`{"input": "..."}`); a model that wrote the raw text instead of
 * JSON gets its text passed on as is.
 */
export function customInput(args: string): string {
  try {
    const parsed: unknown = JSON.parse(args);
    if (isObject(parsed) && typeof parsed.input === "string") return parsed.input;
  } catch {
    // not JSON: the model wrote the freeform input directly
  }
  return args;
}

/** A Chat tool call as the client's item: `function_call`, or `custom_tool_call` for a custom tool. */
export function toolCallItem(
  tools: ChatToolSet,
  ids: { readonly fc: string; readonly ctc: string },
  call: { readonly callId: string; readonly chatName: string; readonly args: string },
  status: ItemStatus,
): JsonObject {
  const tool = tools.byChatName(call.chatName);
  const name = tool?.name ?? call.chatName;
  const item: JsonObject =
    tool?.custom === true
      ? { id: ids.ctc, type: "custom_tool_call", status, call_id: call.callId, name, input: customInput(call.args) }
      : { id: ids.fc, type: "function_call", status, call_id: call.callId, name, arguments: call.args };
  if (tool?.namespace !== undefined) item.namespace = tool.namespace;
  return item;
}

/** Chat `finish_reason` → Responses `incomplete_details.reason`, or undefined for a complete answer. */
export function incompleteReason(finishReason: unknown): string | undefined {
  if (finishReason === "length") return "max_output_tokens";
  if (finishReason === "content_filter") return "content_filter";
  return undefined;
}
