import { describe, expect, test } from "bun:test";
import {
  chatUsageToResponses,
  neutralToResponsesUsage,
  responsesUsageFromResponse,
  responsesUsageReader,
  responsesUsageToChat,
  responsesUsageToNeutral,
} from "../../src/protocols/responses-usage.ts";

const responses = { input_tokens: 12000, input_tokens_details: { cached_tokens: 11008 }, output_tokens: 40, output_tokens_details: { reasoning_tokens: 16 }, total_tokens: 12040 };
const chat = { prompt_tokens: 12000, completion_tokens: 40, total_tokens: 12040, prompt_tokens_details: { cached_tokens: 11008 }, completion_tokens_details: { reasoning_tokens: 16 } };

describe("usage", () => {
  test("Responses input_tokens includes cached tokens, like Chat prompt_tokens: they map one to one (LiteLLM #28354)", () => {
    expect(responsesUsageToChat(responses)).toEqual(chat);
    expect(chatUsageToResponses(chat)).toEqual(responses);
  });

  test("the neutral usage counts input without cached tokens, the Anthropic way", () => {
    expect(responsesUsageToNeutral(responses)).toEqual({ input: 992, output: 40, cacheRead: 11008, cacheWrite: 0, reasoning: 16 });
  });

  test("cache writes are part of input_tokens and counted apart in the neutral usage", () => {
    const u = { input_tokens: 2600, input_tokens_details: { cached_tokens: 2000, cache_write_tokens: 400 }, output_tokens: 1, output_tokens_details: { reasoning_tokens: 0 }, total_tokens: 2601 };
    expect(responsesUsageToNeutral(u)).toEqual({ input: 200, output: 1, cacheRead: 2000, cacheWrite: 400, reasoning: 0 });
    expect(neutralToResponsesUsage({ input: 200, output: 1, cacheRead: 2000, cacheWrite: 400, reasoning: 0 })).toEqual(u);
  });

  test("neutral → Responses adds the cache back into input_tokens", () => {
    expect(neutralToResponsesUsage({ input: 992, output: 40, cacheRead: 11008, cacheWrite: 0, reasoning: 16 })).toEqual(responses);
  });

  test("cached tokens above the input are capped (LiteLLM #40277)", () => {
    expect(responsesUsageToNeutral({ input_tokens: 10, input_tokens_details: { cached_tokens: 50 }, output_tokens: 1 })).toEqual({ input: 0, output: 1, cacheRead: 10, cacheWrite: 0, reasoning: 0 });
  });

  test("a missing usage is undefined, not zeros", () => {
    expect(responsesUsageToChat(undefined)).toBeUndefined();
    expect(chatUsageToResponses(null)).toBeUndefined();
    expect(responsesUsageToNeutral({ prompt_tokens: 5 })).toBeUndefined();
    expect(responsesUsageFromResponse({ id: "resp" })).toBeUndefined();
  });

  test("the usage of a whole Response body", () => {
    expect(responsesUsageFromResponse({ id: "resp", usage: responses })).toEqual({ input: 992, output: 40, cacheRead: 11008, cacheWrite: 0, reasoning: 16 });
  });

  test("the stream reader takes the usage from response.completed", () => {
    const reader = responsesUsageReader();
    reader.push({ event: "response.created", data: { type: "response.created", response: { usage: null } } });
    expect(reader.usage).toBeUndefined();
    reader.push({ event: "response.output_text.delta", data: { type: "response.output_text.delta", delta: "x" } });
    reader.push({ event: "response.completed", data: { type: "response.completed", response: { usage: responses } } });
    expect(reader.usage).toEqual({ input: 992, output: 40, cacheRead: 11008, cacheWrite: 0, reasoning: 16 });
  });

  test("the stream reader reads an incomplete response's usage too", () => {
    const reader = responsesUsageReader();
    reader.push({ event: "response.incomplete", data: { type: "response.incomplete", response: { usage: { input_tokens: 3, output_tokens: 4 } } } });
    expect(reader.usage).toEqual({ input: 3, output: 4, cacheRead: 0, cacheWrite: 0, reasoning: 0 });
  });
});
