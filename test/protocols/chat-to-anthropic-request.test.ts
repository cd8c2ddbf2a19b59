import { describe, expect, test } from "bun:test";
import { chatToAnthropic } from "../../src/protocols/openai-anthropic.ts";
import type { JsonObject, RequestContext } from "../../src/protocols/types.ts";

const ctx: RequestContext = { model: "claude-up", maxTokens: 4096, streamUsage: false };

function translate(body: JsonObject): JsonObject {
  const result = chatToAnthropic.request(body, ctx);
  if (!result.ok) throw new Error(result.message);
  return result.body;
}

function refusal(body: JsonObject): string {
  const result = chatToAnthropic.request(body, ctx);
  if (result.ok) throw new Error(`translated: ${JSON.stringify(result.body)}`);
  return result.message;
}

const user = (content: unknown) => ({ role: "user", content });

/** Every top-level field the Messages API knows; anything else would be refused. */
const MESSAGES_FIELDS = new Set(["model", "max_tokens", "messages", "system", "stop_sequences", "temperature", "top_p", "top_k", "tools", "tool_choice", "thinking", "metadata", "stream"]);

describe("Chat request → Messages request: fields", () => {
  test("model from the route, max_tokens from the context when the client gave none", () => {
    expect(translate({ model: "alias", messages: [user("hi")] })).toEqual({
      model: "claude-up",
      max_tokens: 4096,
      messages: [{ role: "user", content: [{ type: "text", text: "hi" }] }],
    });
  });

  test("max_completion_tokens wins over max_tokens", () => {
    expect(translate({ messages: [user("hi")], max_tokens: 10, max_completion_tokens: 20 }).max_tokens).toBe(20);
    expect(translate({ messages: [user("hi")], max_tokens: 10 }).max_tokens).toBe(10);
  });

  const sampling: [string, JsonObject, JsonObject][] = [
    ["temperature and top_p: top_p dropped (newer Claude models refuse both)", { temperature: 0.5, top_p: 0.9 }, { temperature: 0.5 }],
    ["top_p alone kept", { top_p: 0.9 }, { top_p: 0.9 }],
    ["temperature above Anthropic's 1 clamped", { temperature: 1.7 }, { temperature: 1 }],
  ];
  for (const [name, fields, want] of sampling) {
    test(name, () => {
      const out = translate({ messages: [user("hi")], ...fields });
      expect({ temperature: out.temperature, top_p: out.top_p }).toEqual({ temperature: undefined, top_p: undefined, ...want });
    });
  }

  test("stop as a string or an array becomes stop_sequences; whitespace-only ones dropped", () => {
    expect(translate({ messages: [user("hi")], stop: "END" }).stop_sequences).toEqual(["END"]);
    expect(translate({ messages: [user("hi")], stop: ["a", " ", "b"] }).stop_sequences).toEqual(["a", "b"]);
    expect(translate({ messages: [user("hi")], stop: null }).stop_sequences).toBeUndefined();
  });

  test("user (or safety_identifier) becomes metadata.user_id", () => {
    expect(translate({ messages: [user("hi")], user: "u-1" }).metadata).toEqual({ user_id: "u-1" });
    expect(translate({ messages: [user("hi")], safety_identifier: "s-1" }).metadata).toEqual({ user_id: "s-1" });
  });

  test("stream kept; stream_options dropped", () => {
    const out = translate({ messages: [user("hi")], stream: true, stream_options: { include_usage: true } });
    expect(out.stream).toBe(true);
    expect(out.stream_options).toBeUndefined();
  });

  test("OpenAI-only fields never reach Anthropic", () => {
    const out = translate({
      messages: [user("hi")],
      n: 1,
      logprobs: true,
      top_logprobs: 2,
      presence_penalty: 0.1,
      frequency_penalty: 0.1,
      seed: 7,
      logit_bias: { "1": 2 },
      stream_options: { include_usage: true },
      response_format: { type: "json_schema", json_schema: { name: "x", schema: {} } },
      modalities: ["text"],
      store: true,
      metadata: { a: "b" },
      service_tier: "flex",
      prediction: { type: "content", content: "x" },
      prompt_cache_key: "k",
      verbosity: "low",
      web_search_options: {},
      parallel_tool_calls: true,
    });
    for (const key of Object.keys(out)) expect(MESSAGES_FIELDS.has(key)).toBe(true);
    expect(Object.keys(out).sort()).toEqual(["max_tokens", "messages", "model"]);
  });
});

describe("Chat request → Messages request: what cannot be translated", () => {
  const cases: [string, JsonObject, string][] = [
    ["n > 1", { n: 2, messages: [user("hi")] }, "n > 1"],
    ["audio output", { modalities: ["text", "audio"], messages: [user("hi")] }, "audio"],
    ["audio input", { messages: [user([{ type: "input_audio", input_audio: { data: "AAA", format: "wav" } }])] }, "audio"],
    ["a file id", { messages: [user([{ type: "file", file: { file_id: "file-1" } }])] }, "file"],
    ["legacy functions", { functions: [{ name: "f" }], messages: [user("hi")] }, "legacy"],
    ["a custom (non-function) tool", { tools: [{ type: "custom", custom: { name: "x" } }], messages: [user("hi")] }, "custom"],
    ["messages missing", {}, "messages"],
    ["only empty messages", { messages: [user(""), { role: "assistant", content: "  " }] }, "no message"],
    ["an unknown role", { messages: [{ role: "narrator", content: "x" }] }, "unknown role"],
  ];
  for (const [name, body, part] of cases) test(`${name} is refused, saying why`, () => expect(refusal(body)).toContain(part));
});

describe("Chat request → Messages request: messages", () => {
  test("system and developer messages become system blocks, in order, wherever they stand", () => {
    const out = translate({
      messages: [{ role: "system", content: "one" }, user("hi"), { role: "developer", content: [{ type: "text", text: "two" }] }],
    });
    expect(out.system).toEqual([{ type: "text", text: "one" }, { type: "text", text: "two" }]);
    expect(out.messages).toEqual([{ role: "user", content: [{ type: "text", text: "hi" }] }]);
  });

  test("multi-turn history keeps its order and roles", () => {
    const out = translate({ messages: [user("a"), { role: "assistant", content: "b" }, user("c")] });
    expect(out.messages).toEqual([
      { role: "user", content: [{ type: "text", text: "a" }] },
      { role: "assistant", content: [{ type: "text", text: "b" }] },
      { role: "user", content: [{ type: "text", text: "c" }] },
    ]);
  });

  test("images: a data URL becomes a base64 source, a web URL a url source", () => {
    const out = translate({
      messages: [
        user([
          { type: "text", text: "look" },
          { type: "image_url", image_url: { url: "data:image/jpeg;base64,/9j/4AAQ", detail: "high" } },
          { type: "image_url", image_url: { url: "https://example.com/a.png" } },
        ]),
      ],
    });
    expect(out.messages).toEqual([
      {
        role: "user",
        content: [
          { type: "text", text: "look" },
          { type: "image", source: { type: "base64", media_type: "image/jpeg", data: "/9j/4AAQ" } },
          { type: "image", source: { type: "url", url: "https://example.com/a.png" } },
        ],
      },
    ]);
  });

  test("a base64 PDF file part becomes a document block", () => {
    const out = translate({ messages: [user([{ type: "file", file: { filename: "a.pdf", file_data: "data:application/pdf;base64,JVBERi0=" } }])] });
    expect((out.messages as JsonObject[])[0]?.content).toEqual([{ type: "document", source: { type: "base64", media_type: "application/pdf", data: "JVBERi0=" } }]);
  });

  test("tool calls become tool_use blocks after the text; arguments parsed into input", () => {
    const out = translate({
      messages: [
        user("weather?"),
        {
          role: "assistant",
          content: "Checking.",
          tool_calls: [
            { id: "call_1", type: "function", function: { name: "weather", arguments: '{"city":"Paris"}' } },
            { id: "call_2", type: "function", function: { name: "time", arguments: "" } },
          ],
        },
        { role: "tool", tool_call_id: "call_1", content: "sunny" },
        { role: "tool", tool_call_id: "call_2", content: [{ type: "text", text: "noon" }] },
        user("thanks"),
      ],
    });
    expect(out.messages).toEqual([
      { role: "user", content: [{ type: "text", text: "weather?" }] },
      {
        role: "assistant",
        content: [
          { type: "text", text: "Checking." },
          { type: "tool_use", id: "call_1", name: "weather", input: { city: "Paris" } },
          { type: "tool_use", id: "call_2", name: "time", input: {} },
        ],
      },
      {
        role: "user",
        content: [
          { type: "tool_result", tool_use_id: "call_1", content: "sunny" },
          { type: "tool_result", tool_use_id: "call_2", content: [{ type: "text", text: "noon" }] },
          { type: "text", text: "thanks" },
        ],
      },
    ]);
  });

  test("an assistant turn with tool calls and null content has no text block", () => {
    const out = translate({
      messages: [user("x"), { role: "assistant", content: null, tool_calls: [{ id: "c", type: "function", function: { name: "f", arguments: "{}" } }] }, { role: "tool", tool_call_id: "c", content: "" }],
    });
    expect(out.messages).toEqual([
      { role: "user", content: [{ type: "text", text: "x" }] },
      { role: "assistant", content: [{ type: "tool_use", id: "c", name: "f", input: {} }] },
      { role: "user", content: [{ type: "tool_result", tool_use_id: "c" }] },
    ]);
  });

  test("a tool result with an image keeps it inside the result", () => {
    const out = translate({
      messages: [
        user("x"),
        { role: "assistant", tool_calls: [{ id: "c", type: "function", function: { name: "shot", arguments: "{}" } }] },
        { role: "tool", tool_call_id: "c", content: [{ type: "text", text: "here" }, { type: "image_url", image_url: { url: "data:image/png;base64,AAA" } }] },
      ],
    });
    expect((out.messages as JsonObject[])[2]).toEqual({
      role: "user",
      content: [{ type: "tool_result", tool_use_id: "c", content: [{ type: "text", text: "here" }, { type: "image", source: { type: "base64", media_type: "image/png", data: "AAA" } }] }],
    });
  });

  test("a final assistant turn (prefill) loses the trailing whitespace Anthropic refuses", () => {
    expect(translate({ messages: [user("a"), { role: "assistant", content: "The answer is " }] }).messages).toEqual([
      { role: "user", content: [{ type: "text", text: "a" }] },
      { role: "assistant", content: [{ type: "text", text: "The answer is" }] },
    ]);
    expect(translate({ messages: [user("a"), { role: "assistant", content: "Hi " }, user("b")] }).messages).toContainEqual({ role: "assistant", content: [{ type: "text", text: "Hi " }] });
  });

  test("consecutive user messages merge into one turn", () => {
    expect(translate({ messages: [user("a"), user("b")] }).messages).toEqual([{ role: "user", content: [{ type: "text", text: "a" }, { type: "text", text: "b" }] }]);
  });

  test("an assistant's reasoning_content is not sent: Anthropic accepts only thinking it signed", () => {
    const out = translate({ messages: [user("a"), { role: "assistant", content: "b", reasoning_content: "hmm" }, user("c")] });
    expect(JSON.stringify(out)).not.toContain("hmm");
  });

  test("cache_control on a text part (OpenRouter style) is carried to the block", () => {
    const out = translate({ messages: [user([{ type: "text", text: "big", cache_control: { type: "ephemeral" } }])] });
    expect((out.messages as JsonObject[])[0]?.content).toEqual([{ type: "text", text: "big", cache_control: { type: "ephemeral" } }]);
  });
});

describe("Chat request → Messages request: tools", () => {
  const weather = { type: "function", function: { name: "weather", description: "Weather in a city", parameters: { type: "object", properties: { city: { type: "string" } }, required: ["city"] }, strict: true } };

  test("a function tool becomes name, description and input_schema; strict dropped", () => {
    expect(translate({ messages: [user("x")], tools: [weather] }).tools).toEqual([
      { name: "weather", description: "Weather in a city", input_schema: { type: "object", properties: { city: { type: "string" } }, required: ["city"] } },
    ]);
  });

  test("a tool without parameters gets an empty object schema", () => {
    expect(translate({ messages: [user("x")], tools: [{ type: "function", function: { name: "now" } }] }).tools).toEqual([{ name: "now", input_schema: { type: "object" } }]);
  });

  const choices: [string, JsonObject, unknown][] = [
    ["auto", { tool_choice: "auto" }, { type: "auto" }],
    ["none", { tool_choice: "none" }, { type: "none" }],
    ["required → any", { tool_choice: "required" }, { type: "any" }],
    ["a named function → tool", { tool_choice: { type: "function", function: { name: "weather" } } }, { type: "tool", name: "weather" }],
    ["parallel_tool_calls false → disable_parallel_tool_use", { parallel_tool_calls: false }, { type: "auto", disable_parallel_tool_use: true }],
    ["required without parallel calls", { tool_choice: "required", parallel_tool_calls: false }, { type: "any", disable_parallel_tool_use: true }],
    ["none ignores parallel_tool_calls (Anthropic's none has no such field)", { tool_choice: "none", parallel_tool_calls: false }, { type: "none" }],
    ["absent stays absent", {}, undefined],
  ];
  for (const [name, fields, want] of choices) test(`tool_choice ${name}`, () => expect(translate({ messages: [user("x")], tools: [weather], ...fields }).tool_choice).toEqual(want));

  test("tool_choice without tools is not sent", () => {
    const out = translate({ messages: [user("x")], tool_choice: "required", parallel_tool_calls: false });
    expect(out.tool_choice).toBeUndefined();
    expect(out.tools).toBeUndefined();
  });

  test("allowed_tools narrows the tools and sets the mode", () => {
    const time = { type: "function", function: { name: "time" } };
    const out = translate({
      messages: [user("x")],
      tools: [weather, time],
      tool_choice: { type: "allowed_tools", allowed_tools: { mode: "required", tools: [{ type: "function", function: { name: "time" } }] } },
    });
    expect(out.tools).toEqual([{ name: "time", input_schema: { type: "object" } }]);
    expect(out.tool_choice).toEqual({ type: "any" });
  });
});

describe("Chat request → Messages request: reasoning", () => {
  test("reasoning_effort becomes thinking with a budget under max_tokens", () => {
    expect(translate({ messages: [user("x")], reasoning_effort: "medium", max_tokens: 32000 }).thinking).toEqual({ type: "enabled", budget_tokens: 8192 });
    expect(translate({ messages: [user("x")], reasoning_effort: "high", max_tokens: 8000 }).thinking).toEqual({ type: "enabled", budget_tokens: 7999 });
  });

  test("with thinking on, temperature other than 1 and top_p under 0.95 are dropped", () => {
    const out = translate({ messages: [user("x")], reasoning_effort: "low", max_tokens: 32000, temperature: 0.2, top_p: 0.5 });
    expect(out.temperature).toBeUndefined();
    expect(out.top_p).toBeUndefined();
  });

  test("a forced tool leaves thinking off (Anthropic refuses the pair)", () => {
    const out = translate({ messages: [user("x")], reasoning_effort: "high", max_tokens: 32000, tools: [{ type: "function", function: { name: "f" } }], tool_choice: "required" });
    expect(out.thinking).toBeUndefined();
  });

  test("reasoning_effort none turns nothing on", () => {
    expect(translate({ messages: [user("x")], reasoning_effort: "none" }).thinking).toBeUndefined();
  });
});
