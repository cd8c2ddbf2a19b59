import Anthropic from "@anthropic-ai/sdk";
import { describe, expect, test } from "bun:test";
import OpenAI from "openai";
import {
  anthropicAnswer,
  anthropicStreamOf,
  antBlockEvents,
  antMessageEnd,
  antMessageStart,
  chatAnswer,
  chatEvent,
  chatStream,
  chatTurn,
  chatUsageEvent,
  CHAT_DONE,
  dig,
  OneProtocolProvider,
  Pacer,
  type Turn,
} from "../helpers/one-protocol.ts";
import { startProxy } from "../helpers/proxy.ts";

/**
 * The real SDKs through the proxy to providers that speak only the other protocol:
 * the Anthropic SDK to a Chat-only server (alias `on-chat`), the OpenAI SDK to an
 * Anthropic-only server (alias `on-ant`). Text, streams in lock-step, tools, parallel
 * calls, thinking, images; the SDKs' own helpers build the final objects.
 */

const KEY = "sk-proxy-translate-0123456789";
const CHAT_KEY = "sk-chat-backend-key-1111111111";
const ANT_KEY = "sk-ant-backend-key-22222222222";

const config = (chat: string, ant: string) => `
proxy_api_key: ${KEY}
backends:
  - { name: chat, url: "${chat}/v1", api_key: ${CHAT_KEY}, protocol: openai }
  - { name: ant, url: "${ant}", api_key: ${ANT_KEY}, protocol: anthropic }
models:
  on-chat: { routes: [{ backend: chat, model: chat-model }] }
  on-ant: { routes: [{ backend: ant, model: claude-model }] }
`;

/** A Chat-only and an Anthropic-only provider, the proxy in front, and the two SDK clients. */
async function setUp(chatTurns: Turn[], antTurns: Turn[]) {
  const chat = new OneProtocolProvider("openai", chatTurns);
  const ant = new OneProtocolProvider("anthropic", antTurns);
  const proxy = startProxy(config(chat.url, ant.url));
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
const WEATHER_TOOL_ANT = { name: "get_weather", description: "The weather in a city", input_schema: { type: "object" as const, properties: { city: { type: "string" }, unit: { type: "string" } }, required: ["city"] } };
const WEATHER_TOOL_CHAT = { type: "function" as const, function: { name: "get_weather", description: "The weather in a city", parameters: WEATHER_TOOL_ANT.input_schema } };
/** A 1×1 PNG. */
const PNG = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==";

describe("the Anthropic SDK on a Chat-only provider", () => {
  test("a text answer: the provider gets a Chat request on its own path with its own key, the SDK an Anthropic message with the alias and usage without cached tokens", async () => {
    await using s = await setUp([() => Response.json(chatAnswer({ content: "Hello from Chat" }))], [unused]);
    const message = await s.anthropic.messages.create({ model: "on-chat", max_tokens: 100, system: "Be brief.", messages: [{ role: "user", content: "hi" }] });
    expect(message.type).toBe("message");
    expect(message.model).toBe("on-chat");
    expect(message.content).toEqual([{ type: "text", text: "Hello from Chat" } as Anthropic.TextBlock]);
    expect(message.stop_reason).toBe("end_turn");
    // Chat's prompt_tokens (20) includes the 8 cached; Anthropic's input_tokens does not.
    expect(message.usage).toMatchObject({ input_tokens: 12, cache_read_input_tokens: 8, output_tokens: 5 });

    const call = s.chat.calls[0]!;
    expect(call.path).toBe("/v1/chat/completions");
    expect(call.body).toEqual({ model: "chat-model", messages: [{ role: "system", content: "Be brief." }, { role: "user", content: "hi" }], max_tokens: 100 });
    expect(call.headers.get("authorization")).toBe(`Bearer ${CHAT_KEY}`);
    expect(call.headers.get("x-api-key")).toBeNull();
    expect(call.headers.get("anthropic-version")).toBeNull();
    expect(s.chat.strays).toEqual([]);
    expect(s.ant.calls).toEqual([]);
  });

  test("a stream in lock-step: text piece k+1 leaves the provider only after the SDK yielded piece k; finalMessage() is the whole message", async () => {
    const texts = ["p0 ", "p1 ", "p2 ", "p3 ", "p4 ", "p5"];
    const pacer = new Pacer([chatEvent({ role: "assistant", content: "" }), ...texts.map((t) => chatEvent({ content: t })), chatEvent({}, "stop"), chatUsageEvent(), CHAT_DONE]);
    await using s = await setUp([() => pacer.response()], [unused]);
    void s.chat.call(1).then(() => pacer.until("p0"));
    const stream = s.anthropic.messages.stream({ model: "on-chat", max_tokens: 100, messages: [{ role: "user", content: "count" }] });
    const types: string[] = [];
    let k = 0;
    for await (const event of stream) {
      types.push(event.type);
      if (event.type !== "content_block_delta" || event.delta.type !== "text_delta") continue;
      expect(event.delta.text).toBe(texts[k]!);
      // The SDK has piece k and the provider has sent nothing after it (the role chunk, then k + 1 pieces).
      expect(pacer.sent).toBe(k + 2);
      k++;
      if (k < texts.length) pacer.until(`p${k}`);
      else pacer.finish();
    }
    expect(k).toBe(texts.length);
    const message = await stream.finalMessage();
    expect(message.content).toMatchObject([{ type: "text", text: texts.join("") }]);
    expect(message.stop_reason).toBe("end_turn");
    expect(message.usage).toMatchObject({ input_tokens: 12, cache_read_input_tokens: 8, output_tokens: 5 });
    expect(types[0]).toBe("message_start");
    expect(types.slice(-2)).toEqual(["message_delta", "message_stop"]);
    // A translated stream to an OpenAI backend asks for usage (stream_usage: auto).
    expect(dig(s.chat.calls[0]!.body, "stream_options")).toEqual({ include_usage: true });
  });

  test("a tool round trip: arguments in 12 pieces reach the SDK as input_json deltas and a whole tool_use; the result goes back as a Chat tool message with the same id", async () => {
    const args = JSON.stringify({ city: "Paris", unit: "celsius", note: "a longer text so that twelve pieces each carry something" });
    await using s = await setUp(
      [
        chatTurn({ calls: [{ id: "call_w1", name: "get_weather", arguments: args }], parts: 12 }),
        chatTurn({ content: "It is sunny in Paris." }),
      ],
      [unused],
    );
    const first = s.anthropic.messages.stream({ model: "on-chat", max_tokens: 200, tools: [WEATHER_TOOL_ANT], messages: [{ role: "user", content: "Weather in Paris?" }] });
    const partials: string[] = [];
    first.on("inputJson", (partial) => partials.push(partial));
    const asked = await first.finalMessage();
    expect(asked.stop_reason).toBe("tool_use");
    const use = asked.content.find((b): b is Anthropic.ToolUseBlock => b.type === "tool_use")!;
    expect(use).toMatchObject({ type: "tool_use", id: "call_w1", name: "get_weather", input: JSON.parse(args) });
    expect(partials.length).toBe(12);
    expect(partials.join("")).toBe(args);
    expect(s.chat.calls[0]!.body).toMatchObject({ tools: [WEATHER_TOOL_CHAT], stream: true });

    const final = await s.anthropic.messages
      .stream({
        model: "on-chat",
        max_tokens: 200,
        tools: [WEATHER_TOOL_ANT],
        messages: [
          { role: "user", content: "Weather in Paris?" },
          { role: "assistant", content: asked.content },
          { role: "user", content: [{ type: "tool_result", tool_use_id: use.id, content: "sunny, 21 °C" }] },
        ],
      })
      .finalMessage();
    expect(final.content).toMatchObject([{ type: "text", text: "It is sunny in Paris." }]);
    expect(final.stop_reason).toBe("end_turn");
    const sent = s.chat.calls[1]!.body;
    expect(dig(sent, "messages")).toEqual([
      { role: "user", content: "Weather in Paris?" },
      { role: "assistant", content: null, tool_calls: [{ id: "call_w1", type: "function", function: { name: "get_weather", arguments: args } }] },
      { role: "tool", tool_call_id: "call_w1", content: "sunny, 21 °C" },
    ]);
  });

  test("two parallel tool calls whose argument pieces interleave become two whole tool_use blocks, and both results go back", async () => {
    const calls = [
      { id: "call_a", name: "get_weather", arguments: JSON.stringify({ city: "Paris" }) },
      { id: "call_b", name: "get_weather", arguments: JSON.stringify({ city: "Tokyo", unit: "celsius" }) },
    ];
    await using s = await setUp(
      [chatTurn({ calls, parts: 4, interleave: true }), chatTurn({ content: "Both sunny." })],
      [unused],
    );
    const asked = await s.anthropic.messages.stream({ model: "on-chat", max_tokens: 200, tools: [WEATHER_TOOL_ANT], messages: [{ role: "user", content: "Paris and Tokyo?" }] }).finalMessage();
    const uses = asked.content.filter((b): b is Anthropic.ToolUseBlock => b.type === "tool_use");
    expect(uses.map((u) => [u.id, u.input])).toEqual([
      ["call_a", { city: "Paris" }],
      ["call_b", { city: "Tokyo", unit: "celsius" }],
    ]);
    expect(asked.stop_reason).toBe("tool_use");

    const final = await s.anthropic.messages.create({
      model: "on-chat",
      max_tokens: 200,
      tools: [WEATHER_TOOL_ANT],
      messages: [
        { role: "user", content: "Paris and Tokyo?" },
        { role: "assistant", content: asked.content },
        {
          role: "user",
          content: [
            { type: "tool_result", tool_use_id: "call_a", content: "sunny" },
            { type: "tool_result", tool_use_id: "call_b", content: "sunny too" },
          ],
        },
      ],
    });
    expect(final.content).toMatchObject([{ type: "text", text: "Both sunny." }]);
    const messages = dig(s.chat.calls[1]!.body, "messages") as unknown[];
    expect(dig(messages, 1, "tool_calls")).toMatchObject([{ id: "call_a" }, { id: "call_b" }]);
    expect(messages.slice(2)).toEqual([
      { role: "tool", tool_call_id: "call_a", content: "sunny" },
      { role: "tool", tool_call_id: "call_b", content: "sunny too" },
    ]);
  });

  test("thinking: a budget becomes reasoning_effort, reasoning_content comes back as a thinking block before the text (stream and JSON)", async () => {
    await using s = await setUp(
      [
        (call) => chatStream(call, [chatEvent({ reasoning_content: "Let me " }), chatEvent({ reasoning_content: "think." }), chatEvent({ content: "42" })], "stop"),
        () => Response.json(chatAnswer({ content: "43", reasoning: "Once more." })),
      ],
      [unused],
    );
    const request = { model: "on-chat", max_tokens: 20000, thinking: { type: "enabled" as const, budget_tokens: 10000 }, messages: [{ role: "user" as const, content: "the answer?" }] };
    const streamed = await s.anthropic.messages.stream(request).finalMessage();
    expect(streamed.content.map((b) => b.type)).toEqual(["thinking", "text"]);
    expect(streamed.content[0]).toMatchObject({ type: "thinking", thinking: "Let me think." });
    expect(streamed.content[1]).toMatchObject({ type: "text", text: "42" });
    expect(dig(s.chat.calls[0]!.body, "reasoning_effort")).toBe("medium");

    const json = await s.anthropic.messages.create({ ...request, messages: [...request.messages, { role: "assistant", content: streamed.content }, { role: "user", content: "again" }] });
    expect(json.content).toEqual([
      { type: "thinking", thinking: "Once more.", signature: "" },
      { type: "text", text: "43" },
    ] as Anthropic.ContentBlock[]);
    // The thinking of the earlier turn goes back as the provider's own reasoning_content.
    expect(dig(s.chat.calls[1]!.body, "messages", 1)).toMatchObject({ role: "assistant", content: "42", reasoning_content: "Let me think." });
  });

  test("an image block reaches the provider as an image_url data URL", async () => {
    await using s = await setUp([() => Response.json(chatAnswer({ content: "a pixel" }))], [unused]);
    const message = await s.anthropic.messages.create({
      model: "on-chat",
      max_tokens: 50,
      messages: [{ role: "user", content: [{ type: "image", source: { type: "base64", media_type: "image/png", data: PNG } }, { type: "text", text: "What is this?" }] }],
    });
    expect(message.content).toMatchObject([{ type: "text", text: "a pixel" }]);
    expect(dig(s.chat.calls[0]!.body, "messages", 0, "content")).toEqual([
      { type: "image_url", image_url: { url: `data:image/png;base64,${PNG}` } },
      { type: "text", text: "What is this?" },
    ]);
  });
});

describe("the OpenAI SDK on an Anthropic-only provider", () => {
  test("a text answer: the provider gets a Messages request with x-api-key, anthropic-version and a max_tokens; the SDK a completion whose prompt_tokens include cached tokens", async () => {
    await using s = await setUp([unused], [() => Response.json(anthropicAnswer([{ type: "text", text: "Hello from Claude" }]))]);
    const completion = await s.openai.chat.completions.create({ model: "on-ant", messages: [{ role: "system", content: "Be brief." }, { role: "user", content: "hi" }] });
    expect(completion.object).toBe("chat.completion");
    expect(completion.model).toBe("on-ant");
    expect(completion.choices[0]!.message.content).toBe("Hello from Claude");
    expect(completion.choices[0]!.finish_reason).toBe("stop");
    // input 10 + cache read 5 + cache write 3.
    expect(completion.usage).toMatchObject({ prompt_tokens: 18, completion_tokens: 6, total_tokens: 24, prompt_tokens_details: { cached_tokens: 5 } });

    const call = s.ant.calls[0]!;
    expect(call.path).toBe("/v1/messages");
    expect(call.body).toEqual({ model: "claude-model", max_tokens: 8192, system: [{ type: "text", text: "Be brief." }], messages: [{ role: "user", content: [{ type: "text", text: "hi" }] }] });
    expect(call.headers.get("x-api-key")).toBe(ANT_KEY);
    expect(call.headers.get("authorization")).toBeNull();
    expect(call.headers.get("anthropic-version")).toBe("2023-06-01");
    expect(s.ant.strays).toEqual([]);
    expect(s.chat.calls).toEqual([]);
  });

  test("a stream in lock-step: text delta k+1 leaves the provider only after the SDK yielded delta k; finalChatCompletion() is whole, with the usage chunk it asked for", async () => {
    const texts = ["q0 ", "q1 ", "q2 ", "q3 ", "q4"];
    const pacer = new Pacer([antMessageStart(), ...antBlockEvents(0, { type: "text", text: texts.join("") }, 1).slice(0, 1), ...texts.map((text) => `event: content_block_delta\ndata: ${JSON.stringify({ type: "content_block_delta", index: 0, delta: { type: "text_delta", text } })}\n\n`), `event: content_block_stop\ndata: {"type":"content_block_stop","index":0}\n\n`, ...antMessageEnd("end_turn")]);
    await using s = await setUp([unused], [() => pacer.response()]);
    void s.ant.call(1).then(() => pacer.until("q0"));
    const stream = s.openai.chat.completions.stream({ model: "on-ant", messages: [{ role: "user", content: "count" }], stream_options: { include_usage: true } });
    let k = 0;
    let usageChunks = 0;
    for await (const chunk of stream) {
      if (chunk.usage) usageChunks++;
      const content = chunk.choices[0]?.delta.content;
      if (!content) continue;
      expect(content).toBe(texts[k]!);
      // message_start and content_block_start, then k + 1 deltas: nothing after piece k.
      expect(pacer.sent).toBe(k + 3);
      k++;
      if (k < texts.length) pacer.until(`q${k}`);
      else pacer.finish();
    }
    expect(k).toBe(texts.length);
    const completion = await stream.finalChatCompletion();
    expect(completion.choices[0]!.message.content).toBe(texts.join(""));
    expect(completion.choices[0]!.finish_reason).toBe("stop");
    expect(usageChunks).toBe(1);
    expect(completion.usage).toMatchObject({ prompt_tokens: 18, completion_tokens: 6, prompt_tokens_details: { cached_tokens: 5 } });
    // stream_options has no Messages counterpart: it is not sent.
    expect(dig(s.ant.calls[0]!.body, "stream_options")).toBeUndefined();
    expect(dig(s.ant.calls[0]!.body, "stream")).toBe(true);
  });

  test("a tool round trip: input_json pieces become argument deltas the SDK accumulates into one call; the tool message goes back as a tool_result", async () => {
    const input = { city: "Paris", unit: "celsius", note: "a longer text so that the pieces each carry something" };
    await using s = await setUp(
      [unused],
      [
        () => anthropicStreamOf([{ type: "text", text: "Let me look." }, { type: "tool_use", id: "toolu_01", name: "get_weather", input }], "tool_use", 10),
        () => anthropicStreamOf([{ type: "text", text: "Sunny." }], "end_turn"),
      ],
    );
    const first = s.openai.chat.completions.stream({ model: "on-ant", tools: [WEATHER_TOOL_CHAT], messages: [{ role: "user", content: "Weather in Paris?" }] });
    const deltas: string[] = [];
    const done: unknown[] = [];
    first.on("tool_calls.function.arguments.delta", (e) => deltas.push(e.arguments_delta));
    first.on("tool_calls.function.arguments.done", (e) => done.push(e.parsed_arguments ?? JSON.parse(e.arguments)));
    const asked = await first.finalChatCompletion();
    const message = asked.choices[0]!.message;
    expect(asked.choices[0]!.finish_reason).toBe("tool_calls");
    expect(message.content).toBe("Let me look.");
    expect(message.tool_calls).toHaveLength(1);
    const call = message.tool_calls![0]!;
    expect(call.type).toBe("function");
    if (call.type !== "function") throw new Error("not a function call");
    expect(call.id).toBe("toolu_01");
    expect(call.function.name).toBe("get_weather");
    expect(JSON.parse(call.function.arguments)).toEqual(input);
    expect(deltas.length).toBeGreaterThanOrEqual(10);
    expect(done).toEqual([input]);
    expect(dig(s.ant.calls[0]!.body, "tools")).toEqual([WEATHER_TOOL_ANT]);

    const final = await s.openai.chat.completions.create({
      model: "on-ant",
      tools: [WEATHER_TOOL_CHAT],
      messages: [{ role: "user", content: "Weather in Paris?" }, { role: "assistant", content: message.content, tool_calls: message.tool_calls }, { role: "tool", tool_call_id: call.id, content: "sunny, 21 °C" }],
      stream: true,
    });
    let text = "";
    for await (const chunk of final) text += chunk.choices[0]?.delta.content ?? "";
    expect(text).toBe("Sunny.");
    expect(dig(s.ant.calls[1]!.body, "messages")).toEqual([
      { role: "user", content: [{ type: "text", text: "Weather in Paris?" }] },
      { role: "assistant", content: [{ type: "text", text: "Let me look." }, { type: "tool_use", id: "toolu_01", name: "get_weather", input }] },
      { role: "user", content: [{ type: "tool_result", tool_use_id: "toolu_01", content: "sunny, 21 °C" }] },
    ]);
  });

  test("two parallel tool_use blocks become tool calls 0 and 1, each whole in finalChatCompletion()", async () => {
    await using s = await setUp(
      [unused],
      [
        () =>
          anthropicStreamOf(
            [
              { type: "tool_use", id: "toolu_a", name: "get_weather", input: { city: "Paris" } },
              { type: "tool_use", id: "toolu_b", name: "get_weather", input: { city: "Tokyo", unit: "celsius" } },
            ],
            "tool_use",
            3,
          ),
      ],
    );
    const completion = await s.openai.chat.completions.stream({ model: "on-ant", tools: [WEATHER_TOOL_CHAT], messages: [{ role: "user", content: "Paris and Tokyo?" }] }).finalChatCompletion();
    const calls = completion.choices[0]!.message.tool_calls!;
    expect(calls.map((c) => (c.type === "function" ? [c.id, c.function.name, JSON.parse(c.function.arguments)] : c.type))).toEqual([
      ["toolu_a", "get_weather", { city: "Paris" }],
      ["toolu_b", "get_weather", { city: "Tokyo", unit: "celsius" }],
    ]);
    expect(completion.choices[0]!.finish_reason).toBe("tool_calls");
  });

  test("thinking: reasoning_effort becomes a thinking budget, thinking blocks come back as reasoning_content (stream and JSON)", async () => {
    await using s = await setUp(
      [unused],
      [
        () => anthropicStreamOf([{ type: "thinking", thinking: "Let me think.", signature: "sig-1" }, { type: "text", text: "42" }], "end_turn", 2),
        () => Response.json(anthropicAnswer([{ type: "thinking", thinking: "Once more.", signature: "sig-2" }, { type: "text", text: "43" }])),
      ],
    );
    const stream = await s.openai.chat.completions.create({ model: "on-ant", reasoning_effort: "high", max_completion_tokens: 32000, messages: [{ role: "user", content: "the answer?" }], stream: true });
    let reasoning = "";
    let text = "";
    for await (const chunk of stream) {
      const delta = chunk.choices[0]?.delta as { content?: string | null; reasoning_content?: string } | undefined;
      reasoning += delta?.reasoning_content ?? "";
      text += delta?.content ?? "";
    }
    expect([reasoning, text]).toEqual(["Let me think.", "42"]);
    expect(dig(s.ant.calls[0]!.body, "thinking")).toEqual({ type: "enabled", budget_tokens: 16384 });
    expect(dig(s.ant.calls[0]!.body, "max_tokens")).toBe(32000);

    const json = await s.openai.chat.completions.create({ model: "on-ant", reasoning_effort: "low", messages: [{ role: "user", content: "again" }] });
    expect(json.choices[0]!.message).toMatchObject({ content: "43", reasoning_content: "Once more." });
    expect(dig(s.ant.calls[1]!.body, "thinking")).toEqual({ type: "enabled", budget_tokens: 2048 });
  });

  test("an image_url part (a data URL, and a web URL) reaches the provider as an image block", async () => {
    await using s = await setUp([unused], [() => Response.json(anthropicAnswer([{ type: "text", text: "two pixels" }]))]);
    const completion = await s.openai.chat.completions.create({
      model: "on-ant",
      messages: [
        {
          role: "user",
          content: [
            { type: "image_url", image_url: { url: `data:image/png;base64,${PNG}` } },
            { type: "image_url", image_url: { url: "https://example.com/cat.png", detail: "high" } },
            { type: "text", text: "What are these?" },
          ],
        },
      ],
    });
    expect(completion.choices[0]!.message.content).toBe("two pixels");
    expect(dig(s.ant.calls[0]!.body, "messages", 0, "content")).toEqual([
      { type: "image", source: { type: "base64", media_type: "image/png", data: PNG } },
      { type: "image", source: { type: "url", url: "https://example.com/cat.png" } },
      { type: "text", text: "What are these?" },
    ]);
  });
});
