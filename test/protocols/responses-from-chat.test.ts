import { describe, expect, test } from "bun:test";
import { chatRequestToResponses } from "../../src/protocols/responses-request-from-chat.ts";
import { responsesStreamToChat } from "../../src/protocols/responses-stream-to-chat.ts";
import type { AnswerContext, JsonObject, RequestContext, StreamEvent } from "../../src/protocols/types.ts";

const rctx: RequestContext = { model: "upstream", maxTokens: 1024, streamUsage: false };
const translate = (body: JsonObject): JsonObject => {
  const r = chatRequestToResponses(body, rctx);
  if (!r.ok) throw new Error(r.message);
  return r.body;
};
const weather = { type: "function", function: { name: "get_weather", description: "Weather", parameters: { type: "object", properties: { city: { type: "string" } } } } };

describe("Chat request → Responses request", () => {
  test("messages become input items in order, tool calls and results included", () => {
    const body = translate({
      model: "alias",
      messages: [
        { role: "system", content: "Be brief." },
        { role: "user", content: [{ type: "text", text: "Look:" }, { type: "image_url", image_url: { url: "data:image/png;base64,AA", detail: "low" } }] },
        { role: "assistant", content: "Checking.", reasoning_content: "private", tool_calls: [{ id: "c1", type: "function", function: { name: "get_weather", arguments: '{"city":"Oslo"}' } }] },
        { role: "tool", tool_call_id: "c1", content: "cold" },
        { role: "developer", content: [{ type: "text", text: "Use metric." }] },
      ],
      tools: [weather],
    });
    expect(body.input).toEqual([
      { type: "message", role: "system", content: "Be brief." },
      { type: "message", role: "user", content: [{ type: "input_text", text: "Look:" }, { type: "input_image", image_url: "data:image/png;base64,AA", detail: "low" }] },
      { type: "message", role: "assistant", content: "Checking." },
      { type: "function_call", call_id: "c1", name: "get_weather", arguments: '{"city":"Oslo"}' },
      { type: "function_call_output", call_id: "c1", output: "cold" },
      { type: "message", role: "developer", content: "Use metric." },
    ]);
    expect(body.store).toBe(false);
    expect(body.model).toBe("upstream");
  });

  test("function tools move to the top level; strict absent is sent as false", () => {
    expect(translate({ messages: [], tools: [weather], tool_choice: { type: "function", function: { name: "get_weather" } }, parallel_tool_calls: false })).toMatchObject({
      tools: [{ type: "function", name: "get_weather", description: "Weather", parameters: weather.function.parameters, strict: false }],
      tool_choice: { type: "function", name: "get_weather" },
      parallel_tool_calls: false,
    });
  });

  test("tool_choice is not sent without tools", () => {
    const body = translate({ messages: [], tool_choice: "required", parallel_tool_calls: true });
    expect(body.tool_choice).toBeUndefined();
    expect(body.parallel_tool_calls).toBeUndefined();
  });

  test("a Chat custom tool and its calls stay custom", () => {
    const body = translate({
      messages: [
        { role: "assistant", content: null, tool_calls: [{ id: "p", type: "custom", custom: { name: "apply_patch", input: "diff" } }] },
        { role: "tool", tool_call_id: "p", content: [{ type: "text", text: "ok" }] },
      ],
      tools: [{ type: "custom", custom: { name: "apply_patch", format: { type: "grammar", grammar: { syntax: "lark", definition: "start: x" } } } }],
    });
    expect(body.tools).toEqual([{ type: "custom", name: "apply_patch", format: { type: "grammar", syntax: "lark", definition: "start: x" } }]);
    expect(body.input).toEqual([
      { type: "custom_tool_call", call_id: "p", name: "apply_patch", input: "diff" },
      { type: "custom_tool_call_output", call_id: "p", output: "ok" },
    ]);
  });

  test("parameters map across and the ones without a Responses counterpart are dropped", () => {
    const body = translate({
      messages: [{ role: "user", content: "x" }],
      max_tokens: 100,
      reasoning_effort: "minimal",
      response_format: { type: "json_schema", json_schema: { name: "t", schema: { type: "object" }, strict: true } },
      verbosity: "low",
      temperature: 0.5,
      top_p: 1,
      user: "u",
      stream: true,
      stream_options: { include_usage: true },
      stop: ["\n"],
      seed: 1,
      frequency_penalty: 0.1,
      logprobs: true,
      n: 1,
    });
    expect(body).toEqual({
      model: "upstream",
      input: [{ type: "message", role: "user", content: "x" }],
      store: false,
      max_output_tokens: 100,
      reasoning: { effort: "minimal" },
      text: { format: { type: "json_schema", name: "t", schema: { type: "object" }, strict: true }, verbosity: "low" },
      temperature: 0.5,
      top_p: 1,
      user: "u",
      stream: true,
    });
  });

  const refusals: [string, JsonObject, RegExp][] = [
    ["n above 1 is refused", { messages: [], n: 2 }, /`n` above 1/],
    ["audio output is refused", { messages: [], modalities: ["text", "audio"] }, /audio/],
    ["legacy functions are refused", { messages: [], functions: [{ name: "f" }] }, /legacy/],
    ["the legacy function role is refused", { messages: [{ role: "function", name: "f", content: "x" }] }, /function` role/],
  ];
  for (const [name, body, says] of refusals) {
    test(name, () => {
      const r = chatRequestToResponses(body, rctx);
      expect(r.ok).toBe(false);
      if (!r.ok) expect(r.message).toMatch(says);
    });
  }
});

describe("Responses stream → Chat chunks", () => {
  const ctx = (request: JsonObject): AnswerContext => ({ alias: "my-alias", id: "s1", request, now: 1_700_000_000 });
  let seq = 0;
  const ev = (type: string, fields: JsonObject = {}): StreamEvent => ({ event: type, data: { type, sequence_number: seq++, ...fields } });
  const usage = { input_tokens: 30, input_tokens_details: { cached_tokens: 20 }, output_tokens: 5, output_tokens_details: { reasoning_tokens: 1 }, total_tokens: 35 };
  const fc = { id: "fc_1", type: "function_call", status: "in_progress", call_id: "call_1", name: "get_weather", arguments: "" };
  const full = [
    ev("response.created", { response: { status: "in_progress", output: [] } }),
    ev("response.in_progress", { response: { status: "in_progress", output: [] } }),
    ev("response.output_item.added", { output_index: 0, item: { id: "rs_1", type: "reasoning", summary: [] } }),
    ev("response.reasoning_summary_text.delta", { output_index: 0, item_id: "rs_1", summary_index: 0, delta: "plan" }),
    ev("response.output_item.done", { output_index: 0, item: { id: "rs_1", type: "reasoning", summary: [{ type: "summary_text", text: "plan" }] } }),
    ev("response.output_item.added", { output_index: 1, item: { id: "m", type: "message", role: "assistant", content: [] } }),
    ev("response.output_text.delta", { output_index: 1, item_id: "m", content_index: 0, delta: "Hi" }),
    ev("response.output_item.done", { output_index: 1, item: { id: "m", type: "message", content: [{ type: "output_text", text: "Hi" }] } }),
    ev("response.output_item.added", { output_index: 2, item: fc }),
    ev("response.function_call_arguments.delta", { output_index: 2, item_id: "fc_1", delta: '{"city"' }),
    ev("response.function_call_arguments.delta", { output_index: 2, item_id: "fc_1", delta: ':"Oslo"}' }),
    ev("response.output_item.done", { output_index: 2, item: { ...fc, arguments: '{"city":"Oslo"}' } }),
    ev("response.completed", { response: { status: "completed", output: [], usage } }),
  ];
  const deltas = (events: StreamEvent[]) => events.filter((e) => typeof e.data === "object").map((e) => ((e.data as JsonObject).choices as JsonObject[])[0]);

  test("text, reasoning and a function call become chunks, then the finish chunk, the usage chunk and [DONE]", () => {
    const t = responsesStreamToChat(ctx({ messages: [], stream: true, stream_options: { include_usage: true } }));
    const out = full.flatMap((e) => t.push(e));
    expect(t.complete).toBe(true);
    expect(out.every((e) => e.event === "")).toBe(true);
    expect(out[out.length - 1]?.data).toBe("[DONE]");
    const chunks = out.slice(0, -1).map((e) => e.data as JsonObject);
    expect(chunks.every((c) => c.id === "chatcmpl-s1" && c.model === "my-alias" && c.object === "chat.completion.chunk")).toBe(true);
    expect(chunks.map((c) => (c.choices as JsonObject[])[0]?.delta ?? "usage")).toEqual([
      { role: "assistant", content: "" },
      { reasoning_content: "plan" },
      { content: "Hi" },
      { tool_calls: [{ index: 0, id: "call_1", type: "function", function: { name: "get_weather", arguments: "" } }] },
      { tool_calls: [{ index: 0, function: { arguments: '{"city"' } }] },
      { tool_calls: [{ index: 0, function: { arguments: ':"Oslo"}' } }] },
      {},
      "usage",
    ]);
    expect((chunks[6]?.choices as JsonObject[])[0]?.finish_reason).toBe("tool_calls");
    expect(chunks[7]).toMatchObject({ choices: [], usage: { prompt_tokens: 30, completion_tokens: 5, total_tokens: 35, prompt_tokens_details: { cached_tokens: 20 } } });
    expect(t.end()).toEqual([]);
  });

  test("no usage chunk unless the client asked for it", () => {
    const t = responsesStreamToChat(ctx({ messages: [], stream: true }));
    const out = full.flatMap((e) => t.push(e));
    expect(out.some((e) => typeof e.data === "object" && (e.data as JsonObject).usage !== undefined)).toBe(false);
    expect(out[out.length - 1]?.data).toBe("[DONE]");
  });

  test("a backend that sends only finished items is caught up from them", () => {
    const t = responsesStreamToChat(ctx({ messages: [] }));
    const out = [
      ev("response.created", { response: {} }),
      ev("response.output_item.added", { output_index: 0, item: { id: "m", type: "message", content: [] } }),
      ev("response.output_item.done", { output_index: 0, item: { id: "m", type: "message", content: [{ type: "output_text", text: "whole" }] } }),
      ev("response.output_item.done", { output_index: 1, item: { ...fc, arguments: "{}" } }),
      ev("response.completed", { response: { status: "completed" } }),
    ].flatMap((e) => t.push(e));
    expect(deltas(out).map((c) => c?.delta)).toEqual([
      { role: "assistant", content: "" },
      { content: "whole" },
      { tool_calls: [{ index: 0, id: "call_1", type: "function", function: { name: "get_weather", arguments: "{}" } }] },
      {},
    ]);
  });

  test("response.incomplete for max_output_tokens finishes with length and [DONE]", () => {
    const t = responsesStreamToChat(ctx({ messages: [] }));
    const out = [ev("response.created", { response: {} }), ev("response.incomplete", { response: { status: "incomplete", incomplete_details: { reason: "max_output_tokens" } } })].flatMap((e) => t.push(e));
    expect(deltas(out).pop()?.finish_reason).toBe("length");
    expect(out[out.length - 1]?.data).toBe("[DONE]");
    expect(t.complete).toBe(true);
  });

  test("response.failed ends with an error chunk and no [DONE]", () => {
    const t = responsesStreamToChat(ctx({ messages: [] }));
    const out = [ev("response.created", { response: {} }), ev("response.failed", { response: { status: "failed", error: { code: "server_error", message: "model crashed" } } })].flatMap((e) => t.push(e));
    expect(out[out.length - 1]?.data).toEqual({ error: { message: "model crashed", type: "server_error", param: null, code: "server_error" } });
    expect(out.some((e) => e.data === "[DONE]")).toBe(false);
    expect(t.complete).toBe(false);
    expect(t.fail("cut")).toEqual([]);
  });

  test("fail() after commit ends with an error chunk and no [DONE]", () => {
    const t = responsesStreamToChat(ctx({ messages: [] }));
    t.push(ev("response.created", { response: {} }));
    expect(t.fail("connection reset").map((e) => e.data)).toEqual([{ error: { message: "connection reset", type: "server_error", param: null, code: "server_error" } }]);
  });
});
