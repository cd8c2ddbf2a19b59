import { describe, expect, test } from "bun:test";
import { modelValueRanges, rewriteModel } from "../../src/upstream/json-scan.ts";

describe("modelValueRanges", () => {
  test("finds a second top-level model after non-ASCII text, with the bytes given", () => {
    const text = '{"model":"a","x":"ünïcödé ✓","model":"b"}';
    const bytes = new TextEncoder().encode(text);
    expect(modelValueRanges(text, bytes).map(([s, e]) => text.slice(s, e))).toEqual(['"a"', '"b"']);
  });

  // With and without the body's bytes (the byte search for a second "model"): the same ranges.
  const values = (text: string) => {
    const ranges = modelValueRanges(text);
    expect(modelValueRanges(text, new TextEncoder().encode(text))).toEqual(ranges);
    return ranges.map(([s, e]) => text.slice(s, e));
  };

  test("finds the top-level model value only", () => {
    expect(values('{"a":{"model":"inner"},"messages":[{"model":"x"}],"model":"top"}')).toEqual(['"top"']);
  });

  test("is not fooled by model inside strings, keys of other values, or escapes", () => {
    expect(values('{"a":"model","b":"\\"model\\":\\"no\\"","model" : "m\\"q"}')).toEqual(['"m\\"q"']);
    expect(values('{"mod\\u0065l":"escaped-key"}')).toEqual(['"escaped-key"']);
    expect(values('{"model":"first","x":1,"mod\\u0065l":"second"}')).toEqual(['"first"', '"second"']);
    expect(values('{"x":["model","y"],"model":"m"}')).toEqual(['"m"']);
  });

  test("a model that is not a string has no range", () => {
    expect(values('{"model":42}')).toEqual([]);
    expect(values('{"model":null,"x":"y"}')).toEqual([]);
  });

  test("whitespace and newlines anywhere", () => {
    expect(values('\n{\n  "n" : 1.0 ,\r\n  "model"\t:\n  "m"\n}\n')).toEqual(['"m"']);
  });
});

describe("rewriteModel", () => {
  const encoder = new TextEncoder();
  const rewrite = (text: string, model: string) => new TextDecoder().decode(rewriteModel(encoder.encode(text), text, modelValueRanges(text), model));

  test("replaces only the model value, byte for byte elsewhere", () => {
    const text = '{"big":12345678901234567890,"f":1.0,"u":"héllo 😀 日本","model":"m","z":[1.0e3]}';
    expect(rewrite(text, "real")).toBe('{"big":12345678901234567890,"f":1.0,"u":"héllo 😀 日本","model":"real","z":[1.0e3]}');
  });

  test("writes a model name that needs escaping as a JSON string", () => {
    const out = rewrite('{"model":"m"}', 'a"b\\c/é');
    expect(JSON.parse(out)).toEqual({ model: 'a"b\\c/é' });
  });

  test("a body without a model comes back unchanged", () => {
    const body = encoder.encode('{"x":1}');
    expect(rewriteModel(body, '{"x":1}', [], "real")).toBe(body);
  });

  test("byte offsets stay right for a model after multi-byte characters", () => {
    const text = '{"a":"ü","😀😀":"😀","model":"m","tail":"ß"}';
    expect(rewrite(text, "longer-model-name")).toBe('{"a":"ü","😀😀":"😀","model":"longer-model-name","tail":"ß"}');
  });
});

