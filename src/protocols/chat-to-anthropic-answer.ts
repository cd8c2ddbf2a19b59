/**
 * OpenAI Chat completion → Anthropic Messages answer.
 * https://platform.openai.com/docs/api-reference/chat/object
 * https://docs.anthropic.com/en/api/messages#response
 *
 * The first choice is the answer (a translated request never asks for more).
 * `reasoning_content` (or `reasoning`) becomes a thinking block with an empty
 * signature; `refusal` becomes text with stop_reason `refusal`; tool calls become
 * tool_use blocks with ids Anthropic accepts. Empty and whitespace-only text makes
 * no block: Anthropic refuses such blocks when the client sends the turn back.
 * Dropped: logprobs, annotations, audio, system_fingerprint, service_tier.
 */

import { isObject, str, obj, objects, parseJson } from "./json.ts";
import { stopReasonFromFinish } from "./stop-reason.ts";
import { anthropicToolId, madeUpToolId } from "./tool-ids.ts";
import type { AnswerContext, JsonObject } from "./types.ts";
import { anthropicUsage, usageFromChat } from "./usage.ts";

export function anthropicMessageId(ctx: AnswerContext): string {
  return `msg_${ctx.id}`;
}

/** The reasoning text of a Chat message or delta: `reasoning_content` (DeepSeek, Qwen, GLM) or `reasoning` (OpenRouter, vLLM). */
export function reasoningText(message: JsonObject): string {
  return str(message, "reasoning_content") || str(message, "reasoning") || "";
}

/** Tool arguments as Anthropic `input`; an empty or invalid text reads as `{}`, since `input` must be an object. */
export function argumentsAsInput(args: string): JsonObject {
  const parsed = parseJson(args);
  return isObject(parsed) ? parsed : {};
}

export function chatAnswerToAnthropic(answer: JsonObject, ctx: AnswerContext): JsonObject {
  const choice = objects(answer, "choices")[0] ?? {};
  const message = obj(choice, "message") ?? {};
  const content: JsonObject[] = [];
  const reasoning = reasoningText(message);
  if (reasoning !== "") content.push({ type: "thinking", thinking: reasoning, signature: "" });
  const text = str(message, "content") ?? "";
  if (text.trim() !== "") content.push({ type: "text", text });
  const refusal = str(message, "refusal") ?? "";
  if (refusal.trim() !== "") content.push({ type: "text", text: refusal });
  const calls = objects(message, "tool_calls");
  for (const [i, call] of calls.entries()) {
    const fn = obj(call, "function") ?? {};
    const id = str(call, "id");
    content.push({
      type: "tool_use",
      id: id ? anthropicToolId(id) : madeUpToolId(ctx.id, i),
      name: str(fn, "name") ?? "",
      input: argumentsAsInput(str(fn, "arguments") ?? ""),
    });
  }
  const finish = refusal.trim() !== "" ? "content_filter" : str(choice, "finish_reason");
  return {
    id: anthropicMessageId(ctx),
    type: "message",
    role: "assistant",
    model: ctx.alias,
    content,
    stop_reason: stopReasonFromFinish(finish, calls.length > 0),
    stop_sequence: null,
    usage: anthropicUsage(usageFromChat(answer.usage)),
  };
}
