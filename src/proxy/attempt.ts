import type { Config, Route } from "../config/types.ts";
import { findPattern, isErrorEvent, isErrorStatus, isRequestFault, jsonHasError } from "./detect.ts";
import type { Protocol } from "./errors.ts";
import { FirstEventScanner } from "../upstream/sse.ts";
import { decodeContent, decodingReader } from "../upstream/http-body.ts";
import { readAll, send as sendRequest, type UpstreamExchange } from "../upstream/http-client.ts";
import { originOf } from "../upstream/http-pool.ts";
import { committedStream, type StreamEnd, type StreamReader } from "./stream.ts";
import { clientHeaderList, joinUrl, modelParts, requestMessage, requestTarget, rewriteModel, stringEnd, upstreamHeaders } from "../upstream/request.ts";
import { FetchExchange, proxiedByEnv } from "../upstream/upstream-fetch.ts";

/** What the attempt needs to know about the client's request. */
export interface AttemptRequest {
  readonly id: string;
  readonly clientRequestId: boolean;
  readonly method: string;
  readonly path: string;
  readonly search: string;
  readonly headers: Headers;
  readonly body: Uint8Array;
  readonly text: string;
  readonly modelRanges: readonly [number, number][];
  readonly stream: boolean;
  readonly protocol: Protocol;
  /** Aborted when the client goes away. */
  readonly signal: AbortSignal;
  /** Epoch ms when the request arrived (for `total_seconds`). */
  readonly arrived: number;
}

/** An upstream answer kept to return as the final one if every route fails. */
export interface Answer {
  readonly status: number;
  readonly headers: Headers;
  readonly body: string;
}

export type FailureKind = "malformed" | "status" | "pattern" | "error_body" | "error_event" | "empty_stream" | "redirect" | "network" | "connect_timeout" | "first_byte_timeout" | "total_timeout";

/** What one attempt came to. Expected upstream trouble is a value, never thrown. */
export type Outcome =
  | {
      readonly kind: "served";
      readonly status: number;
      /** Response headers for the client, before the proxy adds its own. */
      readonly headers: [string, string][];
      readonly body: Uint8Array | ReadableStream<Uint8Array>;
      readonly streaming: boolean;
      readonly firstByteMs: number;
    }
  | {
      readonly kind: "failed";
      readonly failure: FailureKind;
      readonly reason: string;
      readonly status?: number;
      readonly headers?: Headers;
      readonly answer?: Answer;
      /** The request's own fault (400, 413, 422, context too long): fall back, but cool nothing. */
      readonly requestFault: boolean;
    }
  | { readonly kind: "gone" };

/** Called once when a committed stream ends, however it ends. */
export type OnStreamEnd = (end: StreamEnd) => void;

const isConnectionReset = (error: unknown) => (error as { code?: string } | undefined)?.code === "ECONNRESET";

/** A stream that sends this much without one complete event is not SSE: fall back rather than hold it all. */
const MAX_BEFORE_FIRST_EVENT = 1024 * 1024;

const seconds = (ms: number) => `${+(ms / 1000).toFixed(3)} s`;

/** Sends the request with the proxy's own client, or with fetch when the environment names a forward proxy. */
function send(req: AttemptRequest, route: Route, fresh: boolean): UpstreamExchange {
  const { backend } = route;
  const origin = originOf(backend.origin);
  if (proxiedByEnv(origin)) {
    const body = rewriteModel(req.body, req.text, req.modelRanges, route.model);
    return new FetchExchange(joinUrl(backend, req.path, req.search), { method: req.method, headers: upstreamHeaders(req.headers, backend, req.stream), body, keepalive: !fresh } as RequestInit);
  }
  const target = requestTarget(backend, req.path, req.search);
  const message = requestMessage(req.method, target, origin.host, req.headers, backend, req.stream, modelParts(req.body, req.text, req.modelRanges, route.model));
  return sendRequest(req.method, origin, message, fresh);
}

/** The whole body as text, decoded; an Error when its content-encoding cannot be undone. */
async function bodyText(ex: UpstreamExchange): Promise<{ bytes: Uint8Array; text: string } | Error> {
  let bytes = await readAll(ex);
  if (ex.encoded) {
    try {
      bytes = decodeContent(bytes, ex.header("content-encoding"));
    } catch (error) {
      return error instanceof Error ? error : new Error(String(error));
    }
  }
  // The socket's chunks are Buffers already: decoding one directly skips a `.buffer` read and a second view.
  return { bytes, text: bytes instanceof Buffer ? bytes.toString("utf8") : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length).toString("utf8") };
}

/**
 * One upstream attempt, up to the moment the answer is committed to the client
 * or judged a failure. Timers: connect, first byte (headers, or a stream's first
 * event), total; after commit the stream keeps its own idle and total timers.
 */
export async function attempt(config: Config, req: AttemptRequest, route: Route, onStreamEnd: OnStreamEnd): Promise<Outcome> {
  const { backend } = route;
  const t = backend.timeouts;
  const started = performance.now();
  let ex: UpstreamExchange | undefined;
  let why: FailureKind | "client" | undefined;
  const stop = (reason: FailureKind | "client") => {
    why ??= reason;
    ex?.abort();
  };
  const onClientGone = () => stop("client");
  req.signal.addEventListener("abort", onClientGone);
  // One timer per attempt, armed for the nearest deadline: connect, first byte, total.
  const startedAt = Date.now();
  let connectAt = t.connectMs < t.firstByteMs ? startedAt + t.connectMs : Infinity;
  const firstByteAt = startedAt + t.firstByteMs;
  const totalAt = t.totalMs > 0 ? req.arrived + t.totalMs : Infinity;
  const tick = () => {
    const now = Date.now();
    if (now >= totalAt) return stop("total_timeout");
    if (now >= firstByteAt) return stop("first_byte_timeout");
    if (now >= connectAt) {
      connectAt = Infinity;
      if (ex && !ex.connected) return stop("connect_timeout");
    }
    timer = setTimeout(tick, Math.max(0, Math.min(connectAt, firstByteAt, totalAt) - now));
  };
  let timer = setTimeout(tick, Math.max(0, Math.min(connectAt, firstByteAt, totalAt) - startedAt));
  const release = () => {
    clearTimeout(timer);
    req.signal.removeEventListener("abort", onClientGone);
  };
  let headersIn = false;
  const lost = (error: unknown): Outcome => {
    release();
    ex?.abort();
    if (why === "client" || req.signal.aborted) return { kind: "gone" };
    if (why === "first_byte_timeout") return failed("first_byte_timeout", `no ${headersIn ? "first event" : "answer"} within ${seconds(t.firstByteMs)}`);
    if (why === "connect_timeout") return failed("connect_timeout", `no connection within ${seconds(t.connectMs)}`);
    if (why === "total_timeout") return failed("total_timeout", `request took longer than ${seconds(t.totalMs)}`);
    return failed("network", `network error: ${(error as Error)?.message ?? String(error)}`);
  };

  try {
    ex = send(req, route, false);
    try {
      await ex.head;
    } catch (error) {
      // A provider that closed an idle pooled connection just as it was reused: the
      // request never reached it. Once, on a fresh connection, before calling it a failure.
      if (!isConnectionReset(error) || why !== undefined) return lost(error);
      ex = send(req, route, true);
      await ex.head;
    }
  } catch (error) {
    return lost(error);
  }
  headersIn = true;

  const status = ex.status;
  try {
    if (status >= 300 && status < 400) {
      await ex.cancel();
      release();
      return failed("redirect", `redirect ${status} (not followed)`, status, ex.headers);
    }
    const type = ex.header("content-type") ?? "";
    const isError = status < 200 || status >= 300;
    if (isError || type.includes("json")) {
      const body = await bodyText(ex);
      release();
      if (body instanceof Error) return failed("malformed", body.message, status, ex.headers);
      const { text } = body;
      // Decoded by now, whichever client fetched it.
      const headers = clientHeaderList(ex.pairs(), true);
      if (isError) {
        const answer = { status, headers: new Headers(headers), body: text };
        if (isErrorStatus(config, status)) return failed("status", `status ${status}`, status, ex.headers, answer, isRequestFault(status, text));
        const pattern = findPattern(config, text);
        if (pattern !== undefined) return failed("pattern", `status ${status} with "${pattern}"`, status, ex.headers, answer, isRequestFault(status, text));
        return { kind: "served", status, headers, body: body.bytes, streaming: false, firstByteMs: performance.now() - started };
      }
      if (!looksComplete(text)) {
        return failed("malformed", `status ${status} with a JSON body that is cut short or malformed`, status, ex.headers);
      }
      if (jsonHasError(text)) {
        return failed("error_body", `status ${status} with an error body`, status, ex.headers, { status: 502, headers: new Headers(headers), body: text }, isRequestFault(status, text));
      }
      return { kind: "served", status, headers, body: body.bytes, streaming: false, firstByteMs: performance.now() - started };
    }
    if (type.includes("text/event-stream")) return await firstEvent(req, route, ex, started, release, onStreamEnd, lost);
    // Anything else (audio, files) is passed through as it comes, still encoded; a client abort still reaches upstream.
    clearTimeout(timer);
    return { kind: "served", status, headers: clientHeaderList(ex.pairs(), !ex.encoded), body: passThrough(ex, req.signal), streaming: false, firstByteMs: performance.now() - started };
  } catch (error) {
    return lost(error);
  }
}

/** A body handed on as it comes; the upstream exchange ends when the client goes away. */
function passThrough(ex: UpstreamExchange, client: AbortSignal): ReadableStream<Uint8Array> {
  const gone = () => ex.abort();
  client.addEventListener("abort", gone);
  return new ReadableStream<Uint8Array>(
    {
      async pull(controller) {
        try {
          const { done, value } = await ex.read();
          if (done) {
            client.removeEventListener("abort", gone);
            controller.close();
          } else controller.enqueue(value);
        } catch (error) {
          client.removeEventListener("abort", gone);
          throw error;
        }
      },
      cancel() {
        client.removeEventListener("abort", gone);
        ex.abort();
      },
    },
    { highWaterMark: 0 },
  );
}

/**
 * Whether a JSON body is complete: its brackets balance and it ends where the
 * top-level value closes. One pass that jumps over strings; a body cut right after
 * an inner `}` fails it, as does an empty one.
 */
export function looksComplete(body: string): boolean {
  let depth = 0;
  let seen = false;
  for (let i = 0; i < body.length; i++) {
    const c = body.charCodeAt(i);
    if (c === 34) {
      const end = stringEnd(body, i);
      if (end >= body.length) return false;
      i = end;
      seen = true;
    } else if (c === 123 || c === 91) {
      depth++;
      seen = true;
    } else if (c === 125 || c === 93) {
      if (--depth < 0) return false;
    } else if (c > 32) seen = true;
  }
  return seen && depth === 0;
}

function failed(failure: FailureKind, reason: string, status?: number, headers?: Headers, answer?: Answer, requestFault = false): Outcome {
  return { kind: "failed", failure, reason, status, headers, answer, requestFault };
}

/**
 * Reads a stream up to its first complete data event before committing: until
 * then the proxy can still fall back. Comments (pings) do not count.
 */
async function firstEvent(
  req: AttemptRequest,
  route: Route,
  ex: UpstreamExchange,
  started: number,
  release: () => void,
  onStreamEnd: OnStreamEnd,
  lost: (error: unknown) => Outcome,
): Promise<Outcome> {
  let reader: StreamReader;
  try {
    reader = ex.encoded ? decodingReader(ex, ex.header("content-encoding")) : ex;
  } catch (error) {
    ex.abort();
    release();
    return failed("malformed", (error as Error).message, ex.status, ex.headers);
  }
  const scanner = new FirstEventScanner();
  const held: Uint8Array[] = [];
  let heldBytes = 0;
  const headers = clientHeaderList(ex.pairs(), true);
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) {
        release();
        return failed("empty_stream", "stream ended before its first event", ex.status, ex.headers);
      }
      held.push(value);
      heldBytes += value.length;
      if (heldBytes > MAX_BEFORE_FIRST_EVENT) {
        ex.abort();
        release();
        return failed("malformed", `no event in the stream's first ${MAX_BEFORE_FIRST_EVENT / 1024 / 1024} MiB`, ex.status, ex.headers);
      }
      const event = scanner.push(value);
      if (!event) continue;
      if (isErrorEvent(event.event, event.data)) {
        ex.abort();
        release();
        const answer = { status: ex.status, headers: new Headers(headers), body: Buffer.concat(held).toString("utf8") };
        return failed("error_event", "stream began with an error event", ex.status, ex.headers, answer, isRequestFault(ex.status, event.data));
      }
      break;
    }
  } catch (error) {
    return lost(error);
  }
  // Committed: from here on a failure cannot fall back; the stream keeps its own timers.
  release();
  const firstByteMs = performance.now() - started;
  const body = committedStream({
    held,
    reader,
    abort: () => ex.abort(),
    clientSignal: req.signal,
    protocol: req.protocol,
    idleMs: route.backend.timeouts.idleMs,
    totalLeftMs: route.backend.timeouts.totalMs > 0 ? req.arrived + route.backend.timeouts.totalMs - Date.now() : Infinity,
    onEnd: onStreamEnd,
  });
  return { kind: "served", status: ex.status, headers, body, streaming: true, firstByteMs };
}
