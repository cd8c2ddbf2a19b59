import { joined, readPrefix, type Prefix } from "../upstream/body.ts";
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
  const firstByteMs = performance.now() - ex.started;
  const reader = plainReader(ex);
  if (!("read" in reader)) return reader;
  control.readingBody();
  // A translated 2xx answer is rebuilt, so it is read whole (up to limits.max_response_mb); anything else is judged on its first inspect_kib.
  const ok = res.status >= 200 && res.status < 300;
  const limit = translator && ok ? ctx.config.maxResponseBytes + 1 : ctx.config.inspectBytes;
  let prefix: Prefix;
  try {
    prefix = await readPrefix(reader, limit, () => control.touch());
  } catch (error) {
    return lost(ex, error, true);
  }
  const bytes = joined(prefix.chunks);
  const read: Read = { reader, prefix, bytes, text: bytes.toString("utf8"), headers: clientHeaders(res.headers, true, ctx.mask), firstByteMs };
  return ok ? judgeSuccess(ex, read) : judgeError(ex, read);
}

/** What was read of an answer to judge it. */
interface Read {
  readonly reader: ReadableStreamDefaultReader<Uint8Array>;
  readonly prefix: Prefix;
  readonly bytes: Buffer;
  readonly text: string;
  readonly headers: [string, string][];
  readonly firstByteMs: number;
}

const finishedNow = (size: number) => Promise.resolve<StreamEnd>({ kind: "complete", bytes: size });

/** The rest of the body after what was read, handed on as it comes. */
function rest(ex: Exchange, r: Read, transform?: ChunkTransform): { body: ReadableStream<Uint8Array>; finished: Promise<StreamEnd> } {
  const { promise, resolve } = Promise.withResolvers<StreamEnd>();
  return { body: passthroughBody(r.prefix.chunks, r.reader, ex.control, resolve, transform), finished: promise };
}

/** Done with the answer: the rest of a body not read whole is not wanted. */
function stop(ex: Exchange, r: Read): void {
  if (!r.prefix.done) ex.control.abort();
  else ex.control.release();
}

/** An error answer, in the client's protocol when the route was translated. */
const answerOf = (ex: Exchange, r: Read, status: number): Answer => (ex.translator ? translatedError(ex.translator, status, r.text, r.headers) : { status, headers: r.headers, body: r.text });

function judgeError(ex: Exchange, r: Read): Outcome {
  const { ctx, res, translator } = ex;
  const { status } = res;
  if (isErrorStatus(ctx.config, status)) {
    stop(ex, r);
    const fault = isPathFault(status, r.text, ex.route.model) ? "path" : isRequestFault(status, r.text);
    return failed("status", `status ${status}`, status, res.headers, answerOf(ex, r, status), fault);
  }
  const pattern = findPattern(ctx.config, r.text);
  if (pattern !== undefined) {
    stop(ex, r);
    return failed("pattern", `status ${status} with "${pattern}"`, status, res.headers, answerOf(ex, r, status), isRequestFault(status, r.text));
  }
  const base = { kind: "served" as const, streaming: false, firstByteMs: r.firstByteMs, usage: noUsage };
  if (translator) {
    // Returned as is, in the client's protocol: the error a translator makes holds what the client needs of it.
    stop(ex, r);
    const answer = answerOf(ex, r, status);
    return { ...base, status: answer.status, headers: [...answer.headers], body: ctx.mask(answer.body), finished: finishedNow(answer.body.length) };
  }
  if (r.prefix.done) {
    ex.control.release();
    return { ...base, status, headers: r.headers, body: ctx.mask(r.text), finished: finishedNow(r.bytes.length) };
  }
  return { ...base, status, headers: r.headers, ...rest(ex, r, maskingChunks(ctx.mask)) };
}

function judgeSuccess(ex: Exchange, r: Read): Outcome {
  const { ctx, res, translator } = ex;
  const { status } = res;
  if (!r.prefix.done) {
    // Too long to hold before deciding: its usage, at the end, is not read.
    if (!translator) return { kind: "served", status, headers: r.headers, ...rest(ex, r), streaming: false, firstByteMs: r.firstByteMs, usage: noUsage };
    ex.control.abort();
    return failed("too_large", `status ${status} with an answer over limits.max_response_mb (${ctx.config.maxResponseBytes / 1024 / 1024} MiB), too large to translate`, status, res.headers);
  }
  ex.control.release();
  if (!looksComplete(r.text)) return failed("malformed", `status ${status} with a JSON body that is cut short or malformed`, status, res.headers);
  if (jsonHasError(r.text)) return failed("error_body", `status ${status} with an error body`, status, res.headers, answerOf(ex, r, 502), isRequestFault(status, r.text));
  if (!translator) {
    const protocol = answerProtocol(ex.req);
    const usage = protocol ? usageOfText(protocol, r.text) : undefined;
    return { kind: "served", status, headers: r.headers, body: r.bytes, streaming: false, firstByteMs: r.firstByteMs, finished: finishedNow(r.bytes.length), usage: () => usage };
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(r.text);
  } catch {
    return failed("malformed", `status ${status} with a body that is not JSON`, status, res.headers);
  }
  if (parsed === null || typeof parsed !== "object" || Array.isArray(parsed)) return failed("malformed", `status ${status} with JSON that is not an object`, status, res.headers);
  const body = JSON.stringify(translator.response(parsed as Record<string, unknown>, answerContext(ex.req)));
  const usage = usageOfAnswer(translator.backend, parsed);
  return { kind: "served", status, headers: jsonHeaders(r.headers), body, streaming: false, firstByteMs: r.firstByteMs, finished: finishedNow(body.length), usage: () => usage };
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
