import type { Config, Route } from "./config/types.ts";
import { findPattern, isErrorEvent, isErrorStatus, isRequestFault, jsonHasError } from "./detect.ts";
import type { Protocol } from "./errors.ts";
import { FirstEventScanner } from "./sse.ts";
import { committedStream, type StreamEnd } from "./stream.ts";
import { clientHeaders, joinUrl, rewriteModel, stringEnd, upstreamHeaders } from "./upstream.ts";

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
  | { readonly kind: "served"; readonly response: Response; readonly status: number; readonly firstByteMs: number }
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

/** Is anybody accepting connections at this origin right now? Used when no answer came within connect_seconds. */
function canConnect(origin: string, ms: number): Promise<boolean> {
  const url = new URL(origin);
  const port = Number(url.port) || (url.protocol === "https:" ? 443 : 80);
  return new Promise((resolve) => {
    let settled = false;
    const finish = (ok: boolean) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      resolve(ok);
    };
    const timer = setTimeout(() => finish(false), ms);
    Bun.connect({
      hostname: url.hostname.replace(/^\[|\]$/g, ""),
      port,
      socket: {
        open(socket) {
          socket.end();
          finish(true);
        },
        data() {},
        connectError() {
          finish(false);
        },
        error() {
          finish(false);
        },
      },
    }).catch(() => finish(false));
  });
}

const isConnectionReset = (error: unknown) => (error as { code?: string } | undefined)?.code === "ECONNRESET";

/** A stream that sends this much without one complete event is not SSE: fall back rather than hold it all. */
const MAX_BEFORE_FIRST_EVENT = 1024 * 1024;

const seconds = (ms: number) => `${+(ms / 1000).toFixed(3)} s`;

/**
 * One upstream attempt, up to the moment the answer is committed to the client
 * or judged a failure. Timers: connect, first byte (headers, or a stream's first
 * event), total; after commit the stream keeps its own idle and total timers.
 */
export async function attempt(config: Config, req: AttemptRequest, route: Route, onStreamEnd: OnStreamEnd): Promise<Outcome> {
  const { backend } = route;
  const t = backend.timeouts;
  const started = performance.now();
  const upstream = new AbortController();
  let why: FailureKind | "client" | undefined;
  const stop = (reason: FailureKind | "client") => {
    why ??= reason;
    upstream.abort();
  };
  const onClientGone = () => stop("client");
  req.signal.addEventListener("abort", onClientGone, { once: true });
  let headersIn = false;
  // One timer per attempt, armed for the nearest deadline: connect check, first byte, total.
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
      if (!headersIn) {
        void canConnect(backend.origin, Math.min(t.connectMs, 1000)).then((ok) => {
          if (!ok && !headersIn) stop("connect_timeout");
        });
      }
    }
    timer = setTimeout(tick, Math.max(0, Math.min(connectAt, firstByteAt, totalAt) - now));
  };
  let timer = setTimeout(tick, Math.max(0, Math.min(connectAt, firstByteAt, totalAt) - startedAt));
  const release = () => {
    clearTimeout(timer);
    req.signal.removeEventListener("abort", onClientGone);
  };
  const lost = (error: unknown): Outcome => {
    release();
    if (why === "client" || req.signal.aborted) return { kind: "gone" };
    if (why === "first_byte_timeout") return failed("first_byte_timeout", `no ${headersIn ? "first event" : "answer"} within ${seconds(t.firstByteMs)}`);
    if (why === "connect_timeout") return failed("connect_timeout", `no connection within ${seconds(t.connectMs)}`);
    if (why === "total_timeout") return failed("total_timeout", `request took longer than ${seconds(t.totalMs)}`);
    return failed("network", `network error: ${(error as Error)?.message ?? String(error)}`);
  };

  const url = joinUrl(backend, req.path, req.search);
  const init = {
    method: req.method,
    headers: upstreamHeaders(req.headers, backend, req.stream),
    body: rewriteModel(req.body, req.text, req.modelRanges, route.model),
    redirect: "manual",
    signal: upstream.signal,
    // The proxy's own timers decide; Bun's idle timer must never cut a slow stream.
    timeout: false,
  } as RequestInit;
  let res: Response;
  try {
    res = await fetch(url, init);
  } catch (error) {
    // A provider that closed an idle pooled connection just as it was reused: the
    // request never reached it. Once, on a fresh connection, before calling it a failure.
    if (!isConnectionReset(error) || why !== undefined) return lost(error);
    try {
      res = await fetch(url, { ...init, keepalive: false } as RequestInit);
    } catch (again) {
      return lost(again);
    }
  }
  headersIn = true;

  const status = res.status;
  try {
    if (status >= 300 && status < 400) {
      await res.body?.cancel();
      release();
      return failed("redirect", `redirect ${status} (not followed)`, status, res.headers);
    }
    if (status < 200 || status >= 300) {
      const body = await res.text();
      release();
      const answer = { status, headers: clientHeaders(res.headers), body };
      if (isErrorStatus(config, status)) return failed("status", `status ${status}`, status, res.headers, answer, isRequestFault(status, body));
      const pattern = findPattern(config, body);
      if (pattern !== undefined) return failed("pattern", `status ${status} with "${pattern}"`, status, res.headers, answer, isRequestFault(status, body));
      return { kind: "served", status, firstByteMs: performance.now() - started, response: new Response(body, { status, headers: answer.headers }) };
    }
    const type = res.headers.get("content-type") ?? "";
    if (type.includes("text/event-stream")) return await firstEvent(req, route, res, upstream, started, release, onStreamEnd, lost);
    if (type.includes("json")) {
      const body = await res.text();
      release();
      if (!looksComplete(body)) {
        return failed("malformed", `status ${status} with a JSON body that is cut short or malformed`, status, res.headers);
      }
      if (jsonHasError(body)) {
        return failed("error_body", `status ${status} with an error body`, status, res.headers, { status: 502, headers: clientHeaders(res.headers), body }, isRequestFault(status, body));
      }
      return { kind: "served", status, firstByteMs: performance.now() - started, response: new Response(body, { status, headers: clientHeaders(res.headers) }) };
    }
    // Anything else (audio, files) is passed through as it comes; a client abort still reaches upstream.
    clearTimeout(timer);
    return { kind: "served", status, firstByteMs: performance.now() - started, response: new Response(res.body, { status, headers: clientHeaders(res.headers) }) };
  } catch (error) {
    return lost(error);
  }
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
  res: Response,
  upstream: AbortController,
  started: number,
  release: () => void,
  onStreamEnd: OnStreamEnd,
  lost: (error: unknown) => Outcome,
): Promise<Outcome> {
  const reader = res.body!.getReader() as ReadableStreamDefaultReader<Uint8Array>;
  const scanner = new FirstEventScanner();
  const held: Uint8Array[] = [];
  let heldBytes = 0;
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) {
        release();
        return failed("empty_stream", "stream ended before its first event", res.status, res.headers);
      }
      held.push(value);
      heldBytes += value.length;
      if (heldBytes > MAX_BEFORE_FIRST_EVENT) {
        reader.cancel().catch(() => {
          // The stream is abandoned either way.
        });
        release();
        return failed("malformed", `no event in the stream's first ${MAX_BEFORE_FIRST_EVENT / 1024 / 1024} MiB`, res.status, res.headers);
      }
      const event = scanner.push(value);
      if (!event) continue;
      if (isErrorEvent(event.event, event.data)) {
        reader.cancel().catch(() => {
          // The stream is abandoned either way.
        });
        release();
        const answer = { status: res.status, headers: clientHeaders(res.headers), body: Buffer.concat(held).toString("utf8") };
        return failed("error_event", "stream began with an error event", res.status, res.headers, answer, isRequestFault(res.status, event.data));
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
    upstream,
    clientSignal: req.signal,
    protocol: req.protocol,
    idleMs: route.backend.timeouts.idleMs,
    totalLeftMs: route.backend.timeouts.totalMs > 0 ? req.arrived + route.backend.timeouts.totalMs - Date.now() : Infinity,
    onEnd: onStreamEnd,
  });
  return { kind: "served", status: res.status, firstByteMs, response: new Response(body, { status: res.status, headers: clientHeaders(res.headers) }) };
}
