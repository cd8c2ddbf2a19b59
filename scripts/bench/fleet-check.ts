/**
 * The checks of the fleet client: a stream's body, fed as it arrives, either
 * matches what the provider sent, byte for byte where bytes are fixed (passthrough)
 * or in meaning where a translation rebuilt the events (text, tool call, usage),
 * or names what is wrong. Every stamped event or text piece it accepts is handed
 * to `onStamp` with its send time.
 */
import { COMPACT_LENGTH, COMPACT_PREFIX, completionTokens, DONE_EVENT, INDEX_DIGITS, PROMPT_TOKENS, STAMP_DIGITS, TOKEN_LENGTH, TOOL, TOOL_ARGUMENTS } from "./fleet-workload.ts";

export interface StreamCheck {
  /** Takes the next piece of the body; returns a reason when the stream is wrong. */
  feed(text: string): string | undefined;
  /** The body ended: undefined when the stream is complete and right, else why not. */
  end(): string | undefined;
}

const STAMP = new RegExp(`^\\d{${STAMP_DIGITS}}$`);
const pad = (n: number) => String(n).padStart(INDEX_DIGITS, "0");

/** Reads `IIII:SSSS…` at `at`; returns the stamp, or a reason. */
function stampAt(text: string, at: number, index: number, after: string): number | string {
  if (text.slice(at, at + INDEX_DIGITS) !== pad(index)) return `event ${index} came as ${JSON.stringify(text.slice(at, at + INDEX_DIGITS))}`;
  if (text.charCodeAt(at + INDEX_DIGITS) !== 58) return `event ${index}: no ":" after the index`;
  const digits = text.slice(at + INDEX_DIGITS + 1, at + INDEX_DIGITS + 1 + STAMP_DIGITS);
  if (!STAMP.test(digits)) return `event ${index}: stamp ${JSON.stringify(digits)}`;
  if (!text.startsWith(after, at + INDEX_DIGITS + 1 + STAMP_DIGITS)) return `event ${index}: bytes after the stamp differ`;
  return Number(digits);
}

/** The passthrough stream: exactly `events` compact events, then `data: [DONE]`, nothing else. */
export function compactCheck(events: number, onStamp: (stampUs: number) => void): StreamCheck {
  let buf = "";
  let next = 0;
  let done = false;
  const after = '"}\n\n';
  return {
    feed(text) {
      buf += text;
      let at = 0;
      while (next < events && buf.length - at >= COMPACT_LENGTH) {
        if (!buf.startsWith(COMPACT_PREFIX, at)) return `event ${next} does not start with ${COMPACT_PREFIX}: ${JSON.stringify(buf.slice(at, at + 40))}`;
        const stamp = stampAt(buf, at + COMPACT_PREFIX.length, next, after);
        if (typeof stamp === "string") return stamp;
        onStamp(stamp);
        next++;
        at += COMPACT_LENGTH;
      }
      buf = buf.slice(at);
      if (next === events && buf.length > 0) {
        if (done || !DONE_EVENT.startsWith(buf.slice(0, DONE_EVENT.length))) return `after the last event: ${JSON.stringify(buf.slice(0, 40))}`;
        if (buf.length > DONE_EVENT.length) return `bytes after [DONE]: ${JSON.stringify(buf.slice(DONE_EVENT.length, DONE_EVENT.length + 40))}`;
        if (buf.length === DONE_EVENT.length) {
          done = true;
          buf = "";
        }
      }
      return undefined;
    },
    end() {
      if (next < events) return `stream ended after ${next} of ${events} events`;
      return done ? undefined : "stream did not end with data: [DONE]";
    },
  };
}

interface Block {
  readonly type: string;
  id?: string;
  name?: string;
  json: string;
}

type Event = { type?: unknown; index?: unknown; message?: { usage?: Usage }; usage?: Usage; delta?: Record<string, unknown>; content_block?: Record<string, unknown>; error?: unknown };
type Usage = { input_tokens?: unknown; output_tokens?: unknown };

/**
 * The Anthropic stream: message_start first, the text pieces in order in text
 * blocks, one tool_use block with the provider's tool name and arguments,
 * stop_reason tool_use, the provider's usage, message_stop last. `ping` may come
 * anywhere. How the text is cut into deltas is the translator's business.
 */
export function anthropicCheck(events: number, onStamp: (stampUs: number) => void): StreamCheck {
  let buf = "";
  let text = "";
  let next = 0;
  let started = false;
  let stopped = false;
  let inputTokens: unknown;
  let outputTokens: unknown;
  let stopReason: unknown;
  const blocks = new Map<number, Block>();

  const onText = (piece: string): string | undefined => {
    text += piece;
    let at = 0;
    while (text.length - at >= TOKEN_LENGTH) {
      if (next >= events) return `text after the last of ${events} pieces: ${JSON.stringify(text.slice(at, at + 30))}`;
      const stamp = stampAt(text, at, next, " ");
      if (typeof stamp === "string") return stamp;
      onStamp(stamp);
      next++;
      at += TOKEN_LENGTH;
    }
    text = text.slice(at);
    return undefined;
  };

  const onEvent = (name: string | undefined, data: string): string | undefined => {
    let e: Event;
    try {
      e = JSON.parse(data) as Event;
    } catch {
      return `an event's data is not JSON: ${JSON.stringify(data.slice(0, 60))}`;
    }
    if (name !== undefined && name !== e.type) return `event: ${name} carries type ${JSON.stringify(e.type)}`;
    if (e.type === "ping") return undefined;
    if (stopped) return `${String(e.type)} after message_stop`;
    if (!started && e.type !== "message_start") return `first event is ${JSON.stringify(e.type)}, not message_start${e.type === "error" ? `: ${JSON.stringify(e.error)}` : ""}`;
    const index = typeof e.index === "number" ? e.index : -1;
    switch (e.type) {
      case "message_start":
        if (started) return "a second message_start";
        started = true;
        inputTokens = e.message?.usage?.input_tokens;
        return undefined;
      case "content_block_start": {
        const cb = e.content_block ?? {};
        if (blocks.has(index)) return `block ${index} started twice`;
        blocks.set(index, { type: String(cb.type), id: typeof cb.id === "string" ? cb.id : undefined, name: typeof cb.name === "string" ? cb.name : undefined, json: "" });
        return typeof cb.text === "string" && cb.text ? onText(cb.text) : undefined;
      }
      case "content_block_delta": {
        const block = blocks.get(index);
        const d = e.delta ?? {};
        if (!block) return `delta for block ${index}, which was not started`;
        if (d.type === "text_delta" && block.type === "text" && typeof d.text === "string") return onText(d.text);
        if (d.type === "input_json_delta" && block.type === "tool_use" && typeof d.partial_json === "string") {
          block.json += d.partial_json;
          return undefined;
        }
        return `unexpected ${String(d.type)} in a ${block.type} block`;
      }
      case "content_block_stop":
        return blocks.has(index) ? undefined : `block ${index} stopped before it started`;
      case "message_delta":
        stopReason = e.delta?.stop_reason;
        outputTokens = e.usage?.output_tokens ?? outputTokens;
        inputTokens = e.usage?.input_tokens ?? inputTokens;
        return undefined;
      case "message_stop":
        stopped = true;
        return undefined;
      case "error":
        return `error event: ${JSON.stringify(e.error)}`;
      default:
        return `unexpected event ${JSON.stringify(e.type)}`;
    }
  };

  return {
    feed(piece) {
      buf += piece;
      for (;;) {
        const end = buf.indexOf("\n\n");
        if (end < 0) return undefined;
        const block = buf.slice(0, end);
        buf = buf.slice(end + 2);
        let name: string | undefined;
        let data: string | undefined;
        for (const line of block.split("\n")) {
          if (line.startsWith("event:")) name = line.slice(6).trim();
          else if (line.startsWith("data:")) data = (data === undefined ? "" : `${data}\n`) + line.slice(line.startsWith("data: ") ? 6 : 5);
        }
        if (data === undefined) continue;
        const wrong = onEvent(name, data);
        if (wrong) return wrong;
      }
    },
    end() {
      if (buf.trim()) return `an unfinished event at the end: ${JSON.stringify(buf.slice(0, 40))}`;
      if (next < events) return `stream ended after ${next} of ${events} text pieces`;
      if (text) return `text after the last piece: ${JSON.stringify(text.slice(0, 30))}`;
      const tools = [...blocks.values()].filter((b) => b.type === "tool_use");
      if (tools.length !== 1) return `${tools.length} tool_use blocks, expected 1`;
      const tool = tools[0]!;
      if (tool.name !== TOOL.name || !tool.id) return `tool_use ${JSON.stringify(tool.name)} (id ${JSON.stringify(tool.id)}), expected ${TOOL.name} with an id`;
      let args: string;
      try {
        args = JSON.stringify(JSON.parse(tool.json));
      } catch {
        return `tool arguments are not JSON: ${JSON.stringify(tool.json.slice(0, 60))}`;
      }
      if (args !== TOOL_ARGUMENTS) return `tool arguments ${args}, expected ${TOOL_ARGUMENTS}`;
      if (stopReason !== "tool_use") return `stop_reason ${JSON.stringify(stopReason)}, expected "tool_use"`;
      if (inputTokens !== PROMPT_TOKENS || outputTokens !== completionTokens(events)) return `usage ${String(inputTokens)} in / ${String(outputTokens)} out, expected ${PROMPT_TOKENS} / ${completionTokens(events)}`;
      return stopped ? undefined : "no message_stop";
    },
  };
}
