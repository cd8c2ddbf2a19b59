import { describe, expect, test } from "bun:test";
import { ComposeMismatchError, composeTranslators } from "../../src/protocols/responses-compose.ts";
import { chatToResponses, responsesToChat } from "../../src/protocols/responses-translators.ts";
import type { AnswerContext, JsonObject, RequestContext, StreamEvent, StreamTranslator, Translator } from "../../src/protocols/types.ts";

/** A toy translator that tags everything it touches, so the order of the two is visible. */
function toy(tag: string, client: Translator["client"], backend: Translator["backend"]): Translator & { seen: AnswerContext[] } {
  const seen: AnswerContext[] = [];
  return {
    seen,
    client,
    backend,
    path: `/${tag}`,
    request: (body, ctx) => (body.refuse === tag ? { ok: false, message: `${tag} refuses` } : { ok: true, body: { ...body, via: [...((body.via as string[]) ?? []), `${tag}:${ctx.model}:${ctx.streamUsage}`] } }),
    response: (body, ctx) => {
      seen.push(ctx);
      return { ...body, back: [...((body.back as string[]) ?? []), tag] };
    },
    error: (status, body) => ({ status: status + 1, body: { wrapped: tag, inner: body } }),
    stream(ctx): StreamTranslator {
      seen.push(ctx);
      let count = 0;
      let done = false;
      return {
        push(event) {
          if (event.data === "end") done = true;
          count++;
          // One event in, two out, numbered per translator: shows each is fed the other's output in order.
          return [
            { event: `${tag}${count}a`, data: event.data },
            { event: `${tag}${count}b`, data: event.data },
          ];
        },
        get complete() {
          return done;
        },
        end: () => [{ event: `${tag}-end`, data: "end" }],
        fail: (message) => [{ event: `${tag}-fail`, data: message }],
      };
    },
  };
}

const rctx: RequestContext = { model: "m", maxTokens: 10, streamUsage: false };
const actx: AnswerContext = { alias: "alias", id: "c1", request: { model: "alias", q: 1 }, now: 1 };

describe("composeTranslators", () => {
  const first = toy("first", "anthropic", "openai");
  const second = toy("second", "openai", "openai-responses");
  const both = composeTranslators(first, second);

  test("names the client of the first, the backend and path of the second", () => {
    expect([both.client, both.backend, both.path]).toEqual(["anthropic", "openai-responses", "/second"]);
  });

  test("the request goes through first then second; the middle asks for stream usage, the backend gets the route's context", () => {
    expect(both.request({ q: 1 }, rctx)).toEqual({ ok: true, body: { q: 1, via: ["first:m:true", "second:m:false"] } });
  });

  test("a refusal by either translator is the answer", () => {
    expect(both.request({ refuse: "first" }, rctx)).toEqual({ ok: false, message: "first refuses" });
    expect(both.request({ refuse: "second" }, rctx)).toEqual({ ok: false, message: "second refuses" });
  });

  test("an answer goes back through second then first; second sees the middle request", () => {
    first.seen.length = 0;
    second.seen.length = 0;
    expect(both.response({ a: 1 }, actx)).toEqual({ a: 1, back: ["second", "first"] });
    expect(second.seen[0]?.request).toEqual({ model: "alias", q: 1, via: ["first:alias:true"] });
    expect(first.seen[0]?.request).toEqual(actx.request);
  });

  test("an error goes back through second then first", () => {
    expect(both.error(500, "x")).toEqual({ status: 502, body: { wrapped: "first", inner: { wrapped: "second", inner: "x" } } });
  });

  test("a stream goes event by event through both state machines, in order", () => {
    const s = both.stream(actx);
    expect(s.push({ event: "", data: 1 }).map((e) => e.event)).toEqual(["first1a", "first1b", "first2a", "first2b"]);
    expect(s.push({ event: "", data: 2 }).map((e) => e.event)).toEqual(["first3a", "first3b", "first4a", "first4b"]);
  });

  test("complete follows the backend side; end feeds second's closing events to first, then ends first", () => {
    const s = both.stream(actx);
    s.push({ event: "", data: "x" });
    expect(s.complete).toBe(false);
    s.push({ event: "", data: "end" });
    expect(s.complete).toBe(true);
    // second's one closing event is two for first (its 5th push), then first's own end.
    expect(s.end().map((e) => e.event)).toEqual(["first5a", "first5b", "first-end"]);
  });

  test("end without the middle completion fails the client stream honestly", () => {
    const out = composeTranslators(toy("first", "anthropic", "openai"), { ...toy("second", "openai", "openai-responses"), stream: () => ({ push: () => [], complete: true, end: () => [], fail: () => [] }) })
      .stream(actx)
      .end();
    expect(out).toEqual([{ event: "first-fail", data: "the translated stream ended before its completion" }]);
  });

  test("fail gives the client the first translator's honest ending", () => {
    const s = both.stream(actx);
    expect(s.fail("cut")).toEqual([{ event: "first-fail", data: "cut" }]);
  });

  test("translators that do not meet in one protocol are a programmer error", () => {
    expect(() => composeTranslators(toy("a", "anthropic", "openai"), toy("b", "anthropic", "openai"))).toThrow(ComposeMismatchError);
  });
});

describe("composeTranslators with the real translators: Responses → Chat → Responses", () => {
  const through = composeTranslators(responsesToChat, chatToResponses);
  const request: JsonObject = {
    model: "alias",
    instructions: "Be brief.",
    input: [{ role: "user", content: "weather?" }],
    tools: [{ type: "function", name: "get_weather", parameters: { type: "object", properties: {} }, strict: false }],
    tool_choice: "auto",
    stream: true,
    store: false,
  };

  test("the request survives the round trip through Chat", () => {
    const r = through.request(request, { model: "up", maxTokens: 0, streamUsage: false });
    expect(r).toEqual({
      ok: true,
      body: {
        model: "up",
        input: [
          { type: "message", role: "system", content: "Be brief." },
          { type: "message", role: "user", content: "weather?" },
        ],
        store: false,
        tools: request.tools,
        tool_choice: "auto",
        stream: true,
      },
    });
  });

  test("a Responses backend stream reaches the Responses client with its usage, through Chat chunks", () => {
    const s = through.stream({ alias: "alias", id: "rt", request, now: 5 });
    let n = 0;
    const ev = (type: string, fields: JsonObject = {}): StreamEvent => ({ event: type, data: { type, sequence_number: n++, ...fields } });
    const fc = { id: "fc_up", type: "function_call", status: "in_progress", call_id: "call_9", name: "get_weather", arguments: "" };
    const out = [
      ev("response.created", { response: { id: "resp_up", status: "in_progress", output: [] } }),
      ev("response.output_item.added", { output_index: 0, item: fc }),
      ev("response.function_call_arguments.delta", { output_index: 0, item_id: "fc_up", delta: "{}" }),
      ev("response.output_item.done", { output_index: 0, item: { ...fc, status: "completed", arguments: "{}" } }),
      ev("response.completed", { response: { id: "resp_up", status: "completed", output: [], usage: { input_tokens: 9, input_tokens_details: { cached_tokens: 4 }, output_tokens: 2, output_tokens_details: { reasoning_tokens: 0 }, total_tokens: 11 } } }),
    ].flatMap((e) => s.push(e));
    expect(s.complete).toBe(true);
    const last = out[out.length - 1]?.data as JsonObject;
    expect(last.type).toBe("response.completed");
    const response = last.response as JsonObject;
    expect(response.output).toEqual([{ id: "fc_rt_0", type: "function_call", status: "completed", call_id: "call_9", name: "get_weather", arguments: "{}" }]);
    expect(response.usage).toEqual({ input_tokens: 9, input_tokens_details: { cached_tokens: 4 }, output_tokens: 2, output_tokens_details: { reasoning_tokens: 0 }, total_tokens: 11 });
    expect(out.map((e) => (e.data as JsonObject).sequence_number)).toEqual(out.map((_, i) => i));
    expect(s.end()).toEqual([]);
  });
});
