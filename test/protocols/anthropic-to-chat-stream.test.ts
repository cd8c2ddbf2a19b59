import { describe, expect, test } from "bun:test";
import { chatToAnthropic } from "../../src/protocols/openai-anthropic.ts";
import type { JsonObject, StreamEvent } from "../../src/protocols/types.ts";
import { aev, context, foldChat, replay } from "./streams.ts";

const withUsage = context({ stream: true, stream_options: { include_usage: true } });

const start = (usage: JsonObject = { input_tokens: 25, output_tokens: 1 }) =>
  aev("message_start", { message: { id: "msg_up", type: "message", role: "assistant", model: "claude-up", content: [], stop_reason: null, stop_sequence: null, usage } });
const blockStart = (index: number, content_block: JsonObject) => aev("content_block_start", { index, content_block });
const delta = (index: number, d: JsonObject) => aev("content_block_delta", { index, delta: d });
const stop = (index: number) => aev("content_block_stop", { index });
const messageDelta = (stop_reason: string, usage: JsonObject = { output_tokens: 30 }) => aev("message_delta", { delta: { stop_reason, stop_sequence: null }, usage });
const messageStop = aev("message_stop");

/** A whole Anthropic stream: thinking, text, two tool calls with their input in fragments. */
const agentTurn: StreamEvent[] = [
  start({ input_tokens: 25, output_tokens: 1, cache_read_input_tokens: 100, cache_creation_input_tokens: 10 }),
  aev("ping"),
  blockStart(0, { type: "thinking", thinking: "", signature: "" }),
  delta(0, { type: "thinking_delta", thinking: "The user wants " }),
  delta(0, { type: "thinking_delta", thinking: "the weather." }),
  delta(0, { type: "signature_delta", signature: "EqQBCkgI" }),
  stop(0),
  blockStart(1, { type: "text", text: "" }),
  delta(1, { type: "text_delta", text: "Let me " }),
  delta(1, { type: "text_delta", text: "check." }),
  stop(1),
  blockStart(2, { type: "tool_use", id: "toolu_A", name: "weather", input: {} }),
  delta(2, { type: "input_json_delta", partial_json: "" }),
  delta(2, { type: "input_json_delta", partial_json: '{"ci' }),
  delta(2, { type: "input_json_delta", partial_json: 'ty": "Paris"}' }),
  stop(2),
  blockStart(3, { type: "tool_use", id: "toolu_B", name: "time", input: {} }),
  delta(3, { type: "input_json_delta", partial_json: '{"tz":"CET"}' }),
  stop(3),
  messageDelta("tool_use", { output_tokens: 60 }),
  messageStop,
];

describe("Anthropic stream → Chat stream: a whole turn", () => {
  const t = chatToAnthropic.stream(withUsage);
  const events = replay(t, agentTurn);
  const folded = foldChat(events);

  test("is a well-formed Chat stream ending in [DONE], and complete", () => {
    expect(folded.done).toBe(true);
    expect(t.complete).toBe(true);
    expect(folded.id).toBe("chatcmpl-req1");
    expect(folded.model).toBe("my-alias");
  });

  test("carries reasoning, text and both tool calls, numbered in order", () => {
    expect(folded.reasoning).toBe("The user wants the weather.");
    expect(folded.content).toBe("Let me check.");
    expect(folded.toolCalls).toEqual([
      { id: "toolu_A", name: "weather", arguments: '{"city": "Paris"}' },
      { id: "toolu_B", name: "time", arguments: '{"tz":"CET"}' },
    ]);
    expect(folded.finishReason).toBe("tool_calls");
  });

  test("the usage chunk carries the final counts with cached tokens in prompt_tokens", () => {
    expect(folded.usage).toEqual({
      prompt_tokens: 135,
      completion_tokens: 60,
      total_tokens: 195,
      prompt_tokens_details: { cached_tokens: 100 },
      completion_tokens_details: { reasoning_tokens: 0 },
    });
  });

  test("end() after completion adds nothing", () => expect(t.end()).toEqual([]));
});

describe("Anthropic stream → Chat stream: each event", () => {
  const cases: [string, StreamEvent[], JsonObject[]][] = [
    ["message_start → the role chunk", [start()], [{ role: "assistant", content: "" }]],
    ["ping → nothing", [start(), aev("ping")], [{ role: "assistant", content: "" }]],
    ["a text block start with text → that text (LiteLLM PR #25212)", [start(), blockStart(0, { type: "text", text: "Hi" })], [{ role: "assistant", content: "" }, { content: "Hi" }]],
    ["an empty text delta → nothing", [start(), blockStart(0, { type: "text", text: "" }), delta(0, { type: "text_delta", text: "" })], [{ role: "assistant", content: "" }]],
    ["text_delta → content", [start(), blockStart(0, { type: "text", text: "" }), delta(0, { type: "text_delta", text: "a" })], [{ role: "assistant", content: "" }, { content: "a" }]],
    ["thinking_delta → reasoning_content", [start(), blockStart(0, { type: "thinking", thinking: "" }), delta(0, { type: "thinking_delta", thinking: "t" })], [{ role: "assistant", content: "" }, { reasoning_content: "t" }]],
    ["signature_delta → nothing", [start(), blockStart(0, { type: "thinking", thinking: "" }), delta(0, { type: "signature_delta", signature: "s" })], [{ role: "assistant", content: "" }]],
    ["citations_delta → nothing", [start(), blockStart(0, { type: "text", text: "" }), delta(0, { type: "citations_delta", citation: {} })], [{ role: "assistant", content: "" }]],
    ["redacted_thinking → nothing", [start(), blockStart(0, { type: "redacted_thinking", data: "x" }), stop(0)], [{ role: "assistant", content: "" }]],
    ["server_tool_use → nothing", [start(), blockStart(0, { type: "server_tool_use", id: "srvtoolu_1", name: "web_search", input: {} }), delta(0, { type: "input_json_delta", partial_json: "{}" }), stop(0)], [{ role: "assistant", content: "" }]],
    [
      "tool_use start → id, type, name and empty arguments",
      [start(), blockStart(0, { type: "tool_use", id: "toolu_1", name: "f", input: {} })],
      [{ role: "assistant", content: "" }, { tool_calls: [{ index: 0, id: "toolu_1", type: "function", function: { name: "f", arguments: "" } }] }],
    ],
    [
      "input_json_delta → an argument fragment",
      [start(), blockStart(0, { type: "tool_use", id: "toolu_1", name: "f", input: {} }), delta(0, { type: "input_json_delta", partial_json: '{"a"' })],
      [{ role: "assistant", content: "" }, { tool_calls: [{ index: 0, id: "toolu_1", type: "function", function: { name: "f", arguments: "" } }] }, { tool_calls: [{ index: 0, function: { arguments: '{"a"' } }] }],
    ],
    [
      "a tool_use whose input came whole in its start → one fragment at its stop",
      [start(), blockStart(0, { type: "tool_use", id: "toolu_1", name: "f", input: { a: 1 } }), stop(0)],
      [{ role: "assistant", content: "" }, { tool_calls: [{ index: 0, id: "toolu_1", type: "function", function: { name: "f", arguments: "" } }] }, { tool_calls: [{ index: 0, function: { arguments: '{"a":1}' } }] }],
    ],
    ["message_delta → nothing yet", [start(), messageDelta("end_turn")], [{ role: "assistant", content: "" }]],
  ];
  for (const [name, input, deltas] of cases) {
    test(name, () => {
      const out = replay(chatToAnthropic.stream(context()), input, "none");
      expect(out.map((e) => ((e.data as JsonObject).choices as JsonObject[])[0]?.delta)).toEqual(deltas);
    });
  }

  test("message_stop → the finish chunk and [DONE], no usage chunk when the client did not ask", () => {
    const out = replay(chatToAnthropic.stream(context()), [start(), messageDelta("end_turn"), messageStop], "none");
    expect(out.slice(1).map((e) => (typeof e.data === "string" ? e.data : ((e.data as JsonObject).choices as JsonObject[])[0]))).toEqual([
      { index: 0, delta: {}, logprobs: null, finish_reason: "stop" },
      "[DONE]",
    ]);
  });

  const finishes: [string, string][] = [["end_turn", "stop"], ["max_tokens", "length"], ["stop_sequence", "stop"], ["refusal", "content_filter"], ["tool_use", "tool_calls"]];
  for (const [reason, finish] of finishes) {
    test(`stop_reason ${reason} → finish_reason ${finish}`, () => {
      expect(foldChat(replay(chatToAnthropic.stream(context()), [start(), messageDelta(reason), messageStop])).finishReason).toBe(finish);
    });
  }
});

describe("Anthropic stream → Chat stream: endings", () => {
  test("an error event mid-stream ends with an error chunk and no [DONE]", () => {
    const t = chatToAnthropic.stream(withUsage);
    const events = replay(t, [start(), blockStart(0, { type: "text", text: "" }), delta(0, { type: "text_delta", text: "par" }), aev("error", { error: { type: "overloaded_error", message: "Overloaded" } })]);
    const folded = foldChat(events);
    expect(folded.content).toBe("par");
    expect(folded.done).toBe(false);
    expect(folded.error).toEqual({ message: "Overloaded", type: "overloaded_error", code: "overloaded_error" });
    expect(t.complete).toBe(false);
    expect(t.fail("cut")).toEqual([]);
  });

  test("fail() after content: an error chunk saying the stream was cut, no [DONE], no finish", () => {
    const t = chatToAnthropic.stream(withUsage);
    const folded = foldChat(replay(t, [start(), blockStart(0, { type: "text", text: "" }), delta(0, { type: "text_delta", text: "half" })], { fail: "upstream timed out" }));
    expect(folded.error).toEqual({ message: "upstream timed out", type: "upstream_error", code: "stream_cut" });
    expect(folded.done).toBe(false);
    expect(folded.finishReason).toBeNull();
  });

  test("end() without message_stop but with the stop reason closes the answer; not complete", () => {
    const t = chatToAnthropic.stream(context());
    const folded = foldChat(replay(t, [start(), blockStart(0, { type: "text", text: "ok" }), stop(0), messageDelta("end_turn")]));
    expect(folded.done).toBe(true);
    expect(folded.finishReason).toBe("stop");
    expect(t.complete).toBe(false);
  });

  test("end() with neither message_stop nor a stop reason is a cut stream, never a faked completion", () => {
    const folded = foldChat(replay(chatToAnthropic.stream(context()), [start(), blockStart(0, { type: "text", text: "ha" })]));
    expect(folded.done).toBe(false);
    expect(folded.error?.code).toBe("stream_cut");
  });

  test("data that is not JSON, and events of unknown shape, are skipped without throwing", () => {
    const t = chatToAnthropic.stream(context());
    const out = replay(t, [start(), { event: "content_block_delta", data: "{not json" }, { event: "", data: 42 }, aev("content_block_delta", { index: 9, delta: "x" }), aev("brand_new_event", {}), messageDelta("end_turn"), messageStop]);
    expect(foldChat(out)).toMatchObject({ done: true, content: "", finishReason: "stop" });
  });

  test("an event whose data lacks type is read by its event name", () => {
    const out = chatToAnthropic.stream(context()).push({ event: "message_start", data: { message: { usage: {} } } });
    expect(out).toHaveLength(1);
  });
});
