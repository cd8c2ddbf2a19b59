import { describe, expect, test } from "bun:test";
import OpenAI from "openai";
import { cooling } from "../helpers/faults.ts";
import { within } from "../helpers/http.ts";
import {
  antBlockEvents,
  antMessageEnd,
  antMessageStart,
  anthropicTurn,
  chatEvent,
  chatTurn,
  chatUsageEvent,
  CHAT_DONE,
  dig,
  OneProtocolProvider,
  Pacer,
  sse,
  type Turn,
} from "../helpers/one-protocol.ts";
import { startProxy } from "../helpers/proxy.ts";

/**
 * The openai SDK's `responses.create` / `responses.stream` (what Codex speaks)
 * through the proxy to a Chat-only provider and to an Anthropic-only one: text,
 * lock-step streams, function calls, reasoning, length stops, fallback before the
 * commit, a cut after it, the stateless refusals; and passthrough, byte for byte,
 * where the backend speaks Responses itself.
 */

const KEY = "sk-proxy-responses-0123456789";

const config = (chat: string, ant: string, responses: string, plain: string) => `
proxy_api_key: ${KEY}
backends:
  - { name: chat, url: "${chat}/v1", api_key: sk-chat-backend-key-1111111111, protocol: openai }
  - { name: ant, url: "${ant}", api_key: sk-ant-backend-key-22222222222, protocol: anthropic }
  - { name: resp, url: "${responses}/v1", api_key: sk-resp-backend-key-333333333, protocol: openai-responses }
  - { name: plain, url: "${plain}/v1", api_key: sk-plain-backend-key-44444444 }
models:
  r-chat: { routes: [{ backend: chat, model: chat-model }] }
  r-ant: { routes: [{ backend: ant, model: claude-model }] }
  r-resp: { routes: [{ backend: resp, model: resp-model }] }
  r-plain: { routes: [{ backend: plain, model: plain-model }] }
  chat-then-ant:
    routes:
      - { backend: chat, model: chat-model, priority: 1 }
      - { backend: ant, model: claude-model, priority: 2 }
fallback: { cooldown_seconds: 30 }
`;

interface Providers {
  chat?: Turn[];
  ant?: Turn[];
  resp?: Turn[];
  plain?: Turn[];
}

async function setUp(turns: Providers) {
  const unused: Turn[] = [() => new Response("not expected", { status: 500 })];
  const chat = new OneProtocolProvider("openai", turns.chat ?? unused);
  const ant = new OneProtocolProvider("anthropic", turns.ant ?? unused);
  const resp = new OneProtocolProvider("openai-responses", turns.resp ?? unused);
  const plain = new OneProtocolProvider("openai-responses", turns.plain ?? unused);
  const proxy = startProxy(config(chat.url, ant.url, resp.url, plain.url));
  return {
    chat,
    ant,
    resp,
    plain,
    proxy,
    client: new OpenAI({ baseURL: `${proxy.url}/v1`, apiKey: KEY, maxRetries: 0 }),
    async [Symbol.asyncDispose]() {
      await proxy[Symbol.asyncDispose]();
      for (const p of [chat, ant, resp, plain]) await p[Symbol.asyncDispose]();
    },
  };
}

/** What each kind of backend is scripted with, in its own protocol. */
interface Kind {
  readonly alias: string;
  readonly key: "chat" | "ant";
  readonly text: (text: string, parts?: number) => Turn;
  readonly calls: (calls: readonly { id: string; name: string; args: Record<string, unknown> }[], parts: number) => Turn;
  readonly reasoning: (reasoning: string, text: string) => Turn;
  readonly length: (text: string) => Turn;
  /** The provider's events for a lock-step text stream of `texts`, unterminated: the test ends it. */
  readonly pacedText: (texts: readonly string[]) => string[];
  /** Usage the Responses client sees for the scripted answers: input including cached. */
  readonly usage: { input_tokens: number; cached: number; output_tokens: number };
}

const KINDS: readonly Kind[] = [
  {
    alias: "r-chat",
    key: "chat",
    text: (content, parts) => chatTurn({ content, parts }),
    calls: (calls, parts) => chatTurn({ calls: calls.map((c) => ({ id: c.id, name: c.name, arguments: JSON.stringify(c.args) })), parts, interleave: true }),
    reasoning: (reasoning, content) => chatTurn({ reasoning, content, parts: 2 }),
    length: (content) => chatTurn({ content, finish: "length", parts: 2 }),
    pacedText: (texts) => [chatEvent({ role: "assistant", content: "" }), ...texts.map((content) => chatEvent({ content })), chatEvent({}, "stop"), chatUsageEvent(), CHAT_DONE],
    usage: { input_tokens: 20, cached: 8, output_tokens: 5 },
  },
  {
    alias: "r-ant",
    key: "ant",
    text: (text, parts) => anthropicTurn([{ type: "text", text }], "end_turn", parts),
    calls: (calls, parts) => anthropicTurn(calls.map((c) => ({ type: "tool_use" as const, id: c.id, name: c.name, input: c.args })), "tool_use", parts),
    reasoning: (thinking, text) => anthropicTurn([{ type: "thinking", thinking, signature: "sig" }, { type: "text", text }], "end_turn", 2),
    length: (text) => anthropicTurn([{ type: "text", text }], "max_tokens", 2),
    pacedText: (texts) => [
      antMessageStart(),
      antBlockEvents(0, { type: "text", text: "x" })[0]!,
      ...texts.map((text) => `event: content_block_delta\ndata: ${JSON.stringify({ type: "content_block_delta", index: 0, delta: { type: "text_delta", text } })}\n\n`),
      `event: content_block_stop\ndata: {"type":"content_block_stop","index":0}\n\n`,
      ...antMessageEnd("end_turn"),
    ],
    usage: { input_tokens: 18, cached: 5, output_tokens: 6 },
  },
];

const WEATHER = { type: "function" as const, name: "get_weather", description: "The weather in a city", strict: false, parameters: { type: "object", properties: { city: { type: "string" } }, required: ["city"] } };

for (const kind of KINDS) {
  const provider = (s: Awaited<ReturnType<typeof setUp>>) => s[kind.key];

  describe(`responses through a ${kind.key === "chat" ? "Chat-only" : "Anthropic-only"} provider`, () => {
    test("a text answer (JSON): output_text, status completed, the alias as model, usage with cached tokens in input", async () => {
      await using s = await setUp({ [kind.key]: [kind.text("Hello there")] });
      const response = await s.client.responses.create({ model: kind.alias, instructions: "Be brief.", input: "hi" });
      expect(response.object).toBe("response");
      expect(response.status).toBe("completed");
      expect(response.model).toBe(kind.alias);
      expect(response.output_text).toBe("Hello there");
      expect(response.usage).toMatchObject({ input_tokens: kind.usage.input_tokens, input_tokens_details: { cached_tokens: kind.usage.cached }, output_tokens: kind.usage.output_tokens });
      const call = provider(s).calls[0]!;
      expect(call.path).toBe(kind.key === "chat" ? "/v1/chat/completions" : "/v1/messages");
      expect(JSON.stringify(call.body)).toContain("Be brief.");
      expect(provider(s).strays).toEqual([]);
    });

    test("a stream in lock-step: delta k+1 leaves the provider only after the SDK yielded delta k; the events are the Responses sequence", async () => {
      const texts = ["r0 ", "r1 ", "r2 ", "r3 ", "r4"];
      const pacer = new Pacer(kind.pacedText(texts));
      await using s = await setUp({ [kind.key]: [() => pacer.response()] });
      void provider(s).call(1).then(() => pacer.until("r0"));
      const stream = await s.client.responses.create({ model: kind.alias, input: "count", stream: true });
      const types: string[] = [];
      let k = 0;
      let completed: OpenAI.Responses.Response | undefined;
      for await (const event of stream) {
        types.push(event.type);
        if (event.type === "response.completed") completed = event.response;
        if (event.type !== "response.output_text.delta") continue;
        expect(event.delta).toBe(texts[k]!);
        // Nothing after the provider event that carried piece k has left the provider.
        expect(pacer.sent).toBe(pacer.events.findIndex((e) => e.includes(`"r${k} `) || e.includes(`"r${k}"`)) + 1);
        k++;
        if (k < texts.length) pacer.until(`r${k}`);
        else pacer.finish();
      }
      expect(k).toBe(texts.length);
      const collapsed = types.filter((t, i) => t !== "response.output_text.delta" || types[i - 1] !== t);
      expect(collapsed).toEqual([
        "response.created",
        "response.in_progress",
        "response.output_item.added",
        "response.content_part.added",
        "response.output_text.delta",
        "response.output_text.done",
        "response.content_part.done",
        "response.output_item.done",
        "response.completed",
      ]);
      expect(completed?.status).toBe("completed");
      expect(completed?.usage?.input_tokens).toBe(kind.usage.input_tokens);
    });

    test("a function call round trip: arguments in 10 pieces stream as deltas, finalResponse() has the whole call, the output goes back as the tool's result", async () => {
      const args = { city: "Paris", note: "long enough to be cut into ten pieces, each with something" };
      await using s = await setUp({ [kind.key]: [kind.calls([{ id: kind.key === "chat" ? "call_w1" : "toolu_w1", name: "get_weather", args }], 10), kind.text("Sunny in Paris.")] });
      const stream = s.client.responses.stream({ model: kind.alias, tools: [WEATHER], input: "Weather in Paris?" });
      let deltas = 0;
      stream.on("response.function_call_arguments.delta", () => deltas++);
      const asked = await stream.finalResponse();
      expect(deltas).toBeGreaterThanOrEqual(10);
      const calls = asked.output.flatMap((o) => (o.type === "function_call" ? [o] : []));
      expect(calls).toHaveLength(1);
      expect(calls[0]!.name).toBe("get_weather");
      expect(JSON.parse(calls[0]!.arguments)).toEqual(args);
      const callId = calls[0]!.call_id;
      expect(callId).toBe(kind.key === "chat" ? "call_w1" : "toolu_w1");

      const final = await s.client.responses.create({
        model: kind.alias,
        tools: [WEATHER],
        input: [{ role: "user", content: "Weather in Paris?" }, ...asked.output.map((o) => o as OpenAI.Responses.ResponseInputItem), { type: "function_call_output", call_id: callId, output: "sunny, 21 °C" }],
      });
      expect(final.output_text).toBe("Sunny in Paris.");
      const sent = JSON.stringify(provider(s).calls[1]!.body);
      if (kind.key === "chat") {
        expect(dig(provider(s).calls[1]!.body, "messages")).toEqual([
          { role: "user", content: "Weather in Paris?" },
          { role: "assistant", content: null, tool_calls: [{ id: "call_w1", type: "function", function: { name: "get_weather", arguments: JSON.stringify(args) } }] },
          { role: "tool", tool_call_id: "call_w1", content: "sunny, 21 °C" },
        ]);
      } else {
        expect(dig(provider(s).calls[1]!.body, "messages", 1)).toEqual({ role: "assistant", content: [{ type: "tool_use", id: "toolu_w1", name: "get_weather", input: args }] });
        expect(dig(provider(s).calls[1]!.body, "messages", 2)).toEqual({ role: "user", content: [{ type: "tool_result", tool_use_id: "toolu_w1", content: "sunny, 21 °C" }] });
      }
      expect(sent).not.toContain("function_call_output");
    });

    test("two parallel calls come back as two whole function_call items, in order", async () => {
      await using s = await setUp({
        [kind.key]: [
          kind.calls(
            [
              { id: "call_a", name: "get_weather", args: { city: "Paris" } },
              { id: "call_b", name: "get_weather", args: { city: "Tokyo" } },
            ],
            3,
          ),
        ],
      });
      const response = await s.client.responses.stream({ model: kind.alias, tools: [WEATHER], input: "Paris and Tokyo?" }).finalResponse();
      const calls = response.output.flatMap((o) => (o.type === "function_call" ? [o] : []));
      expect(calls.map((c) => [c.call_id, JSON.parse(c.arguments)])).toEqual([
        ["call_a", { city: "Paris" }],
        ["call_b", { city: "Tokyo" }],
      ]);
      expect(response.status).toBe("completed");
      const json = await s.client.responses.create({ model: kind.alias, tools: [WEATHER], input: "Paris and Tokyo?" });
      expect(json.output.filter((o) => o.type === "function_call")).toHaveLength(2);
    });

    test("reasoning: reasoning.effort reaches the provider, its reasoning comes back as a reasoning item before the message", async () => {
      await using s = await setUp({ [kind.key]: [kind.reasoning("Thinking it over.", "42")] });
      const response = await s.client.responses.stream({ model: kind.alias, reasoning: { effort: "high" }, max_output_tokens: 32000, input: "the answer?" }).finalResponse();
      expect(response.output.map((o) => o.type)).toEqual(["reasoning", "message"]);
      expect(response.output[0]).toMatchObject({ type: "reasoning", summary: [{ type: "summary_text", text: "Thinking it over." }] });
      expect(response.output_text).toBe("42");
      const body = provider(s).calls[0]!.body;
      if (kind.key === "chat") expect(dig(body, "reasoning_effort")).toBe("high");
      else expect(dig(body, "thinking")).toEqual({ type: "enabled", budget_tokens: 16384 });
    });

    test("a length stop is response.incomplete (reason max_output_tokens), never response.completed; as JSON, status incomplete", async () => {
      await using s = await setUp({ [kind.key]: [kind.length("cut off here")] });
      const stream = await s.client.responses.create({ model: kind.alias, input: "write a lot", max_output_tokens: 16, stream: true });
      const types: string[] = [];
      let last: OpenAI.Responses.ResponseStreamEvent | undefined;
      for await (const event of stream) {
        types.push(event.type);
        last = event;
      }
      expect(types).not.toContain("response.completed");
      expect(last?.type).toBe("response.incomplete");
      if (last?.type === "response.incomplete") expect(last.response.incomplete_details).toEqual({ reason: "max_output_tokens" });
      const json = await s.client.responses.create({ model: kind.alias, input: "write a lot", max_output_tokens: 16 });
      expect(json.status).toBe("incomplete");
      expect(json.incomplete_details).toEqual({ reason: "max_output_tokens" });
      expect(json.output_text).toBe("cut off here");
    });

    test("a stream cut after it began ends with response.failed, never response.completed; finalResponse() says failed", async () => {
      // The provider breaks its connection once the client has the first piece: after the commit.
      const run = async (consume: (s: Awaited<ReturnType<typeof setUp>>, cut: () => void) => Promise<void>) => {
        const pacer = new Pacer(kind.pacedText(["before ", "never"]));
        await using s = await setUp({ [kind.key]: [() => pacer.response()] });
        void provider(s)
          .call(1)
          .then(() => pacer.until("before"));
        await consume(s, () => pacer.stream.fail());
        expect(cooling(s.proxy)).toHaveLength(1);
      };
      await run(async (s, cut) => {
        const types: string[] = [];
        let text = "";
        let failed: OpenAI.Responses.Response | undefined;
        for await (const event of await s.client.responses.create({ model: kind.alias, input: "hi", stream: true })) {
          types.push(event.type);
          if (event.type === "response.output_text.delta") {
            text += event.delta;
            cut();
          }
          if (event.type === "response.failed") failed = event.response;
        }
        expect(text).toBe("before ");
        expect(types).not.toContain("response.completed");
        expect(types[types.length - 1]).toBe("response.failed");
        expect(failed?.status).toBe("failed");
        expect(failed?.error?.message).toBeTruthy();
      });
      await run(async (s, cut) => {
        const stream = s.client.responses.stream({ model: kind.alias, input: "hi" });
        stream.on("response.output_text.delta", cut);
        const response = await stream.finalResponse();
        expect(response.status).toBe("failed");
        expect(response.output_text).toBe("before ");
      });
    });

    test("a client that leaves mid-stream aborts the provider's request", async () => {
      const pacer = new Pacer(kind.pacedText(["first ", "never"]));
      await using s = await setUp({ [kind.key]: [() => pacer.response()] });
      void provider(s)
        .call(1)
        .then(() => pacer.until("first"));
      const stream = await s.client.responses.create({ model: kind.alias, input: "hi", stream: true });
      for await (const event of stream) if (event.type === "response.output_text.delta") break;
      const call = await provider(s).call(1);
      await within(call.received.aborted, "the provider to see the abort");
      expect(cooling(s.proxy)).toEqual([]);
    });

    test("store: true and previous_response_id are refused with a 400 saying the proxy keeps no conversation state; nothing is sent", async () => {
      await using s = await setUp({ [kind.key]: [kind.text("unused")] });
      for (const extra of [{ store: true }, { previous_response_id: "resp_123", store: false }]) {
        const error = await s.client.responses.create({ model: kind.alias, input: "hi", ...extra }).catch((e: unknown) => e);
        expect(error).toBeInstanceOf(OpenAI.BadRequestError);
        expect((error as InstanceType<typeof OpenAI.BadRequestError>).message).toContain("keeps no conversation state");
      }
      expect(provider(s).calls).toEqual([]);
      expect(cooling(s.proxy)).toEqual([]);
    });
  });
}

describe("responses: fallback and passthrough", () => {
  test("an error before the commit (a Chat provider's 503) falls back to the next route, an Anthropic one, within the same stream request", async () => {
    await using s = await setUp({ chat: [() => Response.json({ error: { message: "overloaded", type: "server_error" } }, { status: 503 })], ant: [anthropicTurn([{ type: "text", text: "from Anthropic" }], "end_turn", 3)] });
    const { data: stream, response } = await s.client.responses.create({ model: "chat-then-ant", input: "hi", stream: true }).withResponse();
    expect(response.headers.get("x-llm-proxy-backend")).toBe("ant");
    let text = "";
    const types: string[] = [];
    for await (const event of stream) {
      types.push(event.type);
      if (event.type === "response.output_text.delta") text += event.delta;
    }
    expect(text).toBe("from Anthropic");
    expect(types[0]).toBe("response.created");
    expect(types[types.length - 1]).toBe("response.completed");
    expect(cooling(s.proxy)).toEqual(["chat/chat-model"]);
  });

  test("a stream whose first Chat event is an error also falls back before the client sees anything", async () => {
    await using s = await setUp({ chat: [() => sse(`data: ${JSON.stringify({ error: { message: "model crashed", type: "server_error" } })}\n\n`)], ant: [anthropicTurn([{ type: "text", text: "second route" }])] });
    const response = await s.client.responses.stream({ model: "chat-then-ant", input: "hi" }).finalResponse();
    expect(response.output_text).toBe("second route");
    expect(response.status).toBe("completed");
  });

  // Odd but valid bytes: key order, spacing, 1.0 and a 20-digit integer only survive if nothing re-serialises them.
  const requestText = '{ "input" : "hi",\n  "model":"r-X", "temperature": 1.0, "metadata": {"n": "12345678901234567890"}, "store": true, "previous_response_id": "resp_abc" }';
  const answerText = '{"id":"resp_up","object":"response",   "status":"completed","output":[{"type":"message","id":"m1","role":"assistant","status":"completed","content":[{"type":"output_text","text":"as is","annotations":[]}]}],"x_vendor":1.0}';
  const streamText = [
    'event: response.created\ndata: {"type":"response.created","sequence_number":0,"response":{"id":"resp_up","object":"response","status":"in_progress","output":[]}}\n\n',
    'event: response.output_text.delta\ndata: {"type":"response.output_text.delta","sequence_number":1,"item_id":"m1","output_index":0,"content_index":0,"delta":"as is"}\n\n',
    ": a comment the provider sends\n\n",
    'event: response.completed\ndata: {"type":"response.completed","sequence_number":2,"response":{"id":"resp_up","object":"response","status":"completed","output":[]}}\n\n',
  ].join("");

  for (const [alias, backend, model] of [
    ["r-resp", "resp", "resp-model"],
    ["r-plain", "plain", "plain-model"],
  ] as const) {
    test(`passthrough to a backend ${backend === "resp" ? "with protocol: openai-responses" : "without protocol"}: the request and the answer byte for byte (only model replaced), store and previous_response_id allowed`, async () => {
      const turn: Turn = (call) => (dig(call.body, "stream") === true ? sse(streamText) : new Response(answerText, { headers: { "content-type": "application/json" } }));
      await using s = await setUp({ [backend]: [turn] });
      const sent = requestText.replace("r-X", alias);
      const res = await fetch(`${s.proxy.url}/v1/responses`, { method: "POST", headers: { authorization: `Bearer ${KEY}`, "content-type": "application/json" }, body: sent });
      expect(res.status).toBe(200);
      expect(await res.text()).toBe(answerText);
      expect(s[backend].calls[0]!.text).toBe(sent.replace(`"${alias}"`, `"${model}"`));
      expect(s[backend].calls[0]!.path).toBe("/v1/responses");

      const streamed = sent.replace('"store": true', '"stream": true');
      const streamRes = await fetch(`${s.proxy.url}/v1/responses`, { method: "POST", headers: { authorization: `Bearer ${KEY}`, "content-type": "application/json" }, body: streamed });
      expect(await streamRes.text()).toBe(streamText);
      expect(s[backend].calls[1]!.text).toBe(streamed.replace(`"${alias}"`, `"${model}"`));

      const viaSdk = await s.client.responses.create({ model: alias, input: "hi" });
      expect(viaSdk.output_text).toBe("as is");
    });
  }
});
