import type { Protocol } from "../../src/protocols/types.ts";
import { FakeProvider, ScriptedStream, type Received } from "./fake-provider.ts";

/**
 * A fake provider that speaks one protocol only, as a real one does: a Chat-only
 * server answers 404 on /v1/messages, an Anthropic-only one 404 on
 * /v1/chat/completions, each in its own error shape. Its answers are scripted
 * turn by turn: the n-th request to its own endpoint gets the n-th turn (the last
 * turn repeats). Dispose with `await using`.
 */

/** The paths each protocol's servers serve (besides their main endpoint, what its clients also call). */
const SERVED: Record<Protocol, readonly string[]> = {
  openai: ["/v1/chat/completions", "/v1/embeddings"],
  anthropic: ["/v1/messages", "/v1/messages/count_tokens"],
  "openai-responses": ["/v1/responses", "/v1/embeddings"],
};

/** A request to the provider's own endpoint, its body parsed. */
export interface Call {
  readonly path: string;
  readonly search: string;
  readonly headers: Headers;
  readonly text: string;
  /** Read with `dig` or matched with `toMatchObject`: the shape is the protocol's. */
  readonly body: unknown;
  readonly received: Received;
}

export type Turn = (call: Call) => Response | Promise<Response>;

/** How each protocol's servers say "no such endpoint". */
function notServed(speaks: Protocol, r: Received): Response {
  if (speaks === "anthropic") return Response.json({ type: "error", error: { type: "not_found_error", message: "Not Found" } }, { status: 404 });
  return Response.json({ error: { message: `Unknown request URL: ${r.method} ${r.url.pathname}. Please check the URL for typos.`, type: "invalid_request_error", param: null, code: "unknown_url" } }, { status: 404 });
}

export class OneProtocolProvider implements AsyncDisposable {
  readonly fake: FakeProvider;
  /** Requests to the endpoints this protocol serves, in order. */
  readonly calls: Call[] = [];
  /** Requests to any other path (answered 404): a translated route must never send one. */
  readonly strays: Received[] = [];

  constructor(
    readonly speaks: Protocol,
    private readonly turns: readonly Turn[],
  ) {
    this.fake = new FakeProvider((r) => {
      if (!SERVED[speaks].includes(r.url.pathname)) {
        this.strays.push(r);
        return notServed(speaks, r);
      }
      let body: unknown;
      try {
        body = JSON.parse(r.text);
      } catch {
        return Response.json({ error: { message: "body is not JSON" } }, { status: 400 });
      }
      const call: Call = { path: r.url.pathname, search: r.url.search, headers: r.headers, text: r.text, body, received: r };
      this.calls.push(call);
      const turn = this.turns[Math.min(this.calls.length - 1, this.turns.length - 1)];
      if (!turn) throw new Error("OneProtocolProvider: no turns scripted");
      return turn(call);
    });
  }

  get url(): string {
    return this.fake.url;
  }

  /** The n-th call (1-based), waiting for it with a bound far above what a test needs. */
  async call(n: number): Promise<Call> {
    await this.fake.waitForRequests(n + this.strays.length);
    const call = this.calls[n - 1];
    if (!call) throw new Error(`expected call ${n}, got ${this.calls.length} (and ${this.strays.length} strays)`);
    return call;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.fake[Symbol.asyncDispose]();
  }
}

/** The value at a path of keys and indexes in parsed JSON; undefined where the path leaves it. */
export function dig(value: unknown, ...path: (string | number)[]): unknown {
  let at = value;
  for (const step of path) {
    if (at === null || typeof at !== "object") return undefined;
    at = (at as Record<string | number, unknown>)[step];
  }
  return at;
}

export const sse = (text: string) => new Response(text, { headers: { "content-type": "text/event-stream" } });

// ---------- OpenAI Chat Completions: bodies and chunks
// https://platform.openai.com/docs/api-reference/chat/object · https://platform.openai.com/docs/api-reference/chat-streaming

export interface ChatUsage {
  prompt_tokens: number;
  completion_tokens: number;
  total_tokens: number;
  prompt_tokens_details?: { cached_tokens: number };
  completion_tokens_details?: { reasoning_tokens: number };
}

export const CHAT_USAGE: ChatUsage = { prompt_tokens: 20, completion_tokens: 5, total_tokens: 25, prompt_tokens_details: { cached_tokens: 8 } };

export interface ChatToolCall {
  readonly id: string;
  readonly name: string;
  readonly arguments: string;
}

/** A Chat completion: text, reasoning, tool calls, a finish reason and usage. */
export function chatAnswer(o: { content?: string | null; reasoning?: string; calls?: readonly ChatToolCall[]; finish?: string; usage?: ChatUsage; model?: string }) {
  const message: Record<string, unknown> = { role: "assistant", content: o.content ?? null };
  if (o.reasoning !== undefined) message.reasoning_content = o.reasoning;
  if (o.calls) message.tool_calls = o.calls.map((c) => ({ id: c.id, type: "function", function: { name: c.name, arguments: c.arguments } }));
  return {
    id: "chatcmpl-provider",
    object: "chat.completion",
    created: 1_700_000_000,
    model: o.model ?? "upstream-model",
    choices: [{ index: 0, message, finish_reason: o.finish ?? (o.calls ? "tool_calls" : "stop"), logprobs: null }],
    usage: o.usage ?? CHAT_USAGE,
  };
}

/** One Chat chunk as an SSE event. */
export function chatEvent(delta: Record<string, unknown>, finish: string | null = null, extra: Record<string, unknown> = {}): string {
  const chunk = { id: "chatcmpl-provider", object: "chat.completion.chunk", created: 1_700_000_000, model: "upstream-model", choices: [{ index: 0, delta, finish_reason: finish }], ...extra };
  return `data: ${JSON.stringify(chunk)}\n\n`;
}

/** The include_usage chunk: no choices, the usage. */
export const chatUsageEvent = (usage: ChatUsage = CHAT_USAGE) =>
  `data: ${JSON.stringify({ id: "chatcmpl-provider", object: "chat.completion.chunk", created: 1_700_000_000, model: "upstream-model", choices: [], usage })}\n\n`;

export const CHAT_DONE = "data: [DONE]\n\n";

/** Splits a text into `n` pieces of nearly equal length (none empty when the text is long enough). */
export function pieces(text: string, n: number): string[] {
  const count = Math.max(1, Math.min(n, text.length));
  return Array.from({ length: count }, (_, i) => text.slice(Math.floor((i * text.length) / count), Math.floor(((i + 1) * text.length) / count)));
}

/**
 * The chunks of tool calls, their arguments split into `parts` pieces each; with
 * `interleave`, the pieces of the calls alternate (as parallel calls stream).
 */
export function chatToolEvents(calls: readonly ChatToolCall[], parts: number, interleave = false): string[] {
  const heads = calls.map((c, index) => chatEvent({ tool_calls: [{ index, id: c.id, type: "function", function: { name: c.name, arguments: "" } }] }));
  const bodies = calls.map((c, index) => pieces(c.arguments, parts).map((p) => chatEvent({ tool_calls: [{ index, function: { arguments: p } }] })));
  if (!interleave) return calls.flatMap((_, i) => [heads[i]!, ...bodies[i]!]);
  const out = [...heads];
  for (let k = 0; k < Math.max(...bodies.map((b) => b.length)); k++) for (const b of bodies) if (b[k]) out.push(b[k]!);
  return out;
}

/** Whether the Chat request asked for the usage chunk (a real OpenAI server sends it only then). */
export const asksUsage = (call: Call) => dig(call.body, "stream_options", "include_usage") === true;

/** A whole Chat stream: role, the given chunks, finish, the usage chunk when asked for, [DONE]. */
export function chatStream(call: Call, events: readonly string[], finish: string, usage: ChatUsage = CHAT_USAGE): Response {
  return sse([chatEvent({ role: "assistant", content: "" }), ...events, chatEvent({}, finish), asksUsage(call) ? chatUsageEvent(usage) : "", CHAT_DONE].join(""));
}

export interface ChatReply {
  readonly content?: string;
  readonly reasoning?: string;
  readonly calls?: readonly ChatToolCall[];
  readonly finish?: string;
  readonly usage?: ChatUsage;
  /** Pieces each text and each call's arguments are streamed in. */
  readonly parts?: number;
  /** Parallel calls' argument pieces alternate. */
  readonly interleave?: boolean;
}

/** A turn that answers as the request asks: a stream when `stream: true`, else JSON. */
export function chatTurn(o: ChatReply): Turn {
  return (call) => {
    const finish = o.finish ?? (o.calls ? "tool_calls" : "stop");
    if (dig(call.body, "stream") !== true) return Response.json(chatAnswer({ ...o, finish }));
    const parts = o.parts ?? 1;
    const events = [
      ...(o.reasoning ? pieces(o.reasoning, parts).map((r) => chatEvent({ reasoning_content: r })) : []),
      ...(o.content ? pieces(o.content, parts).map((c) => chatEvent({ content: c })) : []),
      ...(o.calls ? chatToolEvents(o.calls, parts, o.interleave) : []),
    ];
    return chatStream(call, events, finish, o.usage);
  };
}

// ---------- Anthropic Messages: bodies and events
// https://docs.anthropic.com/en/api/messages · https://docs.anthropic.com/en/api/messages-streaming

export interface AnthropicUsage {
  input_tokens: number;
  output_tokens: number;
  cache_read_input_tokens?: number;
  cache_creation_input_tokens?: number;
}

export const ANTHROPIC_USAGE: AnthropicUsage = { input_tokens: 10, output_tokens: 6, cache_read_input_tokens: 5, cache_creation_input_tokens: 3 };

export type AnthropicBlock = { type: "text"; text: string } | { type: "thinking"; thinking: string; signature: string } | { type: "tool_use"; id: string; name: string; input: Record<string, unknown> };

export function anthropicAnswer(content: readonly AnthropicBlock[], stop = "end_turn", usage: AnthropicUsage = ANTHROPIC_USAGE) {
  return { id: "msg_provider", type: "message", role: "assistant", model: "upstream-model", content, stop_reason: stop, stop_sequence: null, usage };
}

export function antEvent(type: string, payload: Record<string, unknown> = {}): string {
  return `event: ${type}\ndata: ${JSON.stringify({ type, ...payload })}\n\n`;
}

export const antMessageStart = (usage: AnthropicUsage = { ...ANTHROPIC_USAGE, output_tokens: 1 }) =>
  antEvent("message_start", { message: { id: "msg_provider", type: "message", role: "assistant", model: "upstream-model", content: [], stop_reason: null, stop_sequence: null, usage } });

/** The events of one content block, its deltas in `parts` pieces. */
export function antBlockEvents(index: number, block: AnthropicBlock, parts = 1): string[] {
  if (block.type === "text") {
    return [
      antEvent("content_block_start", { index, content_block: { type: "text", text: "" } }),
      ...pieces(block.text, parts).map((text) => antEvent("content_block_delta", { index, delta: { type: "text_delta", text } })),
      antEvent("content_block_stop", { index }),
    ];
  }
  if (block.type === "thinking") {
    return [
      antEvent("content_block_start", { index, content_block: { type: "thinking", thinking: "", signature: "" } }),
      ...pieces(block.thinking, parts).map((thinking) => antEvent("content_block_delta", { index, delta: { type: "thinking_delta", thinking } })),
      antEvent("content_block_delta", { index, delta: { type: "signature_delta", signature: block.signature } }),
      antEvent("content_block_stop", { index }),
    ];
  }
  return [
    antEvent("content_block_start", { index, content_block: { type: "tool_use", id: block.id, name: block.name, input: {} } }),
    ...pieces(JSON.stringify(block.input), parts).map((partial_json) => antEvent("content_block_delta", { index, delta: { type: "input_json_delta", partial_json } })),
    antEvent("content_block_stop", { index }),
  ];
}

export const antMessageEnd = (stop: string, output = ANTHROPIC_USAGE.output_tokens) => [antEvent("message_delta", { delta: { stop_reason: stop, stop_sequence: null }, usage: { output_tokens: output } }), antEvent("message_stop")];

/** A whole Anthropic stream of the given blocks. */
export function anthropicStreamOf(blocks: readonly AnthropicBlock[], stop: string, parts = 1): Response {
  return sse([antMessageStart(), ...blocks.flatMap((b, i) => antBlockEvents(i, b, parts)), ...antMessageEnd(stop)].join(""));
}

/** A turn that answers as the request asks: a stream when `stream: true`, else JSON. */
export function anthropicTurn(blocks: readonly AnthropicBlock[], stop = "end_turn", parts = 1, usage: AnthropicUsage = ANTHROPIC_USAGE): Turn {
  return (call) => (dig(call.body, "stream") === true ? anthropicStreamOf(blocks, stop, parts) : Response.json(anthropicAnswer(blocks, stop, usage)));
}

// ---------- Lock-step streams

/**
 * A stream whose events leave only when the test says: `next()` sends one more. With
 * it a test proves streaming: the client must have received event k before event
 * k+1 exists anywhere but in the test's array.
 */
export class Pacer {
  readonly stream = new ScriptedStream();
  sent = 0;

  constructor(readonly events: readonly string[]) {}

  response(): Response {
    return this.stream.response();
  }

  next(): void {
    const e = this.events[this.sent];
    if (e === undefined) throw new Error(`Pacer: all ${this.events.length} events already sent`);
    this.sent++;
    this.stream.send(e);
  }

  /** Sends up to and including the first event that contains `text`. */
  until(text: string): void {
    while (this.sent < this.events.length) {
      const e = this.events[this.sent]!;
      this.next();
      if (e.includes(text)) return;
    }
    throw new Error(`Pacer: no event left with ${JSON.stringify(text)}`);
  }

  /** Sends the rest and ends the body. */
  finish(): void {
    while (this.sent < this.events.length) this.next();
    this.stream.end();
  }

  get done(): boolean {
    return this.sent === this.events.length;
  }
}
