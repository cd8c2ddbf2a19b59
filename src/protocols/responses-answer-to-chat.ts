/**
 * A Response object → a Chat completion (non-streaming `POST /v1/chat/completions`
 * served by a Responses backend).
 * https://platform.openai.com/docs/api-reference/responses/object
 * https://platform.openai.com/docs/api-reference/chat/object
 *
 * Text of all message items (parts joined, items separated by a blank line) is the
 * content; refusal parts the `refusal`; reasoning summaries (or reasoning text)
 * `reasoning_content`; function and custom tool calls `tool_calls` (a custom call
 * stays a Chat custom call when the client declared a custom tool of that name,
 * else it becomes a function call with `{"input": "..."}`). Items of hosted tools
 * are not shown.
 */
import { obj, objects, str } from "./responses-guards.ts";
import { chatCustomToolNames } from "./responses-tools.ts";
import { responsesUsageToChat } from "./responses-usage.ts";
import type { AnswerContext, JsonObject } from "./types.ts";

/** Chat `finish_reason` of a Response, from its status and its tool calls. */
export function chatFinishReason(status: unknown, reason: unknown, calledTools: boolean): string {
  if (status === "incomplete") return reason === "content_filter" ? "content_filter" : "length";
  return calledTools ? "tool_calls" : "stop";
}

export function chatToolCall(item: JsonObject, customTools: ReadonlySet<string>): JsonObject {
  const name = str(item.name) ?? "";
  const id = str(item.call_id) ?? str(item.id) ?? "";
  if (item.type === "custom_tool_call") {
    const input = str(item.input) ?? "";
    return customTools.has(name)
      ? { id, type: "custom", custom: { name, input } }
      : { id, type: "function", function: { name, arguments: JSON.stringify({ input }) } };
  }
  return { id, type: "function", function: { name, arguments: str(item.arguments) ?? "" } };
}

export function reasoningText(item: JsonObject): string {
  const summary = objects(item.summary).flatMap((p) => (typeof p.text === "string" && p.text !== "" ? [p.text] : []));
  if (summary.length > 0) return summary.join("\n\n");
  return objects(item.content).flatMap((p) => (typeof p.text === "string" ? [p.text] : [])).join("");
}

export function responsesAnswerToChat(body: JsonObject, ctx: AnswerContext): JsonObject {
  const customTools = chatCustomToolNames(ctx.request);
  const texts: string[] = [];
  const refusals: string[] = [];
  const reasoning: string[] = [];
  const toolCalls: JsonObject[] = [];
  for (const item of objects(body.output)) {
    if (item.type === "message") {
      const parts = objects(item.content);
      const t = parts.flatMap((p) => (p.type === "output_text" && typeof p.text === "string" ? [p.text] : [])).join("");
      if (t !== "") texts.push(t);
      refusals.push(...parts.flatMap((p) => (p.type === "refusal" && typeof p.refusal === "string" ? [p.refusal] : [])));
    } else if (item.type === "reasoning") {
      const r = reasoningText(item);
      if (r !== "") reasoning.push(r);
    } else if (item.type === "function_call" || item.type === "custom_tool_call") {
      toolCalls.push(chatToolCall(item, customTools));
    }
  }
  const message: JsonObject = { role: "assistant", content: texts.length > 0 ? texts.join("\n\n") : null, refusal: refusals.length > 0 ? refusals.join("") : null };
  if (reasoning.length > 0) message.reasoning_content = reasoning.join("\n\n");
  if (toolCalls.length > 0) message.tool_calls = toolCalls;
  const out: JsonObject = {
    id: `chatcmpl-${ctx.id}`,
    object: "chat.completion",
    created: ctx.now,
    model: ctx.alias,
    choices: [{ index: 0, message, logprobs: null, finish_reason: chatFinishReason(body.status, obj(body.incomplete_details).reason, toolCalls.length > 0) }],
  };
  const usage = responsesUsageToChat(body.usage);
  if (usage !== undefined) out.usage = usage;
  return out;
}
