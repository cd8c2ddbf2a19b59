import { joined, readPrefix } from "../upstream/body.ts";
import { clientHeaders } from "../upstream/headers.ts";
import { looksComplete } from "../upstream/json-scan.ts";
import { lost, noUsage, plainReader, type Exchange } from "./attempt.ts";
import { findPattern, isErrorStatus, isPathFault, isRequestFault, jsonHasError } from "./detect.ts";
import { failed, type Answer, type Outcome } from "./outcome.ts";
import { passthroughBody, type ChunkTransform, type StreamEnd } from "./stream.ts";
import { answerContext, jsonHeaders, translatedError } from "./translate.ts";
import { answerProtocol, usageOfAnswer, usageOfText } from "./usage-tap.ts";

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
  const { ctx, res, control, translator } = ex;
  const { config } = ctx;
  const status = res.status;
  const firstByteMs = performance.now() - ex.started;
  const reader = plainReader(ex);
  if (!("read" in reader)) return reader;
  control.readingBody();
  // A translated 2xx answer is rebuilt, so it is read whole (up to limits.max_response_mb); anything else is judged on its first inspect_kib.
  const ok = status >= 200 && status < 300;
  const limit = translator && ok ? config.maxResponseBytes + 1 : config.inspectBytes;
  let prefix;
  try {
    prefix = await readPrefix(reader, limit, () => control.touch());
  } catch (error) {
    return lost(ex, error, true);
  }
  const headers = clientHeaders(res.headers, true, ctx.mask);
  const bytes = joined(prefix.chunks);
  const text = bytes.toString("utf8");
  const finishedNow = (size: number) => Promise.resolve<StreamEnd>({ kind: "complete", bytes: size });
  const rest = (transform?: ChunkTransform): { body: ReadableStream<Uint8Array>; finished: Promise<StreamEnd> } => {
    const { promise, resolve } = Promise.withResolvers<StreamEnd>();
    return { body: passthroughBody(prefix.chunks, reader, control, resolve, transform), finished: promise };
  };
  const stop = () => {
    if (!prefix.done) control.abort();
    else control.release();
  };
  // An error answer, in the client's protocol when the route was translated.
  const answerOf = (answerStatus: number): Answer => (translator ? translatedError(translator, answerStatus, text, headers) : { status: answerStatus, headers, body: text });

  if (!ok) {
    if (isErrorStatus(config, status)) {
      stop();
      const fault = isPathFault(status, text, ex.route.model) ? "path" : isRequestFault(status, text);
      return failed("status", `status ${status}`, status, res.headers, answerOf(status), fault);
    }
    const pattern = findPattern(config, text);
    if (pattern !== undefined) {
      stop();
      return failed("pattern", `status ${status} with "${pattern}"`, status, res.headers, answerOf(status), isRequestFault(status, text));
    }
    if (translator) {
      // Returned as is, in the client's protocol: the error a translator makes holds what the client needs of it.
      stop();
      const answer = answerOf(status);
      return { kind: "served", status: answer.status, headers: [...answer.headers], body: ctx.mask(answer.body), streaming: false, firstByteMs, finished: finishedNow(answer.body.length), usage: noUsage };
    }
    if (prefix.done) {
      control.release();
      return { kind: "served", status, headers, body: ctx.mask(text), streaming: false, firstByteMs, finished: finishedNow(bytes.length), usage: noUsage };
    }
    return { kind: "served", status, headers, ...rest(maskingChunks(ctx.mask)), streaming: false, firstByteMs, usage: noUsage };
  }

  if (!prefix.done) {
    // Too long to hold before deciding: its usage, at the end, is not read.
    if (!translator) return { kind: "served", status, headers, ...rest(), streaming: false, firstByteMs, usage: noUsage };
    control.abort();
    return failed("too_large", `status ${status} with an answer over limits.max_response_mb (${config.maxResponseBytes / 1024 / 1024} MiB), too large to translate`, status, res.headers);
  }
  control.release();
  if (!looksComplete(text)) return failed("malformed", `status ${status} with a JSON body that is cut short or malformed`, status, res.headers);
  if (jsonHasError(text)) return failed("error_body", `status ${status} with an error body`, status, res.headers, answerOf(502), isRequestFault(status, text));
  if (!translator) {
    const protocol = answerProtocol(ex.req);
    const usage = protocol ? usageOfText(protocol, text) : undefined;
    return { kind: "served", status, headers, body: bytes, streaming: false, firstByteMs, finished: finishedNow(bytes.length), usage: () => usage };
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return failed("malformed", `status ${status} with a body that is not JSON`, status, res.headers);
  }
  if (parsed === null || typeof parsed !== "object" || Array.isArray(parsed)) return failed("malformed", `status ${status} with JSON that is not an object`, status, res.headers);
  const body = JSON.stringify(translator.response(parsed as Record<string, unknown>, answerContext(ex.req)));
  const usage = usageOfAnswer(translator.backend, parsed);
  return { kind: "served", status, headers: jsonHeaders(headers), body, streaming: false, firstByteMs, finished: finishedNow(body.length), usage: () => usage };
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
