import { describe, expect, test } from "bun:test";
import {
  anthropicUsage,
  chatUsage,
  followAnthropicUsage,
  followChatUsage,
  readAnthropicUsage,
  readChatUsage,
  usageFromAnthropic,
  usageFromChat,
} from "../../src/protocols/usage.ts";
import type { Usage } from "../../src/protocols/types.ts";
import { aev, chunk, usageChunk } from "./streams.ts";

const u = (input: number, output: number, cacheRead = 0, cacheWrite = 0, reasoning = 0): Usage => ({ input, output, cacheRead, cacheWrite, reasoning });

describe("usageFromChat", () => {
  const cases: [string, unknown, Usage][] = [
    ["prompt_tokens includes the cached tokens, input does not", { prompt_tokens: 100, completion_tokens: 7, prompt_tokens_details: { cached_tokens: 80 } }, u(20, 7, 80)],
    ["reasoning tokens from completion_tokens_details", { prompt_tokens: 5, completion_tokens: 50, completion_tokens_details: { reasoning_tokens: 30 } }, u(5, 50, 0, 0, 30)],
    ["DeepSeek's prompt_cache_hit_tokens count as cached (LiteLLM #31069)", { prompt_tokens: 100, completion_tokens: 1, prompt_cache_hit_tokens: 64, prompt_cache_miss_tokens: 36 }, u(36, 1, 64)],
    ["a cache write reported by the provider is taken out of input", { prompt_tokens: 100, completion_tokens: 1, prompt_tokens_details: { cached_tokens: 10, cache_write_tokens: 50 } }, u(40, 1, 10, 50)],
    ["Anthropic-style cache fields some gateways add", { prompt_tokens: 100, completion_tokens: 1, cache_read_input_tokens: 30, cache_creation_input_tokens: 20 }, u(50, 1, 30, 20)],
    ["null details and missing fields read as zero", { prompt_tokens: 3, completion_tokens: null, prompt_tokens_details: null }, u(3, 0)],
    ["not an object", "x", u(0, 0)],
  ];
  for (const [name, input, want] of cases) test(name, () => expect(usageFromChat(input)).toEqual(want));
});

describe("usageFromAnthropic", () => {
  const cases: [string, unknown, Usage][] = [
    ["input excludes cache reads and writes", { input_tokens: 10, output_tokens: 5, cache_read_input_tokens: 80, cache_creation_input_tokens: 20 }, u(10, 5, 80, 20)],
    ["null cache fields read as zero", { input_tokens: 10, output_tokens: 5, cache_read_input_tokens: null, cache_creation_input_tokens: null }, u(10, 5)],
    ["cache writes from the lifetime breakdown when the total is absent", { input_tokens: 1, output_tokens: 1, cache_creation: { ephemeral_5m_input_tokens: 3, ephemeral_1h_input_tokens: 4 } }, u(1, 1, 0, 7)],
    ["thinking tokens as reasoning", { input_tokens: 1, output_tokens: 9, output_tokens_details: { thinking_tokens: 6 } }, u(1, 9, 0, 0, 6)],
  ];
  for (const [name, input, want] of cases) test(name, () => expect(usageFromAnthropic(input)).toEqual(want));
});

describe("usage objects from Usage", () => {
  test("chatUsage: prompt_tokens = input + cache read + cache write, cached tokens named", () => {
    expect(chatUsage(u(10, 5, 80, 20, 2))).toEqual({
      prompt_tokens: 110,
      completion_tokens: 5,
      total_tokens: 115,
      prompt_tokens_details: { cached_tokens: 80 },
      completion_tokens_details: { reasoning_tokens: 2 },
    });
  });

  test("anthropicUsage keeps cache creation and names thinking tokens only when there are some", () => {
    expect(anthropicUsage(u(10, 5, 80, 20))).toEqual({ input_tokens: 10, output_tokens: 5, cache_creation_input_tokens: 20, cache_read_input_tokens: 80 });
    expect(anthropicUsage(u(1, 5, 0, 0, 3)).output_tokens_details).toEqual({ thinking_tokens: 3 });
  });

  test("Anthropic → Chat → Anthropic keeps input, output and cache reads", () => {
    const start = u(10, 5, 80, 0, 0);
    expect(usageFromChat(chatUsage(usageFromAnthropic(anthropicUsage(start))))).toEqual(start);
  });

  test("Chat → Anthropic → Chat keeps the counts", () => {
    const chat = { prompt_tokens: 100, completion_tokens: 7, prompt_tokens_details: { cached_tokens: 80 } };
    const back = chatUsage(usageFromAnthropic(anthropicUsage(usageFromChat(chat))));
    expect(back).toMatchObject(chat);
  });
});

describe("reading whole answers", () => {
  test("a Chat completion's usage", () => {
    expect(readChatUsage({ usage: { prompt_tokens: 4, completion_tokens: 2 } })).toEqual(u(4, 2));
    expect(readChatUsage({ choices: [] })).toBeUndefined();
  });

  test("a Messages answer's usage", () => {
    expect(readAnthropicUsage({ usage: { input_tokens: 4, output_tokens: 2, cache_read_input_tokens: 1 } })).toEqual(u(4, 2, 1));
    expect(readAnthropicUsage("nope")).toBeUndefined();
  });
});

describe("following streams", () => {
  test("Anthropic: message_start usage, then message_delta's cumulative count replaces, not adds", () => {
    const f = followAnthropicUsage();
    expect(f.usage).toBeUndefined();
    f.push(aev("message_start", { message: { usage: { input_tokens: 12, output_tokens: 1, cache_read_input_tokens: 100 } } }));
    f.push(aev("message_delta", { delta: {}, usage: { output_tokens: 20 } }));
    f.push(aev("message_delta", { delta: {}, usage: { output_tokens: 35 } }));
    expect(f.usage).toEqual(u(12, 35, 100));
  });

  test("Anthropic: input 0 at the start and the real count later takes the real count", () => {
    const f = followAnthropicUsage();
    f.push(aev("message_start", { message: { usage: { input_tokens: 0, output_tokens: 0 } } }));
    f.push(aev("content_block_delta", { index: 0, delta: { type: "text_delta", text: "x" } }));
    f.push(aev("message_delta", { delta: {}, usage: { input_tokens: 321, output_tokens: 9, cache_read_input_tokens: 5 } }));
    expect(f.usage).toEqual(u(321, 9, 5));
  });

  test("Chat: the include_usage chunk after the finish chunk", () => {
    const f = followChatUsage();
    f.push(chunk({ content: "hi" }));
    expect(f.usage).toBeUndefined();
    f.push(chunk({}, "stop"));
    f.push(usageChunk({ prompt_tokens: 50, completion_tokens: 3, prompt_tokens_details: { cached_tokens: 40 } }));
    f.push({ event: "", data: "[DONE]" });
    expect(f.usage).toEqual(u(10, 3, 40));
  });

  test("Chat: usage on every chunk, the later one without details, keeps the cached split", () => {
    const f = followChatUsage();
    f.push(chunk({ content: "a" }, null, { usage: { prompt_tokens: 50, completion_tokens: 1, prompt_tokens_details: { cached_tokens: 40 } } }));
    f.push(chunk({ content: "b" }, "stop", { usage: { prompt_tokens: 50, completion_tokens: 2 } }));
    expect(f.usage).toEqual(u(10, 2, 40));
  });
});
