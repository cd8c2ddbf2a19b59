import { describe, expect, test } from "bun:test";
import { anthropicToChatRequest } from "../../src/protocols/anthropic-to-chat-request.ts";
import { anthropicToChat } from "../../src/protocols/openai-anthropic.ts";
import type { JsonObject, RequestContext } from "../../src/protocols/types.ts";
import claudeCodeTurn from "./fixtures/claude-code-turn.json";

const ctx: RequestContext = { model: "gpt-up", maxTokens: 4096, streamUsage: true };

function translate(body: JsonObject, c: RequestContext = ctx): JsonObject {
  const result = anthropicToChat.request(body, c);
  if (!result.ok) throw new Error(result.message);
  return result.body;
}

const user = (content: unknown) => ({ role: "user", content });

/** Top-level fields of a Chat request this translator may send. */
const CHAT_FIELDS = new Set(["model", "messages", "max_tokens", "temperature", "top_p", "stop", "tools", "tool_choice", "parallel_tool_calls", "reasoning_effort", "user", "stream", "stream_options"]);
const ANTHROPIC_ONLY = ["cache_control", "context_management", "output_config", "signature", "input_schema", "top_k", "thinking", "metadata", "stop_sequences", "tool_use_id", "is_error"];

describe("Messages request → Chat request: fields", () => {
  test("model from the route; max_tokens, temperature, top_p kept; top_k dropped", () => {
    expect(translate({ model: "a", max_tokens: 100, temperature: 0.3, top_p: 0.8, top_k: 5, messages: [user("hi")] })).toEqual({
      model: "gpt-up",
      messages: [{ role: "user", content: "hi" }],
      max_tokens: 100,
      temperature: 0.3,
      top_p: 0.8,
    });
  });

  test("the token limit can be sent as max_completion_tokens, for OpenAI's reasoning models", () => {
    const result = anthropicToChatRequest({ max_tokens: 100, messages: [user("hi")] }, ctx, { maxTokensField: "max_completion_tokens" });
    expect(result.ok && result.body.max_completion_tokens).toBe(100);
    expect(result.ok && result.body.max_tokens).toBeUndefined();
  });

  test("a route's output limit lowers a larger client max_tokens, never raises a smaller one", () => {
    const big = anthropicToChatRequest({ max_tokens: 128000, messages: [user("hi")] }, ctx, { maxTokensLimit: 8192 });
    expect(big.ok && big.body.max_tokens).toBe(8192);
    const small = anthropicToChatRequest({ max_tokens: 100, messages: [user("hi")] }, ctx, { maxTokensLimit: 8192 });
    expect(small.ok && small.body.max_tokens).toBe(100);
  });

  test("stop_sequences → stop, at most 4", () => {
    expect(translate({ messages: [user("hi")], stop_sequences: ["a", "b", "c", "d", "e"] }).stop).toEqual(["a", "b", "c", "d"]);
  });

  test("metadata.user_id → user", () => {
    expect(translate({ messages: [user("hi")], metadata: { user_id: "u-1" } }).user).toBe("u-1");
  });

  test("streaming asks for usage when the context says so", () => {
    expect(translate({ messages: [user("hi")], stream: true })).toMatchObject({ stream: true, stream_options: { include_usage: true } });
    const without = translate({ messages: [user("hi")], stream: true }, { ...ctx, streamUsage: false });
    expect(without.stream).toBe(true);
    expect(without.stream_options).toBeUndefined();
  });

  test("thinking → reasoning_effort: budget thresholds, adaptive with output_config.effort", () => {
    expect(translate({ messages: [user("hi")], thinking: { type: "enabled", budget_tokens: 2000 } }).reasoning_effort).toBe("low");
    expect(translate({ messages: [user("hi")], thinking: { type: "enabled", budget_tokens: 10000 } }).reasoning_effort).toBe("medium");
    expect(translate({ messages: [user("hi")], thinking: { type: "enabled", budget_tokens: 32000 } }).reasoning_effort).toBe("high");
    expect(translate({ messages: [user("hi")], thinking: { type: "adaptive" }, output_config: { effort: "low" } }).reasoning_effort).toBe("low");
    expect(translate({ messages: [user("hi")], thinking: { type: "disabled" } }).reasoning_effort).toBeUndefined();
  });

  test("mcp_servers are refused: only Anthropic runs them", () => {
    const result = anthropicToChat.request({ messages: [user("hi")], mcp_servers: [{ type: "url", url: "https://x", name: "x" }] }, ctx);
    expect(result.ok).toBe(false);
  });
});

describe("Messages request → Chat request: messages", () => {
  test("system as a string and as blocks becomes one leading system message", () => {
    expect(translate({ system: "be brief", messages: [user("hi")] }).messages).toEqual([{ role: "system", content: "be brief" }, { role: "user", content: "hi" }]);
    expect(translate({ system: [{ type: "text", text: "a" }, { type: "text", text: "b", cache_control: { type: "ephemeral" } }], messages: [user("hi")] }).messages).toEqual([
      { role: "system", content: "a\n\nb" },
      { role: "user", content: "hi" },
    ]);
  });

  test("a system message inside messages joins the leading system message (templates refuse a later one)", () => {
    expect(translate({ system: "top", messages: [user("a"), { role: "system", content: [{ type: "text", text: "note" }] }, user("b")] }).messages).toEqual([
      { role: "system", content: "top\n\nnote" },
      { role: "user", content: "a" },
      { role: "user", content: "b" },
    ]);
  });

  test("text-only user blocks become a string; with images, parts", () => {
    expect(translate({ messages: [user([{ type: "text", text: "a" }, { type: "text", text: "b" }])] }).messages).toEqual([{ role: "user", content: "a\n\nb" }]);
    expect(
      translate({
        messages: [
          user([
            { type: "text", text: "see" },
            { type: "image", source: { type: "base64", media_type: "image/png", data: "AAA" } },
            { type: "image", source: { type: "url", url: "https://example.com/x.jpg" } },
          ]),
        ],
      }).messages,
    ).toEqual([
      {
        role: "user",
        content: [
          { type: "text", text: "see" },
          { type: "image_url", image_url: { url: "data:image/png;base64,AAA" } },
          { type: "image_url", image_url: { url: "https://example.com/x.jpg" } },
        ],
      },
    ]);
  });

  test("a base64 PDF document becomes a file part; a URL document is refused", () => {
    const pdf = { type: "document", source: { type: "base64", media_type: "application/pdf", data: "JVBE" } };
    expect(translate({ messages: [user([pdf, { type: "text", text: "summarise" }])] }).messages).toEqual([
      { role: "user", content: [{ type: "file", file: { filename: "document.pdf", file_data: "data:application/pdf;base64,JVBE" } }, { type: "text", text: "summarise" }] },
    ]);
    expect(anthropicToChat.request({ messages: [user([{ type: "document", source: { type: "url", url: "https://x/a.pdf" } }])] }, ctx).ok).toBe(false);
  });

  test("tool_use → tool_calls with JSON arguments; tool_result → tool messages before the rest of the turn", () => {
    const out = translate({
      messages: [
        user("weather in Paris and Rome?"),
        {
          role: "assistant",
          content: [
            { type: "text", text: "Checking both." },
            { type: "tool_use", id: "toolu_1", name: "weather", input: { city: "Paris" } },
            { type: "tool_use", id: "toolu_2", name: "weather", input: { city: "Rome" } },
          ],
        },
        user([
          { type: "tool_result", tool_use_id: "toolu_1", content: "sunny" },
          { type: "text", text: "and be quick" },
          { type: "tool_result", tool_use_id: "toolu_2", content: [{ type: "text", text: "rain" }], is_error: false },
        ]),
      ],
    });
    expect(out.messages).toEqual([
      { role: "user", content: "weather in Paris and Rome?" },
      {
        role: "assistant",
        content: "Checking both.",
        tool_calls: [
          { id: "toolu_1", type: "function", function: { name: "weather", arguments: '{"city":"Paris"}' } },
          { id: "toolu_2", type: "function", function: { name: "weather", arguments: '{"city":"Rome"}' } },
        ],
      },
      { role: "tool", tool_call_id: "toolu_1", content: "sunny" },
      { role: "tool", tool_call_id: "toolu_2", content: "rain" },
      { role: "user", content: "and be quick" },
    ]);
  });

  test("an assistant turn of only tool calls has content null", () => {
    const out = translate({ messages: [user("x"), { role: "assistant", content: [{ type: "tool_use", id: "t", name: "f", input: {} }] }, user([{ type: "tool_result", tool_use_id: "t" }])] });
    expect((out.messages as JsonObject[])[1]).toEqual({ role: "assistant", content: null, tool_calls: [{ id: "t", type: "function", function: { name: "f", arguments: "{}" } }] });
    expect((out.messages as JsonObject[])[2]).toEqual({ role: "tool", tool_call_id: "t", content: "" });
  });

  test("a system message between the tool calls and their results leaves the results right after the calls", () => {
    const out = translate({
      messages: [
        user("x"),
        { role: "assistant", content: [{ type: "tool_use", id: "a", name: "f", input: {} }, { type: "tool_use", id: "b", name: "f", input: {} }] },
        { role: "system", content: "note" },
        user([{ type: "tool_result", tool_use_id: "a", content: "1" }, { type: "tool_result", tool_use_id: "b", content: "2" }, { type: "text", text: "go on" }]),
      ],
    });
    expect((out.messages as JsonObject[]).map((m) => m.role + (m.tool_call_id ? `:${String(m.tool_call_id)}` : ""))).toEqual(["system", "user", "assistant", "tool:a", "tool:b", "user"]);
  });

  test("is_error marks the tool message's text", () => {
    const out = translate({ messages: [user("x"), { role: "assistant", content: [{ type: "tool_use", id: "t", name: "f", input: {} }] }, user([{ type: "tool_result", tool_use_id: "t", content: "no such file", is_error: true }])] });
    expect((out.messages as JsonObject[])[2]).toEqual({ role: "tool", tool_call_id: "t", content: "Error: no such file" });
  });

  test("images in a tool result follow the tool messages in a user message", () => {
    const out = translate({
      messages: [
        user("x"),
        { role: "assistant", content: [{ type: "tool_use", id: "t", name: "shot", input: {} }] },
        user([{ type: "tool_result", tool_use_id: "t", content: [{ type: "text", text: "done" }, { type: "image", source: { type: "base64", media_type: "image/png", data: "AAA" } }] }]),
      ],
    });
    expect((out.messages as JsonObject[]).slice(2)).toEqual([
      { role: "tool", tool_call_id: "t", content: "done" },
      { role: "user", content: [{ type: "text", text: "Images from tool result t:" }, { type: "image_url", image_url: { url: "data:image/png;base64,AAA" } }] },
    ]);
  });

  test("thinking blocks go back as reasoning_content; redacted thinking and signatures are dropped", () => {
    const out = translate({
      messages: [
        user("x"),
        {
          role: "assistant",
          content: [
            { type: "thinking", thinking: "let me think", signature: "sig" },
            { type: "redacted_thinking", data: "opaque" },
            { type: "tool_use", id: "t", name: "f", input: {} },
          ],
        },
        user([{ type: "tool_result", tool_use_id: "t", content: "ok" }]),
      ],
    });
    expect((out.messages as JsonObject[])[1]).toEqual({ role: "assistant", content: null, reasoning_content: "let me think", tool_calls: [{ id: "t", type: "function", function: { name: "f", arguments: "{}" } }] });
    expect(JSON.stringify(out)).not.toContain("opaque");
  });

  test("an empty assistant turn is dropped", () => {
    expect(translate({ messages: [user("a"), { role: "assistant", content: [] }, user("b")] }).messages).toEqual([
      { role: "user", content: "a" },
      { role: "user", content: "b" },
    ]);
  });
});

describe("Messages request → Chat request: tools", () => {
  const read = { name: "Read", description: "Read a file", input_schema: { type: "object", properties: { path: { type: "string" } } }, cache_control: { type: "ephemeral" } };

  test("custom tools become function tools; Anthropic-defined tools are dropped", () => {
    const out = translate({ messages: [user("x")], tools: [read, { type: "web_search_20250305", name: "web_search", max_uses: 3 }, { type: "bash_20250124", name: "bash" }] });
    expect(out.tools).toEqual([{ type: "function", function: { name: "Read", description: "Read a file", parameters: { type: "object", properties: { path: { type: "string" } } } } }]);
  });

  const choices: [string, JsonObject, unknown, unknown][] = [
    ["auto", { type: "auto" }, "auto", undefined],
    ["any → required", { type: "any" }, "required", undefined],
    ["none", { type: "none" }, "none", undefined],
    ["a named tool", { type: "tool", name: "Read" }, { type: "function", function: { name: "Read" } }, undefined],
    ["disable_parallel_tool_use → parallel_tool_calls false", { type: "auto", disable_parallel_tool_use: true }, "auto", false],
  ];
  for (const [name, choice, want, parallel] of choices) {
    test(`tool_choice ${name}`, () => {
      const out = translate({ messages: [user("x")], tools: [read], tool_choice: choice });
      expect(out.tool_choice).toEqual(want);
      expect(out.parallel_tool_calls).toEqual(parallel);
    });
  }

  test("a tool_choice naming a tool that cannot be sent is refused", () => {
    const result = anthropicToChat.request({ messages: [user("x")], tools: [{ type: "web_search_20250305", name: "web_search" }], tool_choice: { type: "tool", name: "web_search" } }, ctx);
    expect(result.ok).toBe(false);
  });

  test("no tools, no tool_choice", () => {
    expect(translate({ messages: [user("x")], tool_choice: { type: "any" } }).tool_choice).toBeUndefined();
  });
});

describe("a Claude Code turn (fixture shaped like Claude Code 2.1.332's requests)", () => {
  const out = translate(claudeCodeTurn as JsonObject);
  const messages = out.messages as JsonObject[];

  test("sends only Chat fields and nothing Anthropic-only, at any depth", () => {
    for (const key of Object.keys(out)) expect(CHAT_FIELDS.has(key)).toBe(true);
    const text = JSON.stringify(out);
    for (const word of ANTHROPIC_ONLY) expect(text).not.toContain(`"${word}"`);
  });

  test("keeps the settings that have a Chat counterpart", () => {
    expect(out).toMatchObject({ model: "gpt-up", max_tokens: 128000, stream: true, stream_options: { include_usage: true }, reasoning_effort: "medium" });
    expect(String(out.user)).toStartWith("user_");
  });

  test("translates all 12 tools with their schemas", () => {
    const tools = out.tools as JsonObject[];
    expect(tools).toHaveLength(12);
    expect(tools.map((t) => (t.function as JsonObject).name)).toEqual(claudeCodeTurn.tools.map((t) => t.name));
    expect((tools[4]?.function as JsonObject).parameters).toEqual(claudeCodeTurn.tools[4]?.input_schema);
  });

  test("history: one system message, user, assistant with text and the tool call, its result right after it", () => {
    expect(messages.map((m) => m.role)).toEqual(["system", "user", "assistant", "tool"]);
    expect(String(messages[0]?.content)).toContain("You are Claude Code");
    expect(String(messages[0]?.content)).toEndWith("The user's todo list is empty.");
    expect(messages[1]?.content).toStartWith("<system-reminder>");
    expect(messages[2]).toEqual({
      role: "assistant",
      content: "I'll read package.json.",
      reasoning_content: "The user wants the version. I should read package.json.",
      tool_calls: [{ id: "toolu_01Xk9bq3ReadPkg", type: "function", function: { name: "Read", arguments: '{"file_path":"/home/user/project/package.json"}' } }],
    });
    expect(messages[3]).toMatchObject({ role: "tool", tool_call_id: "toolu_01Xk9bq3ReadPkg" });
    expect(String(messages[3]?.content)).toContain('"version": "1.2.3"');
  });
});
