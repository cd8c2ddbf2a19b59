/**
 * Anthropic Messages answer → OpenAI Chat completion.
 * https://docs.anthropic.com/en/api/messages#response
 * https://platform.openai.com/docs/api-reference/chat/object
 *
 * Text blocks join into `content`; thinking into `reasoning_content` (the field
 * OpenAI-compatible reasoning models use), its signature dropped: an OpenAI
 * client cannot send it back. Dropped: redacted_thinking, citations, server tool
 * blocks (server_tool_use, web_search_tool_result, …), container, stop_sequence.
 */

import { isObject, str, objects } from "./json.ts";
import { finishReasonFromStop } from "./stop-reason.ts";
import type { AnswerContext, JsonObject } from "./types.ts";
import { chatUsage, usageFromAnthropic } from "./usage.ts";

export function chatCompletionId(ctx: AnswerContext): string {
  return `chatcmpl-${ctx.id}`;
}

export function anthropicAnswerToChat(answer: JsonObject, ctx: AnswerContext): JsonObject {
  const texts: string[] = [];
  const thinking: string[] = [];
  const calls: JsonObject[] = [];
  for (const block of objects(answer, "content")) {
    if (block.type === "text") texts.push(str(block, "text") ?? "");
    else if (block.type === "thinking") thinking.push(str(block, "thinking") ?? "");
    else if (block.type === "tool_use") {
      calls.push({
        id: str(block, "id") ?? "",
        type: "function",
        function: { name: str(block, "name") ?? "", arguments: JSON.stringify(isObject(block.input) ? block.input : {}) },
      });
    }
  }
  const text = texts.join("");
  const message: JsonObject = { role: "assistant", content: text === "" && calls.length > 0 ? null : text, refusal: null };
  if (thinking.length > 0) message.reasoning_content = thinking.join("");
  if (calls.length > 0) message.tool_calls = calls;
  return {
    id: chatCompletionId(ctx),
    object: "chat.completion",
    created: ctx.now,
    model: ctx.alias,
    choices: [{ index: 0, message, finish_reason: finishReasonFromStop(str(answer, "stop_reason"), calls.length > 0), logprobs: null }],
    usage: chatUsage(usageFromAnthropic(answer.usage)),
  };
}
