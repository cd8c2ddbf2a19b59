import { describe, expect, test } from "bun:test";
import { responsesRequestToChat } from "../../src/protocols/responses-request-to-chat.ts";
import { chatStreamToResponses } from "../../src/protocols/responses-stream-from-chat.ts";
import type { AnswerContext, JsonObject, StreamEvent } from "../../src/protocols/types.ts";

const tools = [
  { type: "function", name: "get_weather", parameters: { type: "object", properties: { city: { type: "string" } } }, strict: false },
  { type: "custom", name: "apply_patch", description: "Edit files." },
];
const ctx = (request: JsonObject = { model: "alias", input: "hi", stream: true, tools }): AnswerContext => ({ alias: "my-alias", id: "req42", request, now: 1_700_000_000 });

const chunk = (delta: JsonObject, finish: string | null = null): StreamEvent => ({
  event: "",
  data: { id: "chatcmpl-up", object: "chat.completion.chunk", created: 1, model: "up", choices: [{ index: 0, delta, finish_reason: finish }] },
});
const usageChunk = (prompt: number, completion: number, cached = 0): StreamEvent => ({
  event: "",
  data: { id: "chatcmpl-up", object: "chat.completion.chunk", created: 1, model: "up", choices: [], usage: { prompt_tokens: prompt, completion_tokens: completion, total_tokens: prompt + completion, prompt_tokens_details: { cached_tokens: cached } } },
});
const DONE: StreamEvent = { event: "", data: "[DONE]" };
const call = (index: number, fields: { id?: string; name?: string; args?: string }): JsonObject => ({
  index,
  ...(fields.id === undefined ? {} : { id: fields.id, type: "function" }),
  function: { ...(fields.name === undefined ? {} : { name: fields.name }), ...(fields.args === undefined ? {} : { arguments: fields.args }) },
});

function replay(events: StreamEvent[], context = ctx()) {
  const t = chatStreamToResponses(context);
  const out = events.flatMap((e) => t.push(e));
  return { t, out };
}

const data = (e: StreamEvent): JsonObject => e.data as JsonObject;

/**
 * Checks what a Responses client relies on: event names, sequence numbers from 0,
 * output indexes in order, one item open at a time, ids consistent between added,
 * deltas and done, deltas adding up to the done texts, and a terminal response
 * whose output is the items that were done. Returns the items and the terminal.
 */
function checkStream(events: StreamEvent[]) {
  const types = events.map((e) => data(e).type as string);
  events.forEach((e, i) => {
    expect(e.event).toBe(data(e).type as string);
    expect(data(e).sequence_number).toBe(i);
  });
  expect(types.slice(0, 2)).toEqual(["response.created", "response.in_progress"]);
  for (const e of events.slice(0, 2)) {
    const r = data(e).response as JsonObject;
    expect(r).toMatchObject({ id: "resp_req42", object: "response", status: "in_progress", model: "my-alias", output: [] });
  }
  const terminals = types.filter((t) => ["response.completed", "response.incomplete", "response.failed"].includes(t));
  expect(terminals.length).toBe(1);
  expect(["response.completed", "response.incomplete", "response.failed"]).toContain(types[types.length - 1] as string);

  const done: JsonObject[] = [];
  let open: { index: number; item: JsonObject; text: Map<number, string>; args: string; parts: Set<number>; summary: string } | undefined;
  for (const e of events.slice(2, -1)) {
    const d = data(e);
    const type = d.type as string;
    if (type === "response.output_item.added") {
      expect(open).toBeUndefined();
      expect(d.output_index).toBe(done.length);
      const item = d.item as JsonObject;
      expect(item.status).toBe("in_progress");
      expect(done.some((x) => x.id === item.id)).toBe(false);
      open = { index: d.output_index as number, item, text: new Map(), args: "", parts: new Set(), summary: "" };
      continue;
    }
    if (open === undefined) throw new Error(`${type} outside an item`);
    expect(d.output_index).toBe(open.index);
    if (type !== "response.output_item.done") expect(d.item_id).toBe(open.item.id as string);
    switch (type) {
      case "response.content_part.added":
        expect(open.parts.has(d.content_index as number)).toBe(false);
        open.parts.add(d.content_index as number);
        open.text.set(d.content_index as number, "");
        break;
      case "response.output_text.delta":
      case "response.refusal.delta":
        expect(open.parts.has(d.content_index as number)).toBe(true);
        open.text.set(d.content_index as number, (open.text.get(d.content_index as number) ?? "") + (d.delta as string));
        break;
      case "response.output_text.done":
        expect(d.text).toBe(open.text.get(d.content_index as number) ?? "");
        break;
      case "response.refusal.done":
        expect(d.refusal).toBe(open.text.get(d.content_index as number) ?? "");
        break;
      case "response.content_part.done":
        expect(open.parts.delete(d.content_index as number)).toBe(true);
        break;
      case "response.function_call_arguments.delta":
      case "response.custom_tool_call_input.delta":
        open.args += d.delta as string;
        break;
      case "response.function_call_arguments.done":
        expect(d.arguments).toBe(open.args);
        break;
      case "response.custom_tool_call_input.done":
        expect(d.input).toBe(open.args);
        break;
      case "response.reasoning_summary_part.added":
      case "response.reasoning_summary_part.done":
        expect(d.summary_index).toBe(0);
        break;
      case "response.reasoning_summary_text.delta":
        open.summary += d.delta as string;
        break;
      case "response.reasoning_summary_text.done":
        expect(d.text).toBe(open.summary);
        break;
      case "response.output_item.done": {
        const item = d.item as JsonObject;
        expect(item.id).toBe(open.item.id as string);
        expect(item.type).toBe(open.item.type as string);
        expect(open.parts.size).toBe(0);
        if (item.type === "function_call") expect(item.arguments).toBe(open.args);
        if (item.type === "custom_tool_call") expect(item.input).toBe(open.args);
        if (item.call_id !== undefined) expect(item.call_id).toBe(open.item.call_id as string);
        done.push(item);
        open = undefined;
        break;
      }
      default:
        throw new Error(`unexpected event ${type}`);
    }
  }
  const terminal = data(events[events.length - 1] as StreamEvent);
  const response = terminal.response as JsonObject;
  expect(response.id).toBe("resp_req42");
  if (terminal.type !== "response.failed") {
    expect(open).toBeUndefined();
    expect(response.output).toEqual(done);
  }
  return { types, done, terminal, response };
}

describe("Chat stream → Responses stream", () => {
  test("a text answer gives the full event sequence and completed carries the usage that came after the finish chunk", () => {
    const { t, out } = replay([chunk({ role: "assistant", content: "" }), chunk({ content: "Hel" }), chunk({ content: "lo" }), chunk({}, "stop"), usageChunk(1000, 5, 800)]);
    expect(t.complete).toBe(false);
    const tail = t.push(DONE);
    expect(t.complete).toBe(true);
    const { types, response } = checkStream([...out, ...tail]);
    expect(types).toEqual([
      "response.created",
      "response.in_progress",
      "response.output_item.added",
      "response.content_part.added",
      "response.output_text.delta",
      "response.output_text.delta",
      "response.output_text.done",
      "response.content_part.done",
      "response.output_item.done",
      "response.completed",
    ]);
    expect(tail.map((e) => data(e).type)).toEqual(["response.completed"]);
    expect(response.status).toBe("completed");
    expect(response.output).toEqual([{ id: "msg_req42_0", type: "message", status: "completed", role: "assistant", content: [{ type: "output_text", text: "Hello", annotations: [], logprobs: [] }] }]);
    expect(response.usage).toEqual({ input_tokens: 1000, input_tokens_details: { cached_tokens: 800 }, output_tokens: 5, output_tokens_details: { reasoning_tokens: 0 }, total_tokens: 1005 });
    expect(t.end()).toEqual([]);
  });

  test("a function call with arguments split over many chunks is one item, and the round trip gives the same Chat call back", () => {
    const args = '{"city":"Paris, France","unit":"celsius"}';
    const pieces = args.match(/.{1,3}/g) ?? [];
    const { out } = replay([
      chunk({ role: "assistant", content: null, tool_calls: [call(0, { id: "call_abc", name: "get_weather", args: "" })] }),
      ...pieces.map((p) => chunk({ tool_calls: [call(0, { args: p })] })),
      chunk({}, "tool_calls"),
      usageChunk(10, 20),
      DONE,
    ]);
    const { types, done } = checkStream(out);
    expect(types.filter((t) => t === "response.function_call_arguments.delta").length).toBe(pieces.length);
    expect(done).toEqual([{ id: "fc_req42_0", type: "function_call", status: "completed", call_id: "call_abc", name: "get_weather", arguments: args }]);

    const next = responsesRequestToChat({ model: "alias", input: [{ role: "user", content: "weather?" }, ...done, { type: "function_call_output", call_id: "call_abc", output: "18°C" }], tools }, { model: "m", maxTokens: 0, streamUsage: false });
    if (!next.ok) throw new Error(next.message);
    expect(next.body.messages).toEqual([
      { role: "user", content: "weather?" },
      { role: "assistant", content: null, tool_calls: [{ id: "call_abc", type: "function", function: { name: "get_weather", arguments: args } }] },
      { role: "tool", tool_call_id: "call_abc", content: "18°C" },
    ]);
  });

  test("two parallel calls become two items in order, the first streamed live, the second sent whole", () => {
    const { out } = replay([
      chunk({ tool_calls: [call(0, { id: "c0", name: "get_weather", args: '{"ci' })] }),
      chunk({ tool_calls: [call(0, { args: 'ty":"A"}' })] }),
      chunk({ tool_calls: [call(1, { id: "c1", name: "get_weather", args: '{"city"' })] }),
      chunk({ tool_calls: [call(1, { args: ':"B"}' })] }),
      chunk({}, "tool_calls"),
      DONE,
    ]);
    const { done } = checkStream(out);
    expect(done.map((i) => [i.id, i.call_id, i.arguments])).toEqual([
      ["fc_req42_0", "c0", '{"city":"A"}'],
      ["fc_req42_1", "c1", '{"city":"B"}'],
    ]);
  });

  test("calls whose deltas interleave by index still get their own arguments", () => {
    const { out } = replay([
      chunk({ tool_calls: [call(0, { id: "c0", name: "get_weather", args: '{"city":' }), call(1, { id: "c1", name: "get_weather", args: '{"city":' })] }),
      chunk({ tool_calls: [call(1, { args: '"B"}' })] }),
      chunk({ tool_calls: [call(0, { args: '"A"}' })] }),
      chunk({}, "tool_calls"),
      DONE,
    ]);
    const { done } = checkStream(out);
    expect(done.map((i) => [i.call_id, i.arguments])).toEqual([
      ["c0", '{"city":"A"}'],
      ["c1", '{"city":"B"}'],
    ]);
  });

  test("a server that reuses index 0 for a second call with a new id gets two calls", () => {
    const { out } = replay([
      chunk({ tool_calls: [call(0, { id: "c0", name: "get_weather", args: '{"city":"A"}' })] }),
      chunk({ tool_calls: [call(0, { id: "c1", name: "get_weather", args: '{"city":"B"}' })] }),
      chunk({}, "tool_calls"),
      DONE,
    ]);
    expect(checkStream(out).done.map((i) => i.call_id)).toEqual(["c0", "c1"]);
  });

  test("reasoning_content becomes a reasoning item with a summary before the message", () => {
    const { out } = replay([chunk({ reasoning_content: "Let me " }), chunk({ reasoning_content: "think.", content: "" }), chunk({ content: "42" }), chunk({}, "stop"), DONE]);
    const { types, done } = checkStream(out);
    expect(types.slice(2, 9)).toEqual([
      "response.output_item.added",
      "response.reasoning_summary_part.added",
      "response.reasoning_summary_text.delta",
      "response.reasoning_summary_text.delta",
      "response.reasoning_summary_text.done",
      "response.reasoning_summary_part.done",
      "response.output_item.done",
    ]);
    expect(done[0]).toEqual({ id: "rs_req42_0", type: "reasoning", status: "completed", summary: [{ type: "summary_text", text: "Let me think." }] });
    expect(done[1]?.id).toBe("msg_req42_1");
  });

  test("text before a call is its own item; text after the calls began waits for the finish", () => {
    const { out } = replay([
      chunk({ content: "Checking." }),
      chunk({ tool_calls: [call(0, { id: "c0", name: "get_weather", args: "{}" })] }),
      chunk({ content: "One moment." }),
      chunk({}, "tool_calls"),
      DONE,
    ]);
    const { done } = checkStream(out);
    expect(done.map((i) => i.type)).toEqual(["message", "function_call", "message"]);
  });

  test("a custom tool call comes back as a custom_tool_call with its input", () => {
    const { out } = replay([chunk({ tool_calls: [call(0, { id: "p1", name: "apply_patch", args: '{"input":"*** Begin' })] }), chunk({ tool_calls: [call(0, { args: ' Patch\\n"}' })] }), chunk({}, "tool_calls"), DONE]);
    const { done, types } = checkStream(out);
    expect(types).toContain("response.custom_tool_call_input.done");
    expect(done).toEqual([{ id: "ctc_req42_0", type: "custom_tool_call", status: "completed", call_id: "p1", name: "apply_patch", input: "*** Begin Patch\n" }]);
  });

  test("a namespaced tool from additional_tools comes back with its namespace", () => {
    const request = { input: [{ type: "additional_tools", role: "developer", tools: [{ type: "namespace", name: "clock", tools: [{ type: "function", name: "sleep", parameters: {}, strict: false }] }] }] };
    const { out } = replay([chunk({ tool_calls: [call(0, { id: "s1", name: "sleep", args: '{"duration_ms":1}' })] }), chunk({}, "tool_calls"), DONE], ctx(request));
    expect(checkStream(out).done[0]).toMatchObject({ type: "function_call", name: "sleep", namespace: "clock" });
  });

  test("a refusal is a refusal part of the message", () => {
    const { out } = replay([chunk({ refusal: "I can't" }), chunk({ refusal: " help." }), chunk({}, "stop"), DONE]);
    expect(checkStream(out).done[0]?.content).toEqual([{ type: "refusal", refusal: "I can't help." }]);
  });

  test("finish_reason length ends with response.incomplete for max_output_tokens", () => {
    const { out } = replay([chunk({ content: "partial" }), chunk({}, "length"), usageChunk(3, 4), DONE]);
    const { terminal, response, done } = checkStream(out);
    expect(terminal.type).toBe("response.incomplete");
    expect(response.status).toBe("incomplete");
    expect(response.incomplete_details).toEqual({ reason: "max_output_tokens" });
    expect(done[0]?.status).toBe("incomplete");
    expect((response.usage as JsonObject).output_tokens).toBe(4);
  });

  test("finish_reason content_filter ends incomplete for content_filter", () => {
    const { out } = replay([chunk({ content: "x" }), chunk({}, "content_filter"), DONE]);
    expect(checkStream(out).response.incomplete_details).toEqual({ reason: "content_filter" });
  });

  test("fail() after commit ends with response.failed, never a completion", () => {
    const { t, out } = replay([chunk({ content: "Hel" })]);
    const tail = t.fail("upstream connection reset");
    const { types, response } = checkStream([...out, ...tail]);
    expect(types).not.toContain("response.completed");
    expect(types[types.length - 1]).toBe("response.failed");
    expect(response.status).toBe("failed");
    expect(response.error).toEqual({ code: "server_error", message: "upstream connection reset" });
    expect(response.output).toEqual([{ id: "msg_req42_0", type: "message", status: "incomplete", role: "assistant", content: [{ type: "output_text", text: "Hel", annotations: [], logprobs: [] }] }]);
    expect(t.fail("again")).toEqual([]);
    expect(t.push(DONE)).toEqual([]);
  });

  test("a finish without [DONE] is not complete", () => {
    const { t, out } = replay([chunk({ content: "x" }), chunk({}, "stop")]);
    expect(t.complete).toBe(false);
    expect(out.map((e) => data(e).type)).not.toContain("response.completed");
    expect(t.fail("stream cut").map((e) => data(e).type)).toEqual(["response.failed"]);
  });

  test("an error object inside the Chat stream ends with response.failed", () => {
    const { t, out } = replay([chunk({ content: "x" }), { event: "", data: { error: { message: "overloaded", type: "server_error", code: "overloaded" } } }]);
    const { response } = checkStream(out);
    expect(response.error).toEqual({ code: "overloaded", message: "overloaded" });
    expect(t.complete).toBe(false);
  });

  test("[DONE] with nothing before it is an empty completed response", () => {
    const { out } = replay([DONE]);
    expect(checkStream(out).response).toMatchObject({ status: "completed", output: [] });
  });
});
