import type { ReadResult } from "../proxy/stream.ts";
import { brotliDecompressSync, gunzipSync, inflateSync, zstdDecompressSync } from "node:zlib";

/**
 * How an HTTP/1.1 answer's body is delimited.
 * https://www.rfc-editor.org/rfc/rfc9112#section-6.3
 */
export type Framing =
  | { readonly kind: "none"; readonly keepAlive: boolean }
  | { readonly kind: "length"; readonly length: number; readonly keepAlive: boolean }
  | { readonly kind: "chunked"; readonly keepAlive: boolean }
  | { readonly kind: "close"; readonly keepAlive: false };

const CR = 13;
const LF = 10;
/** A chunk-size line (with extensions) or trailer line longer than this is not HTTP. */
const MAX_LINE = 8 * 1024;

/**
 * Turns the bytes after an answer's head into its body, chunk by chunk, without
 * copying where it can: a `content-length` body is passed on as the slices that
 * arrived; a chunked one as the data inside each chunk (one copy only when a socket
 * read held several chunks). https://www.rfc-editor.org/rfc/rfc9112#section-7.1
 */
export class BodyDecoder {
  /** The body ended where its framing said. */
  complete = false;
  /** Bytes arrived after the end of the body: the connection is out of step. */
  private extra = false;
  private left: number;
  private state: "size" | "extension" | "data" | "data-end" | "trailer" = "size";
  /** Hex digits of the chunk size read so far. */
  private digits = 0;
  /** Length of the current size or trailer line so far. */
  private lineLength = 0;
  private failed = false;

  constructor(private readonly framing: Framing) {
    this.left = framing.kind === "length" ? framing.length : 0;
    if (framing.kind === "none" || (framing.kind === "length" && framing.length === 0)) this.complete = true;
  }

  /** The body runs until the connection closes. */
  get endsAtClose(): boolean {
    return this.framing.kind === "close";
  }

  /** The connection can carry another request once this body is complete. */
  get reusable(): boolean {
    return this.complete && this.framing.keepAlive && !this.extra;
  }

  /** The body bytes in `bytes`, if any; an Error when the framing is broken. */
  push(bytes: Uint8Array): Uint8Array | Error | undefined {
    if (bytes.length === 0 || this.failed) return undefined;
    if (this.complete) {
      this.extra = true;
      return undefined;
    }
    switch (this.framing.kind) {
      case "close":
        return bytes;
      case "length": {
        if (bytes.length < this.left) {
          this.left -= bytes.length;
          return bytes;
        }
        const body = bytes.length === this.left ? bytes : bytes.subarray(0, this.left);
        if (bytes.length > this.left) this.extra = true;
        this.left = 0;
        this.complete = true;
        return body;
      }
      case "chunked":
        return this.chunked(bytes);
      default:
        this.extra = true;
        return undefined;
    }
  }

  /** Byte by byte through the framing, slicing out chunk data; no strings are made. */
  private chunked(bytes: Uint8Array): Uint8Array | Error | undefined {
    let first: Uint8Array | undefined;
    let more: Uint8Array[] | undefined;
    let i = 0;
    const n = bytes.length;
    while (i < n) {
      if (this.complete) {
        this.extra = true;
        break;
      }
      const state = this.state;
      if (state === "data") {
        const take = Math.min(this.left, n - i);
        const piece = bytes.subarray(i, i + take);
        if (first === undefined) first = piece;
        else (more ??= [first]).push(piece);
        i += take;
        this.left -= take;
        if (this.left === 0) this.state = "data-end";
        continue;
      }
      const c = bytes[i++]!;
      if (state === "data-end") {
        // CRLF (or a bare LF) after the chunk data, and nothing else.
        if (c === LF) this.state = "size";
        else if (c !== CR) return this.fail("the provider's chunked body is malformed (no line break after a chunk)");
        continue;
      }
      if (++this.lineLength > MAX_LINE) return this.fail("the provider's chunked body has an overlong line");
      if (state === "trailer") {
        if (c === LF) {
          // An empty line (only CR before the LF) ends the trailer section, and the body.
          if (this.lineLength <= 2) this.complete = true;
          this.lineLength = 0;
        }
        continue;
      }
      if (c === LF) {
        if (this.digits === 0) return this.fail("the provider's chunked body is malformed (chunk size missing)");
        this.state = this.left === 0 ? "trailer" : "data";
        this.digits = 0;
        this.lineLength = 0;
        continue;
      }
      if (state === "extension") continue;
      if (c === CR) {
        this.state = "extension";
        continue;
      }
      const v = c >= 48 && c <= 57 ? c - 48 : c >= 97 && c <= 102 ? c - 87 : c >= 65 && c <= 70 ? c - 55 : -1;
      if (v >= 0) {
        if (this.left > 0xffffffffff) return this.fail("the provider's chunked body is malformed (chunk size too large)");
        this.left = this.left * 16 + v;
        this.digits++;
      } else if ((c === 59 || c === 32 || c === 9) && this.digits > 0) this.state = "extension";
      else {
        let end = i;
        while (end < n && end - i < 20 && bytes[end] !== CR && bytes[end] !== LF) end++;
        const seen = Buffer.from(bytes.buffer, bytes.byteOffset + i - 1, end - i + 1).toString("latin1");
        return this.fail(`the provider's chunked body is malformed (chunk size ${JSON.stringify(seen)})`);
      }
    }
    if (more) return Buffer.concat(more);
    return first;
  }

  /** A broken framing is reported once; the exchange ends with it. */
  private fail(message: string): Error {
    this.failed = true;
    return new Error(message);
  }
}

/** `content-encoding` tokens the proxy can undo, with the name DecompressionStream knows them by. */
const CODINGS: Record<string, "gzip" | "deflate" | "brotli" | "zstd"> = { gzip: "gzip", "x-gzip": "gzip", deflate: "deflate", br: "brotli", zstd: "zstd" };

function codings(encoding: string | null): string[] {
  if (encoding === null) return [];
  return encoding
    .split(",")
    .map((t) => t.trim().toLowerCase())
    .filter((t) => t !== "" && t !== "identity");
}

function unsupported(coding: string): Error {
  return new Error(`the provider's answer uses content-encoding ${JSON.stringify(coding)}, which the proxy cannot decode`);
}

/**
 * A whole body with its content codings undone, last applied first.
 * https://www.rfc-editor.org/rfc/rfc9110#section-8.4. Throws on an unknown coding or corrupt data.
 */
export function decodeContent(body: Uint8Array, encoding: string | null): Uint8Array {
  let out = body;
  for (const coding of codings(encoding).reverse()) {
    const format = CODINGS[coding];
    if (format === "gzip") out = gunzipSync(out);
    else if (format === "deflate") out = inflateSync(out);
    else if (format === "brotli") out = brotliDecompressSync(out);
    else if (format === "zstd") out = zstdDecompressSync(out);
    else throw unsupported(coding);
  }
  return out;
}

/** A reader of the decoded body when the answer is compressed (a stream despite `accept-encoding: identity`). */
export function decodingReader(source: { read(): Promise<ReadResult>; cancel(): Promise<void> }, encoding: string | null): { read(): Promise<ReadResult>; cancel(): Promise<void> } {
  const list = codings(encoding);
  if (list.length === 0) return source;
  if (list.length > 1 || CODINGS[list[0]!] === undefined) throw unsupported(list.join(", "));
  const raw = new ReadableStream<Uint8Array>({
    async pull(controller) {
      const { done, value } = await source.read();
      if (done) controller.close();
      else controller.enqueue(value);
    },
    cancel: () => source.cancel(),
  });
  return raw.pipeThrough(new DecompressionStream(CODINGS[list[0]!] as "gzip") as unknown as ReadableWritablePair<Uint8Array, Uint8Array>).getReader();
}
