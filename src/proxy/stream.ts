import type { DirectUnderlyingSource } from "bun";
import type { Protocol } from "./errors.ts";

/** How a committed stream ended. */
export type StreamEnd =
  | { readonly kind: "complete"; readonly bytes: number }
  | { readonly kind: "cut"; readonly reason: string; readonly bytes: number }
  | { readonly kind: "client_gone"; readonly bytes: number };

/** One read of a body: a chunk, or its end. */
export type ReadResult = { readonly done: false; readonly value: Uint8Array } | { readonly done: true; readonly value?: Uint8Array | undefined };

/** Where a committed stream's chunks come from: a stream reader, or the upstream exchange itself. */
export interface StreamReader {
  read(): Promise<ReadResult>;
  cancel(): Promise<void>;
}

export interface CommittedStreamOptions {
  /** Chunks read before the commit (up to the first event), sent first and unchanged. */
  readonly held: readonly Uint8Array[];
  readonly reader: StreamReader;
  /** Ends the upstream request (closes its connection). */
  readonly abort: () => void;
  readonly clientSignal: AbortSignal;
  readonly protocol: Protocol;
  readonly idleMs: number;
  readonly totalLeftMs: number;
  readonly onEnd: (end: StreamEnd) => void;
}

/**
 * The last event of a stream that was cut: the client's SDK raises it as an error
 * instead of taking a partial answer for a complete one. No `[DONE]` or
 * `message_stop` follows. https://docs.anthropic.com/en/api/messages-streaming#error-events
 */
export function cutEvent(protocol: Protocol, message: string): string {
  if (protocol === "anthropic") {
    return `event: error\ndata: ${JSON.stringify({ type: "error", error: { type: "api_error", message } })}\n\n`;
  }
  return `data: ${JSON.stringify({ error: { message, type: "upstream_error", code: "stream_cut" } })}\n\n`;
}

const COMPLETE = /data: \[DONE\]|event: message_stop|"type":\s*"response\.completed"/;

/**
 * True when the stream already carried its completion marker (OpenAI's `[DONE]`,
 * Anthropic's `message_stop`, the Responses API's `response.completed`): a reset
 * after it loses nothing, so the stream ends as complete.
 */
function sawCompletion(previous: Uint8Array | undefined, last: Uint8Array | undefined): boolean {
  if (!last) return false;
  const tail = Buffer.concat(previous ? [previous.subarray(-256), last.subarray(-256)] : [last.subarray(-256)]).toString("latin1");
  return COMPLETE.test(tail);
}

/** True when the bytes sent so far end between two events (a blank line). */
function atEventBoundary(last: Uint8Array | undefined): boolean {
  if (!last || last.length === 0) return true;
  const n = last.length;
  return last[n - 1] === 10 && (last[n - 2] === 10 || (last[n - 2] === 13 && last[n - 3] === 10));
}

/**
 * The client's side of a committed SSE stream: each upstream chunk is passed on as
 * it arrives (no buffering, no copies). Silence longer than `idleMs` (pings count
 * as life) or the total bound ends the stream as cut, and so does an upstream
 * error: the client then gets an error event and the stream ends without its
 * completion marker. A client that goes away aborts the upstream request.
 */
export function committedStream(o: CommittedStreamOptions): ReadableStream<Uint8Array> {
  let bytes = 0;
  let last: Uint8Array | undefined;
  let previous: Uint8Array | undefined;
  let ended = false;
  let cutReason: string | undefined;

  const finish = (end: StreamEnd) => {
    if (ended) return;
    ended = true;
    clearTimeout(idle);
    clearTimeout(total);
    o.clientSignal.removeEventListener("abort", onClientGone);
    o.onEnd(end);
  };
  const cut = (reason: string) => {
    if (ended || cutReason !== undefined) return;
    cutReason = reason;
    o.abort();
  };
  const onClientGone = () => {
    o.abort();
    finish({ kind: "client_gone", bytes });
  };
  o.clientSignal.addEventListener("abort", onClientGone);
  let waitingOnClient = false;
  const idle = setTimeout(() => {
    if (waitingOnClient) idle.refresh();
    else cut(`no data for ${o.idleMs / 1000} s`);
  }, o.idleMs);
  const total = Number.isFinite(o.totalLeftMs) ? setTimeout(() => cut("the request's total time ran out"), Math.max(o.totalLeftMs, 0)) : undefined;

  const endAsCut = (controller: ReadableStreamDirectController, reason: string) => {
    const message = `the provider's stream was cut after it started (${reason}); this answer is incomplete`;
    controller.write(`${atEventBoundary(last) ? "" : "\n\n"}${cutEvent(o.protocol, message)}`);
    controller.close();
    finish({ kind: "cut", reason, bytes });
  };

  // Bun's "direct" stream: chunks go straight to the client's socket, without a
  // ReadableStream queue and its promises per chunk in between.
  return new ReadableStream<Uint8Array>({
    type: "direct",
    async pull(controller: ReadableStreamDirectController) {
      for (const chunk of o.held) {
        bytes += chunk.length;
        controller.write(chunk);
      }
      last = o.held.at(-1);
      controller.flush();
      for (;;) {
        let read: ReadResult;
        try {
          read = await o.reader.read();
        } catch (error) {
          if (ended || o.clientSignal.aborted) return;
          if (sawCompletion(previous, last)) {
            controller.close();
            finish({ kind: "complete", bytes });
            return;
          }
          return endAsCut(controller, cutReason ?? (error as Error)?.message ?? "upstream error");
        }
        if (read.done) {
          if (cutReason !== undefined && !sawCompletion(previous, last)) return endAsCut(controller, cutReason);
          controller.close();
          finish({ kind: "complete", bytes });
          return;
        }
        const value = read.value;
        idle.refresh();
        bytes += value.length;
        previous = last;
        last = value;
        // A promise means the client is not keeping up: read no more from upstream until it
        // has taken this chunk. That wait is the client's, not the provider's silence.
        const written = controller.write(value);
        if (typeof written !== "number") {
          waitingOnClient = true;
          await written;
          waitingOnClient = false;
          idle.refresh();
        }
        controller.flush();
      }
    },
    cancel() {
      o.abort();
      finish({ kind: "client_gone", bytes });
    },
  } satisfies DirectUnderlyingSource<Uint8Array>);
}
