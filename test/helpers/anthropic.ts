/**
 * Anthropic Messages API bodies and stream events, valid enough for the official SDK.
 * https://docs.anthropic.com/en/api/messages-streaming
 */

const usage = { input_tokens: 3, output_tokens: 1 };

/** A non-streaming Messages API answer. */
export function anthropicMessage(text: string, model = "real-model") {
  return {
    id: "msg_01",
    type: "message",
    role: "assistant",
    model,
    content: [{ type: "text", text }],
    stop_reason: "end_turn",
    stop_sequence: null,
    usage,
  };
}

/** One SSE event in Anthropic's form: `event: <type>` and data carrying the same `type`. */
export function anthropicEvent(type: string, payload: Record<string, unknown> = {}): string {
  return `event: ${type}\ndata: ${JSON.stringify({ type, ...payload })}\n\n`;
}

/** The events of a streamed message whose text arrives in `parts`, in order. */
export function anthropicStream(parts: readonly string[], model = "real-model"): string[] {
  return [
    anthropicEvent("message_start", {
      message: { id: "msg_01", type: "message", role: "assistant", model, content: [], stop_reason: null, stop_sequence: null, usage: { input_tokens: 3, output_tokens: 0 } },
    }),
    anthropicEvent("content_block_start", { index: 0, content_block: { type: "text", text: "" } }),
    ...parts.map((text) => anthropicEvent("content_block_delta", { index: 0, delta: { type: "text_delta", text } })),
    anthropicEvent("content_block_stop", { index: 0 }),
    anthropicEvent("message_delta", { delta: { stop_reason: "end_turn", stop_sequence: null }, usage: { output_tokens: parts.length } }),
    anthropicEvent("message_stop"),
  ];
}

/** Anthropic's error event, as sent when a stream fails at its start. */
export const anthropicErrorEvent = (type = "overloaded_error", message = "Overloaded") => anthropicEvent("error", { error: { type, message } });
