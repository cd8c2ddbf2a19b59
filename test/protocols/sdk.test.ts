/**
 * The official SDKs read what the translators write: each test serves translated
 * events or bodies from a real server on port 0 and lets the SDK parse them.
 */

import Anthropic from "@anthropic-ai/sdk";
import { afterAll, describe, expect, test } from "bun:test";
import OpenAI from "openai";
import { anthropicToChat, chatToAnthropic } from "../../src/protocols/openai-anthropic.ts";
import { renderEvent } from "../../src/protocols/render.ts";
import type { StreamEvent } from "../../src/protocols/types.ts";
import { aev, chunk, context, DONE, replay, usageChunk } from "./streams.ts";

/** The next answer the server gives: status, content type and body. */
let next: { status: number; type: string; body: string } = { status: 200, type: "application/json", body: "{}" };

const server = Bun.serve({ port: 0, hostname: "127.0.0.1", fetch: () => new Response(next.body, { status: next.status, headers: { "content-type": next.type } }) });
afterAll(() => server.stop(true));

const base = `http://127.0.0.1:${server.port}`;
const anthropic = new Anthropic({ apiKey: "k", baseURL: base, maxRetries: 0 });
const openai = new OpenAI({ apiKey: "k", baseURL: `${base}/v1`, maxRetries: 0 });

function serveStream(events: StreamEvent[]): void {
  next = { status: 200, type: "text/event-stream", body: events.map(renderEvent).join("") };
}

const fnStart = (index: number, id: string, name: string, args = "") => ({ index, id, type: "function", function: { name, arguments: args } });

describe("the Anthropic SDK reads a stream translated from Chat chunks", () => {
  test("thinking, text and two tool calls with their inputs, stop reason and usage", async () => {
    const ctx = context({ stream: true });
    serveStream(
      replay(anthropicToChat.stream(ctx), [
        chunk({ role: "assistant", content: "" }),
        chunk({ reasoning_content: "thinking" }),
        chunk({ content: "Two calls." }),
        chunk({ tool_calls: [fnStart(0, "call_a", "weather", '{"city":')] }),
        chunk({ tool_calls: [{ index: 0, function: { arguments: '"Paris"}' } }] }),
        chunk({ tool_calls: [fnStart(1, "functions.time:1", "time", "{}")] }),
        chunk({}, "tool_calls"),
        usageChunk({ prompt_tokens: 50, completion_tokens: 20, prompt_tokens_details: { cached_tokens: 30 } }),
        DONE,
      ]),
    );
    const message = await anthropic.messages.stream({ model: "my-alias", max_tokens: 100, messages: [{ role: "user", content: "hi" }] }).finalMessage();
    expect(message.id).toBe("msg_req1");
    expect(message.model).toBe("my-alias");
    expect(message.stop_reason).toBe("tool_use");
    expect(message.content).toMatchObject([
      { type: "thinking", thinking: "thinking" },
      { type: "text", text: "Two calls." },
      { type: "tool_use", id: "call_a", name: "weather", input: { city: "Paris" } },
      { type: "tool_use", name: "time", input: {} },
    ]);
    expect(message.usage).toMatchObject({ input_tokens: 20, output_tokens: 20, cache_read_input_tokens: 30 });
  });

  test("a cut stream makes the SDK fail, not finish", async () => {
    const t = anthropicToChat.stream(context({ stream: true }));
    serveStream([...replay(t, [chunk({ content: "half" })], "none"), ...t.fail("upstream timed out")]);
    await expect(anthropic.messages.stream({ model: "a", max_tokens: 10, messages: [{ role: "user", content: "hi" }] }).finalMessage()).rejects.toThrow("upstream timed out");
  });

  test("a translated JSON answer and a translated error", async () => {
    const answer = anthropicToChat.response({ choices: [{ message: { role: "assistant", content: "Hello" }, finish_reason: "stop" }], usage: { prompt_tokens: 3, completion_tokens: 1 } }, context());
    next = { status: 200, type: "application/json", body: JSON.stringify(answer) };
    const message = await anthropic.messages.create({ model: "a", max_tokens: 10, messages: [{ role: "user", content: "hi" }] });
    expect(message.content).toMatchObject([{ type: "text", text: "Hello" }]);
    const error = anthropicToChat.error(429, { error: { message: "slow down", type: "rate_limit_exceeded" } });
    next = { status: error.status, type: "application/json", body: JSON.stringify(error.body) };
    // The SDK's APIPromise is a resolved Promise underneath whose then() does the work: read it through then().
    const caught = await anthropic.messages.create({ model: "a", max_tokens: 10, messages: [{ role: "user", content: "hi" }] }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(caught).toBeInstanceOf(Anthropic.RateLimitError);
  });
});

describe("the OpenAI SDK reads a stream translated from Anthropic events", () => {
  const start = aev("message_start", { message: { id: "msg_up", type: "message", role: "assistant", model: "up", content: [], stop_reason: null, stop_sequence: null, usage: { input_tokens: 10, output_tokens: 1, cache_read_input_tokens: 5 } } });

  test("text and two tool calls, finish reason and usage", async () => {
    serveStream(
      replay(chatToAnthropic.stream(context({ stream: true, stream_options: { include_usage: true } })), [
        start,
        aev("content_block_start", { index: 0, content_block: { type: "text", text: "" } }),
        aev("content_block_delta", { index: 0, delta: { type: "text_delta", text: "Two calls." } }),
        aev("content_block_stop", { index: 0 }),
        aev("content_block_start", { index: 1, content_block: { type: "tool_use", id: "toolu_a", name: "weather", input: {} } }),
        aev("content_block_delta", { index: 1, delta: { type: "input_json_delta", partial_json: '{"city":' } }),
        aev("content_block_delta", { index: 1, delta: { type: "input_json_delta", partial_json: '"Paris"}' } }),
        aev("content_block_stop", { index: 1 }),
        aev("content_block_start", { index: 2, content_block: { type: "tool_use", id: "toolu_b", name: "time", input: {} } }),
        aev("content_block_stop", { index: 2 }),
        aev("message_delta", { delta: { stop_reason: "tool_use", stop_sequence: null }, usage: { output_tokens: 25 } }),
        aev("message_stop"),
      ]),
    );
    const completion = await openai.chat.completions.stream({ model: "my-alias", messages: [{ role: "user", content: "hi" }], stream_options: { include_usage: true } }).finalChatCompletion();
    expect(completion.id).toBe("chatcmpl-req1");
    expect(completion.model).toBe("my-alias");
    const choice = completion.choices[0];
    expect(choice?.finish_reason).toBe("tool_calls");
    expect(choice?.message.content).toBe("Two calls.");
    expect(choice?.message.tool_calls?.map((c) => (c.type === "function" ? [c.id, c.function.name, c.function.arguments] : []))).toEqual([
      ["toolu_a", "weather", '{"city":"Paris"}'],
      ["toolu_b", "time", ""],
    ]);
    expect(completion.usage).toMatchObject({ prompt_tokens: 15, completion_tokens: 25, total_tokens: 40, prompt_tokens_details: { cached_tokens: 5 } });
  });

  test("a stream cut by an error event makes the SDK fail, not finish", async () => {
    serveStream(replay(chatToAnthropic.stream(context({ stream: true })), [start, aev("error", { error: { type: "overloaded_error", message: "Overloaded" } })]));
    await expect(openai.chat.completions.stream({ model: "a", messages: [{ role: "user", content: "hi" }] }).finalChatCompletion()).rejects.toThrow("Overloaded");
  });

  test("an overloaded Anthropic error reaches the OpenAI client as a 503", async () => {
    const error = chatToAnthropic.error(529, { type: "error", error: { type: "overloaded_error", message: "Overloaded" } });
    next = { status: error.status, type: "application/json", body: JSON.stringify(error.body) };
    const caught = await openai.chat.completions.create({ model: "a", messages: [{ role: "user", content: "hi" }] }).catch((e: unknown) => e);
    expect(caught).toBeInstanceOf(OpenAI.InternalServerError);
    expect((caught as InstanceType<typeof OpenAI.APIError>).status).toBe(503);
  });
});
