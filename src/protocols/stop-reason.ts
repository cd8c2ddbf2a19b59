/**
 * Anthropic `stop_reason` ⇄ OpenAI Chat `finish_reason`.
 * https://docs.anthropic.com/en/api/messages#response-stop-reason
 * https://platform.openai.com/docs/api-reference/chat/object#chat/object-choices
 *
 * A turn that carries a tool call stops for the tool whatever the provider said
 * (Bifrost #6123, #3638): some OpenAI-compatible servers say `stop` next to tool
 * calls, and an agent told `end_turn` stops instead of running the tool. Only a
 * cut by the token limit keeps its own reason, since the call may be incomplete.
 */

export function finishReasonFromStop(stopReason: string | undefined, hasToolCall: boolean): string {
  if (stopReason === "max_tokens" || stopReason === "model_context_window_exceeded") return "length";
  if (hasToolCall || stopReason === "tool_use") return "tool_calls";
  if (stopReason === "refusal") return "content_filter";
  // end_turn, stop_sequence, pause_turn (a server tool paused: the client may continue the turn), and anything new.
  return "stop";
}

export function stopReasonFromFinish(finishReason: string | undefined, hasToolCall: boolean): string {
  if (finishReason === "length") return "max_tokens";
  if (hasToolCall || finishReason === "tool_calls" || finishReason === "function_call") return "tool_use";
  if (finishReason === "content_filter") return "refusal";
  return "end_turn";
}
