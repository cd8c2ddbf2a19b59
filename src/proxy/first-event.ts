import { statusOfErrorEvent } from "../protocols/errors.ts";
import type { Protocol } from "../protocols/types.ts";
import { isEncoded } from "../upstream/body.ts";
import { clientHeaders } from "../upstream/headers.ts";
import { FirstEventScanner } from "../upstream/sse.ts";
import { lost, plainReader, type Exchange } from "./attempt.ts";
import { isErrorEvent, isRequestFault } from "./detect.ts";
import { failed, type Outcome } from "./outcome.ts";
import { committedStream, PassthroughShape, type StreamEnd } from "./stream.ts";
import { answerContext, endingAtCompletion, TranslatingShape, translatedError } from "./translate.ts";
import { wantsInjection, withoutUsageChunk } from "./inject-usage.ts";

function parsed(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    // Not JSON: no kind of error to read from it.
    return undefined;
  }
}

/** A stream that sends this much without one complete event is not SSE: fall back rather than hold it all. */
const MAX_BEFORE_FIRST_EVENT = 1024 * 1024;

/** The protocol a streamed answer on this path follows, when the path says so (for its completion marker). */
export function streamProtocol(path: string): Protocol | undefined {
  if (path.endsWith("/chat/completions") || path.endsWith("/completions")) return "openai";
  if (path.endsWith("/messages")) return "anthropic";
  if (path.endsWith("/responses")) return "openai-responses";
  return undefined;
}

/**
 * Reads a stream up to its first complete data event before committing: until then
 * the proxy can still fall back (still within `first_byte_seconds`). Comments (pings)
 * do not count. A first event that is an error is a failure of the route.
 */
export async function firstEvent(ex: Exchange): Promise<Outcome> {
  const { res, control } = ex;
  const reader = plainReader(ex);
  if (!("read" in reader)) return reader;
  const headers = clientHeaders(res.headers, isEncoded(res.headers.get("content-encoding")), ex.ctx.mask);
  const scanner = new FirstEventScanner();
  const held: Uint8Array[] = [];
  let heldBytes = 0;
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) {
        control.release();
        return failed("empty_stream", "stream ended before its first event", res.status, res.headers);
      }
      held.push(value);
      heldBytes += value.length;
      if (heldBytes > MAX_BEFORE_FIRST_EVENT) {
        control.abort();
        return failed("malformed", `no event in the stream's first ${MAX_BEFORE_FIRST_EVENT / 1024 / 1024} MiB`, res.status, res.headers);
      }
      const event = scanner.push(value);
      if (!event) continue;
      if (isErrorEvent(event.event, event.data)) {
        control.abort();
        const text = Buffer.concat(held).toString("utf8");
        // Translated, the client gets the provider's error in its own protocol (the event's data is the error),
        // with the status its kind stands for (a rate limit stays a 429), else 502.
        const answer = ex.translator ? translatedError(ex.translator, statusOfErrorEvent(parsed(event.data)) ?? 502, event.data, headers) : { status: res.status, headers, body: text };
        return failed("error_event", "stream began with an error event", res.status, res.headers, answer, isRequestFault(res.status, event.data));
      }
      break;
    }
  } catch (error) {
    return lost(ex, error, true);
  }
  // Committed: from here on a failure cannot fall back; the stream keeps the attempt's idle and total timers.
  control.readingBody();
  const firstByteMs = performance.now() - ex.started;
  const { promise, resolve } = Promise.withResolvers<StreamEnd>();
  const shape = ex.translator
    ? new TranslatingShape(ex.translator.stream(answerContext(ex.req)), ex.translator.backend)
    : new PassthroughShape(streamProtocol(ex.req.path), wantsInjection(ex.req, ex.route) ? withoutUsageChunk : undefined);
  const source = shape instanceof TranslatingShape ? endingAtCompletion(reader, shape) : reader;
  const body = committedStream({ held, reader: source, control, shape, onEnd: resolve });
  return { kind: "served", status: res.status, headers, body, streaming: true, firstByteMs, finished: promise, usage: () => shape.usage };
}
