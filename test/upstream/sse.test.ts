import { describe, expect, test } from "bun:test";
import { FirstEventScanner, type SseEvent } from "../../src/upstream/sse.ts";

const encoder = new TextEncoder();

/** Feeds the pieces one by one; returns the index of the piece that completed the first event, and the event. */
function feed(pieces: (string | Uint8Array)[]): { at: number; event: SseEvent } | undefined {
  const scanner = new FirstEventScanner();
  for (const [i, piece] of pieces.entries()) {
    const event = scanner.push(typeof piece === "string" ? encoder.encode(piece) : piece);
    if (event) return { at: i, event };
  }
  return undefined;
}

describe("FirstEventScanner", () => {
  test("finds a data event and names it message", () => {
    expect(feed(['data: {"a":1}\n\n'])).toEqual({ at: 0, event: { event: "message", data: '{"a":1}' } });
  });

  test("keeps the event field, as Anthropic sends it", () => {
    expect(feed(['event: message_start\ndata: {"type":"message_start"}\n\n'])?.event).toEqual({ event: "message_start", data: '{"type":"message_start"}' });
  });

  test("waits for the blank line that ends the event", () => {
    const result = feed(["data: x\n", "data: y\n", "\n"]);
    expect(result).toEqual({ at: 2, event: { event: "message", data: "x\ny" } });
  });

  test("comments and events without data are not the first event", () => {
    const result = feed([": ping\n\n", "event: ping\n\n", ":\n\n", "retry: 1000\n\n", "id: 7\n\n", "data: real\n\n"]);
    expect(result).toEqual({ at: 5, event: { event: "message", data: "real" } });
  });

  test("an event name does not carry over from a data-less event", () => {
    expect(feed(["event: ping\n\n", "data: x\n\n"])?.event.event).toBe("message");
  });

  test("CRLF and lone CR line endings both work", () => {
    expect(feed(["event: error\r\ndata: e\r\n\r\n"])?.event).toEqual({ event: "error", data: "e" });
    expect(feed(["data: cr\r\rdata: next\r\r"])?.event).toEqual({ event: "message", data: "cr" });
  });

  test("a CRLF split between chunks is one line ending, not two", () => {
    const result = feed(["data: a\r", "\ndata: b\r", "\n\r", "\n"]);
    expect(result).toEqual({ at: 3, event: { event: "message", data: "a\nb" } });
  });

  test("a field without a space after the colon, and a value with colons", () => {
    expect(feed(['data:{"t":"a:b"}\n\n'])?.event.data).toBe('{"t":"a:b"}');
    expect(feed(["data:  two spaces\n\n"])?.event.data).toBe(" two spaces");
  });

  test("a multi-byte character split between chunks is decoded whole", () => {
    const bytes = encoder.encode('data: {"t":"😀é"}\n\n');
    const pieces = Array.from(bytes, (b) => new Uint8Array([b]));
    const result = feed(pieces);
    expect(result?.at).toBe(bytes.length - 1);
    expect(result?.event.data).toBe('{"t":"😀é"}');
  });

  test("an unfinished event is not reported", () => {
    expect(feed(["data: partial\n", "data: more"])).toBeUndefined();
    expect(feed([": ping\n\n"])).toBeUndefined();
  });

  test("a byte-order mark at the start of the stream is ignored", () => {
    expect(feed(["\uFEFFdata: x\n\n"])?.event).toEqual({ event: "message", data: "x" });
  });
});
