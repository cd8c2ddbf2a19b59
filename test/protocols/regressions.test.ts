/**
 * Bugs other gateways shipped, each replayed here against our translators.
 */

import { describe, expect, test } from "bun:test";
import { anthropicToChat, chatToAnthropic } from "../../src/protocols/openai-anthropic.ts";
import type { JsonObject, RequestContext, StreamEvent } from "../../src/protocols/types.ts";
import { aev, chunk, context, DONE, foldAnthropic, foldChat, replay, usageChunk } from "./streams.ts";

const ctx = context({ stream: true, stream_options: { include_usage: true } });
const rctx: RequestContext = { model: "m", maxTokens: 1000, streamUsage: true };
const fnStart = (index: number, id: string, name: string, args = "") => ({ index, id, type: "function", function: { name, arguments: args } });
const fnArgs = (index: number, args: string) => ({ index, function: { arguments: args } });
const messageStart = aev("message_start", { message: { id: "msg_up", type: "message", role: "assistant", model: "up", content: [], stop_reason: null, stop_sequence: null, usage: { input_tokens: 5, output_tokens: 1 } } });

/** Cuts text into pieces at the given positions. */
function cut(text: string, sizes: number[]): string[] {
  const pieces: string[] = [];
  let at = 0;
  for (let i = 0; at < text.length; i++) {
    const size = sizes[i % sizes.length] ?? 1;
    pieces.push(text.slice(at, at + size));
    at += size;
  }
  return pieces;
}

describe("regressions", () => {
  test("LiteLLM #29491: tool input arrives through input_json_delta, never as input {}", () => {
    const folded = foldAnthropic(replay(anthropicToChat.stream(ctx), [chunk({ tool_calls: [fnStart(0, "c", "Read")] }), chunk({ tool_calls: [fnArgs(0, '{"file_path":')] }), chunk({ tool_calls: [fnArgs(0, '"/a.ts"}')] }), chunk({}, "tool_calls"), DONE]));
    expect(folded.content).toEqual([{ type: "tool_use", id: "c", name: "Read", input: { file_path: "/a.ts" } }]);
    // The other way: input_json_delta reaches the Chat client's arguments.
    const chat = foldChat(
      replay(chatToAnthropic.stream(ctx), [
        messageStart,
        aev("content_block_start", { index: 0, content_block: { type: "tool_use", id: "toolu_1", name: "Read", input: {} } }),
        aev("content_block_delta", { index: 0, delta: { type: "input_json_delta", partial_json: '{"file_path":"/a.ts"}' } }),
        aev("content_block_stop", { index: 0 }),
        aev("message_delta", { delta: { stop_reason: "tool_use" }, usage: { output_tokens: 9 } }),
        aev("message_stop"),
      ]),
    );
    expect(chat.toolCalls).toEqual([{ id: "toolu_1", name: "Read", arguments: '{"file_path":"/a.ts"}' }]);
  });

  test("LiteLLM #32357: reasoning after text opens a thinking block, never a thinking_delta inside the text block", () => {
    const events = replay(anthropicToChat.stream(ctx), [chunk({ content: "Hi" }), chunk({ reasoning_content: "hmm" }), chunk({ content: "there" }), chunk({}, "stop"), DONE]);
    // foldAnthropic throws on a delta of the wrong kind for its block.
    expect(foldAnthropic(events).content).toEqual([
      { type: "text", text: "Hi" },
      { type: "thinking", thinking: "hmm", signature: "" },
      { type: "text", text: "there" },
    ]);
  });

  test("LiteLLM #33224: one message_start however many chunks carry role; one role chunk however many message_starts", () => {
    const events = replay(anthropicToChat.stream(ctx), [chunk({ role: "assistant", content: "" }), chunk({ role: "assistant", content: "a" }), chunk({ role: "assistant", content: "b" }), chunk({}, "stop"), DONE]);
    expect(events.filter((e) => e.event === "message_start")).toHaveLength(1);
    const chat = replay(chatToAnthropic.stream(ctx), [messageStart, messageStart, aev("message_delta", { delta: { stop_reason: "end_turn" } }), aev("message_stop")]);
    expect(foldChat(chat).done).toBe(true);
    expect(chat.filter((e) => JSON.stringify(e.data).includes('"role"'))).toHaveLength(1);
  });

  test("LiteLLM PR #25212: the first token of each new block is kept", () => {
    const folded = foldAnthropic(replay(anthropicToChat.stream(ctx), [chunk({ reasoning_content: "R1" }), chunk({ reasoning_content: "R2" }), chunk({ content: "T1" }), chunk({ content: "T2" }), chunk({ tool_calls: [fnStart(0, "c", "f", '{"k"')] }), chunk({ tool_calls: [fnArgs(0, ":1}")] }), chunk({}, "tool_calls"), DONE]));
    expect(folded.content).toEqual([
      { type: "thinking", thinking: "R1R2", signature: "" },
      { type: "text", text: "T1T2" },
      { type: "tool_use", id: "c", name: "f", input: { k: 1 } },
    ]);
  });

  test("Bifrost #6123, #3638: a turn with text and a tool call stops for tool_use even when the provider says stop", () => {
    const folded = foldAnthropic(replay(anthropicToChat.stream(ctx), [chunk({ content: "Reading." }), chunk({ tool_calls: [fnStart(0, "c", "Read", "{}")] }), chunk({}, "stop"), DONE]));
    expect(folded.stopReason).toBe("tool_use");
    const answer = anthropicToChat.response({ choices: [{ message: { content: "Reading.", tool_calls: [{ id: "c", type: "function", function: { name: "Read", arguments: "{}" } }] }, finish_reason: "stop" }] }, ctx);
    expect(answer.stop_reason).toBe("tool_use");
    // And an Anthropic provider saying end_turn next to a tool_use gives the Chat client tool_calls.
    const chat = chatToAnthropic.response({ content: [{ type: "text", text: "x" }, { type: "tool_use", id: "t", name: "f", input: {} }], stop_reason: "end_turn", usage: {} }, ctx);
    expect((chat.choices as JsonObject[])[0]?.finish_reason).toBe("tool_calls");
  });

  test("Bifrost PR #3441, Portkey #1275: every one of several tool calls is translated, each at its own index", () => {
    const names = ["a", "b", "c", "d"];
    const stream: StreamEvent[] = names.flatMap((name, i) => [chunk({ tool_calls: [fnStart(i, `call_${name}`, name)] }), chunk({ tool_calls: [fnArgs(i, `{"n":${i}}`)] })]);
    const folded = foldAnthropic(replay(anthropicToChat.stream(ctx), [...stream, chunk({}, "tool_calls"), DONE]));
    expect(folded.content).toEqual(names.map((name, i) => ({ type: "tool_use", id: `call_${name}`, name, input: { n: i } })));
    // The other way, block indexes 1.. (after a text block) become tool call indexes 0..
    const events: StreamEvent[] = [messageStart, aev("content_block_start", { index: 0, content_block: { type: "text", text: "" } }), aev("content_block_delta", { index: 0, delta: { type: "text_delta", text: "go" } }), aev("content_block_stop", { index: 0 })];
    names.forEach((name, i) => {
      events.push(aev("content_block_start", { index: i + 1, content_block: { type: "tool_use", id: `toolu_${name}`, name, input: {} } }));
      events.push(aev("content_block_delta", { index: i + 1, delta: { type: "input_json_delta", partial_json: `{"n":${i}}` } }));
      events.push(aev("content_block_stop", { index: i + 1 }));
    });
    events.push(aev("message_delta", { delta: { stop_reason: "tool_use" }, usage: { output_tokens: 3 } }), aev("message_stop"));
    expect(foldChat(replay(chatToAnthropic.stream(ctx), events)).toolCalls).toEqual(names.map((name, i) => ({ id: `toolu_${name}`, name, arguments: `{"n":${i}}` })));
  });

  test("LiteLLM #31069: cache tokens are reported, not 0, both ways", () => {
    const folded = foldAnthropic(replay(anthropicToChat.stream(ctx), [chunk({ content: "x" }), chunk({}, "stop"), usageChunk({ prompt_tokens: 1000, completion_tokens: 2, prompt_tokens_details: { cached_tokens: 900 } }), DONE]));
    expect(folded.usage).toMatchObject({ input_tokens: 100, cache_read_input_tokens: 900 });
    const chat = foldChat(
      replay(chatToAnthropic.stream(ctx), [
        aev("message_start", { message: { usage: { input_tokens: 100, output_tokens: 1, cache_read_input_tokens: 900, cache_creation_input_tokens: 50 } } }),
        aev("message_delta", { delta: { stop_reason: "end_turn" }, usage: { output_tokens: 2 } }),
        aev("message_stop"),
      ]),
    );
    expect(chat.usage).toMatchObject({ prompt_tokens: 1050, prompt_tokens_details: { cached_tokens: 900 } });
  });

  test("new-api #1854: no empty or whitespace-only text block, in streams, answers or requests", () => {
    const folded = foldAnthropic(replay(anthropicToChat.stream(ctx), [chunk({ content: "" }), chunk({ content: "\n\n" }), chunk({ tool_calls: [fnStart(0, "c", "f", "{}")] }), chunk({ content: "" }), chunk({}, "tool_calls"), DONE]));
    expect(folded.content).toEqual([{ type: "tool_use", id: "c", name: "f", input: {} }]);
    const request = chatToAnthropic.request({ messages: [{ role: "user", content: [{ type: "text", text: "" }, { type: "text", text: "hi" }] }, { role: "assistant", content: "", tool_calls: [{ id: "c", type: "function", function: { name: "f", arguments: "{}" } }] }, { role: "tool", tool_call_id: "c", content: "ok" }] }, rctx);
    expect(request.ok && JSON.stringify(request.body)).not.toContain('"text":""');
  });

  test("whitespace before real text is kept once the text comes", () => {
    const folded = foldAnthropic(replay(anthropicToChat.stream(ctx), [chunk({ content: "\n\n" }), chunk({ content: "Hello" }), chunk({}, "stop"), DONE]));
    expect(folded.content).toEqual([{ type: "text", text: "\n\nHello" }]);
  });

  test("a tool call id Anthropic's pattern rejects (Kimi's functions.x:0) is rewritten the same way in the stream and in later history, both directions", () => {
    const folded = foldAnthropic(replay(anthropicToChat.stream(ctx), [chunk({ tool_calls: [fnStart(0, "functions.get_weather:0", "get_weather", "{}")] }), chunk({}, "tool_calls"), DONE]));
    const id = String(folded.content[0]?.id);
    expect(id).toMatch(/^[a-zA-Z0-9_-]+$/);
    // Claude Code sends that id back; the Chat provider sees it paired.
    const next = anthropicToChat.request({ messages: [{ role: "user", content: "w?" }, { role: "assistant", content: folded.content }, { role: "user", content: [{ type: "tool_result", tool_use_id: id, content: "sunny" }] }] }, rctx);
    if (!next.ok) throw new Error(next.message);
    const messages = next.body.messages as JsonObject[];
    expect(((messages[1]?.tool_calls as JsonObject[])[0] as JsonObject).id).toBe(id);
    expect(messages[2]?.tool_call_id).toBe(id);
    // An OpenAI client's history holding the raw id, sent to Anthropic: tool_use and tool_result get the same valid id.
    const toAnthropic = chatToAnthropic.request({ messages: [{ role: "user", content: "w?" }, { role: "assistant", tool_calls: [{ id: "functions.get_weather:0", type: "function", function: { name: "get_weather", arguments: "{}" } }] }, { role: "tool", tool_call_id: "functions.get_weather:0", content: "sunny" }] }, rctx);
    if (!toAnthropic.ok) throw new Error(toAnthropic.message);
    const turns = toAnthropic.body.messages as { content: JsonObject[] }[];
    expect(turns[1]?.content[0]?.id).toBe(id);
    expect(turns[2]?.content[0]?.tool_use_id).toBe(id);
  });

  test("claude-code-router #1378: a DeepSeek reasoning turn's reasoning_content is sent back in the next turn", () => {
    const folded = foldAnthropic(replay(anthropicToChat.stream(ctx), [chunk({ reasoning_content: "I should list files." }), chunk({ tool_calls: [fnStart(0, "call_0", "Bash", '{"command":"ls"}')] }), chunk({}, "tool_calls"), DONE]));
    const next = anthropicToChat.request({ messages: [{ role: "user", content: "files?" }, { role: "assistant", content: folded.content }, { role: "user", content: [{ type: "tool_result", tool_use_id: "call_0", content: "a.ts" }] }] }, rctx);
    if (!next.ok) throw new Error(next.message);
    expect((next.body.messages as JsonObject[])[1]).toEqual({
      role: "assistant",
      content: null,
      reasoning_content: "I should list files.",
      tool_calls: [{ id: "call_0", type: "function", function: { name: "Bash", arguments: '{"command":"ls"}' } }],
    });
  });

  test("claude-code-router #198: arguments cut at any boundary (inside strings, escapes, multi-byte text) still concatenate to the same valid JSON", () => {
    const args = JSON.stringify({ path: "C:\\dir\\file \"q\".txt", text: "héllo 😀 wörld\n\ttab", list: [1, 2.5, null, true], nested: { deep: { deeper: "x".repeat(50) } } });
    for (const sizes of [[1], [2, 3], [7], [5, 1, 11]]) {
      const pieces = cut(args, sizes);
      const stream = [chunk({ tool_calls: [fnStart(0, "c", "Write", pieces[0])] }), ...pieces.slice(1).map((p) => chunk({ tool_calls: [fnArgs(0, p)] })), chunk({}, "tool_calls"), DONE];
      const folded = foldAnthropic(replay(anthropicToChat.stream(ctx), stream));
      expect(folded.content[0]?.input).toEqual(JSON.parse(args));
    }
  });

  test("a tool call whose arguments arrive in 20+ fragments, both directions", () => {
    const args = JSON.stringify({ command: "grep -rn 'TODO' src/ | head -50", description: "Find TODO comments in the source tree", timeout: 120000 });
    const pieces = cut(args, [3]);
    expect(pieces.length).toBeGreaterThan(20);
    const toAnthropic = foldAnthropic(replay(anthropicToChat.stream(ctx), [chunk({ tool_calls: [fnStart(0, "call_1", "Bash")] }), ...pieces.map((p) => chunk({ tool_calls: [fnArgs(0, p)] })), chunk({}, "tool_calls"), DONE]));
    expect(toAnthropic.content).toEqual([{ type: "tool_use", id: "call_1", name: "Bash", input: JSON.parse(args) }]);
    const toChat = foldChat(
      replay(chatToAnthropic.stream(ctx), [
        messageStart,
        aev("content_block_start", { index: 0, content_block: { type: "tool_use", id: "toolu_1", name: "Bash", input: {} } }),
        ...pieces.map((p) => aev("content_block_delta", { index: 0, delta: { type: "input_json_delta", partial_json: p } })),
        aev("content_block_stop", { index: 0 }),
        aev("message_delta", { delta: { stop_reason: "tool_use" }, usage: { output_tokens: 40 } }),
        aev("message_stop"),
      ]),
    );
    expect(JSON.parse(toChat.toolCalls[0]?.arguments ?? "")).toEqual(JSON.parse(args));
  });
});
