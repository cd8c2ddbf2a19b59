import Anthropic from "@anthropic-ai/sdk";
import { describe, expect, test } from "bun:test";
import OpenAI from "openai";
import { anthropicMessage, anthropicStream } from "../helpers/anthropic.ts";
import { chatChunk, chatCompletion, FakeProvider, modelOf, ScriptedStream } from "../helpers/fake-provider.ts";
import { startProxy } from "../helpers/proxy.ts";

const KEY = "sk-proxy-key-0123456789abcdef";
const OPENAI_KEY = "sk-openai-backend-key-00000001";
const ANTHROPIC_KEY = "sk-ant-backend-key-000000000002";

const config = (openai: string, anthropic: string) => `
proxy_api_key: ${KEY}
backends:
  - { name: oai, url: "${openai}/v1", api_key: ${OPENAI_KEY} }
  - { name: ant, url: "${anthropic}", api_key: ${ANTHROPIC_KEY}, auth: x-api-key }
models:
  gpt:
    routes: [{ backend: oai, model: gpt-real }]
  claude:
    routes: [{ backend: ant, model: claude-real }]
`;

describe("OpenAI SDK", () => {
  test("streams chat completions in lock-step: chunk k+1 leaves the provider only after the SDK yielded chunk k", async () => {
    const stream = new ScriptedStream();
    await using provider = new FakeProvider(() => stream.response());
    await using proxy = startProxy(config(provider.url, provider.url));
    const client = new OpenAI({ baseURL: `${proxy.url}/v1`, apiKey: KEY, maxRetries: 0 });

    const chunks = 6;
    let sent = 0;
    const send = () => {
      stream.send(chatChunk(`c${sent}`, "gpt-real"));
      sent++;
    };
    void provider.waitForRequests(1).then(send);
    const completion = await client.chat.completions.create({ model: "gpt", messages: [{ role: "user", content: "hi" }], stream: true });
    const got: string[] = [];
    for await (const chunk of completion) {
      const content = chunk.choices[0]?.delta.content ?? "";
      got.push(content);
      // The SDK has chunk k, and the provider has sent nothing after it.
      expect(content).toBe(`c${sent - 1}`);
      if (sent < chunks) send();
      else {
        stream.send("data: [DONE]\n\n");
        stream.end();
      }
    }
    expect(got).toEqual(Array.from({ length: chunks }, (_, k) => `c${k}`));
    const received = provider.received[0]!;
    expect(received.url.pathname).toBe("/v1/chat/completions");
    expect(modelOf(received)).toBe("gpt-real");
    expect(received.headers.get("authorization")).toBe(`Bearer ${OPENAI_KEY}`);
  });

  test("gets a non-streamed completion and sees proxy errors as the SDK's typed errors", async () => {
    await using provider = new FakeProvider(() => Response.json(chatCompletion("hello", "gpt-real")));
    await using proxy = startProxy(config(provider.url, provider.url));
    const client = new OpenAI({ baseURL: `${proxy.url}/v1`, apiKey: KEY, maxRetries: 0 });
    const done = await client.chat.completions.create({ model: "gpt", messages: [{ role: "user", content: "hi" }] });
    expect(done.choices[0]!.message.content).toBe("hello");

    const models = await client.models.list();
    expect(models.data.map((m) => m.id).sort()).toEqual(["claude", "gpt"]);

    const unknown = await client.chat.completions.create({ model: "nope", messages: [] }).catch((e: unknown) => e);
    expect(unknown).toBeInstanceOf(OpenAI.NotFoundError);
    expect((unknown as InstanceType<typeof OpenAI.NotFoundError>).code).toBe("model_not_found");

    const wrongKey = new OpenAI({ baseURL: `${proxy.url}/v1`, apiKey: "sk-wrong", maxRetries: 0 });
    const denied = await wrongKey.chat.completions.create({ model: "gpt", messages: [] }).catch((e: unknown) => e);
    expect(denied).toBeInstanceOf(OpenAI.AuthenticationError);
    expect(provider.received.length).toBe(1);
  });
});

describe("Anthropic SDK", () => {
  test("streams messages in lock-step: event k+1 leaves the provider only after the SDK yielded event k", async () => {
    const stream = new ScriptedStream();
    await using provider = new FakeProvider(() => stream.response());
    await using proxy = startProxy(config(provider.url, provider.url));
    const client = new Anthropic({ baseURL: proxy.url, apiKey: KEY, maxRetries: 0 });

    const events = anthropicStream(["Hel", "lo", ", ", "world"], "claude-real");
    let sent = 0;
    const send = () => stream.send(events[sent++]!);
    void provider.waitForRequests(1).then(send);
    const response = await client.messages.create({ model: "claude", max_tokens: 16, messages: [{ role: "user", content: "hi" }], stream: true });
    const types: string[] = [];
    let text = "";
    for await (const event of response) {
      types.push(event.type);
      // The SDK has event k, and the provider has sent nothing after it.
      expect(events[sent - 1]).toContain(`"type":"${event.type}"`);
      if (event.type === "content_block_delta" && event.delta.type === "text_delta") text += event.delta.text;
      if (sent < events.length) send();
      else stream.end();
    }
    expect(types).toEqual(["message_start", "content_block_start", "content_block_delta", "content_block_delta", "content_block_delta", "content_block_delta", "content_block_stop", "message_delta", "message_stop"]);
    expect(text).toBe("Hello, world");
    const received = provider.received[0]!;
    expect(received.url.pathname).toBe("/v1/messages");
    expect(modelOf(received)).toBe("claude-real");
    expect(received.headers.get("x-api-key")).toBe(ANTHROPIC_KEY);
    expect(received.headers.get("authorization")).toBeNull();
    expect(received.headers.get("anthropic-version")).toBeTruthy();
  });

  test("messages.stream() assembles the final message through the proxy", async () => {
    const events = anthropicStream(["Bonjour", " !"], "claude-real");
    await using provider = new FakeProvider(() => {
      const stream = new ScriptedStream();
      for (const e of events) stream.send(e);
      stream.end();
      return stream.response();
    });
    await using proxy = startProxy(config(provider.url, provider.url));
    const client = new Anthropic({ baseURL: proxy.url, apiKey: KEY, maxRetries: 0 });
    const message = await client.messages.stream({ model: "claude", max_tokens: 16, messages: [{ role: "user", content: "hi" }] }).finalMessage();
    expect(message.content.map((block) => (block.type === "text" ? block.text : block.type))).toEqual(["Bonjour !"]);
    expect(message.stop_reason).toBe("end_turn");
  });

  test("gets a non-streamed message and sees proxy errors as the SDK's typed errors", async () => {
    await using provider = new FakeProvider(() => Response.json(anthropicMessage("hello", "claude-real")));
    await using proxy = startProxy(config(provider.url, provider.url));
    const client = new Anthropic({ baseURL: proxy.url, apiKey: KEY, maxRetries: 0 });
    const message = await client.messages.create({ model: "claude", max_tokens: 16, messages: [{ role: "user", content: "hi" }] });
    expect(message.content.map((block) => (block.type === "text" ? block.text : block.type))).toEqual(["hello"]);

    const unknown = await client.messages.create({ model: "nope", max_tokens: 1, messages: [{ role: "user", content: "hi" }] }).catch((e: unknown) => e);
    expect(unknown).toBeInstanceOf(Anthropic.NotFoundError);

    const wrongKey = new Anthropic({ baseURL: proxy.url, apiKey: "sk-ant-wrong", maxRetries: 0 });
    const denied = await wrongKey.messages.create({ model: "claude", max_tokens: 1, messages: [{ role: "user", content: "hi" }] }).catch((e: unknown) => e);
    expect(denied).toBeInstanceOf(Anthropic.AuthenticationError);
    expect(provider.received.length).toBe(1);
  });
});
