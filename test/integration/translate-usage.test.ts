import Anthropic from "@anthropic-ai/sdk";
import { describe, expect, test } from "bun:test";
import OpenAI from "openai";
import { cooling } from "../helpers/faults.ts";
import { anthropicTurn, chatTurn, dig, OneProtocolProvider, type Turn } from "../helpers/one-protocol.ts";
import { startProxy } from "../helpers/proxy.ts";

/**
 * Usage on both sides of a translation (OpenAI's prompt_tokens include cached tokens,
 * Anthropic's input_tokens do not), when the proxy asks an OpenAI backend for usage,
 * and the endpoints only one protocol has: count_tokens and embeddings.
 */

const KEY = "sk-proxy-translate-0123456789";

const config = (chat: string, ant: string, streamUsage = "auto") => `
proxy_api_key: ${KEY}
backends:
  - { name: chat, url: "${chat}/v1", api_key: sk-chat-backend-key-1111111111, protocol: openai, stream_usage: "${streamUsage}" }
  - { name: ant, url: "${ant}", api_key: sk-ant-backend-key-22222222222, protocol: anthropic }
models:
  on-chat: { routes: [{ backend: chat, model: chat-model }] }
  on-ant: { routes: [{ backend: ant, model: claude-model }] }
  ant-then-chat:
    routes:
      - { backend: ant, model: claude-model, priority: 1 }
      - { backend: chat, model: embed-model, priority: 2 }
`;

async function setUp(chatTurns: Turn[], antTurns: Turn[], streamUsage = "auto") {
  const chat = new OneProtocolProvider("openai", chatTurns);
  const ant = new OneProtocolProvider("anthropic", antTurns);
  const proxy = startProxy(config(chat.url, ant.url, streamUsage));
  return {
    chat,
    ant,
    proxy,
    anthropic: new Anthropic({ baseURL: proxy.url, apiKey: KEY, maxRetries: 0 }),
    openai: new OpenAI({ baseURL: `${proxy.url}/v1`, apiKey: KEY, maxRetries: 0 }),
    async [Symbol.asyncDispose]() {
      await proxy[Symbol.asyncDispose]();
      await chat[Symbol.asyncDispose]();
      await ant[Symbol.asyncDispose]();
    },
  };
}

const unused: Turn = () => new Response("not expected", { status: 500 });
const ask = { max_tokens: 100, messages: [{ role: "user" as const, content: "hi" }] };
const chatAsk = { messages: [{ role: "user" as const, content: "hi" }] };
const CACHED = { prompt_tokens: 1000, completion_tokens: 50, total_tokens: 1050, prompt_tokens_details: { cached_tokens: 900 }, completion_tokens_details: { reasoning_tokens: 20 } };

describe("usage, Anthropic client on an OpenAI backend", () => {
  test("a translated stream asks for include_usage (stream_usage: auto), and message_delta carries input without the cached tokens", async () => {
    await using s = await setUp([chatTurn({ content: "ok", parts: 2, usage: CACHED })], [unused]);
    const message = await s.anthropic.messages.stream({ model: "on-chat", ...ask }).finalMessage();
    expect(dig(s.chat.calls[0]!.body, "stream_options")).toEqual({ include_usage: true });
    expect(message.usage).toMatchObject({ input_tokens: 100, cache_read_input_tokens: 900, cache_creation_input_tokens: 0, output_tokens: 50 });
  });

  test("with stream_usage: off the option is never sent (for servers that refuse it), and the stream still completes", async () => {
    await using s = await setUp([chatTurn({ content: "ok", parts: 2, usage: CACHED })], [unused], "off");
    const message = await s.anthropic.messages.stream({ model: "on-chat", ...ask }).finalMessage();
    expect(dig(s.chat.calls[0]!.body, "stream_options")).toBeUndefined();
    expect(message.content).toMatchObject([{ type: "text", text: "ok" }]);
    expect(message.stop_reason).toBe("end_turn");
  });

  test("a JSON answer: input_tokens = prompt_tokens − cached_tokens", async () => {
    await using s = await setUp([chatTurn({ content: "ok", usage: CACHED })], [unused]);
    const message = await s.anthropic.messages.create({ model: "on-chat", ...ask });
    expect(message.usage).toMatchObject({ input_tokens: 100, cache_read_input_tokens: 900, output_tokens: 50 });
  });
});

describe("usage, OpenAI client on an Anthropic backend", () => {
  const USAGE = { input_tokens: 30, output_tokens: 7, cache_read_input_tokens: 400, cache_creation_input_tokens: 70 };

  test("a JSON answer: prompt_tokens = input + cache reads + cache writes, cached_tokens = cache reads", async () => {
    await using s = await setUp([unused], [anthropicTurn([{ type: "text", text: "ok" }], "end_turn", 1, USAGE)]);
    const completion = await s.openai.chat.completions.create({ model: "on-ant", ...chatAsk });
    expect(completion.usage).toMatchObject({ prompt_tokens: 500, completion_tokens: 7, total_tokens: 507, prompt_tokens_details: { cached_tokens: 400 } });
  });

  test("a stream carries the usage chunk only when the client asked for it", async () => {
    const provider = (call: Parameters<Turn>[0]) => {
      const start = `event: message_start\ndata: ${JSON.stringify({ type: "message_start", message: { id: "msg_1", type: "message", role: "assistant", model: "m", content: [], stop_reason: null, stop_sequence: null, usage: { ...USAGE, output_tokens: 1 } } })}\n\n`;
      void call;
      const rest = [
        `event: content_block_start\ndata: {"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}\n\n`,
        `event: content_block_delta\ndata: {"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"ok"}}\n\n`,
        `event: content_block_stop\ndata: {"type":"content_block_stop","index":0}\n\n`,
        `event: message_delta\ndata: {"type":"message_delta","delta":{"stop_reason":"end_turn","stop_sequence":null},"usage":{"output_tokens":7}}\n\n`,
        `event: message_stop\ndata: {"type":"message_stop"}\n\n`,
      ];
      return new Response(start + rest.join(""), { headers: { "content-type": "text/event-stream" } });
    };
    await using s = await setUp([unused], [provider]);
    const withUsage = await s.openai.chat.completions.create({ model: "on-ant", ...chatAsk, stream: true, stream_options: { include_usage: true } });
    const usages: unknown[] = [];
    for await (const chunk of withUsage) if (chunk.usage) usages.push({ usage: chunk.usage, choices: chunk.choices.length });
    expect(usages).toEqual([{ usage: expect.objectContaining({ prompt_tokens: 500, completion_tokens: 7, prompt_tokens_details: { cached_tokens: 400 } }), choices: 0 }]);

    const without = await s.openai.chat.completions.create({ model: "on-ant", ...chatAsk, stream: true });
    let text = "";
    let chunksWithUsage = 0;
    let emptyChoices = 0;
    for await (const chunk of without) {
      text += chunk.choices[0]?.delta.content ?? "";
      if (chunk.usage) chunksWithUsage++;
      if (chunk.choices.length === 0) emptyChoices++;
    }
    expect([text, chunksWithUsage, emptyChoices]).toEqual(["ok", 0, 0]);
  });
});

describe("endpoints only one protocol has", () => {
  test("count_tokens on an alias whose first route is an OpenAI backend is the proxy's estimate; the provider is not asked", async () => {
    await using s = await setUp([unused], [unused]);
    const { data, response } = await s.anthropic.messages
      .countTokens({ model: "on-chat", system: "You are a careful assistant.", messages: [{ role: "user", content: "Count the tokens of this sentence, please." }] })
      .withResponse();
    expect(data.input_tokens).toBeGreaterThan(5);
    expect(data.input_tokens).toBeLessThan(60);
    expect(response.headers.get("x-llm-proxy-estimate")).toBe("true");
    expect(s.chat.calls).toEqual([]);
    expect(s.chat.strays).toEqual([]);
  });

  test("count_tokens on an Anthropic alias goes to the provider, query kept (Claude Code's ?beta=true)", async () => {
    await using s = await setUp([unused], [() => Response.json({ input_tokens: 42 })]);
    const res = await fetch(`${s.proxy.url}/v1/messages/count_tokens?beta=true`, {
      method: "POST",
      headers: { "x-api-key": KEY, "anthropic-version": "2023-06-01", "content-type": "application/json" },
      body: JSON.stringify({ model: "on-ant", messages: [{ role: "user", content: "hi" }] }),
    });
    expect(await res.json()).toEqual({ input_tokens: 42 });
    expect(s.ant.calls[0]!.path).toBe("/v1/messages/count_tokens");
    expect(s.ant.calls[0]!.search).toBe("?beta=true");
    expect(dig(s.ant.calls[0]!.body, "model")).toBe("claude-model");
  });

  test("embeddings on an alias with only an Anthropic backend: a 400 that names the endpoint, the alias and the protocol; nothing is sent", async () => {
    await using s = await setUp([unused], [unused]);
    const error = await s.openai.embeddings.create({ model: "on-ant", input: "hello" }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(OpenAI.BadRequestError);
    const message = (error as InstanceType<typeof OpenAI.BadRequestError>).message;
    expect(message).toContain("/v1/embeddings");
    expect(message).toContain('"on-ant"');
    expect(message).toContain("anthropic");
    expect(s.ant.calls).toEqual([]);
    expect(s.ant.strays).toEqual([]);
    expect(cooling(s.proxy)).toEqual([]);
  });

  test("embeddings on an alias with an Anthropic route first and an OpenAI one second: served by the OpenAI one; the Anthropic one is neither tried nor cooled", async () => {
    const embedding: Turn = () => Response.json({ object: "list", data: [{ object: "embedding", index: 0, embedding: [0.25, -0.5] }], model: "embed-model", usage: { prompt_tokens: 1, total_tokens: 1 } });
    await using s = await setUp([embedding], [unused]);
    const { data, response } = await s.openai.embeddings.create({ model: "ant-then-chat", input: "hello", encoding_format: "float" }).withResponse();
    expect(data.data[0]!.embedding).toEqual([0.25, -0.5]);
    expect(response.headers.get("x-llm-proxy-backend")).toBe("chat");
    expect(response.headers.get("x-llm-proxy-attempts")).toBe("1");
    expect(s.chat.calls[0]!.path).toBe("/v1/embeddings");
    expect(dig(s.chat.calls[0]!.body, "model")).toBe("embed-model");
    expect(s.ant.calls).toEqual([]);
    expect(s.ant.strays).toEqual([]);
    expect(cooling(s.proxy)).toEqual([]);
  });
});
