import { BodyDecoder, type Framing } from "./http-body.ts";
import { close, describe, open, pooled, putBack, UpstreamError, type Conn, type ConnUser, type Origin } from "./http-pool.ts";
import type { ReadResult } from "../proxy/stream.ts";

/**
 * The upstream HTTP/1.1 client: plain TCP or TLS through `Bun.connect`, one request
 * per connection at a time, idle connections kept per origin. It replaces `fetch`
 * on the request path because `fetch` hands every request to a separate HTTP thread
 * and back: on one core that doubled the proxy's cost per request (docs/benchmarks.md).
 * It does what a proxy needs and no more: no redirects, no cookies, no caching, and
 * bodies handed over exactly as framed (decompression is the caller's choice).
 */

/** One request and its answer, whichever client sends it. */
export interface UpstreamExchange {
  /** Resolves once the status and headers are in; rejects on a network failure before that. */
  readonly head: Promise<void>;
  readonly status: number;
  /** The answer's headers as a Headers object (made on first use). */
  readonly headers: Headers;
  /** One header's value (several lines joined with ", "), or null. Names are lower case. */
  header(name: string): string | null;
  /** Every header line as [lower-case name, value], in order. */
  pairs(): readonly (readonly [string, string])[];
  /** The connection is up (TLS verified): a connect timeout no longer applies. */
  readonly connected: boolean;
  /** The body comes as the provider encoded it: its `content-encoding` still applies. */
  readonly encoded: boolean;
  /** The next body chunk, as a stream reader gives it. */
  read(): Promise<ReadResult>;
  cancel(): Promise<void>;
  /** Stops the exchange wherever it is; the provider sees the connection close. */
  abort(): void;
}

/** The characters of a header name: an RFC 9110 token. https://www.rfc-editor.org/rfc/rfc9110#section-5.1 */
const TOKEN_CHAR = new Uint8Array(128);
for (const c of "!#$%&'*+-.^_`|~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz") TOKEN_CHAR[c.charCodeAt(0)] = 1;
/** Where a head ends. A Buffer needle: a string one is converted again on every search. */
const HEAD_END = Buffer.from("\r\n\r\n");
/** A head larger than this is not an LLM provider's answer. */
const MAX_HEAD = 64 * 1024;
/** Unread body bytes held before reading from the socket pauses. */
const HIGH_WATER = 1024 * 1024;

/** Whether `line` up to `end` is a token (a header name). */
function isToken(line: string, end: number): boolean {
  for (let i = 0; i < end; i++) {
    const c = line.charCodeAt(i);
    if (c > 127 || TOKEN_CHAR[c] === 0) return false;
  }
  return true;
}

/** Several lines of one header, as one value (RFC 9110 section 5.3). */
const joined = (previous: string | null, value: string) => (previous === null ? value : `${previous}, ${value}`);

/** A read that was asked for before its data came. */
type Waiter = { resolve: (r: ReadResult) => void; reject: (e: unknown) => void };

/**
 * One request and its answer. `head` resolves once the status and headers are in;
 * then the body is read with `read()` (the shape of a stream reader) or `bytes()`.
 * `abort()` closes the connection at any point; an exchange that read its whole
 * answer gives the connection back for reuse.
 */
export class Exchange implements UpstreamExchange, ConnUser {
  status = 0;
  readonly encoded = true;
  private lines: [string, string][] = [];
  private built: Headers | undefined;
  /** The TCP connection (and TLS handshake) is done. */
  connected = false;
  readonly head: Promise<void>;
  private resolveHead!: () => void;
  private rejectHead!: (e: unknown) => void;
  private conn: Conn;
  private out: Uint8Array | undefined;
  private outAt = 0;
  private headBytes: Buffer | undefined;
  private got = 0;
  private decoder: BodyDecoder | undefined;
  private queue: Uint8Array[] = [];
  private queued = 0;
  private done = false;
  private error: unknown;
  private waiter: Waiter | undefined;
  private paused = false;
  private finished = false;
  /** Sent on an idle pooled connection. */
  private readonly reused: boolean;

  constructor(
    private readonly method: string,
    origin: Origin,
    request: Uint8Array,
    fresh: boolean,
  ) {
    this.head = new Promise<void>((resolve, reject) => {
      this.resolveHead = resolve;
      this.rejectHead = reject;
    });
    this.head.catch(() => {
      // Rejections are read by the caller; this only keeps an abandoned one quiet.
    });
    this.out = request;
    const reused = fresh ? undefined : pooled(origin);
    this.reused = reused !== undefined;
    if (reused) {
      reused.exchange = this;
      this.conn = reused;
      this.connected = true;
      this.flush();
    } else this.conn = open(origin, this);
  }

  get headers(): Headers {
    // parseHead kept only lines Headers accepts (token names; no CR, LF or NUL in values).
    this.built ??= new Headers(this.lines);
    return this.built;
  }

  header(name: string): string | null {
    let found: string | null = null;
    for (const [n, v] of this.lines) if (n === name) found = joined(found, v);
    return found;
  }

  pairs(): readonly (readonly [string, string])[] {
    return this.lines;
  }

  /** Writes what is left of the request, as far as the socket takes it. */
  flush(): void {
    const socket = this.conn.socket;
    if (!this.conn.ready || !socket || !this.out) return;
    this.connected = true;
    const written = socket.write(this.out, this.outAt, this.out.length - this.outAt);
    if (written < 0) return;
    this.outAt += written;
    if (this.outAt >= this.out.length) this.out = undefined;
  }

  receive(chunk: Buffer): void {
    if (this.finished) return;
    this.got += chunk.length;
    if (!this.decoder) {
      this.headBytes = this.headBytes ? Buffer.concat([this.headBytes, chunk]) : chunk;
      const end = this.headBytes.indexOf(HEAD_END);
      if (end === -1) {
        if (this.headBytes.length > MAX_HEAD) this.fail(new UpstreamError(`the provider's answer has more than ${MAX_HEAD / 1024} KiB of headers`));
        return;
      }
      const rest = this.headBytes.subarray(end + 4);
      const framing = this.parseHead(this.headBytes.toString("latin1", 0, end));
      this.headBytes = undefined;
      if (framing === undefined) return;
      if (framing === "informational") {
        if (rest.length > 0) this.receive(rest);
        return;
      }
      this.decoder = new BodyDecoder(framing);
      this.resolveHead();
      if (rest.length > 0 || framing.kind === "none" || (framing.kind === "length" && framing.length === 0)) this.body(rest);
      return;
    }
    this.body(chunk);
  }

  /** Status line and headers; undefined when the head is malformed (the exchange has failed). */
  private parseHead(text: string): Framing | "informational" | undefined {
    const lines = text.split("\r\n");
    const m = /^HTTP\/1\.([01]) (\d{3})/.exec(lines[0]!);
    if (!m) {
      this.fail(new UpstreamError(`the provider did not answer in HTTP/1.x (${JSON.stringify(lines[0]!.slice(0, 40))})`));
      return undefined;
    }
    const status = Number(m[2]);
    if (status >= 100 && status < 200) {
      if (status === 101) this.fail(new UpstreamError("the provider switched protocols (101), which a proxied API call never asks for"));
      return status === 101 ? undefined : "informational";
    }
    const pairs: [string, string][] = [];
    // The three that frame the body, gathered on the way (several lines joined as header() joins them).
    let connection: string | null = null;
    let te: string | null = null;
    let cl: string | null = null;
    for (let i = 1; i < lines.length; i++) {
      const line = lines[i]!;
      const colon = line.indexOf(":");
      // A name must be a token: anything else (or a folded continuation line) is dropped.
      if (colon <= 0 || !isToken(line, colon)) continue;
      const value = line.slice(colon + 1).trim();
      // A bare CR or LF (the head is split on CRLF only) or a NUL: no Response could carry it.
      if (/[\r\n\0]/.test(value)) continue;
      const name = line.slice(0, colon).toLowerCase();
      pairs.push([name, value]);
      if (name === "connection") connection = joined(connection, value);
      else if (name === "transfer-encoding") te = joined(te, value);
      else if (name === "content-length") cl = joined(cl, value);
    }
    this.status = status;
    this.lines = pairs;
    const keepAlive = m[1] === "1" && (connection === null || !/(^|,)\s*close\s*(,|$)/i.test(connection));
    if (this.method === "HEAD" || status === 204 || status === 304) return { kind: "none", keepAlive };
    if (te !== null) return /(^|,)\s*chunked\s*$/i.test(te) ? { kind: "chunked", keepAlive } : { kind: "close", keepAlive: false };
    if (cl !== null) {
      if (!/^\d+$/.test(cl)) {
        this.fail(new UpstreamError(`the provider's answer has a bad content-length (${JSON.stringify(cl.slice(0, 40))})`));
        return undefined;
      }
      return { kind: "length", length: Number(cl), keepAlive };
    }
    return { kind: "close", keepAlive: false };
  }

  private body(bytes: Uint8Array): void {
    const decoder = this.decoder!;
    const out = decoder.push(bytes);
    if (out instanceof Error) return this.fail(new UpstreamError(out.message));
    if (out !== undefined) this.deliver(out);
    if (decoder.complete) this.complete();
    else if (this.queued > HIGH_WATER && !this.paused) {
      this.paused = true;
      this.conn.socket?.pause();
    }
  }

  private deliver(chunk: Uint8Array): void {
    if (this.waiter) {
      const w = this.waiter;
      this.waiter = undefined;
      w.resolve({ done: false, value: chunk });
      return;
    }
    this.queue.push(chunk);
    this.queued += chunk.length;
  }

  private complete(): void {
    this.finished = true;
    this.done = true;
    const c = this.conn;
    // Reused only when the answer ended exactly where its framing said and the request went out whole.
    if (this.decoder!.reusable && this.out === undefined && !c.dead) putBack(c);
    else {
      c.exchange = undefined;
      close(c);
    }
    if (this.waiter) {
      const w = this.waiter;
      this.waiter = undefined;
      w.resolve({ done: true, value: undefined });
    }
  }

  /** The connection ended (closed, reset, or the provider's FIN). */
  closed(error: Error | undefined): void {
    if (this.finished) return;
    if (this.decoder?.endsAtClose) {
      this.complete();
      return;
    }
    if (!this.decoder) {
      const what = error ? describe(error) : "closed";
      // Safe to send again only when the provider cannot have read the request: it went out on a
      // reused connection the provider had already closed, or none of it went out at all.
      const unread = this.got === 0 && (this.reused || this.outAt === 0);
      if (this.got === 0) this.fail(new UpstreamError(`the connection was ${error ? `lost (${what})` : "closed"} before the provider answered`, unread ? "ECONNRESET" : undefined));
      else this.fail(new UpstreamError(`the connection was ${error ? `lost (${what})` : "closed"} in the middle of the answer's headers`));
      return;
    }
    this.fail(new UpstreamError(`the connection was ${error ? `lost (${describe(error)})` : "closed"} before the answer was complete`));
  }

  /** Ends the exchange with an error; the connection is not reused. */
  fail(error: unknown): void {
    if (this.finished) return;
    this.finished = true;
    this.error = error;
    this.queue = [];
    this.queued = 0;
    this.conn.exchange = undefined;
    close(this.conn);
    this.rejectHead(error);
    if (this.waiter) {
      const w = this.waiter;
      this.waiter = undefined;
      w.reject(error);
    }
  }

  /** Stops the exchange wherever it is: the provider sees the connection close. */
  abort(): void {
    this.fail(new UpstreamError("aborted"));
  }

  /** The next body chunk, or done; rejects when the connection fails first. */
  read(): Promise<ReadResult> {
    const chunk = this.queue.shift();
    if (chunk !== undefined) {
      this.queued -= chunk.length;
      if (this.paused && this.queued <= HIGH_WATER / 2) {
        this.paused = false;
        this.conn.socket?.resume();
      }
      return Promise.resolve({ done: false, value: chunk });
    }
    if (this.done) return Promise.resolve({ done: true, value: undefined });
    if (this.error !== undefined) return Promise.reject(this.error);
    return new Promise((resolve, reject) => {
      this.waiter = { resolve, reject };
    });
  }

  /** Same shape as a stream reader's `cancel`. */
  cancel(): Promise<void> {
    if (!this.done) this.abort();
    return Promise.resolve();
  }
}

/** The whole (rest of the) body of an exchange. */
export async function readAll(ex: UpstreamExchange): Promise<Uint8Array> {
  const parts: Uint8Array[] = [];
  for (;;) {
    const { done, value } = await ex.read();
    if (done) break;
    parts.push(value);
  }
  return parts.length === 1 ? parts[0]! : Buffer.concat(parts);
}

/**
 * Sends one request: `request` is the whole message, head and body, as bytes.
 * `fresh` skips idle connections (the retry after a reused one was found closed).
 */
export function send(method: string, origin: Origin, request: Uint8Array, fresh = false): Exchange {
  return new Exchange(method, origin, request, fresh);
}
