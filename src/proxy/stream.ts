import type { DirectUnderlyingSource } from "bun";
import type { Protocol, Usage } from "../protocols/types.ts";
import { errorText, type AttemptControl } from "./attempt-control.ts";
import { usageFollower, UsageTap } from "./usage-tap.ts";

/** How a body handed to the client ended. */
export type StreamEnd =
  | { readonly kind: "complete"; readonly bytes: number }
  | { readonly kind: "cut"; readonly reason: string; readonly bytes: number }
  | { readonly kind: "client_gone"; readonly bytes: number };

/**
 * What a committed stream does to the provider's bytes on their way to the client:
 * nothing (passthrough), or translate them. It also knows whether the provider's
 * stream reached its completion, and how to end the client's stream honestly.
 */
export interface StreamShape {
  /** The provider's bytes in; what the client gets for them. */
  chunk(bytes: Uint8Array): Uint8Array | string;
  /** The provider's stream carried its completion marker. */
  readonly complete: boolean;
  /** Whether a clean end of the provider's stream, here, is a complete answer. */
  endedCleanly(): boolean;
  /** The provider's stream ended after completing: anything the client still needs. */
  end(): string;
  /** The stream was cut: the last thing the client gets. */
  cut(message: string): string;
  /** The tokens the provider's stream reported so far. */
  readonly usage: Usage | undefined;
}

/**
 * The completion markers of each protocol's stream, as whole lines: OpenAI's
 * `data: [DONE]`, Anthropic's `message_stop`, the Responses API's terminal events.
 * https://platform.openai.com/docs/api-reference/chat-streaming · https://docs.anthropic.com/en/api/messages-streaming
 */
const MARKERS: Record<Protocol, readonly Buffer[]> = {
  openai: [Buffer.from("data: [DONE]")],
  anthropic: [Buffer.from("event: message_stop")],
  "openai-responses": [Buffer.from("event: response.completed"), Buffer.from("event: response.incomplete"), Buffer.from("event: response.failed")],
};

/**
 * The last event of a stream that was cut: the client's SDK raises it as an error
 * instead of taking a partial answer for a complete one. No completion marker follows.
 * https://docs.anthropic.com/en/api/messages-streaming#error-events
 */
export function cutEvent(protocol: Protocol, message: string): string {
  if (protocol === "anthropic") return `event: error\ndata: ${JSON.stringify({ type: "error", error: { type: "api_error", message } })}\n\n`;
  if (protocol === "openai-responses") {
    const response = { object: "response", status: "failed", error: { code: "server_error", message } };
    return `event: response.failed\ndata: ${JSON.stringify({ type: "response.failed", response })}\n\n`;
  }
  return `data: ${JSON.stringify({ error: { message, type: "upstream_error", code: "stream_cut" } })}\n\n`;
}

/**
 * The provider's bytes passed on unchanged. `protocol` is the stream's protocol when
 * the path says it (chat completions, messages, responses): then a stream that ends
 * without its completion marker was cut, even when the connection closed cleanly (a
 * reset of a stream framed by closing looks like a clean end). For other paths a
 * clean end is the end.
 */
export class PassthroughShape implements StreamShape {
  private seen = false;
  /** The last bytes so far, for a marker split between chunks and for where the stream stopped. */
  private tail: Buffer = Buffer.alloc(0);
  private readonly markers: readonly Buffer[];
  private readonly tap: UsageTap | undefined;

  constructor(
    private readonly protocol: Protocol | undefined,
    /** Takes out the usage chunk the proxy asked for on the client's behalf (stream_usage: inject). */
    private readonly strip?: (chunk: Uint8Array) => Uint8Array,
  ) {
    this.markers = protocol ? MARKERS[protocol] : [];
    this.tap = protocol ? new UsageTap(usageFollower(protocol)) : undefined;
  }

  get usage(): Usage | undefined {
    return this.tap?.usage;
  }

  get complete(): boolean {
    return this.seen;
  }

  endedCleanly(): boolean {
    return this.protocol === undefined || this.seen;
  }

  chunk(bytes: Uint8Array): Uint8Array {
    this.tap?.push(bytes);
    if (!this.seen && this.markers.length > 0) {
      const view = Buffer.concat([this.tail, bytes]);
      for (const marker of this.markers) {
        const at = view.indexOf(marker);
        // A marker is a whole line: at the start of the stream or after a line break (JSON text cannot hold a raw one).
        if (at !== -1 && (at === 0 ? this.tail.length === 0 : view[at - 1] === 10 || view[at - 1] === 13)) this.seen = true;
      }
      this.tail = view.subarray(Math.max(0, view.length - 32));
    } else if (bytes.length > 0) this.tail = Buffer.from(bytes.subarray(Math.max(0, bytes.length - 4)));
    return this.strip ? this.strip(bytes) : bytes;
  }

  end(): string {
    return "";
  }

  cut(message: string): string {
    const n = this.tail.length;
    const atBoundary = n === 0 || (this.tail[n - 1] === 10 && (this.tail[n - 2] === 10 || (this.tail[n - 2] === 13 && this.tail[n - 3] === 10)));
    return `${atBoundary ? "" : "\n\n"}${cutEvent(this.protocol ?? "openai", message)}`;
  }
}

export interface CommittedStreamOptions {
  /** Chunks read before the commit (up to the first event), sent first. */
  readonly held: readonly Uint8Array[];
  readonly reader: ReadableStreamDefaultReader<Uint8Array>;
  readonly control: AttemptControl;
  readonly shape: StreamShape;
  readonly onEnd: (end: StreamEnd) => void;
}

/**
 * The client's side of a committed SSE stream: each upstream chunk is passed on as it
 * arrives (no buffering), and the next one read only once the client has taken it, so
 * a slow client slows the provider instead of filling the proxy's memory. Silence past
 * `idle_seconds`, the total bound, an upstream error or an end without the completion
 * marker end the stream as cut: the client gets an error event and no completion. A
 * client that goes away aborts the upstream request; one that goes away after the
 * completion marker was served all the same.
 */
export function committedStream(o: CommittedStreamOptions): ReadableStream<Uint8Array> {
  let bytes = 0;
  let ended = false;
  const finish = (end: StreamEnd) => {
    if (ended) return;
    ended = true;
    o.control.release();
    o.onEnd(end);
  };
  const clientGone = () => {
    const complete = o.shape.complete;
    o.control.stop("client");
    finish(complete ? { kind: "complete", bytes } : { kind: "client_gone", bytes });
  };
  const endAsCut = (controller: ReadableStreamDirectController, reason: string) => {
    controller.write(o.shape.cut(`the provider's stream was cut after it started (${reason}); this answer is incomplete`));
    controller.close();
    finish({ kind: "cut", reason, bytes });
  };
  const send = (controller: ReadableStreamDirectController, chunk: Uint8Array) => {
    bytes += chunk.length;
    const out = o.shape.chunk(chunk);
    return out.length > 0 ? controller.write(out) : 0;
  };

  // Bun's "direct" stream: chunks go straight to the client's socket, without a
  // ReadableStream queue and its promises per chunk in between.
  return new ReadableStream<Uint8Array>({
    type: "direct",
    async pull(controller: ReadableStreamDirectController) {
      for (const chunk of o.held) send(controller, chunk);
      controller.flush();
      for (;;) {
        let read: Awaited<ReturnType<typeof o.reader.read>>;
        try {
          read = await o.reader.read();
        } catch (error) {
          if (ended) return;
          if (o.control.why === "client") return clientGone();
          if (o.shape.complete) {
            // Lost after the completion marker: nothing the client needs is missing.
            controller.write(o.shape.end());
            controller.close();
            return finish({ kind: "complete", bytes });
          }
          return endAsCut(controller, o.control.describe() ?? errorText(error));
        }
        if (ended) return;
        if (read.done) {
          if (!o.shape.endedCleanly()) return endAsCut(controller, "the provider ended it without its completion marker");
          const rest = o.shape.end();
          if (rest.length > 0) controller.write(rest);
          controller.close();
          return finish({ kind: "complete", bytes });
        }
        o.control.touch();
        const written = send(controller, read.value);
        // A promise means the client is not keeping up: read no more from upstream until it
        // has taken this chunk. That wait is the client's, not the provider's silence.
        if (typeof written !== "number") {
          o.control.pauseIdle(true);
          await written;
          o.control.pauseIdle(false);
        }
        controller.flush();
      }
    },
    cancel() {
      clientGone();
    },
  } satisfies DirectUnderlyingSource<Uint8Array>);
}

/** Bytes changed on their way to the client (masking), with anything held back given at the end. */
export interface ChunkTransform {
  chunk(bytes: Uint8Array): Uint8Array;
  end?(): Uint8Array;
}

/**
 * A body that is not a stream of events (a large JSON answer, audio, a file), handed on
 * as it comes after what was already read; the same timers and backpressure apply.
 * An upstream failure errors the client's body (it sees an incomplete answer).
 */
export function passthroughBody(held: readonly Uint8Array[], reader: ReadableStreamDefaultReader<Uint8Array>, control: AttemptControl, onEnd: (end: StreamEnd) => void, transform?: ChunkTransform): ReadableStream<Uint8Array> {
  const map = transform ? (c: Uint8Array) => transform.chunk(c) : (c: Uint8Array) => c;
  let bytes = 0;
  let ended = false;
  let next = 0;
  const finish = (end: StreamEnd) => {
    if (ended) return;
    ended = true;
    control.release();
    onEnd(end);
  };
  return new ReadableStream<Uint8Array>(
    {
      async pull(controller) {
        if (next < held.length) {
          const chunk = held[next++]!;
          bytes += chunk.length;
          controller.enqueue(map(chunk));
          return;
        }
        try {
          const { done, value } = await reader.read();
          if (done) {
            const last = transform?.end?.();
            if (last && last.length > 0) controller.enqueue(last);
            controller.close();
            return finish({ kind: "complete", bytes });
          }
          control.touch();
          bytes += value.length;
          controller.enqueue(map(value));
        } catch (error) {
          if (control.why === "client") return finish({ kind: "client_gone", bytes });
          const reason = control.describe() ?? errorText(error);
          finish({ kind: "cut", reason, bytes });
          controller.error(new Error(reason));
        }
      },
      cancel() {
        control.stop("client");
        finish({ kind: "client_gone", bytes });
      },
    },
    { highWaterMark: 0 },
  );
}
