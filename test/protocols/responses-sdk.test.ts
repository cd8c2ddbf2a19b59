/**
 * The streams the translators produce, parsed by the real openai SDK: rendered as
 * SSE by a server on 127.0.0.1 and read by `responses.stream()` / `chat.completions`.
 * The SDK validates item identity, indexes and ordering, so this catches what a
 * hand-written check might share with the code it checks.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import OpenAI from "openai";
import { chatStreamToResponses } from "../../src/protocols/responses-stream-from-chat.ts";
import { responsesStreamToChat } from "../../src/protocols/responses-stream-to-chat.ts";
import type { AnswerContext, JsonObject, StreamEvent } from "../../src/protocols/types.ts";

const render = (events: readonly StreamEvent[]): string =>
  events.map((e) => `${e.event === "" ? "" : `event: ${e.event}\n`}data: ${typeof e.data === "string" ? e.data : JSON.stringify(e.data)}\n\n`).join("");

let next: string[] = [];
let server: ReturnType<typeof Bun.serve>;
let client: OpenAI;

beforeAll(() => {
  server = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    fetch: () => new Response(next.shift() ?? "", { headers: { "content-type": "text/event-stream" } }),
  });
  client = new OpenAI({ baseURL: `http://127.0.0.1:${server.port}/v1`, apiKey: "x", maxRetries: 0 });
});
afterAll(() => server.stop(true));

const tools = [
  { type: "function" as const, name: "get_weather", parameters: { type: "object", properties: { city: { type: "string" } } }, strict: false },
  { type: "custom" as const, name: "apply_patch" },
];
const request = { model: "my-alias", input: "hi", stream: true as const, tools };
const ctx: AnswerContext = { alias: "my-alias", id: "sdk1", request, now: 1_700_000_000 };
const chunk = (delta: JsonObject, finish: string | null = null): StreamEvent => ({ event: "", data: { id: "x", object: "chat.completion.chunk", created: 1, model: "up", choices: [{ index: 0, delta, finish_reason: finish }] } });
const call = (index: number, id: string | undefined, name: string | undefined, args: string): JsonObject => ({ index, ...(id ? { id, type: "function" } : {}), function: { ...(name ? { name } : {}), arguments: args } });

function fromChat(events: StreamEvent[], end: "done" | "fail" = "done"): string {
  const t = chatStreamToResponses(ctx);
  const out = events.flatMap((e) => t.push(e));
  return render(end === "done" ? [...out, ...t.push({ event: "", data: "[DONE]" }), ...t.end()] : [...out, ...t.fail("connection reset")]);
}

const everything: StreamEvent[] = [
  chunk({ role: "assistant", reasoning_content: "Think" }),
  chunk({ reasoning_content: "ing." }),
  chunk({ content: "Let me " }),
  chunk({ content: "check." }),
  chunk({ tool_calls: [call(0, "c0", "get_weather", '{"city"')] }),
  chunk({ tool_calls: [call(1, "c1", "apply_patch", '{"input":"*** Begin Patch\\n')] }),
  chunk({ tool_calls: [call(0, undefined, undefined, ':"Paris"}')] }),
  chunk({ tool_calls: [call(1, undefined, undefined, '*** End Patch\\n"}')] }),
  chunk({}, "tool_calls"),
  { event: "", data: { id: "x", object: "chat.completion.chunk", created: 1, model: "up", choices: [], usage: { prompt_tokens: 50, completion_tokens: 9, total_tokens: 59, prompt_tokens_details: { cached_tokens: 40 }, completion_tokens_details: { reasoning_tokens: 3 } } } },
];

describe("the openai SDK reads the translated streams", () => {
  test("responses.stream() accumulates reasoning, text, a function call and a custom call into finalResponse()", async () => {
    next.push(fromChat(everything));
    const stream = client.responses.stream(request);
    const seen: string[] = [];
    stream.on("event", (e) => seen.push(e.type));
    const final = await stream.finalResponse();
    expect(final.status).toBe("completed");
    expect(final.model).toBe("my-alias");
    expect(final.output_text).toBe("Let me check.");
    expect(final.output.map((i) => i.type)).toEqual(["reasoning", "message", "function_call", "custom_tool_call"]);
    expect(final.output[2]).toMatchObject({ call_id: "c0", name: "get_weather", arguments: '{"city":"Paris"}' });
    expect(final.output[3]).toMatchObject({ call_id: "c1", name: "apply_patch", input: "*** Begin Patch\n*** End Patch\n" });
    expect(final.usage).toMatchObject({ input_tokens: 50, output_tokens: 9, input_tokens_details: { cached_tokens: 40 }, output_tokens_details: { reasoning_tokens: 3 } });
    expect(seen[0]).toBe("response.created");
    expect(seen[seen.length - 1]).toBe("response.completed");
  });

  test("create({stream: true}) yields every event with consecutive sequence numbers", async () => {
    next.push(fromChat(everything));
    const stream = await client.responses.create({ ...request, stream: true });
    const numbers: number[] = [];
    for await (const event of stream) numbers.push(event.sequence_number);
    expect(numbers).toEqual(numbers.map((_, i) => i));
    expect(numbers.length).toBeGreaterThan(20);
  });

  test("a stream cut after commit reaches the SDK as a failed response, not a completed one", async () => {
    next.push(fromChat([chunk({ content: "Hel" })], "fail"));
    const stream = await client.responses.create({ ...request, stream: true });
    const types: string[] = [];
    let failed: OpenAI.Responses.Response | undefined;
    for await (const event of stream) {
      types.push(event.type);
      if (event.type === "response.failed") failed = event.response;
    }
    expect(types).not.toContain("response.completed");
    expect(failed?.status).toBe("failed");
    expect(failed?.error?.message).toBe("connection reset");
  });

  test("chat.completions.stream() reads the Chat chunks made from a Responses stream", async () => {
    const chatRequest = { model: "my-alias", messages: [{ role: "user" as const, content: "hi" }], stream: true as const, stream_options: { include_usage: true } };
    const t = responsesStreamToChat({ ...ctx, request: chatRequest });
    const seq = { n: 0 };
    const ev = (type: string, fields: JsonObject): StreamEvent => ({ event: type, data: { type, sequence_number: seq.n++, ...fields } });
    const item = { id: "fc_1", type: "function_call", status: "in_progress", call_id: "call_1", name: "get_weather", arguments: "" };
    const events = [
      ev("response.created", { response: { id: "resp_1", status: "in_progress", output: [] } }),
      ev("response.output_item.added", { output_index: 0, item: { id: "msg_1", type: "message", role: "assistant", status: "in_progress", content: [] } }),
      ev("response.output_text.delta", { output_index: 0, item_id: "msg_1", content_index: 0, delta: "Hi " }),
      ev("response.output_text.delta", { output_index: 0, item_id: "msg_1", content_index: 0, delta: "there" }),
      ev("response.output_item.added", { output_index: 1, item }),
      ev("response.function_call_arguments.delta", { output_index: 1, item_id: "fc_1", delta: '{"city":' }),
      ev("response.function_call_arguments.delta", { output_index: 1, item_id: "fc_1", delta: '"Oslo"}' }),
      ev("response.output_item.done", { output_index: 1, item: { ...item, status: "completed", arguments: '{"city":"Oslo"}' } }),
      ev("response.completed", { response: { id: "resp_1", status: "completed", output: [], usage: { input_tokens: 7, input_tokens_details: { cached_tokens: 0 }, output_tokens: 3, output_tokens_details: { reasoning_tokens: 0 }, total_tokens: 10 } } }),
    ];
    next.push(render([...events.flatMap((e) => t.push(e)), ...t.end()]));
    const stream = client.chat.completions.stream(chatRequest);
    const final = await stream.finalChatCompletion();
    expect(final.choices[0]?.message.content).toBe("Hi there");
    expect(final.choices[0]?.message.tool_calls?.[0]).toMatchObject({ id: "call_1", type: "function", function: { name: "get_weather", arguments: '{"city":"Oslo"}' } });
    expect(final.choices[0]?.finish_reason).toBe("tool_calls");
    expect(final.usage).toMatchObject({ prompt_tokens: 7, completion_tokens: 3, total_tokens: 10 });
  });
});
