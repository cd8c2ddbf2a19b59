/**
 * Reading a provider's answer body: undoing its content-encoding when the proxy must
 * look inside, and reading a bounded prefix of it.
 *
 * Upstream requests are made with `decompress: false`: Bun's fetch would otherwise
 * inflate a whole compressed body on its HTTP thread, however large it grows, and stall
 * every other request meanwhile (a 1 MB gzip of a gigabyte of zeros). Here a body is
 * decoded chunk by chunk (64 KiB at most at a time) only as far as it is read, so
 * reading stops at the proxy's bound and the rest is never inflated.
 */

/** Content codings the proxy can undo, as DecompressionStream names them. https://www.rfc-editor.org/rfc/rfc9110#section-8.4.1 */
type Format = "gzip" | "deflate" | "brotli" | "zstd";
const FORMATS: Record<string, Format | null> = {
  identity: null,
  gzip: "gzip",
  "x-gzip": "gzip",
  deflate: "deflate",
  br: "brotli",
  zstd: "zstd",
};

export class UnknownEncodingError extends Error {
  override name = "UnknownEncodingError";
}

/**
 * The body as plain bytes: `body` itself when `encoding` is absent or identity, else
 * piped through a decoder per coding, last applied first undone.
 */
export function decodedStream(body: ReadableStream<Uint8Array>, encoding: string | null): ReadableStream<Uint8Array> {
  if (!encoding) return body;
  const codings = encoding.split(",").map((c) => c.trim().toLowerCase()).filter(Boolean).reverse();
  let out = body;
  for (const coding of codings) {
    const format = FORMATS[coding];
    if (format === undefined) throw new UnknownEncodingError(`the provider's answer uses a content-encoding the proxy cannot read (${JSON.stringify(coding.slice(0, 40))})`);
    if (format === null) continue;
    out = out.pipeThrough(new DecompressionStream(format as "gzip") as unknown as ReadableWritablePair<Uint8Array, Uint8Array>);
  }
  return out;
}

/** True when decodedStream would change the bytes (the client must then not see the coding). */
export function isEncoded(encoding: string | null): boolean {
  return encoding !== null && encoding.split(",").some((c) => { const t = c.trim().toLowerCase(); return t !== "" && t !== "identity"; });
}

export interface Prefix {
  readonly chunks: Uint8Array[];
  readonly bytes: number;
  /** The body ended within the prefix: `chunks` is all of it. */
  readonly done: boolean;
}

/**
 * Reads until at least `limit` bytes have come or the body ends. `onChunk` runs after
 * each read (the idle timer's refresh).
 */
export async function readPrefix(reader: ReadableStreamDefaultReader<Uint8Array>, limit: number, onChunk?: () => void): Promise<Prefix> {
  const chunks: Uint8Array[] = [];
  let bytes = 0;
  while (bytes < limit) {
    const { done, value } = await reader.read();
    onChunk?.();
    if (done) return { chunks, bytes, done: true };
    if (value.length === 0) continue;
    chunks.push(value);
    bytes += value.length;
  }
  return { chunks, bytes, done: false };
}

/** The prefix's bytes as one buffer (no copy for a single chunk). */
export function joined(chunks: readonly Uint8Array[]): Buffer {
  if (chunks.length === 1) {
    const only = chunks[0]!;
    return Buffer.from(only.buffer, only.byteOffset, only.length);
  }
  return Buffer.concat(chunks);
}
