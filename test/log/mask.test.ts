import { describe, expect, test } from "bun:test";
import { createMask, maskKey, noMask } from "../../src/log/mask.ts";

const ANTHROPIC = "sk-ant-api03-Zq8x7LmNoPqRsTuVwXyZ0123456789abcdefGhIjKlMnOpQr-ZyXw";
const GOOGLE = "AIzaSyA1b2C3d4E5f6G7h8I9j0KlMnOpQrStUv";
const SHORT = "k3y-12-chars"; // 12 characters: masked whole
const BASE64 = "wJalrXUtnFEMI/K7MDENG+bPxRfiCY=="; // needs URL-encoding
const ESCAPED = 'pa\\ss"word-0123456789'; // needs JSON-escaping

const mask = createMask([ANTHROPIC, GOOGLE, SHORT, BASE64, ESCAPED]);

describe("maskKey", () => {
  test("shows the first five and last four characters: sk-ab****cdef", () => {
    expect(maskKey("sk-ab1234567890cdef")).toBe("sk-ab****cdef");
    expect(maskKey(ANTHROPIC)).toBe("sk-an****ZyXw");
  });

  test("masks a key shorter than 16 characters whole", () => {
    expect(maskKey(SHORT)).toBe("****");
    expect(maskKey("123456789012345")).toBe("****");
    expect(maskKey("1234567890123456")).toBe("12345****3456");
  });
});

describe("createMask with configured keys", () => {
  test("masks an Anthropic key and a Google key as sk-an****ZyXw and AIzaS****StUv", () => {
    expect(mask(`x-api-key: ${ANTHROPIC}`)).toBe("x-api-key: sk-an****ZyXw");
    expect(mask(`GET /v1beta/models?key=${GOOGLE}&alt=sse`)).toBe("GET /v1beta/models?key=AIzaS****StUv&alt=sse");
  });

  test("masks a 12-character key whole, wherever it appears", () => {
    expect(mask(`key=${SHORT}; again:${SHORT}.`)).toBe("key=****; again:****.");
  });

  test("masks every occurrence on a line", () => {
    expect(mask(`${GOOGLE} ${GOOGLE} ${GOOGLE}`)).toBe("AIzaS****StUv AIzaS****StUv AIzaS****StUv");
  });

  test("masks the URL-encoded form of a key", () => {
    const encoded = encodeURIComponent(BASE64);
    expect(encoded).not.toBe(BASE64);
    const out = mask(`POST https://h/v1?api_key=${encoded}&x=1`);
    expect(out).toBe(`POST https://h/v1?api_key=${maskKey(BASE64)}&x=1`);
    expect(out).not.toContain(encoded);
    expect(mask(`raw ${BASE64} end`)).toBe(`raw ${maskKey(BASE64)} end`);
  });

  test("masks the JSON-escaped form of a key", () => {
    const escaped = JSON.stringify(ESCAPED).slice(1, -1);
    expect(escaped).not.toBe(ESCAPED);
    const out = mask(`{"error":{"message":"Incorrect API key provided: ${escaped}"}}`);
    expect(out).not.toContain(escaped);
    expect(out).not.toContain("word-0123");
    expect(out).toContain("6789");
  });

  test("masks each configured key in full even when one key is the start of another", () => {
    const short = "sk-shared-prefix-00000000";
    const long = `${short}-and-more-9999`;
    const m = createMask([short, long]);
    expect(m(`a=${long} b=${short}`)).toBe(`a=${maskKey(long)} b=${maskKey(short)}`);
  });

  test("takes a key with regular-expression characters literally", () => {
    const odd = "a.b*c+d?e(f)[g]{h}|i^j$k";
    const m = createMask([odd]);
    expect(m(`key ${odd} end`)).toBe(`key ${maskKey(odd)} end`);
    expect(m("key aXbbbcdde(f)[g]{h}|i^j$k end")).toBe("key aXbbbcdde(f)[g]{h}|i^j$k end");
  });

  test("never leaves a configured key whole in the output, in any of its forms", () => {
    for (const key of [ANTHROPIC, GOOGLE, SHORT, BASE64, ESCAPED]) {
      for (const form of [key, encodeURIComponent(key), JSON.stringify(key).slice(1, -1)]) {
        expect(mask(`before ${form} after`)).not.toContain(form);
      }
    }
  });

  test("ignores empty secrets instead of masking everything", () => {
    expect(createMask(["", "sk-real-key-000000000000"])("plain text")).toBe("plain text");
  });
});

describe("createMask for keys it was not told about", () => {
  const unknown = createMask([]);

  test("masks an unknown sk- key by its shape", () => {
    expect(unknown("provider said: sk-proj-abcdefghijklmnop1234 is invalid")).toBe("provider said: sk-pr****1234 is invalid");
  });

  test("masks an unknown Google key by its shape", () => {
    expect(unknown("AIzaSyZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZ9876 leaked")).toBe("AIzaS****9876 leaked");
  });

  test("masks the token after Bearer, keeping the word Bearer", () => {
    expect(unknown("Authorization: Bearer abcdefghijklmnopqrstuvwxyz")).toBe("Authorization: Bearer abcde****wxyz");
    expect(unknown("authorization: Bearer tok_1234")).toBe("authorization: Bearer ****");
  });

  test("masks a key in a key= or access_token= query parameter", () => {
    expect(unknown("GET /x?access_token=ya29.A0ARrdaM-abcdefghijklmnop&y=1")).toBe("GET /x?access_token=ya29.****mnop&y=1");
  });

  test("leaves ordinary words alone: task-runner, risk-assessment, sk-short", () => {
    for (const text of ["task-runner-process", "the risk-assessment-document", "model sk-1234", "Bearer of bad news"]) {
      expect(unknown(text)).toBe(text);
    }
  });
});

describe("noMask", () => {
  test("returns the text unchanged, keys included", () => {
    expect(noMask(`Bearer ${ANTHROPIC}`)).toBe(`Bearer ${ANTHROPIC}`);
  });
});
