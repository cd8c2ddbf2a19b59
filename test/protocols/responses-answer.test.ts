import { describe, expect, test } from "bun:test";
import { chatAnswerToResponses } from "../../src/protocols/responses-answer-from-chat.ts";
import { responsesAnswerToChat } from "../../src/protocols/responses-answer-to-chat.ts";
import { openAIShapedError } from "../../src/protocols/responses-errors.ts";
import { chatToResponses, responsesToChat } from "../../src/protocols/responses-translators.ts";
import type { AnswerContext, JsonObject } from "../../src/protocols/types.ts";

const tools = [
  { type: "function", name: "get_weather", parameters: {}, strict: false },
  { type: "custom", name: "apply_patch" },
];
const ctx = (request: JsonObject = { model: "alias", input: "hi", tools }): AnswerContext => ({ alias: "my-alias", id: "a1", request, now: 1_700_000_123 });
const completion = (message: JsonObject, finish: string, usage?: JsonObject): JsonObject => ({
  id: "chatcmpl-up",
  object: "chat.completion",
  created: 1_700_000_000,
  model: "upstream",
  choices: [{ index: 0, message: { role: "assistant", ...message }, finish_reason: finish }],
  ...(usage === undefined ? {} : { usage }),
});

describe("Chat completion → Response", () => {
  test("a text answer is one completed message with the alias as model and the usage converted", () => {
    const r = chatAnswerToResponses(completion({ content: "Hello" }, "stop", { prompt_tokens: 12000, completion_tokens: 40, total_tokens: 12040, prompt_tokens_details: { cached_tokens: 11008 } }), ctx());
    expect(r).toMatchObject({ id: "resp_a1", object: "response", status: "completed", model: "my-alias", created_at: 1_700_000_123, error: null, incomplete_details: null });
    expect(r.output).toEqual([{ id: "msg_a1_0", type: "message", status: "completed", role: "assistant", content: [{ type: "output_text", text: "Hello", annotations: [], logprobs: [] }] }]);
    expect(r.usage).toEqual({ input_tokens: 12000, input_tokens_details: { cached_tokens: 11008 }, output_tokens: 40, output_tokens_details: { reasoning_tokens: 0 }, total_tokens: 12040 });
  });

  test("reasoning, text and tool calls become items in that order; a custom tool's call is a custom_tool_call", () => {
    const r = chatAnswerToResponses(
      completion(
        {
          reasoning_content: "thinking",
          content: "Doing it.",
          tool_calls: [
            { id: "c1", type: "function", function: { name: "get_weather", arguments: '{"city":"Oslo"}' } },
            { id: "c2", type: "function", function: { name: "apply_patch", arguments: '{"input":"*** Begin Patch\\n"}' } },
          ],
        },
        "tool_calls",
      ),
      ctx(),
    );
    expect(r.output).toEqual([
      { id: "rs_a1_0", type: "reasoning", status: "completed", summary: [{ type: "summary_text", text: "thinking" }] },
      { id: "msg_a1_1", type: "message", status: "completed", role: "assistant", content: [{ type: "output_text", text: "Doing it.", annotations: [], logprobs: [] }] },
      { id: "fc_a1_2", type: "function_call", status: "completed", call_id: "c1", name: "get_weather", arguments: '{"city":"Oslo"}' },
      { id: "ctc_a1_3", type: "custom_tool_call", status: "completed", call_id: "c2", name: "apply_patch", input: "*** Begin Patch\n" },
    ]);
  });

  test("a custom call whose arguments are not JSON passes the raw text as input", () => {
    const r = chatAnswerToResponses(completion({ content: null, tool_calls: [{ id: "c", type: "function", function: { name: "apply_patch", arguments: "*** Begin Patch" } }] }, "tool_calls"), ctx());
    expect((r.output as JsonObject[])[0]?.input).toBe("*** Begin Patch");
  });

  test("finish_reason length is an incomplete response for max_output_tokens", () => {
    const r = chatAnswerToResponses(completion({ content: "cut" }, "length"), ctx());
    expect(r.status).toBe("incomplete");
    expect(r.incomplete_details).toEqual({ reason: "max_output_tokens" });
    expect((r.output as JsonObject[])[0]?.status).toBe("incomplete");
  });

  test("finish_reason content_filter is incomplete for content_filter", () => {
    expect(chatAnswerToResponses(completion({ content: "" }, "content_filter"), ctx()).incomplete_details).toEqual({ reason: "content_filter" });
  });

  test("request parameters are echoed as the Responses API does", () => {
    const r = chatAnswerToResponses(completion({ content: "x" }, "stop"), ctx({ input: "x", instructions: "Be brief.", temperature: 0.3, max_output_tokens: 50, tool_choice: "required", tools }));
    expect(r).toMatchObject({ instructions: "Be brief.", temperature: 0.3, max_output_tokens: 50, tool_choice: "required", tools, store: false });
  });
});

describe("Response → Chat completion", () => {
  const response = (output: JsonObject[], extra: JsonObject = {}): JsonObject => ({ id: "resp_up", object: "response", created_at: 1_700_000_001, status: "completed", output, ...extra });

  test("messages, reasoning and function calls become one Chat message", () => {
    const c = responsesAnswerToChat(
      response(
        [
          { type: "reasoning", id: "rs", summary: [{ type: "summary_text", text: "hmm" }] },
          { type: "message", id: "m", role: "assistant", status: "completed", content: [{ type: "output_text", text: "Hi", annotations: [] }] },
          { type: "function_call", id: "fc", call_id: "call_1", name: "get_weather", arguments: "{}", status: "completed" },
          { type: "web_search_call", id: "ws", status: "completed" },
        ],
        { usage: { input_tokens: 100, input_tokens_details: { cached_tokens: 90 }, output_tokens: 7, output_tokens_details: { reasoning_tokens: 2 }, total_tokens: 107 } },
      ),
      ctx({ model: "alias", messages: [] }),
    );
    expect(c).toEqual({
      id: "chatcmpl-a1",
      object: "chat.completion",
      created: 1_700_000_123,
      model: "my-alias",
      choices: [
        {
          index: 0,
          logprobs: null,
          finish_reason: "tool_calls",
          message: { role: "assistant", content: "Hi", refusal: null, reasoning_content: "hmm", tool_calls: [{ id: "call_1", type: "function", function: { name: "get_weather", arguments: "{}" } }] },
        },
      ],
      usage: { prompt_tokens: 100, completion_tokens: 7, total_tokens: 107, prompt_tokens_details: { cached_tokens: 90 }, completion_tokens_details: { reasoning_tokens: 2 } },
    });
  });

  test("an incomplete response for max_output_tokens finishes with length", () => {
    const c = responsesAnswerToChat(response([{ type: "message", content: [{ type: "output_text", text: "cut" }] }], { status: "incomplete", incomplete_details: { reason: "max_output_tokens" } }), ctx({ messages: [] }));
    expect((c.choices as JsonObject[])[0]?.finish_reason).toBe("length");
  });

  test("a custom tool call stays custom when the Chat client declared a custom tool, else it is a function with {input}", () => {
    const out = [{ type: "custom_tool_call", call_id: "p", name: "apply_patch", input: "patch" }];
    const custom = responsesAnswerToChat(response(out), ctx({ messages: [], tools: [{ type: "custom", custom: { name: "apply_patch" } }] }));
    expect(((custom.choices as JsonObject[])[0]?.message as JsonObject).tool_calls).toEqual([{ id: "p", type: "custom", custom: { name: "apply_patch", input: "patch" } }]);
    const plain = responsesAnswerToChat(response(out), ctx({ messages: [] }));
    expect(((plain.choices as JsonObject[])[0]?.message as JsonObject).tool_calls).toEqual([{ id: "p", type: "function", function: { name: "apply_patch", arguments: '{"input":"patch"}' } }]);
  });
});

describe("errors", () => {
  const cases: { name: string; status: number; body: unknown; error: JsonObject }[] = [
    {
      name: "an OpenAI-shaped error keeps its fields",
      status: 400,
      body: { error: { message: "bad param", type: "invalid_request_error", param: "tools", code: "invalid_value" } },
      error: { message: "bad param", type: "invalid_request_error", param: "tools", code: "invalid_value" },
    },
    { name: "a bare string body is the message", status: 502, body: "Bad Gateway", error: { message: "Bad Gateway", type: "server_error", param: null, code: null } },
    { name: "a string error field is the message", status: 429, body: { error: "slow down" }, error: { message: "slow down", type: "rate_limit_error", param: null, code: null } },
    { name: "a FastAPI detail is the message", status: 422, body: { detail: "field required" }, error: { message: "field required", type: "invalid_request_error", param: null, code: null } },
    { name: "a numeric code is kept as text", status: 401, body: { error: { message: "no key", code: 401 } }, error: { message: "no key", type: "authentication_error", param: null, code: "401" } },
    { name: "an empty body still says what happened", status: 503, body: "", error: { message: "the provider answered 503 without an error message", type: "server_error", param: null, code: null } },
  ];
  for (const c of cases) {
    test(c.name, () => {
      expect(openAIShapedError(c.status, c.body)).toEqual({ status: c.status, body: { error: c.error } });
    });
  }

  test("both translators keep the status", () => {
    expect(responsesToChat.error(404, { error: { message: "no model" } }).status).toBe(404);
    expect(chatToResponses.error(500, "boom").status).toBe(500);
  });
});
