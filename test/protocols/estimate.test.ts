import { describe, expect, test } from "bun:test";
import { estimateAnthropicTokens } from "../../src/protocols/estimate.ts";

describe("estimateAnthropicTokens", () => {
  test("about four characters per token, plus a little per message", () => {
    expect(estimateAnthropicTokens({ messages: [{ role: "user", content: "x".repeat(400) }] })).toEqual({ input_tokens: 100 + 3 });
  });

  test("system blocks, text, tool calls and results all count", () => {
    const body = {
      system: [{ type: "text", text: "s".repeat(40) }],
      messages: [
        { role: "user", content: [{ type: "text", text: "u".repeat(40) }] },
        { role: "assistant", content: [{ type: "thinking", thinking: "t".repeat(40), signature: "sig" }, { type: "tool_use", id: "t1", name: "read", input: { path: "/a" } }] },
        { role: "user", content: [{ type: "tool_result", tool_use_id: "t1", content: [{ type: "text", text: "r".repeat(40) }] }] },
      ],
    };
    const chars = 40 + 40 + 40 + "read".length + JSON.stringify({ path: "/a" }).length + 40;
    expect(estimateAnthropicTokens(body).input_tokens).toBe(Math.ceil(chars / 4) + 3 * 3);
  });

  test("tools add their JSON and the tool-use system prompt", () => {
    const tool = { name: "read", description: "Reads a file", input_schema: { type: "object" } };
    const without = estimateAnthropicTokens({ messages: [{ role: "user", content: "hi" }] }).input_tokens;
    const withTool = estimateAnthropicTokens({ messages: [{ role: "user", content: "hi" }], tools: [tool] }).input_tokens;
    expect(withTool - without).toBeGreaterThanOrEqual(346 + Math.floor(JSON.stringify(tool).length / 4));
  });

  test("an image costs a fixed amount, not its base64 length", () => {
    const image = { type: "image", source: { type: "base64", media_type: "image/png", data: "A".repeat(100_000) } };
    expect(estimateAnthropicTokens({ messages: [{ role: "user", content: [image] }] }).input_tokens).toBe(1600 + 3);
  });

  test("a body of the wrong shape estimates zero rather than throwing", () => {
    expect(estimateAnthropicTokens({ messages: "nope", system: 3 })).toEqual({ input_tokens: 0 });
  });
});
