import { anthropicEvent } from "./anthropic.ts";
import { FakeProvider, type Received } from "./fake-provider.ts";

/**
 * A fake provider that speaks whichever protocol the path it is asked on says
 * (`/chat/completions` OpenAI Chat, `/messages` Anthropic, `/responses` the Responses
 * API), JSON or stream as asked, and reports known usage, so a test can check what
 * the proxy read from it. The model name picks a variant:
 *
 * - `…late…` (Anthropic streams): input 0 in message_start, the real counts in message_delta;
 * - `…cut…` (streams): the first events, then the connection breaks;
 * - `…hold…`: the answer waits until `release()` (for limits that count requests in flight);
 * - `…open…` (streams): the first event goes out, the rest after `release()`;
 * - `…split…` (streams): each event that carries usage goes out in three pieces, the first
 *   cut inside the word `"usage"`, with a pause between them (separate reads at the proxy).
 *
 * Chat streams carry the usage chunk only when the request asked for it
 * (`stream_options.include_usage`), as OpenAI does.
 */

/** What each protocol's answers report, in that protocol's own terms. */
export const REPORTED = {
  chat: { prompt_tokens: 100, completion_tokens: 20, total_tokens: 120, prompt_tokens_details: { cached_tokens: 30 } },
  anthropic: { input_tokens: 50, cache_read_input_tokens: 10, cache_creation_input_tokens: 5, output_tokens: 7 },
  responses: { input_tokens: 200, input_tokens_details: { cached_tokens: 40 }, output_tokens: 25, output_tokens_details: { reasoning_tokens: 0 }, total_tokens: 225 },
} as const;

/** The same usage, counted the ledger's (Anthropic's) way: input without cache. */
export const LEDGER = {
  chat: { input: 70, cacheRead: 30, cacheWrite: 0, output: 20 },
  anthropic: { input: 50, cacheRead: 10, cacheWrite: 5, output: 7 },
  responses: { input: 160, cacheRead: 40, cacheWrite: 0, output: 25 },
} as const;

export type Speaks = keyof typeof REPORTED;

export function speaksOf(path: string): Speaks {
  if (path.endsWith("/messages")) return "anthropic";
  if (path.endsWith("/responses")) return "responses";
  return "chat";
}

interface Asked {
  model: string;
  stream?: boolean;
  stream_options?: { include_usage?: boolean };
}

const sse = (data: unknown) => `data: ${JSON.stringify(data)}\n\n`;
const responsesEvent = (type: string, payload: Record<string, unknown>, seq: number) => `event: ${type}\ndata: ${JSON.stringify({ type, sequence_number: seq, ...payload })}\n\n`;

function chatJson(model: string) {
  return {
    id: "chatcmpl-u",
    object: "chat.completion",
    created: 1_700_000_000,
    model,
    choices: [{ index: 0, message: { role: "assistant", content: "hi" }, finish_reason: "stop" }],
    usage: REPORTED.chat,
  };
}

function chatStream(model: string, includeUsage: boolean): string[] {
  const chunk = (delta: Record<string, unknown>, finish: string | null) => sse({ id: "chatcmpl-u", object: "chat.completion.chunk", created: 1_700_000_000, model, choices: [{ index: 0, delta, finish_reason: finish }] });
  const events = [chunk({ role: "assistant", content: "h" }, null), chunk({ content: "i" }, null), chunk({}, "stop")];
  if (includeUsage) events.push(sse({ id: "chatcmpl-u", object: "chat.completion.chunk", created: 1_700_000_000, model, choices: [], usage: REPORTED.chat }));
  events.push("data: [DONE]\n\n");
  return events;
}

function anthropicJson(model: string) {
  return { id: "msg_u", type: "message", role: "assistant", model, content: [{ type: "text", text: "hi" }], stop_reason: "end_turn", stop_sequence: null, usage: REPORTED.anthropic };
}

function anthropicStreamEvents(model: string, late: boolean): string[] {
  const u = REPORTED.anthropic;
  const start = late ? { input_tokens: 0, output_tokens: 0 } : { ...u, output_tokens: 1 };
  return [
    anthropicEvent("message_start", { message: { id: "msg_u", type: "message", role: "assistant", model, content: [], stop_reason: null, stop_sequence: null, usage: start } }),
    anthropicEvent("content_block_start", { index: 0, content_block: { type: "text", text: "" } }),
    anthropicEvent("content_block_delta", { index: 0, delta: { type: "text_delta", text: "hi" } }),
    anthropicEvent("content_block_stop", { index: 0 }),
    // message_delta usage is cumulative: a second one replaces the first, it does not add to it.
    anthropicEvent("message_delta", { delta: { stop_reason: null, stop_sequence: null }, usage: { output_tokens: 4 } }),
    anthropicEvent("message_delta", { delta: { stop_reason: "end_turn", stop_sequence: null }, usage: late ? u : { output_tokens: u.output_tokens } }),
    anthropicEvent("message_stop"),
  ];
}

function responsesJson(model: string, status = "completed") {
  return {
    id: "resp_u",
    object: "response",
    created_at: 1_700_000_000,
    status,
    model,
    output: [{ type: "message", id: "msg_u", role: "assistant", status: "completed", content: [{ type: "output_text", text: "hi", annotations: [] }] }],
    usage: REPORTED.responses,
  };
}

function responsesStream(model: string): string[] {
  const open = { ...responsesJson(model, "in_progress"), output: [], usage: null };
  const item = { type: "message", id: "msg_u", role: "assistant", status: "in_progress", content: [] };
  let seq = 0;
  return [
    responsesEvent("response.created", { response: open }, seq++),
    responsesEvent("response.in_progress", { response: open }, seq++),
    responsesEvent("response.output_item.added", { output_index: 0, item }, seq++),
    responsesEvent("response.content_part.added", { item_id: "msg_u", output_index: 0, content_index: 0, part: { type: "output_text", text: "", annotations: [] } }, seq++),
    responsesEvent("response.output_text.delta", { item_id: "msg_u", output_index: 0, content_index: 0, delta: "hi" }, seq++),
    responsesEvent("response.output_text.done", { item_id: "msg_u", output_index: 0, content_index: 0, text: "hi" }, seq++),
    responsesEvent("response.content_part.done", { item_id: "msg_u", output_index: 0, content_index: 0, part: { type: "output_text", text: "hi", annotations: [] } }, seq++),
    responsesEvent("response.output_item.done", { output_index: 0, item: { ...item, status: "completed", content: [{ type: "output_text", text: "hi", annotations: [] }] } }, seq++),
    responsesEvent("response.completed", { response: responsesJson(model) }, seq++),
  ];
}

/** How many events of each stream go out before a `…cut…` model's connection breaks: past the first, before usage (Anthropic: after message_start's). */
const CUT_AFTER: Record<Speaks, number> = { chat: 2, anthropic: 3, responses: 5 };

const encoder = new TextEncoder();

/** An event in pieces: cut inside `"usage"` and again 20 characters on. */
function pieces(event: string): string[] {
  const at = event.indexOf('"usage"');
  if (at === -1) return [event];
  return [event.slice(0, at + 3), event.slice(at + 3, at + 23), event.slice(at + 23)];
}

function streamOf(events: readonly string[], cutAfter: number | undefined, pause?: Promise<void>, split = false): Response {
  const body = new ReadableStream<Uint8Array>({
    async start(controller) {
      const upTo = cutAfter ?? events.length;
      for (const [i, e] of events.slice(0, upTo).entries()) {
        if (i === 1 && pause) await pause;
        if (!split) {
          controller.enqueue(encoder.encode(e));
          continue;
        }
        for (const piece of pieces(e)) {
          controller.enqueue(encoder.encode(piece));
          // Shapes the stream (one piece per read at the proxy); nothing waits on it for a result.
          await Bun.sleep(5);
        }
      }
      if (cutAfter !== undefined) {
        // Let the events reach the proxy before the break, so it has committed and forwarded them.
        await Bun.sleep(20);
        controller.error(new Error("provider reset"));
      } else controller.close();
    },
  });
  return new Response(body, { headers: { "content-type": "text/event-stream" } });
}

/** The answer of a usage provider for one request; an `…open…` stream waits for `pause` after its first event. */
export function usageAnswer(r: Received, pause?: Promise<void>): Response {
  const asked = JSON.parse(r.text) as Asked;
  const speaks = speaksOf(r.url.pathname);
  const model = asked.model;
  const cut = model.includes("cut") ? CUT_AFTER[speaks] : undefined;
  if (!asked.stream) {
    if (speaks === "anthropic") return Response.json(anthropicJson(model));
    if (speaks === "responses") return Response.json(responsesJson(model));
    return Response.json(chatJson(model));
  }
  const wait = model.includes("open") ? pause : undefined;
  const split = model.includes("split");
  if (speaks === "anthropic") return streamOf(anthropicStreamEvents(model, model.includes("late")), cut, wait, split);
  if (speaks === "responses") return streamOf(responsesStream(model), cut, wait, split);
  return streamOf(chatStream(model, asked.stream_options?.include_usage === true), cut, wait, split);
}

/** A usage provider; `…hold…` models wait for `release()`. */
export class UsageProvider extends FakeProvider {
  private held: (() => void)[] = [];
  private gate = Promise.withResolvers<void>();

  constructor() {
    super((r) => usageAnswer(r));
    this.handler = async (r) => {
      const model = (JSON.parse(r.text) as Asked).model;
      if (!model.includes("hold") && !model.includes("open")) return usageAnswer(r);
      const { promise, resolve } = Promise.withResolvers<void>();
      this.held.push(resolve);
      const go = Promise.race([promise, this.gate.promise]);
      if (model.includes("hold")) await go;
      return usageAnswer(r, go);
    };
  }

  /** Requests now waiting at the provider. */
  get waiting(): number {
    return this.held.length;
  }

  /** Lets every held request (and any that arrive later) answer. */
  release(): void {
    this.gate.resolve();
    for (const go of this.held.splice(0)) go();
  }

  /** Holds requests again after a release. */
  hold(): void {
    this.gate = Promise.withResolvers<void>();
  }
}
