import { describe, expect, test } from "bun:test";
import { anthropicToChat } from "../../src/protocols/openai-anthropic.ts";
import type { JsonObject, StreamEvent } from "../../src/protocols/types.ts";
import { context, chunk, DONE, foldAnthropic, replay, usageChunk } from "./streams.ts";

const ctx = context({ stream: true });
const call = (index: number, fields: JsonObject) => ({ index, ...fields });
const fnStart = (index: number, id: string, name: string, args = "") => call(index, { id, type: "function", function: { name, arguments: args } });
const fnArgs = (index: number, args: string) => call(index, { function: { arguments: args } });

/** A whole DeepSeek-style stream: reasoning, text, two tool calls, finish, then the include_usage chunk and [DONE]. */
const agentTurn: StreamEvent[] = [
  chunk({ role: "assistant", content: "" }),
  chunk({ reasoning_content: "Need the " }),
  chunk({ reasoning_content: "weather." }),
  chunk({ content: "Let me " }),
  chunk({ content: "check." }),
  chunk({ tool_calls: [fnStart(0, "call_A", "weather")] }),
  chunk({ tool_calls: [fnArgs(0, '{"ci')] }),
  chunk({ tool_calls: [fnArgs(0, 'ty": "Paris"}')] }),
  chunk({ tool_calls: [fnStart(1, "call_B", "time", '{"tz":')] }),
  chunk({ tool_calls: [fnArgs(1, '"CET"}')] }),
  chunk({}, "tool_calls"),
  usageChunk({ prompt_tokens: 135, completion_tokens: 60, prompt_tokens_details: { cached_tokens: 100 }, completion_tokens_details: { reasoning_tokens: 20 } }),
  DONE,
];

describe("Chat stream → Anthropic stream: a whole turn", () => {
  const t = anthropicToChat.stream(ctx);
  const events = replay(t, agentTurn);
  const folded = foldAnthropic(events);

  test("is well formed: one message_start, blocks 0..3 one at a time, message_delta, message_stop", () => {
    expect(folded.ended).toBe("message_stop");
    expect(t.complete).toBe(true);
    expect(events.map((e) => e.event)).toEqual([
      "message_start",
      "content_block_start", "content_block_delta", "content_block_delta", "content_block_stop",
      "content_block_start", "content_block_delta", "content_block_delta", "content_block_stop",
      "content_block_start", "content_block_delta", "content_block_delta", "content_block_stop",
      "content_block_start", "content_block_delta", "content_block_delta", "content_block_stop",
      "message_delta", "message_stop",
    ]);
  });

  test("has the id, the alias as model, and the content of every block", () => {
    expect(folded.id).toBe("msg_req1");
    expect(folded.model).toBe("my-alias");
    expect(folded.content).toEqual([
      { type: "thinking", thinking: "Need the weather.", signature: "" },
      { type: "text", text: "Let me check." },
      { type: "tool_use", id: "call_A", name: "weather", input: { city: "Paris" } },
      { type: "tool_use", id: "call_B", name: "time", input: { tz: "CET" } },
    ]);
  });

  test("stops for tool_use with the usage of the chunk that came after the finish", () => {
    expect(folded.stopReason).toBe("tool_use");
    expect(folded.usage).toEqual({ input_tokens: 35, output_tokens: 60, cache_read_input_tokens: 100, cache_creation_input_tokens: 0, output_tokens_details: { thinking_tokens: 20 } });
  });

  test("the finish chunk closes the blocks but the message waits for [DONE]", () => {
    const early = anthropicToChat.stream(ctx);
    const upToFinish = replay(early, agentTurn.slice(0, 11), "none");
    expect(upToFinish.at(-1)?.event).toBe("content_block_stop");
    expect(upToFinish.some((e) => e.event === "message_delta")).toBe(false);
    expect(early.complete).toBe(false);
  });
});

describe("Chat stream → Anthropic stream: each delta kind", () => {
  const kinds: [string, StreamEvent[], JsonObject[]][] = [
    ["content → a text block", [chunk({ content: "hi" })], [{ type: "text", text: "hi" }]],
    ["reasoning_content → a thinking block", [chunk({ reasoning_content: "r" })], [{ type: "thinking", thinking: "r", signature: "" }]],
    ["reasoning (the other field name) → a thinking block", [chunk({ reasoning: "r" })], [{ type: "thinking", thinking: "r", signature: "" }]],
    [
      "a signature in reasoning_details → signature_delta in the thinking block",
      [chunk({ reasoning: "r", reasoning_details: [{ type: "reasoning.text", text: "r", signature: "sig1" }] })],
      [{ type: "thinking", thinking: "r", signature: "sig1" }],
    ],
    ["refusal → text", [chunk({ refusal: "no" })], [{ type: "text", text: "no" }]],
    ["a tool call whole in one chunk", [chunk({ tool_calls: [fnStart(0, "c1", "f", '{"a":1}')] })], [{ type: "tool_use", id: "c1", name: "f", input: { a: 1 } }]],
    ["a tool call without arguments", [chunk({ tool_calls: [fnStart(0, "c1", "f")] })], [{ type: "tool_use", id: "c1", name: "f", input: {} }]],
    ["a tool call without an id gets one made from the request id", [chunk({ tool_calls: [call(0, { function: { name: "f", arguments: "{}" } })] })], [{ type: "tool_use", id: "toolu_req1_0", name: "f", input: {} }]],
    ["a tool call without index is keyed by its position", [chunk({ tool_calls: [{ id: "c1", function: { name: "f", arguments: "{}" } }, { id: "c2", function: { name: "g", arguments: "{}" } }] })], [{ type: "tool_use", id: "c1", name: "f", input: {} }, { type: "tool_use", id: "c2", name: "g", input: {} }]],
    ["empty content and null deltas → nothing", [chunk({ content: "" }), chunk({ content: null }), chunk({})], []],
  ];
  for (const [name, input, content] of kinds) {
    test(name, () => expect(foldAnthropic(replay(anthropicToChat.stream(ctx), [...input, chunk({}, "stop"), DONE])).content).toEqual(content));
  }

  const finishes: [string, string][] = [["stop", "end_turn"], ["length", "max_tokens"], ["content_filter", "refusal"], ["tool_calls", "tool_use"]];
  for (const [finish, reason] of finishes) {
    test(`finish_reason ${finish} → stop_reason ${reason}`, () => {
      expect(foldAnthropic(replay(anthropicToChat.stream(ctx), [chunk({ content: "x" }), chunk({}, finish), DONE])).stopReason).toBe(reason);
    });
  }

  test("a refusal stops for refusal", () => {
    expect(foldAnthropic(replay(anthropicToChat.stream(ctx), [chunk({ refusal: "no" }), chunk({}, "stop"), DONE])).stopReason).toBe("refusal");
  });

  test("reasoning, text, reasoning again: three blocks, each of its kind", () => {
    const folded = foldAnthropic(replay(anthropicToChat.stream(ctx), [chunk({ reasoning_content: "a" }), chunk({ content: "b" }), chunk({ reasoning_content: "c" }), chunk({}, "stop"), DONE]));
    expect(folded.content.map((b) => b.type)).toEqual(["thinking", "text", "thinking"]);
  });

  test("choices other than 0 are ignored", () => {
    const other: StreamEvent = { event: "", data: { id: "x", object: "chat.completion.chunk", choices: [{ index: 1, delta: { content: "other" }, finish_reason: null }] } };
    expect(foldAnthropic(replay(anthropicToChat.stream(ctx), [chunk({ content: "mine" }), other, chunk({}, "stop"), DONE])).content).toEqual([{ type: "text", text: "mine" }]);
  });

  test("message_start comes with the first chunk, before any block, with usage known so far", () => {
    const out = anthropicToChat.stream(ctx).push(chunk({ role: "assistant", content: "" }));
    expect(out).toEqual([
      {
        event: "message_start",
        data: {
          type: "message_start",
          message: { id: "msg_req1", type: "message", role: "assistant", model: "my-alias", content: [], stop_reason: null, stop_sequence: null, usage: { input_tokens: 0, output_tokens: 0, cache_creation_input_tokens: 0, cache_read_input_tokens: 0 } },
        },
      },
    ]);
  });
});

describe("Chat stream → Anthropic stream: tool calls in awkward orders", () => {
  test("two calls interleaved by index each get their own whole block", () => {
    const folded = foldAnthropic(
      replay(anthropicToChat.stream(ctx), [
        chunk({ tool_calls: [fnStart(0, "c0", "a"), fnStart(1, "c1", "b")] }),
        chunk({ tool_calls: [fnArgs(0, '{"x":'), fnArgs(1, '{"y":')] }),
        chunk({ tool_calls: [fnArgs(1, "2}")] }),
        chunk({ tool_calls: [fnArgs(0, "1}")] }),
        chunk({}, "tool_calls"),
        DONE,
      ]),
    );
    expect(folded.content).toEqual([
      { type: "tool_use", id: "c0", name: "a", input: { x: 1 } },
      { type: "tool_use", id: "c1", name: "b", input: { y: 2 } },
    ]);
  });

  test("the next call opens as soon as the open call's arguments are complete JSON, and streams on", () => {
    const events = replay(anthropicToChat.stream(ctx), [
      chunk({ tool_calls: [fnStart(0, "c0", "a", '{"x":1}')] }),
      chunk({ tool_calls: [fnStart(1, "c1", "b", '{"y"')] }),
    ], "none");
    expect(events.filter((e) => e.event === "content_block_start").map((e) => ((e.data as JsonObject).content_block as JsonObject).id)).toEqual(["c0", "c1"]);
    expect(events.at(-1)).toEqual({ event: "content_block_delta", data: { type: "content_block_delta", index: 1, delta: { type: "input_json_delta", partial_json: '{"y"' } } });
  });

  test("a call whose name comes after its first fragment opens once the name is known", () => {
    const folded = foldAnthropic(
      replay(anthropicToChat.stream(ctx), [
        chunk({ tool_calls: [call(0, { id: "c0", function: { arguments: '{"a"' } })] }),
        chunk({ tool_calls: [call(0, { function: { name: "late", arguments: ":1}" } })] }),
        chunk({}, "tool_calls"),
        DONE,
      ]),
    );
    expect(folded.content).toEqual([{ type: "tool_use", id: "c0", name: "late", input: { a: 1 } }]);
  });

  test("calls that all come at index 0, told apart by id, are separate calls", () => {
    const folded = foldAnthropic(
      replay(anthropicToChat.stream(ctx), [
        chunk({ tool_calls: [fnStart(0, "c1", "a", '{"x":')] }),
        chunk({ tool_calls: [fnArgs(0, "1}")] }),
        chunk({ tool_calls: [fnStart(0, "c2", "b", '{"y":2}')] }),
        chunk({ tool_calls: [{ index: 0, id: "c2", function: { arguments: "" } }] }),
        chunk({}, "tool_calls"),
        DONE,
      ]),
    );
    expect(folded.content).toEqual([
      { type: "tool_use", id: "c1", name: "a", input: { x: 1 } },
      { type: "tool_use", id: "c2", name: "b", input: { y: 2 } },
    ]);
  });

  test("text after a tool call opens a new block after it", () => {
    const folded = foldAnthropic(replay(anthropicToChat.stream(ctx), [chunk({ tool_calls: [fnStart(0, "c0", "a", "{}")] }), chunk({ content: "done" }), chunk({}, "tool_calls"), DONE]));
    expect(folded.content.map((b) => b.type)).toEqual(["tool_use", "text"]);
  });
});

describe("Chat stream → Anthropic stream: endings", () => {
  test("no [DONE] after the finish chunk: end() closes the message, which is not complete", () => {
    const t = anthropicToChat.stream(ctx);
    const folded = foldAnthropic(replay(t, [chunk({ content: "hi" }), chunk({}, "stop")]));
    expect(folded.ended).toBe("message_stop");
    expect(t.complete).toBe(false);
  });

  test("end() without a finish_reason is a cut stream: an error event, no message_stop", () => {
    const folded = foldAnthropic(replay(anthropicToChat.stream(ctx), [chunk({ content: "hi" })]));
    expect(folded.ended).toBe("error");
    expect(folded.error).toEqual({ type: "error", error: { type: "api_error", message: "the upstream stream ended before the answer was complete" } });
  });

  test("fail() mid-block sends only the error event, as Anthropic does", () => {
    const t = anthropicToChat.stream(ctx);
    t.push(chunk({ content: "hi" }));
    expect(t.fail("upstream timed out")).toEqual([{ event: "error", data: { type: "error", error: { type: "api_error", message: "upstream timed out" } } }]);
    expect(t.fail("again")).toEqual([]);
    expect(t.end()).toEqual([]);
  });

  test("an error chunk mid-stream ends with an error event of the matching type", () => {
    const folded = foldAnthropic(replay(anthropicToChat.stream(ctx), [chunk({ content: "hi" }), { event: "", data: { error: { message: "Rate limited", code: 429 } } }, DONE]));
    expect(folded.ended).toBe("error");
    expect(folded.error).toEqual({ type: "error", error: { type: "rate_limit_error", message: "Rate limited" } });
  });

  test("[DONE] without any chunk still gives a whole, empty message", () => {
    const folded = foldAnthropic(replay(anthropicToChat.stream(ctx), [DONE]));
    expect(folded).toMatchObject({ ended: "message_stop", content: [], stopReason: "end_turn" });
  });

  test("data that is not JSON, or not a chunk, is skipped without throwing", () => {
    const folded = foldAnthropic(replay(anthropicToChat.stream(ctx), [{ event: "", data: "{cut" }, { event: "", data: null }, chunk({ content: "ok" }), { event: "", data: { choices: "x" } }, { event: "", data: { choices: [{ delta: { tool_calls: "x", content: 5 } }] } }, chunk({}, "stop"), DONE]));
    expect(folded.content).toEqual([{ type: "text", text: "ok" }]);
  });

  test("events after [DONE] are ignored", () => {
    const t = anthropicToChat.stream(ctx);
    replay(t, [chunk({ content: "a" }), DONE], "none");
    expect(t.push(chunk({ content: "late" }))).toEqual([]);
  });
});
