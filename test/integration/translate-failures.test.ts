import Anthropic from "@anthropic-ai/sdk";
import { describe, expect, test } from "bun:test";
import OpenAI from "openai";
import { cooling } from "../helpers/faults.ts";
import { within } from "../helpers/http.ts";
import {
  antBlockEvents,
  antEvent,
  antMessageStart,
  chatEvent,
  chatTurn,
  chatUsageEvent,
  CHAT_DONE,
  OneProtocolProvider,
  Pacer,
  sse,
  type Turn,
} from "../helpers/one-protocol.ts";
import { startProxy } from "../helpers/proxy.ts";

/**
 * What goes wrong, across protocols, with the real SDKs: provider errors in the
 * client's own shape (a 429 keeps its Retry-After, Anthropic's 529 is a 503 for an
 * OpenAI client), a stream cut after it began (the SDK raises; its helpers never
 * return a partial answer as whole), fallback judged on the provider's own answer,
 * an L2 fallback from an Anthropic alias to an OpenAI one, and a client that leaves.
 */

const KEY = "sk-proxy-translate-0123456789";

const config = (chat: string, ant: string, chat2 = chat) => `
proxy_api_key: ${KEY}
backends:
  - { name: chat, url: "${chat}/v1", api_key: sk-chat-backend-key-1111111111, protocol: openai }
  - { name: chat2, url: "${chat2}/v1", api_key: sk-chat-backend-key-3333333333, protocol: openai }
  - { name: ant, url: "${ant}", api_key: sk-ant-backend-key-22222222222, protocol: anthropic }
models:
  on-chat: { routes: [{ backend: chat, model: chat-model }] }
  on-ant: { routes: [{ backend: ant, model: claude-model }] }
  claude: { routes: [{ backend: ant, model: claude-model }] }
  gpt: { routes: [{ backend: chat, model: chat-model }] }
  two-chats:
    routes:
      - { backend: chat, model: chat-model, priority: 1 }
      - { backend: chat2, model: chat-model-2, priority: 2 }
fallback:
  cooldown_seconds: 30
  alias_fallback:
    claude: [gpt]
timeouts: { first_byte_seconds: 5, idle_seconds: 5 }
`;

async function setUp(chatTurns: Turn[], antTurns: Turn[], chat2Turns: Turn[] = [unused]) {
  const chat = new OneProtocolProvider("openai", chatTurns);
  const chat2 = new OneProtocolProvider("openai", chat2Turns);
  const ant = new OneProtocolProvider("anthropic", antTurns);
  const proxy = startProxy(config(chat.url, ant.url, chat2.url));
  return {
    chat,
    chat2,
    ant,
    proxy,
    anthropic: new Anthropic({ baseURL: proxy.url, apiKey: KEY, maxRetries: 0 }),
    openai: new OpenAI({ baseURL: `${proxy.url}/v1`, apiKey: KEY, maxRetries: 0 }),
    async [Symbol.asyncDispose]() {
      await proxy[Symbol.asyncDispose]();
      for (const p of [chat, chat2, ant]) await p[Symbol.asyncDispose]();
    },
  };
}

const unused: Turn = () => new Response("not expected", { status: 500 });
const ask = { max_tokens: 100, messages: [{ role: "user" as const, content: "hi" }] };
const chatAsk = { messages: [{ role: "user" as const, content: "hi" }] };

describe("provider errors reach the client in its own protocol", () => {
  test("a Chat provider's 429 is an Anthropic rate_limit_error 429 with the provider's Retry-After", async () => {
    const limited: Turn = () => Response.json({ error: { message: "Rate limit reached for requests", type: "requests", param: null, code: "rate_limit_exceeded" } }, { status: 429, headers: { "retry-after": "7" } });
    await using s = await setUp([limited], [unused]);
    const error = await s.anthropic.messages.create({ model: "on-chat", ...ask }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(Anthropic.RateLimitError);
    const e = error as InstanceType<typeof Anthropic.RateLimitError>;
    expect(e.status).toBe(429);
    expect(e.headers?.get("retry-after")).toBe("7");
    expect(e.error).toEqual({ type: "error", error: { type: "rate_limit_error", message: "Rate limit reached for requests" } });
    expect(cooling(s.proxy)).toEqual(["chat/chat-model"]);
  });

  test("an Anthropic provider's 429 is an OpenAI rate_limit_error 429 with the provider's Retry-After", async () => {
    const limited: Turn = () => Response.json({ type: "error", error: { type: "rate_limit_error", message: "Number of request tokens has exceeded your per-minute rate limit" } }, { status: 429, headers: { "retry-after": "12" } });
    await using s = await setUp([unused], [limited]);
    const error = await s.openai.chat.completions.create({ model: "on-ant", ...chatAsk }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(OpenAI.RateLimitError);
    const e = error as InstanceType<typeof OpenAI.RateLimitError>;
    expect(e.status).toBe(429);
    expect(e.headers?.get("retry-after")).toBe("12");
    expect(e.type).toBe("rate_limit_error");
    expect(e.message).toContain("per-minute rate limit");
  });

  test("an Anthropic provider's 529 (overloaded) is a 503 for an OpenAI client, which OpenAI clients know to retry", async () => {
    const overloaded: Turn = () => Response.json({ type: "error", error: { type: "overloaded_error", message: "Overloaded" } }, { status: 529 });
    await using s = await setUp([unused], [overloaded]);
    const error = await s.openai.chat.completions.create({ model: "on-ant", ...chatAsk }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(OpenAI.InternalServerError);
    const e = error as InstanceType<typeof OpenAI.InternalServerError>;
    expect(e.status).toBe(503);
    expect(e.type).toBe("overloaded_error");
    expect(e.message).toContain("Overloaded");
  });

  test("an Anthropic stream that begins with an error event is that error, in OpenAI's shape, for a streaming OpenAI client", async () => {
    const failing: Turn = () => sse(antEvent("error", { error: { type: "overloaded_error", message: "Overloaded" } }));
    await using s = await setUp([unused], [failing]);
    const error = await s.openai.chat.completions.create({ model: "on-ant", ...chatAsk, stream: true }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(OpenAI.APIError);
    expect((error as InstanceType<typeof OpenAI.APIError>).message).toContain("Overloaded");
  });
});

describe("a translated stream cut after it began", () => {
  test("the Anthropic SDK raises, finalMessage() rejects, and no message_stop ever came; the pair cools down", async () => {
    const pacer = new Pacer([chatEvent({ role: "assistant", content: "" }), chatEvent({ content: "partial " }), chatEvent({ content: "answer" })]);
    await using s = await setUp([() => pacer.response()], [unused]);
    void s.chat.call(1).then(() => pacer.until("partial"));
    const stream = s.anthropic.messages.stream({ model: "on-chat", ...ask });
    const types: string[] = [];
    let text = "";
    const iterated = (async () => {
      for await (const event of stream) {
        types.push(event.type);
        if (event.type === "content_block_delta" && event.delta.type === "text_delta") {
          text += event.delta.text;
          if (text === "partial ") {
            pacer.until("answer");
            // The provider's connection breaks after "answer", without finish or [DONE].
            queueMicrotask(() => pacer.stream.fail());
          }
        }
      }
    })();
    const error = await iterated.catch((e: unknown) => e);
    expect(error).toBeInstanceOf(Anthropic.APIError);
    expect(await stream.finalMessage().catch((e: unknown) => e)).toBeInstanceOf(Error);
    expect(types).not.toContain("message_stop");
    expect(types).not.toContain("message_delta");
    await within(
      (async () => {
        while (cooling(s.proxy).length === 0) await Bun.sleep(5);
      })(),
      "the pair to cool down",
    );
    expect(cooling(s.proxy)).toEqual(["chat/chat-model"]);
  });

  test("an Anthropic stream that ends without message_stop: the OpenAI SDK raises and finalChatCompletion() rejects; no finish_reason was given", async () => {
    // Everything but message_delta and message_stop, then a clean end of the body.
    const events = [antMessageStart(), ...antBlockEvents(0, { type: "text", text: "half an answer" }, 3)];
    await using s = await setUp([unused], [() => sse(events.join(""))]);
    const stream = s.openai.chat.completions.stream({ model: "on-ant", ...chatAsk });
    const finishes: (string | null)[] = [];
    let text = "";
    const error = await (async () => {
      for await (const chunk of stream) {
        text += chunk.choices[0]?.delta.content ?? "";
        finishes.push(chunk.choices[0]?.finish_reason ?? null);
      }
    })().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(OpenAI.APIError);
    expect((error as InstanceType<typeof OpenAI.APIError>).message).toContain("ended");
    expect(text).toBe("half an answer");
    expect(finishes.filter((f) => f !== null)).toEqual([]);
    expect(await stream.finalChatCompletion().catch((e: unknown) => e)).toBeInstanceOf(Error);
  });
});

describe("fallback across protocols", () => {
  test("an Anthropic alias whose provider is overloaded falls back (L2) to an OpenAI alias inside one request: JSON and stream, in Anthropic's shape", async () => {
    const overloaded: Turn = () => Response.json({ type: "error", error: { type: "overloaded_error", message: "Overloaded" } }, { status: 529 });
    await using s = await setUp([chatTurn({ content: "from the Chat provider" })], [overloaded]);
    const { data: message, response } = await s.anthropic.messages.create({ model: "claude", ...ask }).withResponse();
    expect(message.content).toMatchObject([{ type: "text", text: "from the Chat provider" }]);
    expect(message.model).toBe("claude");
    expect(response.headers.get("x-llm-proxy-backend")).toBe("chat");
    expect(s.ant.calls).toHaveLength(1);
    expect(s.chat.calls).toHaveLength(1);
    expect(s.chat.calls[0]!.path).toBe("/v1/chat/completions");

    // The Anthropic pair cools; the next request goes straight to the fallback alias, streamed.
    const streamed = await s.anthropic.messages.stream({ model: "claude", ...ask }).finalMessage();
    expect(streamed.content).toMatchObject([{ type: "text", text: "from the Chat provider" }]);
    expect(s.ant.calls).toHaveLength(1);
    expect(s.chat.calls).toHaveLength(2);
  });

  test("a 200 Chat answer with a top-level error is judged on the provider's own body and falls back to the next route", async () => {
    const errorIn200: Turn = () => Response.json({ error: { message: "upstream model crashed", type: "server_error" } });
    await using s = await setUp([errorIn200], [unused], [chatTurn({ content: "from the second" })]);
    const { data: message, response } = await s.anthropic.messages.create({ model: "two-chats", ...ask }).withResponse();
    expect(message.content).toMatchObject([{ type: "text", text: "from the second" }]);
    expect(response.headers.get("x-llm-proxy-backend")).toBe("chat2");
    expect(cooling(s.proxy)).toEqual(["chat/chat-model"]);
  });

  test("a Chat stream whose first event is an error falls back before anything reaches the Anthropic client", async () => {
    const errorFirst: Turn = () => sse(`data: ${JSON.stringify({ error: { message: "overloaded", type: "server_error" } })}\n\n`);
    await using s = await setUp([errorFirst], [unused], [chatTurn({ content: "streamed from the second", parts: 3 })]);
    const stream = s.anthropic.messages.stream({ model: "two-chats", ...ask });
    const message = await stream.finalMessage();
    expect(message.content).toMatchObject([{ type: "text", text: "streamed from the second" }]);
    expect(cooling(s.proxy)).toEqual(["chat/chat-model"]);
  });
});

describe("a client that leaves a translated stream", () => {
  test("the Anthropic SDK aborting mid-stream aborts the Chat provider's request", async () => {
    const pacer = new Pacer([chatEvent({ role: "assistant", content: "" }), chatEvent({ content: "first" }), chatEvent({ content: "never sent" })]);
    await using s = await setUp([() => pacer.response()], [unused]);
    void s.chat.call(1).then(() => pacer.until("first"));
    const stream = s.anthropic.messages.stream({ model: "on-chat", ...ask });
    for await (const event of stream) {
      if (event.type === "content_block_delta") break; // the SDK aborts its request
    }
    const call = await s.chat.call(1);
    await within(call.received.aborted, "the provider to see the abort");
    expect(pacer.sent).toBe(2);
    expect(cooling(s.proxy)).toEqual([]);
  });

  test("the OpenAI SDK aborting mid-stream aborts the Anthropic provider's request", async () => {
    const pacer = new Pacer([antMessageStart(), ...antBlockEvents(0, { type: "text", text: "first second" }, 2)]);
    await using s = await setUp([unused], [() => pacer.response()]);
    void s.ant.call(1).then(() => pacer.until("first"));
    const stream = await s.openai.chat.completions.create({ model: "on-ant", ...chatAsk, stream: true });
    for await (const chunk of stream) {
      if (chunk.choices[0]?.delta.content) break;
    }
    const call = await s.ant.call(1);
    await within(call.received.aborted, "the provider to see the abort");
    expect(cooling(s.proxy)).toEqual([]);
  });
});

describe("a provider that leaves its connection open after its stream is complete", () => {
  const open = () => new Pacer([chatEvent({ role: "assistant", content: "" }), chatEvent({ content: "all here" }), chatEvent({}, "stop"), chatUsageEvent(), CHAT_DONE]);

  test("the Anthropic SDK gets the end of its stream at [DONE], not at idle_seconds, and the provider is let go", async () => {
    const pacer = open();
    await using s = await setUp([() => pacer.response()], [unused]);
    void s.chat.call(1).then(() => pacer.until("[DONE]"));
    // idle_seconds is 5 here: an answer only at the idle timeout would miss this bound.
    const message = await within(s.anthropic.messages.stream({ model: "on-chat", ...ask }).finalMessage(), "the final message", 4000);
    expect(message.content).toMatchObject([{ type: "text", text: "all here" }]);
    expect(message.stop_reason).toBe("end_turn");
    await within((async () => { while (!pacer.stream.cancelled) await Bun.sleep(5); })(), "the provider's stream to be let go");
    expect(cooling(s.proxy)).toEqual([]);
  });

  test("the OpenAI SDK's responses stream ends at response.completed too", async () => {
    const pacer = open();
    await using s = await setUp([() => pacer.response()], [unused]);
    void s.chat.call(1).then(() => pacer.until("[DONE]"));
    const response = await within(s.openai.responses.stream({ model: "on-chat", input: "hi" }).finalResponse(), "the final response", 4000);
    expect(response.status).toBe("completed");
    expect(response.output_text).toBe("all here");
  });
});

describe("a provider whose last event lacks its closing blank line", () => {
  // The openai SDK dispatches such an event at the end of the body ("servers sometimes omit the
  // trailing blank line"), and passthrough finds [DONE] as a whole line: translation must agree.
  const body = (end: string) => [chatEvent({ role: "assistant", content: "" }), chatEvent({ content: "whole" }), chatEvent({}, "stop"), chatUsageEvent()].join("") + end;

  test("[DONE] without a line break: the Anthropic SDK gets a complete message, and nothing cools", async () => {
    await using s = await setUp([() => sse(body("data: [DONE]"))], [unused]);
    const message = await s.anthropic.messages.stream({ model: "on-chat", ...ask }).finalMessage();
    expect(message.content).toMatchObject([{ type: "text", text: "whole" }]);
    expect(message.stop_reason).toBe("end_turn");
    expect(cooling(s.proxy)).toEqual([]);
  });

  test("[DONE] with one line break: the Responses stream ends with response.completed", async () => {
    await using s = await setUp([() => sse(body("data: [DONE]\n"))], [unused]);
    const response = await s.openai.responses.stream({ model: "on-chat", input: "hi" }).finalResponse();
    expect(response.status).toBe("completed");
    expect(response.output_text).toBe("whole");
  });

  test("a last unterminated event that does not complete the answer is still a cut", async () => {
    const cut = [chatEvent({ role: "assistant", content: "" }), chatEvent({ content: "half " })].join("") + `data: ${JSON.stringify({ id: "c", object: "chat.completion.chunk", choices: [{ index: 0, delta: { content: "more" }, finish_reason: null }] })}`;
    await using s = await setUp([() => sse(cut)], [unused]);
    const stream = s.anthropic.messages.stream({ model: "on-chat", ...ask });
    let text = "";
    stream.on("text", (t) => (text += t));
    expect(await stream.finalMessage().catch((e: unknown) => e)).toBeInstanceOf(Anthropic.APIError);
    expect(text).toBe("half more");
  });
});

describe("a stream whose first event is an error keeps the error's meaning in the status", () => {
  const antErrorFirst = (type: string, message: string): Turn => () => sse(antEvent("error", { error: { type, message } }));
  const chatErrorFirst = (error: Record<string, unknown>): Turn => () => sse(`data: ${JSON.stringify({ error })}\n\n`);

  test("Anthropic's rate_limit_error event is a 429 for an OpenAI client, its overloaded_error event a 503 (as a 529 answer is)", async () => {
    await using s = await setUp([unused], [antErrorFirst("rate_limit_error", "Slow down"), antErrorFirst("overloaded_error", "Overloaded")]);
    const limited = await s.openai.chat.completions.create({ model: "on-ant", ...chatAsk, stream: true }).catch((e: unknown) => e);
    expect(limited).toBeInstanceOf(OpenAI.RateLimitError);
    expect((limited as InstanceType<typeof OpenAI.RateLimitError>).message).toContain("Slow down");
    s.proxy.proxy.cooldowns.clear();
    const overloaded = await s.openai.chat.completions.create({ model: "on-ant", ...chatAsk, stream: true }).catch((e: unknown) => e);
    expect((overloaded as InstanceType<typeof OpenAI.APIError>).status).toBe(503);
    expect((overloaded as InstanceType<typeof OpenAI.APIError>).type).toBe("overloaded_error");
  });

  test("a Chat provider's first chunk with a rate-limit error is an Anthropic rate_limit_error 429; one with a status code keeps that status", async () => {
    await using s = await setUp([chatErrorFirst({ message: "Rate limit reached", type: "rate_limit_error", code: "rate_limit_exceeded" }), chatErrorFirst({ message: "Provider returned error", code: 503 })], [unused]);
    const limited = await s.anthropic.messages.create({ model: "on-chat", ...ask, stream: true }).catch((e: unknown) => e);
    expect(limited).toBeInstanceOf(Anthropic.RateLimitError);
    expect((limited as InstanceType<typeof Anthropic.RateLimitError>).error).toEqual({ type: "error", error: { type: "rate_limit_error", message: "Rate limit reached" } });
    s.proxy.proxy.cooldowns.clear();
    const unavailable = await s.anthropic.messages.create({ model: "on-chat", ...ask, stream: true }).catch((e: unknown) => e);
    expect((unavailable as InstanceType<typeof Anthropic.APIError>).status).toBe(503);
  });

  test("an error event that names no kind is still a 502", async () => {
    await using s = await setUp([chatErrorFirst({ message: "something broke" })], [unused]);
    const error = await s.anthropic.messages.create({ model: "on-chat", ...ask, stream: true }).catch((e: unknown) => e);
    expect((error as InstanceType<typeof Anthropic.APIError>).status).toBe(502);
    expect((error as InstanceType<typeof Anthropic.APIError>).message).toContain("something broke");
  });
});
