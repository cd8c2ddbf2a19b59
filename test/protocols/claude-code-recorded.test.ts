/**
 * Requests recorded from Claude Code 2.1.332 (`claude -p "say hi"` against a local
 * recorder in a network namespace; personal and machine details scrubbed),
 * translated for an OpenAI Chat backend.
 */

import { describe, expect, test } from "bun:test";
import { anthropicToChat } from "../../src/protocols/openai-anthropic.ts";
import type { JsonObject, RequestContext } from "../../src/protocols/types.ts";
import firstTurn from "./fixtures/claude-code-2.1.332-first-turn.json";
import toolResultTurn from "./fixtures/claude-code-2.1.332-tool-result-turn.json";

const ctx: RequestContext = { model: "deepseek-chat", maxTokens: 4096, streamUsage: true };

const CHAT_FIELDS = new Set(["model", "messages", "max_tokens", "temperature", "top_p", "stop", "tools", "tool_choice", "parallel_tool_calls", "reasoning_effort", "user", "stream", "stream_options"]);
const ANTHROPIC_ONLY = new Set(["cache_control", "context_management", "output_config", "defer_loading", "input_schema", "thinking", "display", "signature", "tool_use_id", "is_error", "metadata", "system"]);

/** Every key at any depth, except inside tool parameter schemas (their property names are the tool's own). */
function keys(value: unknown, out: string[] = []): string[] {
  if (Array.isArray(value)) for (const v of value) keys(v, out);
  else if (typeof value === "object" && value !== null) {
    for (const [k, v] of Object.entries(value)) {
      out.push(k);
      if (k !== "parameters") keys(v, out);
    }
  }
  return out;
}

function translate(body: unknown): JsonObject {
  const result = anthropicToChat.request(body as JsonObject, ctx);
  if (!result.ok) throw new Error(result.message);
  return result.body;
}

describe("Claude Code 2.1.332, recorded", () => {
  for (const [name, recording] of [["first turn", firstTurn], ["tool result turn", toolResultTurn]] as const) {
    test(`${name}: only Chat fields, nothing Anthropic-only at any depth`, () => {
      expect(recording.body.context_management).toBeDefined();
      const out = translate(recording.body);
      for (const key of Object.keys(out)) expect(CHAT_FIELDS.has(key)).toBe(true);
      expect(keys(out).filter((k) => ANTHROPIC_ONLY.has(k))).toEqual([]);
      expect(out).toMatchObject({ model: "deepseek-chat", max_tokens: 128000, stream: true, stream_options: { include_usage: true }, reasoning_effort: "medium" });
    });

    test(`${name}: all tools, as function tools with their schemas`, () => {
      const tools = translate(recording.body).tools as { type: string; function: JsonObject }[];
      expect(tools.map((t) => t.function.name)).toEqual(recording.body.tools.map((t) => t.name));
      expect(tools.every((t) => t.type === "function" && typeof t.function.parameters === "object")).toBe(true);
    });
  }

  test("first turn: the three system blocks and the system message become one system message, then the user's text as a string", () => {
    const messages = translate(firstTurn.body).messages as JsonObject[];
    expect(messages.map((m) => m.role)).toEqual(["system", "user"]);
    const system = String(messages[0]?.content);
    expect(system).toContain("You are a Claude agent");
    expect(system).toContain("# Environment");
    expect(typeof messages[1]?.content).toBe("string");
    expect(String(messages[1]?.content)).toEndWith("say hi");
  });

  test("tool result turn: the assistant's text and tool call, then the tool's output right after it", () => {
    const messages = translate(toolResultTurn.body).messages as JsonObject[];
    expect(messages.map((m) => m.role)).toEqual(["system", "user", "assistant", "tool"]);
    expect(messages[2]).toEqual({
      role: "assistant",
      content: "I'll read it.",
      tool_calls: [{ id: "toolu_01RecordedRead", type: "function", function: { name: "Read", arguments: JSON.stringify({ file_path: "/home/user/project/hello.txt" }) } }],
    });
    expect(messages[3]).toEqual({ role: "tool", tool_call_id: "toolu_01RecordedRead", content: "1\thello from the fixture file\n2\t" });
  });
});

describe("Claude Code 2.1.332 after a translated stream, recorded", () => {
  test("the history it sends back translates with reasoning_content and the rewritten tool id paired", async () => {
    const { messages } = (await import("./fixtures/claude-code-2.1.332-history-after-translated-stream.json")).default;
    const assistant = messages.find((m) => m.role === "assistant");
    // What Claude Code kept from our stream: the thinking block (empty signature), the text, and the tool call.
    expect(assistant?.content).toMatchObject([{ type: "thinking", thinking: "I should read the file.", signature: "" }, { type: "text" }, { type: "tool_use", id: "functions_Read_0_4zuury" }]);
    const out = translate({ model: "x", max_tokens: 100, messages });
    const chat = out.messages as JsonObject[];
    expect(chat.map((m) => m.role)).toEqual(["system", "user", "assistant", "tool"]);
    expect(chat[2]).toMatchObject({ reasoning_content: "I should read the file.", tool_calls: [{ id: "functions_Read_0_4zuury" }] });
    expect(chat[3]).toMatchObject({ role: "tool", tool_call_id: "functions_Read_0_4zuury" });
  });
});
