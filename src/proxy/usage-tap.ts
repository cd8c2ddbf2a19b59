import { responsesUsageFromResponse, responsesUsageReader } from "../protocols/responses-usage.ts";
import type { Protocol, StreamEvent, Usage } from "../protocols/types.ts";
import { followAnthropicUsage, followChatUsage, readAnthropicUsage, readChatUsage, type UsageFollower } from "../protocols/usage.ts";

/**
 * Usage, read from every answer on its way to the client without changing a byte:
 * the protocol's usage object in a JSON answer, and the events of a stream that
 * carry it (OpenAI's include_usage chunk, Anthropic's message_start and
 * message_delta, the Responses API's terminal event).
 */

/** The protocol a passed-through answer's usage is in: its endpoint's (embeddings and completions count the OpenAI way). */
export function answerProtocol(req: { readonly path: string; readonly protocol: Protocol }): Protocol | undefined {
  if (req.path.endsWith("/messages")) return "anthropic";
  if (req.path.endsWith("/responses")) return "openai-responses";
  return req.protocol === "anthropic" ? undefined : "openai";
}

/** A stream's usage so far, fed the events that may carry it. */
export function usageFollower(protocol: Protocol): UsageFollower {
  if (protocol === "anthropic") return followAnthropicUsage();
  if (protocol === "openai-responses") return responsesUsageReader();
  return followChatUsage();
}

/** The usage of a whole JSON answer in `protocol`, or undefined when it has none. */
export function usageOfAnswer(protocol: Protocol, answer: unknown): Usage | undefined {
  if (protocol === "anthropic") return readAnthropicUsage(answer);
  if (protocol === "openai-responses") return responsesUsageFromResponse(answer);
  return readChatUsage(answer);
}

/** The usage of a JSON answer's text: parsed only when the text names a usage at all. */
export function usageOfText(protocol: Protocol, text: string): Usage | undefined {
  if (!text.includes('"usage"')) return undefined;
  try {
    return usageOfAnswer(protocol, JSON.parse(text));
  } catch {
    // Not JSON (judged elsewhere): no usage to read.
    return undefined;
  }
}

const USAGE = Buffer.from('"usage"');
const DATA = Buffer.from("data:");
/** A line longer than this is not one of the small events usage comes in. */
const MAX_LINE = 1024 * 1024;

/**
 * Watches the bytes of a passed-through stream for the `data:` lines that hold
 * `"usage"`, and gives only those to the follower: one byte search per chunk, and
 * a JSON parse only for the few events that carry usage. A line split between two
 * chunks is put together first.
 */
export class UsageTap {
  private carry: Buffer | undefined;

  constructor(private readonly follower: UsageFollower) {}

  get usage(): Usage | undefined {
    return this.follower.usage;
  }

  push(chunk: Uint8Array): void {
    let view = Buffer.from(chunk.buffer, chunk.byteOffset, chunk.length);
    if (this.carry) {
      view = Buffer.concat([this.carry, view]);
      this.carry = undefined;
    }
    let at = view.indexOf(USAGE);
    let consumed = 0;
    while (at !== -1) {
      const start = view.lastIndexOf(10, at) + 1;
      const end = view.indexOf(10, at);
      if (end === -1) break;
      if (start >= consumed && view.subarray(start, start + DATA.length).equals(DATA)) this.event(view.toString("utf8", start + DATA.length, end));
      consumed = end + 1;
      at = view.indexOf(USAGE, consumed);
    }
    // The last line is unfinished: kept for the next chunk, when it may hold usage.
    const lastBreak = view.lastIndexOf(10);
    const tail = view.subarray(lastBreak + 1);
    if (tail.length > 0 && tail.length <= MAX_LINE) this.carry = Buffer.from(tail);
  }

  private event(text: string): void {
    let data: unknown;
    try {
      data = JSON.parse(text);
    } catch {
      // A data line that is not JSON carries no usage.
      return;
    }
    this.follower.push({ event: "", data } satisfies StreamEvent);
  }
}
