import { describe, expect, test } from "bun:test";
import { anthropicToolId, madeUpToolId } from "../../src/protocols/tool-ids.ts";

const PATTERN = /^[a-zA-Z0-9_-]+$/;

describe("anthropicToolId", () => {
  test("ids Anthropic accepts stay unchanged", () => {
    for (const id of ["toolu_01A09q90qw90lq917835lq9", "call_abc123", "a-b_C9"]) expect(anthropicToolId(id)).toBe(id);
  });

  const rejected = ["functions.get_weather:0", "call|abc", "tool call 1", "id/with/slashes", "ünïcode", ""];
  for (const id of rejected) {
    test(`rewrites ${JSON.stringify(id)} into Anthropic's pattern, the same way every time`, () => {
      const out = anthropicToolId(id);
      expect(out).toMatch(PATTERN);
      expect(anthropicToolId(id)).toBe(out);
      // A rewritten id is valid, so rewriting it again changes nothing (history seen twice).
      expect(anthropicToolId(out)).toBe(out);
    });
  }

  test("ids that differ only in their invalid characters stay distinct", () => {
    expect(anthropicToolId("a.b")).not.toBe(anthropicToolId("a:b"));
  });

  test("made-up ids are valid and numbered", () => {
    expect(madeUpToolId("req1", 2)).toBe("toolu_req1_2");
    expect(madeUpToolId("req.1", 0)).toMatch(PATTERN);
  });
});
