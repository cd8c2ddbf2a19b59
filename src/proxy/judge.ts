import { joined, readPrefix } from "../upstream/body.ts";
import { clientHeaders } from "../upstream/headers.ts";
import { looksComplete } from "../upstream/json-scan.ts";
import { lost, plainReader, type Exchange } from "./attempt.ts";
import { findPattern, isErrorStatus, isRequestFault, jsonHasError } from "./detect.ts";
import { failed, type Outcome } from "./outcome.ts";
import { passthroughBody, type ChunkTransform, type StreamEnd } from "./stream.ts";

/**
 * A JSON answer, or any non-2xx one: judged on at most `limits.inspect_kib` of its
 * (decoded) body. Read after the head with `idle_seconds` between reads; the
 * first-byte bound was the head's.
 *
 * - non-2xx: a failure when its status is in `error_codes` or it holds an
 *   `error_patterns` entry; otherwise the client's answer, masked.
 * - 2xx that fits the bound: a failure when cut short, malformed or a top-level
 *   `error`; otherwise served.
 * - 2xx larger than the bound: passed on as it comes.
 */
export async function judgeAnswer(ex: Exchange): Promise<Outcome> {
  const { ctx, res, control } = ex;
  const { config } = ctx;
  const status = res.status;
  const firstByteMs = performance.now() - ex.started;
  const reader = plainReader(ex);
  if (!("read" in reader)) return reader;
  control.readingBody();
  let prefix;
  try {
    prefix = await readPrefix(reader, config.inspectBytes, () => control.touch());
  } catch (error) {
    return lost(ex, error, true);
  }
  const headers = clientHeaders(res.headers, true, ctx.mask);
  const bytes = joined(prefix.chunks);
  const text = bytes.toString("utf8");
  const finishedNow = () => Promise.resolve<StreamEnd>({ kind: "complete", bytes: bytes.length });
  const rest = (transform?: ChunkTransform): { body: ReadableStream<Uint8Array>; finished: Promise<StreamEnd> } => {
    const { promise, resolve } = Promise.withResolvers<StreamEnd>();
    return { body: passthroughBody(prefix.chunks, reader, control, resolve, transform), finished: promise };
  };
  const stop = () => {
    if (!prefix.done) control.abort();
    else control.release();
  };

  if (status < 200 || status >= 300) {
    const answer = { status, headers, body: text };
    if (isErrorStatus(config, status)) {
      stop();
      return failed("status", `status ${status}`, status, res.headers, answer, isRequestFault(status, text));
    }
    const pattern = findPattern(config, text);
    if (pattern !== undefined) {
      stop();
      return failed("pattern", `status ${status} with "${pattern}"`, status, res.headers, answer, isRequestFault(status, text));
    }
    if (prefix.done) {
      control.release();
      return { kind: "served", status, headers, body: ctx.mask(text), streaming: false, firstByteMs, finished: finishedNow() };
    }
    return { kind: "served", status, headers, ...rest(maskingChunks(ctx.mask)), streaming: false, firstByteMs };
  }

  if (!prefix.done) return { kind: "served", status, headers, ...rest(), streaming: false, firstByteMs };
  control.release();
  if (!looksComplete(text)) return failed("malformed", `status ${status} with a JSON body that is cut short or malformed`, status, res.headers);
  if (jsonHasError(text)) {
    return failed("error_body", `status ${status} with an error body`, status, res.headers, { status: 502, headers, body: text }, isRequestFault(status, text));
  }
  return { kind: "served", status, headers, body: bytes, streaming: false, firstByteMs, finished: finishedNow() };
}

/** Characters a key never contains: a safe place to cut text between two masked pieces. */
const SAFE_CUT = /[\s"',;:{}[\]()<>]/;
/** The end of each piece is held back this far, so a key split between two reads is masked whole. */
const HOLD = 512;

/**
 * Masks a body passed on piece by piece: each piece's text is masked up to the last
 * safe cut before its final HOLD characters; the rest waits for the next piece.
 */
export function maskingChunks(mask: (text: string) => string): ChunkTransform {
  const decoder = new TextDecoder();
  let carry = "";
  return {
    chunk(chunk) {
      const text = carry + decoder.decode(chunk, { stream: true });
      let cut = text.length - HOLD;
      while (cut > 0 && !SAFE_CUT.test(text[cut - 1]!)) cut--;
      // No safe place in a long run: a key is not that long, so the run is not one.
      if (cut <= 0) cut = text.length > 4 * HOLD ? text.length - HOLD : 0;
      carry = text.slice(cut);
      return Buffer.from(mask(text.slice(0, cut)));
    },
    end() {
      const text = carry + decoder.decode();
      carry = "";
      return Buffer.from(mask(text));
    },
  };
}
