/**
 * What `bun run bench --fleet` sends and what its provider streams, shared by the
 * provider, the client and the orchestrator so that each side can check the other
 * byte for byte. Every stamped event carries its index and the provider's send time
 * in microseconds of CLOCK_MONOTONIC, a clock every process on the machine shares,
 * so the client can tell how long each event took.
 */
import { dlopen, FFIType, ptr } from "bun:ffi";

/** The upstream model of passthrough streams, as the provider expects it. */
export const FLEET_MODEL = "fleet-upstream-model";
/** The alias OpenAI clients name at a proxy that rewrites models. */
export const FLEET_ALIAS = "fleet-model";
/** The alias Anthropic clients name; its route's backend declares `protocol: openai`. */
export const FLEET_ANTHROPIC_ALIAS = "fleet-anthropic";
/** The upstream model of translated streams: the provider answers it with full OpenAI chunks, a tool call and usage. */
export const FLEET_TRANSLATED_MODEL = "fleet-upstream-translated";
/** The model an Anthropic client names when it talks to the provider directly (the harness's own Anthropic stream). */
export const FLEET_DIRECT_ANTHROPIC_MODEL = "fleet-direct-anthropic";

export const CHAT_PATH = "/v1/chat/completions";
export const MESSAGES_PATH = "/v1/messages";

/** Stamps and indexes have fixed widths, so every event of a format has the same length. */
export const STAMP_DIGITS = 16;
export const INDEX_DIGITS = 4;
export const MAX_EVENTS = 10 ** INDEX_DIGITS - 1;

/**
 * CLOCK_MONOTONIC in µs, read with clock_gettime(2). Not `process.hrtime`: in Bun it
 * counts from the start of the process (in Node from boot), so two processes'
 * readings cannot be compared; not `performance.now()` either, for the same reason.
 */
const libc = dlopen("libc.so.6", { clock_gettime: { args: [FFIType.i32, FFIType.ptr], returns: FFIType.i32 } });
const CLOCK_MONOTONIC = 1;
const timespec = new BigInt64Array(2);
const timespecPtr = ptr(timespec);
export function nowUs(): number {
  libc.symbols.clock_gettime(CLOCK_MONOTONIC, timespecPtr);
  return Number(timespec[0]!) * 1e6 + Math.floor(Number(timespec[1]!) / 1000);
}
const pad = (n: number, width: number) => String(n).padStart(width, "0");

/** The passthrough event: `data: {"e":"IIII:SSSSSSSSSSSSSSSS"}` and a blank line, 37 bytes. */
export const compactEvent = (index: number, stampUs: number) => `data: {"e":"${pad(index, INDEX_DIGITS)}:${pad(stampUs, STAMP_DIGITS)}"}\n\n`;
export const COMPACT_PREFIX = 'data: {"e":"';
export const COMPACT_LENGTH = compactEvent(0, 0).length;
export const DONE_EVENT = "data: [DONE]\n\n";

/** A piece of text in translated streams: `IIII:SSSSSSSSSSSSSSSS ` (22 characters). */
export const token = (index: number, stampUs: number) => `${pad(index, INDEX_DIGITS)}:${pad(stampUs, STAMP_DIGITS)} `;
export const TOKEN_LENGTH = token(0, 0).length;

/** The one tool call every translated stream ends with. */
export const TOOL = { id: "call_fleet_0001", name: "read_file", argumentPieces: ['{"path":', '"src/main.ts"}'] } as const;
export const TOOL_ARGUMENTS = TOOL.argumentPieces.join("");
export const PROMPT_TOKENS = 1234;
export const completionTokens = (events: number) => events * 6 + 9;

/** The request bodies. `stream` and `model` first, as the short bench's, and small: the provider parses them. */
export function chatBody(model: string): string {
  return JSON.stringify({ model, stream: true, max_tokens: 1024, messages: [{ role: "user", content: "Stream the fleet test text." }] });
}

export function anthropicBody(model: string): string {
  return JSON.stringify({
    model,
    stream: true,
    max_tokens: 1024,
    messages: [{ role: "user", content: "Stream the fleet test text, then read src/main.ts." }],
    tools: [{ name: TOOL.name, description: "Read a file of the project.", input_schema: { type: "object", properties: { path: { type: "string" } }, required: ["path"] } }],
  });
}

const CREATED = 1_764_000_000;
const chunk = (choice: object) => `data: ${JSON.stringify({ id: "chatcmpl-fleet", object: "chat.completion.chunk", created: CREATED, model: FLEET_TRANSLATED_MODEL, choices: [choice] })}\n\n`;

/** The OpenAI Chat stream of a translated row, one write per step: step 0 also opens the message, the last step closes it. */
export function chatStep(index: number, stampUs: number, events: number): string {
  const text = chunk({ index: 0, delta: { content: token(index, stampUs) }, finish_reason: null });
  const head = index === 0 ? chunk({ index: 0, delta: { role: "assistant", content: "" }, finish_reason: null }) : "";
  if (index < events - 1) return head + text;
  const call = chunk({ index: 0, delta: { tool_calls: [{ index: 0, id: TOOL.id, type: "function", function: { name: TOOL.name, arguments: "" } }] }, finish_reason: null });
  const args = TOOL.argumentPieces.map((piece) => chunk({ index: 0, delta: { tool_calls: [{ index: 0, function: { arguments: piece } }] }, finish_reason: null })).join("");
  const finish = chunk({ index: 0, delta: {}, finish_reason: "tool_calls" });
  const completion = completionTokens(events);
  const usage = `data: ${JSON.stringify({ id: "chatcmpl-fleet", object: "chat.completion.chunk", created: CREATED, model: FLEET_TRANSLATED_MODEL, choices: [], usage: { prompt_tokens: PROMPT_TOKENS, completion_tokens: completion, total_tokens: PROMPT_TOKENS + completion } })}\n\n`;
  return head + text + call + args + finish + usage + DONE_EVENT;
}

const anthropic = (type: string, data: object) => `event: ${type}\ndata: ${JSON.stringify({ type, ...data })}\n\n`;

/** The Anthropic stream the provider serves itself to a direct Anthropic client: what a translation should give. */
export function anthropicStep(index: number, stampUs: number, events: number): string {
  const text = anthropic("content_block_delta", { index: 0, delta: { type: "text_delta", text: token(index, stampUs) } });
  const head =
    index === 0
      ? anthropic("message_start", {
          message: { id: "msg_fleet", type: "message", role: "assistant", model: FLEET_DIRECT_ANTHROPIC_MODEL, content: [], stop_reason: null, stop_sequence: null, usage: { input_tokens: PROMPT_TOKENS, output_tokens: 1 } },
        }) + anthropic("content_block_start", { index: 0, content_block: { type: "text", text: "" } })
      : "";
  if (index < events - 1) return head + text;
  return (
    head +
    text +
    anthropic("content_block_stop", { index: 0 }) +
    anthropic("content_block_start", { index: 1, content_block: { type: "tool_use", id: "toolu_fleet_0001", name: TOOL.name, input: {} } }) +
    TOOL.argumentPieces.map((piece) => anthropic("content_block_delta", { index: 1, delta: { type: "input_json_delta", partial_json: piece } })).join("") +
    anthropic("content_block_stop", { index: 1 }) +
    anthropic("message_delta", { delta: { stop_reason: "tool_use", stop_sequence: null }, usage: { output_tokens: completionTokens(events) } }) +
    anthropic("message_stop", {})
  );
}

export type Format = "compact" | "chat" | "anthropic";

export const step = (format: Format, index: number, stampUs: number, events: number): string =>
  format === "compact" ? compactEvent(index, stampUs) + (index === events - 1 ? DONE_EVENT : "") : format === "chat" ? chatStep(index, stampUs, events) : anthropicStep(index, stampUs, events);

/**
 * Delays in µs, counted in buckets: 1 µs wide below 1 ms, 10 µs below 100 ms, 1 ms
 * below 10 s, one bucket above. Cheap to add to at 100,000 events a second, and
 * small enough to send from each client process to the orchestrator.
 */
export class Histogram {
  static readonly SIZE = 1000 + 9900 + 9900 + 1;
  readonly counts = new Float64Array(Histogram.SIZE);
  count = 0;
  max = 0;

  static bucket(us: number): number {
    if (us < 1000) return Math.max(0, Math.floor(us));
    if (us < 100_000) return 1000 + Math.floor((us - 1000) / 10);
    if (us < 10_000_000) return 10_900 + Math.floor((us - 100_000) / 1000);
    return Histogram.SIZE - 1;
  }

  /** The lower edge of a bucket, µs. */
  static lower(bucket: number): number {
    if (bucket < 1000) return bucket;
    if (bucket < 10_900) return 1000 + (bucket - 1000) * 10;
    return 100_000 + (bucket - 10_900) * 1000;
  }

  add(us: number): void {
    this.counts[Histogram.bucket(us)]!++;
    this.count++;
    if (us > this.max) this.max = us;
  }

  merge(other: SparseHistogram): void {
    for (const [bucket, n] of other.buckets) this.counts[bucket]! += n;
    this.count += other.count;
    this.max = Math.max(this.max, other.max);
  }

  /** The delay below which `p` % of events fall, µs (the bucket's lower edge). */
  percentile(p: number): number {
    if (this.count === 0) return NaN;
    const rank = Math.ceil((p / 100) * this.count);
    let seen = 0;
    for (let b = 0; b < Histogram.SIZE; b++) {
      seen += this.counts[b]!;
      if (seen >= rank) return Histogram.lower(b);
    }
    return this.max;
  }

  sparse(): SparseHistogram {
    const buckets: [number, number][] = [];
    this.counts.forEach((n, b) => {
      if (n > 0) buckets.push([b, n]);
    });
    return { buckets, count: this.count, max: this.max };
  }
}

export interface SparseHistogram {
  readonly buckets: readonly (readonly [number, number])[];
  readonly count: number;
  readonly max: number;
}
