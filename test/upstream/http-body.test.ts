import { describe, expect, test } from "bun:test";
import { brotliCompressSync, deflateSync, gzipSync, zstdCompressSync } from "node:zlib";
import { BodyDecoder, decodeContent, decodingReader, type Framing } from "../../src/upstream/http-body.ts";
import type { ReadResult } from "../../src/proxy/stream.ts";
import { exempt } from "../../src/upstream/upstream-fetch.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder();

function bytes(...parts: (string | Uint8Array | number[])[]): Uint8Array {
  const arrays = parts.map((p) => (typeof p === "string" ? encoder.encode(p) : p instanceof Uint8Array ? p : Uint8Array.from(p)));
  const out = new Uint8Array(arrays.reduce((n, a) => n + a.length, 0));
  let at = 0;
  for (const a of arrays) {
    out.set(a, at);
    at += a.length;
  }
  return out;
}

function hex(data: Uint8Array): string {
  return Buffer.from(data.buffer, data.byteOffset, data.byteLength).toString("hex");
}

type Fed = { body: Uint8Array; errors: Error[]; completeAfter: boolean[]; decoder: BodyDecoder };

/** Pushes each piece, collects the body bytes, any Errors, and `complete` after every push. */
function feed(framing: Framing, pieces: Uint8Array[]): Fed {
  const body = new BodyDecoder(framing);
  const out: Uint8Array[] = [];
  const errors: Error[] = [];
  const completeAfter: boolean[] = [];
  for (const piece of pieces) {
    const got = body.push(piece);
    if (got instanceof Error) errors.push(got);
    else if (got !== undefined) {
      expect(got).toBeInstanceOf(Uint8Array);
      out.push(got);
    }
    completeAfter.push(body.complete);
  }
  return { body: bytes(...out), errors, completeAfter, decoder: body };
}

function split(data: Uint8Array, at: number): Uint8Array[] {
  return [data.subarray(0, at), data.subarray(at)];
}

function oneByOne(data: Uint8Array): Uint8Array[] {
  return Array.from({ length: data.length }, (_, i) => data.subarray(i, i + 1));
}

// Data bytes include CR, LF, "0\r\n\r\n" and every byte value, so nothing in a chunk may be read as framing.
const binary = Uint8Array.from({ length: 256 }, (_, i) => i);
const payload = bytes("hello", ", world", "\r\n0\r\n\r\n", binary, "!");
const chunkedBody = bytes(
  "5;ext=1\r\nhello\r\n",
  "7\r\n, world\r\n",
  "7; name=\"quoted\"\r\n\r\n0\r\n\r\n\r\n",
  "100\r\n",
  binary,
  "\r\n",
  "1\r\n!\r\n",
  "0\r\nX-Trailer: yes\r\nX-Other: 2\r\n\r\n",
);
const chunked: Framing = { kind: "chunked", keepAlive: true };

describe("BodyDecoder with chunked framing", () => {
  test("decodes a chunked body fed whole", () => {
    const fed = feed(chunked, [chunkedBody]);
    expect(fed.errors).toEqual([]);
    expect(hex(fed.body)).toBe(hex(payload));
    expect(fed.completeAfter).toEqual([true]);
    expect(fed.decoder.reusable).toBe(true);
    expect(fed.decoder.endsAtClose).toBe(false);
  });

  test("decodes a chunked body fed one byte at a time and completes only on the last byte", () => {
    const fed = feed(chunked, oneByOne(chunkedBody));
    expect(fed.errors).toEqual([]);
    expect(hex(fed.body)).toBe(hex(payload));
    expect(fed.completeAfter.indexOf(true)).toBe(chunkedBody.length - 1);
    expect(fed.completeAfter.at(-1)).toBe(true);
    expect(fed.decoder.reusable).toBe(true);
  });

  test("decodes a chunked body split at every possible byte", () => {
    for (let at = 0; at <= chunkedBody.length; at++) {
      const fed = feed(chunked, split(chunkedBody, at));
      expect({ at, errors: fed.errors }).toEqual({ at, errors: [] });
      expect({ at, body: hex(fed.body) }).toEqual({ at, body: hex(payload) });
      expect({ at, completeAfter: fed.completeAfter }).toEqual({ at, completeAfter: [at === chunkedBody.length, true] });
      expect({ at, reusable: fed.decoder.reusable }).toEqual({ at, reusable: true });
    }
  });

  test("is not complete until the CRLF that ends the trailer section", () => {
    const body = new BodyDecoder(chunked);
    expect(body.complete).toBe(false);
    expect(body.push(encoder.encode("3\r\nabc\r\n0\r\n"))).toEqual(encoder.encode("abc"));
    expect(body.complete).toBe(false);
    body.push(encoder.encode("X-T: 1\r\n"));
    expect(body.complete).toBe(false);
    body.push(encoder.encode("\r"));
    expect(body.complete).toBe(false);
    expect(body.reusable).toBe(false);
    expect(body.push(encoder.encode("\n"))).toBeUndefined();
    expect(body.complete).toBe(true);
    expect(body.reusable).toBe(true);
  });

  test("accepts a body with no trailers and bare LF line ends", () => {
    const fed = feed(chunked, [encoder.encode("4\nwiki\n0\n\n")]);
    expect(fed.errors).toEqual([]);
    expect(decoder.decode(fed.body)).toBe("wiki");
    expect(fed.decoder.reusable).toBe(true);
  });

  test("bytes after the end in the same push make the connection not reusable", () => {
    const fed = feed(chunked, [bytes(chunkedBody, "HTTP/1.1 200 OK\r\n")]);
    expect(fed.errors).toEqual([]);
    expect(hex(fed.body)).toBe(hex(payload));
    expect(fed.decoder.complete).toBe(true);
    expect(fed.decoder.reusable).toBe(false);
  });

  test("bytes after the end in a later push make the connection not reusable", () => {
    const fed = feed(chunked, [chunkedBody, encoder.encode("x")]);
    expect(hex(fed.body)).toBe(hex(payload));
    expect(fed.decoder.complete).toBe(true);
    expect(fed.decoder.reusable).toBe(false);
  });

  test("an empty push returns nothing and changes nothing", () => {
    const body = new BodyDecoder(chunked);
    expect(body.push(new Uint8Array(0))).toBeUndefined();
    body.push(encoder.encode("0\r\n\r\n"));
    expect(body.push(new Uint8Array(0))).toBeUndefined();
    expect(body.reusable).toBe(true);
  });

  test("a complete chunked body without keep-alive is not reusable", () => {
    const fed = feed({ kind: "chunked", keepAlive: false }, [chunkedBody]);
    expect(fed.decoder.complete).toBe(true);
    expect(fed.decoder.reusable).toBe(false);
  });

  test("a bad chunk size returns an Error naming the chunk size", () => {
    const body = new BodyDecoder(chunked);
    const got = body.push(encoder.encode("zz\r\nhello\r\n"));
    expect(got).toBeInstanceOf(Error);
    expect((got as Error).message).toContain("chunk size");
    expect((got as Error).message).toContain("zz");
    expect(body.complete).toBe(false);
    expect(body.reusable).toBe(false);
  });

  test("a bad chunk size after a good chunk returns an Error", () => {
    const fed = feed(chunked, oneByOne(encoder.encode("2\r\nok\r\n-1\r\n")));
    expect(fed.errors).toHaveLength(1);
    expect(fed.errors[0]!.message).toContain("chunk size");
  });

  test("an empty chunk size line returns an Error", () => {
    const got = new BodyDecoder(chunked).push(encoder.encode("\r\n"));
    expect(got).toBeInstanceOf(Error);
    expect((got as Error).message).toContain("chunk size");
  });

  test("missing CRLF after chunk data returns an Error", () => {
    const got = new BodyDecoder(chunked).push(encoder.encode("5\r\nhelloXY\r\n0\r\n\r\n"));
    expect(got).toBeInstanceOf(Error);
    expect((got as Error).message).toContain("no line break after a chunk");
  });

  test("missing CRLF after chunk data returns an Error when fed one byte at a time", () => {
    const fed = feed(chunked, oneByOne(encoder.encode("5\r\nhelloX\r\n")));
    expect(fed.errors).toHaveLength(1);
    expect(fed.errors[0]).toBeInstanceOf(Error);
    expect(decoder.decode(fed.body)).toBe("hello");
  });

  test("a chunk size line longer than 8 KiB returns an Error", () => {
    const line = `5;${"a".repeat(9000)}\r\nhello\r\n0\r\n\r\n`;
    const got = new BodyDecoder(chunked).push(encoder.encode(line));
    expect(got).toBeInstanceOf(Error);
    expect((got as Error).message).toContain("overlong");
  });

  test("a chunk size line longer than 8 KiB returns an Error when it arrives in pieces without a line end", () => {
    const body = new BodyDecoder(chunked);
    const piece = encoder.encode("0".repeat(1000));
    let error: Error | undefined;
    let pushes = 0;
    while (!error && pushes < 20) {
      const got = body.push(piece);
      pushes++;
      if (got instanceof Error) error = got;
      else expect(got).toBeUndefined();
    }
    expect(error).toBeInstanceOf(Error);
    expect(pushes).toBe(9);
  });
});

describe("BodyDecoder with content-length framing", () => {
  const data = encoder.encode("0123456789");

  test("returns exactly the body bytes and completes after the last one", () => {
    const body = new BodyDecoder({ kind: "length", length: 10, keepAlive: true });
    expect(body.complete).toBe(false);
    const a = data.subarray(0, 4);
    expect(body.push(a)).toBe(a);
    expect(body.complete).toBe(false);
    expect(body.reusable).toBe(false);
    const b = data.subarray(4);
    expect(body.push(b)).toBe(b);
    expect(body.complete).toBe(true);
    expect(body.reusable).toBe(true);
    expect(body.endsAtClose).toBe(false);
  });

  test("completes after N bytes fed one at a time", () => {
    const fed = feed({ kind: "length", length: 10, keepAlive: true }, oneByOne(data));
    expect(decoder.decode(fed.body)).toBe("0123456789");
    expect(fed.completeAfter.indexOf(true)).toBe(9);
    expect(fed.decoder.reusable).toBe(true);
  });

  test("does not return bytes beyond the length in the same push, and is then not reusable", () => {
    const body = new BodyDecoder({ kind: "length", length: 10, keepAlive: true });
    const got = body.push(encoder.encode("0123456789EXTRA"));
    expect(got).toBeInstanceOf(Uint8Array);
    expect(decoder.decode(got as Uint8Array)).toBe("0123456789");
    expect(body.complete).toBe(true);
    expect(body.reusable).toBe(false);
  });

  test("does not return bytes pushed after completion, and is then not reusable", () => {
    const body = new BodyDecoder({ kind: "length", length: 10, keepAlive: true });
    body.push(data);
    expect(body.reusable).toBe(true);
    expect(body.push(encoder.encode("X"))).toBeUndefined();
    expect(body.complete).toBe(true);
    expect(body.reusable).toBe(false);
  });

  test("length 0 is complete at once", () => {
    const body = new BodyDecoder({ kind: "length", length: 0, keepAlive: true });
    expect(body.complete).toBe(true);
    expect(body.reusable).toBe(true);
    expect(body.push(encoder.encode("X"))).toBeUndefined();
    expect(body.reusable).toBe(false);
  });

  test("without keep-alive a complete body is not reusable", () => {
    const body = new BodyDecoder({ kind: "length", length: 3, keepAlive: false });
    body.push(encoder.encode("abc"));
    expect(body.complete).toBe(true);
    expect(body.reusable).toBe(false);
  });
});

describe("BodyDecoder with close framing", () => {
  test("returns every push as is and never completes by itself", () => {
    const body = new BodyDecoder({ kind: "close", keepAlive: false });
    expect(body.endsAtClose).toBe(true);
    for (const text of ["data: 1\n\n", "0\r\n\r\n", "x".repeat(100_000)]) {
      const piece = encoder.encode(text);
      expect(body.push(piece)).toBe(piece);
      expect(body.complete).toBe(false);
      expect(body.reusable).toBe(false);
    }
    expect(body.push(new Uint8Array(0))).toBeUndefined();
  });
});

describe("BodyDecoder with no body", () => {
  test("is complete from the start", () => {
    const body = new BodyDecoder({ kind: "none", keepAlive: true });
    expect(body.complete).toBe(true);
    expect(body.reusable).toBe(true);
    expect(body.endsAtClose).toBe(false);
  });

  test("bytes after a bodiless answer make the connection not reusable", () => {
    const body = new BodyDecoder({ kind: "none", keepAlive: true });
    expect(body.push(encoder.encode("junk"))).toBeUndefined();
    expect(body.reusable).toBe(false);
  });

  test("without keep-alive it is complete but not reusable", () => {
    const body = new BodyDecoder({ kind: "none", keepAlive: false });
    expect(body.complete).toBe(true);
    expect(body.reusable).toBe(false);
  });
});

describe("decodeContent", () => {
  const text = `data: ${JSON.stringify({ choices: [{ delta: { content: "héllo wörld ".repeat(50) } }] })}\n\n`;
  const plain = encoder.encode(text);

  test("undoes gzip", () => {
    expect(decoder.decode(decodeContent(Bun.gzipSync(plain), "gzip"))).toBe(text);
  });

  test("undoes x-gzip and is case-insensitive", () => {
    expect(decoder.decode(decodeContent(gzipSync(plain), "x-gzip"))).toBe(text);
    expect(decoder.decode(decodeContent(gzipSync(plain), "GZIP"))).toBe(text);
  });

  test("undoes zlib-wrapped deflate", () => {
    expect(decoder.decode(decodeContent(deflateSync(plain), "deflate"))).toBe(text);
  });

  test("undoes br", () => {
    expect(decoder.decode(decodeContent(brotliCompressSync(plain), "br"))).toBe(text);
  });

  test("undoes zstd", () => {
    expect(decoder.decode(decodeContent(zstdCompressSync(plain), "zstd"))).toBe(text);
  });

  test("returns the input itself for null and identity", () => {
    expect(decodeContent(plain, null)).toBe(plain);
    expect(decodeContent(plain, "identity")).toBe(plain);
    expect(decodeContent(plain, "")).toBe(plain);
  });

  test("undoes gzip then br in reverse order of application", () => {
    const both = brotliCompressSync(gzipSync(plain));
    expect(decoder.decode(decodeContent(both, "gzip, br"))).toBe(text);
    expect(decoder.decode(decodeContent(both, "gzip,identity , br"))).toBe(text);
    expect(() => decodeContent(both, "br, gzip")).toThrow();
  });

  test("an unknown coding throws an Error that names it", () => {
    let caught: unknown;
    try {
      decodeContent(plain, "compress");
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(Error);
    expect((caught as Error).message).toContain('"compress"');
  });

  test("an unknown coding after a known one throws naming the unknown one", () => {
    expect(() => decodeContent(gzipSync(plain), "gzip, compress")).toThrow(/"compress"/);
  });

  test("corrupt gzip throws", () => {
    expect(() => decodeContent(encoder.encode("this is not gzip at all"), "gzip")).toThrow();
    const zipped = gzipSync(plain);
    expect(() => decodeContent(zipped.subarray(0, zipped.length - 12), "gzip")).toThrow();
  });
});

describe("decodingReader", () => {
  const text = Array.from({ length: 40 }, (_, i) => `event: delta\ndata: {"index":${i},"text":"piece ${i}"}\n\n`).join("") + "data: [DONE]\n\n";

  /** A source that yields `data` in `count` pieces, then ends; records cancels. */
  function source(data: Uint8Array, count: number) {
    const size = Math.ceil(data.length / count);
    const pieces = Array.from({ length: count }, (_, i) => data.subarray(i * size, (i + 1) * size));
    const log = { reads: 0, cancels: 0 };
    return {
      log,
      pieces,
      async read(): Promise<ReadResult> {
        log.reads++;
        const value = pieces.shift();
        return value === undefined ? { done: true, value: undefined } : { done: false, value };
      },
      async cancel(): Promise<void> {
        log.cancels++;
      },
    };
  }

  async function readAll(reader: { read(): Promise<ReadResult> }): Promise<string> {
    const out: Uint8Array[] = [];
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      out.push(value);
    }
    return decoder.decode(bytes(...out));
  }

  test("decodes gzip-compressed SSE text arriving in 3 pieces", async () => {
    const src = source(gzipSync(encoder.encode(text)), 3);
    expect(src.pieces).toHaveLength(3);
    expect(src.pieces.every((p) => p.length > 0)).toBe(true);
    const reader = decodingReader(src, "gzip");
    expect(reader).not.toBe(src);
    expect(await readAll(reader)).toBe(text);
    expect(src.log.reads).toBe(4);
  });

  test("decodes br-compressed text", async () => {
    const src = source(brotliCompressSync(encoder.encode(text)), 3);
    expect(await readAll(decodingReader(src, "br"))).toBe(text);
  });

  test("cancelling the decoding reader cancels the source", async () => {
    const src = source(gzipSync(encoder.encode(text.repeat(20))), 3);
    let cancelled!: () => void;
    const done = new Promise<void>((resolve) => (cancelled = resolve));
    const inner = src.cancel;
    src.cancel = async () => {
      await inner();
      cancelled();
    };
    const reader = decodingReader(src, "gzip");
    const first = await reader.read();
    expect(first.done).toBe(false);
    await reader.cancel();
    // The pipe passes the cancel on asynchronously; wait for it, not for the clock.
    await done;
    expect(src.log.cancels).toBe(1);
  });

  test("returns the source itself when there is no encoding", () => {
    const src = source(encoder.encode(text), 3);
    expect(decodingReader(src, null)).toBe(src);
    expect(decodingReader(src, "identity")).toBe(src);
  });

  test("throws on an unknown or stacked coding", () => {
    const src = source(encoder.encode(text), 3);
    expect(() => decodingReader(src, "compress")).toThrow(/"compress"/);
    expect(() => decodingReader(src, "gzip, br")).toThrow(/gzip, br/);
  });
});

describe("exempt (NO_PROXY)", () => {
  test("* exempts every host", () => {
    expect(exempt("*", "api.openai.com", 443)).toBe(true);
    expect(exempt("*", "127.0.0.1", 80)).toBe(true);
  });

  test("localhost exempts localhost and its subdomains but not a name ending in it", () => {
    expect(exempt("localhost", "localhost", 8080)).toBe(true);
    expect(exempt("localhost", "a.localhost", 8080)).toBe(true);
    expect(exempt("localhost", "LOCALHOST", 8080)).toBe(true);
    expect(exempt("localhost", "notlocalhost", 8080)).toBe(false);
  });

  test(".example.com exempts its subdomains but not another domain", () => {
    expect(exempt(".example.com", "api.example.com", 443)).toBe(true);
    expect(exempt(".example.com", "a.b.example.com", 443)).toBe(true);
    expect(exempt(".example.com", "example.org", 443)).toBe(false);
    expect(exempt(".example.com", "badexample.com", 443)).toBe(false);
  });

  test("*.example.com is read as .example.com", () => {
    expect(exempt("*.example.com", "api.example.com", 443)).toBe(true);
    expect(exempt("*.example.com", "example.org", 443)).toBe(false);
  });

  test("a host with a port exempts only that port", () => {
    expect(exempt("example.com:8443", "example.com", 8443)).toBe(true);
    expect(exempt("example.com:8443", "example.com", 443)).toBe(false);
    expect(exempt("example.com:8443", "example.org", 8443)).toBe(false);
  });

  test("an empty NO_PROXY exempts nothing", () => {
    expect(exempt("", "localhost", 80)).toBe(false);
    expect(exempt("  ,  ", "localhost", 80)).toBe(false);
  });

  test("entries are separated by commas and spaces", () => {
    const list = "foo.test, localhost  .example.com,bar.test:9000";
    expect(exempt(list, "foo.test", 1)).toBe(true);
    expect(exempt(list, "localhost", 1)).toBe(true);
    expect(exempt(list, "api.example.com", 1)).toBe(true);
    expect(exempt(list, "bar.test", 9000)).toBe(true);
    expect(exempt(list, "bar.test", 9001)).toBe(false);
    expect(exempt(list, "other.test", 1)).toBe(false);
  });

  test("IPv6 literals in brackets match the bare address", () => {
    expect(exempt("[::1]", "::1", 80)).toBe(true);
    expect(exempt("::1", "::1", 80)).toBe(true);
  });
});
