import { describe, expect, test } from "bun:test";
import { anthropicToChat, chatToAnthropic } from "../../src/protocols/openai-anthropic.ts";
import type { JsonObject, RequestContext } from "../../src/protocols/types.ts";
import { context } from "./streams.ts";

const ctx = context();

const messagesAnswer = (content: JsonObject[], stop_reason = "end_turn", usage: JsonObject = { input_tokens: 10, output_tokens: 5 }): JsonObject => ({
  id: "msg_up",
  type: "message",
  role: "assistant",
  model: "claude-up",
  content,
  stop_reason,
  stop_sequence: null,
  usage,
});

const completion = (message: JsonObject, finish_reason: string | null = "stop", usage: JsonObject = { prompt_tokens: 10, completion_tokens: 5, total_tokens: 15 }): JsonObject => ({
  id: "chatcmpl-up",
  object: "chat.completion",
  created: 1,
  model: "up-model",
  choices: [{ index: 0, message: { role: "assistant", ...message }, finish_reason }],
  usage,
});

describe("Messages answer → Chat completion", () => {
  test("text, ids and model: the client sees its alias and an id of its own", () => {
    expect(chatToAnthropic.response(messagesAnswer([{ type: "text", text: "Hello" }]), ctx)).toEqual({
      id: "chatcmpl-req1",
      object: "chat.completion",
      created: 1_700_000_000,
      model: "my-alias",
      choices: [{ index: 0, message: { role: "assistant", content: "Hello", refusal: null }, finish_reason: "stop", logprobs: null }],
      usage: { prompt_tokens: 10, completion_tokens: 5, total_tokens: 15, prompt_tokens_details: { cached_tokens: 0 }, completion_tokens_details: { reasoning_tokens: 0 } },
    });
  });

  test("tool_use blocks become tool_calls, finish_reason tool_calls, content kept", () => {
    const out = chatToAnthropic.response(
      messagesAnswer(
        [
          { type: "text", text: "Checking." },
          { type: "tool_use", id: "toolu_1", name: "weather", input: { city: "Paris" } },
          { type: "tool_use", id: "toolu_2", name: "time", input: {} },
        ],
        "tool_use",
      ),
      ctx,
    );
    const choice = (out.choices as JsonObject[])[0] as JsonObject;
    expect(choice.finish_reason).toBe("tool_calls");
    expect(choice.message).toEqual({
      role: "assistant",
      content: "Checking.",
      refusal: null,
      tool_calls: [
        { id: "toolu_1", type: "function", function: { name: "weather", arguments: '{"city":"Paris"}' } },
        { id: "toolu_2", type: "function", function: { name: "time", arguments: "{}" } },
      ],
    });
  });

  test("only tool calls: content null", () => {
    const out = chatToAnthropic.response(messagesAnswer([{ type: "tool_use", id: "t", name: "f", input: {} }], "tool_use"), ctx);
    expect(((out.choices as JsonObject[])[0]?.message as JsonObject).content).toBeNull();
  });

  test("thinking becomes reasoning_content; signatures and redacted thinking are dropped", () => {
    const out = chatToAnthropic.response(
      messagesAnswer([
        { type: "thinking", thinking: "hmm", signature: "sig" },
        { type: "redacted_thinking", data: "opaque" },
        { type: "text", text: "42" },
      ]),
      ctx,
    );
    expect((out.choices as JsonObject[])[0]?.message).toEqual({ role: "assistant", content: "42", refusal: null, reasoning_content: "hmm" });
  });

  const reasons: [string, string][] = [["end_turn", "stop"], ["stop_sequence", "stop"], ["max_tokens", "length"], ["refusal", "content_filter"]];
  for (const [stop, finish] of reasons) {
    test(`stop_reason ${stop} → finish_reason ${finish}`, () => {
      expect((chatToAnthropic.response(messagesAnswer([{ type: "text", text: "x" }], stop), ctx).choices as JsonObject[])[0]?.finish_reason).toBe(finish);
    });
  }

  test("usage with cached tokens: prompt_tokens includes reads and writes", () => {
    const out = chatToAnthropic.response(messagesAnswer([{ type: "text", text: "x" }], "end_turn", { input_tokens: 10, output_tokens: 5, cache_read_input_tokens: 100, cache_creation_input_tokens: 20 }), ctx);
    expect(out.usage).toMatchObject({ prompt_tokens: 130, completion_tokens: 5, total_tokens: 135, prompt_tokens_details: { cached_tokens: 100 } });
  });
});

describe("Chat completion → Messages answer", () => {
  test("text, ids and model", () => {
    expect(anthropicToChat.response(completion({ content: "Hello" }), ctx)).toEqual({
      id: "msg_req1",
      type: "message",
      role: "assistant",
      model: "my-alias",
      content: [{ type: "text", text: "Hello" }],
      stop_reason: "end_turn",
      stop_sequence: null,
      usage: { input_tokens: 10, output_tokens: 5, cache_creation_input_tokens: 0, cache_read_input_tokens: 0 },
    });
  });

  test("reasoning_content (or reasoning) becomes a thinking block before the text", () => {
    for (const field of ["reasoning_content", "reasoning"]) {
      const out = anthropicToChat.response(completion({ content: "42", [field]: "let me see" }), ctx);
      expect(out.content).toEqual([
        { type: "thinking", thinking: "let me see", signature: "" },
        { type: "text", text: "42" },
      ]);
    }
  });

  test("tool calls become tool_use blocks with parsed input; stop_reason tool_use", () => {
    const out = anthropicToChat.response(
      completion(
        {
          content: null,
          tool_calls: [
            { id: "call_1", type: "function", function: { name: "weather", arguments: '{"city":"Paris"}' } },
            { id: "call_2", type: "function", function: { name: "time", arguments: "" } },
          ],
        },
        "tool_calls",
      ),
      ctx,
    );
    expect(out.content).toEqual([
      { type: "tool_use", id: "call_1", name: "weather", input: { city: "Paris" } },
      { type: "tool_use", id: "call_2", name: "time", input: {} },
    ]);
    expect(out.stop_reason).toBe("tool_use");
  });

  test("a tool call without an id gets one made from the request id", () => {
    const out = anthropicToChat.response(completion({ tool_calls: [{ type: "function", function: { name: "f", arguments: "{}" } }] }, "tool_calls"), ctx);
    expect((out.content as JsonObject[])[0]?.id).toBe("toolu_req1_0");
  });

  test("empty and whitespace-only content makes no text block", () => {
    expect(anthropicToChat.response(completion({ content: "" }), ctx).content).toEqual([]);
    expect(anthropicToChat.response(completion({ content: "\n\n", tool_calls: [{ id: "c", type: "function", function: { name: "f", arguments: "{}" } }] }, "tool_calls"), ctx).content).toEqual([
      { type: "tool_use", id: "c", name: "f", input: {} },
    ]);
  });

  test("a refusal becomes text with stop_reason refusal", () => {
    const out = anthropicToChat.response(completion({ content: null, refusal: "I can't help with that." }), ctx);
    expect(out.content).toEqual([{ type: "text", text: "I can't help with that." }]);
    expect(out.stop_reason).toBe("refusal");
  });

  const reasons: [string | null, string][] = [["stop", "end_turn"], ["length", "max_tokens"], ["content_filter", "refusal"], [null, "end_turn"]];
  for (const [finish, stop] of reasons) {
    test(`finish_reason ${String(finish)} → stop_reason ${stop}`, () => expect(anthropicToChat.response(completion({ content: "x" }, finish), ctx).stop_reason).toBe(stop));
  }

  test("usage: cached tokens are taken out of input and named as cache reads", () => {
    const out = anthropicToChat.response(completion({ content: "x" }, "stop", { prompt_tokens: 100, completion_tokens: 5, prompt_tokens_details: { cached_tokens: 80 }, completion_tokens_details: { reasoning_tokens: 3 } }), ctx);
    expect(out.usage).toEqual({ input_tokens: 20, output_tokens: 5, cache_creation_input_tokens: 0, cache_read_input_tokens: 80, output_tokens_details: { thinking_tokens: 3 } });
  });

  test("an answer of the wrong shape gives an empty message rather than throwing", () => {
    expect(anthropicToChat.response({ choices: "nope" }, ctx)).toMatchObject({ type: "message", content: [], stop_reason: "end_turn" });
  });
});

describe("round trips", () => {
  const rctx: RequestContext = { model: "m", maxTokens: 1000, streamUsage: false };

  test("a Chat conversation with tools → Messages → Chat keeps messages and tools", () => {
    const chat: JsonObject = {
      messages: [
        { role: "system", content: "sys" },
        { role: "user", content: "weather?" },
        { role: "assistant", content: "Checking.", tool_calls: [{ id: "call_1", type: "function", function: { name: "weather", arguments: '{"city":"Paris"}' } }] },
        { role: "tool", tool_call_id: "call_1", content: "sunny" },
        { role: "assistant", content: "Sunny." },
      ],
      tools: [{ type: "function", function: { name: "weather", description: "d", parameters: { type: "object", properties: { city: { type: "string" } } } } }],
      tool_choice: "auto",
      temperature: 0.5,
      stop: ["END"],
      max_tokens: 100,
    };
    const there = chatToAnthropic.request(chat, rctx);
    if (!there.ok) throw new Error(there.message);
    const back = anthropicToChat.request(there.body, rctx);
    if (!back.ok) throw new Error(back.message);
    expect(back.body).toEqual({ model: "m", ...chat });
  });

  test("an Anthropic answer → Chat → Anthropic keeps text and tool calls", () => {
    const answer = messagesAnswer([{ type: "text", text: "Checking." }, { type: "tool_use", id: "toolu_1", name: "weather", input: { city: "Paris" } }], "tool_use", { input_tokens: 10, output_tokens: 5, cache_read_input_tokens: 7, cache_creation_input_tokens: 0 });
    const back = anthropicToChat.response(chatToAnthropic.response(answer, ctx), ctx);
    expect(back.content).toEqual(answer.content);
    expect(back.stop_reason).toBe("tool_use");
    expect(back.usage).toEqual(answer.usage);
  });
});
