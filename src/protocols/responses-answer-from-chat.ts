/**
 * A Chat completion → a Response object (non-streaming `POST /v1/responses`).
 * Output order: reasoning (from `reasoning_content`, or `reasoning` as some
 * servers name it), then the assistant message, then one item per tool call.
 * `finish_reason: "length"` or `"content_filter"` makes the response
 * `incomplete` with that reason, as the Responses API reports it.
 * https://platform.openai.com/docs/api-reference/chat/object
 * https://platform.openai.com/docs/api-reference/responses/object
 */
import { joinTexts, obj, objects, str } from "./responses-guards.ts";
import { incompleteReason, messageItem, outputTextPart, reasoningItem, toolCallItem } from "./responses-items.ts";
import { itemId, responseEnvelope } from "./responses-object.ts";
import { responsesToolsToChat } from "./responses-tools.ts";
import { chatUsageToResponses } from "./responses-usage.ts";
import type { AnswerContext, JsonObject } from "./types.ts";

/** Text of Chat content, which some servers send as a list of text parts. */
export function chatText(content: unknown): string {
  if (typeof content === "string") return content;
  return joinTexts(objects(content).flatMap((p) => (p.type === "text" && typeof p.text === "string" ? [p.text] : [])));
}

export function chatAnswerToResponses(body: JsonObject, ctx: AnswerContext): JsonObject {
  const tools = responsesToolsToChat(ctx.request);
  const choice = objects(body.choices)[0] ?? {};
  const message = obj(choice.message);
  const reason = incompleteReason(choice.finish_reason);
  const output: JsonObject[] = [];

  const reasoning = str(message.reasoning_content) ?? str(message.reasoning) ?? "";
  if (reasoning !== "") output.push(reasoningItem(itemId("rs", ctx, output.length), reasoning, "completed"));
  const text = chatText(message.content);
  const refusal = str(message.refusal) ?? "";
  if (text !== "" || refusal !== "") {
    const parts = [...(text !== "" ? [outputTextPart(text)] : []), ...(refusal !== "" ? [{ type: "refusal", refusal }] : [])];
    output.push(messageItem(itemId("msg", ctx, output.length), parts, "completed"));
  }
  for (const call of objects(message.tool_calls)) {
    const fn = obj(call.function);
    const i = output.length;
    const callId = str(call.id) ?? `call_${ctx.id}_${i}`;
    output.push(
      toolCallItem(tools, { fc: itemId("fc", ctx, i), ctc: itemId("ctc", ctx, i) }, { callId, chatName: str(fn.name) ?? "", args: str(fn.arguments) ?? "" }, "completed"),
    );
  }
  const last = output[output.length - 1];
  if (reason !== undefined && last !== undefined) last.status = "incomplete";

  return responseEnvelope(ctx, {
    status: reason === undefined ? "completed" : "incomplete",
    output,
    usage: chatUsageToResponses(body.usage),
    incompleteReason: reason,
  });
}
