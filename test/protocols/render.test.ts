import { describe, expect, test } from "bun:test";
import { renderEvent } from "../../src/protocols/render.ts";

describe("renderEvent", () => {
  test("a named event with JSON data", () => {
    expect(renderEvent({ event: "message_stop", data: { type: "message_stop" } })).toBe('event: message_stop\ndata: {"type":"message_stop"}\n\n');
  });

  test("no event line when the name is empty, as in Chat streams", () => {
    expect(renderEvent({ event: "", data: { a: 1 } })).toBe('data: {"a":1}\n\n');
  });

  test("string data such as [DONE] is written as is", () => {
    expect(renderEvent({ event: "", data: "[DONE]" })).toBe("data: [DONE]\n\n");
  });

  test("a newline in string data becomes a second data line, not the end of the event", () => {
    expect(renderEvent({ event: "x", data: "a\nb" })).toBe("event: x\ndata: a\ndata: b\n\n");
  });

  test("a newline inside JSON strings is escaped by JSON itself", () => {
    expect(renderEvent({ event: "", data: { t: "a\nb" } })).toBe('data: {"t":"a\\nb"}\n\n');
  });
});
