/**
 * Scans of JSON text that do not build objects: where the top-level `model` value is,
 * replacing it without touching any other byte, and whether a body is complete.
 */

const encoder = new TextEncoder();

/** Where a JSON string token starting at `start` (a `"`) ends: the index of its closing quote. */
export function stringEnd(text: string, start: number): number {
  let i = start + 1;
  for (;;) {
    const quote = text.indexOf('"', i);
    if (quote === -1) return text.length;
    let backslashes = 0;
    for (let j = quote - 1; text.charCodeAt(j) === 92; j--) backslashes++;
    if (backslashes % 2 === 0) return quote;
    i = quote + 1;
  }
}

/**
 * Character ranges of every top-level `"model"` string value in a JSON object text.
 * Strings are skipped with indexOf, so a long prompt costs little.
 */
function scanModelValues(text: string): [number, number][] {
  const ranges: [number, number][] = [];
  let depth = 0;
  let expectKey = false;
  let key: string | undefined;
  let inValue = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 34) {
      const start = i;
      i = stringEnd(text, i);
      if (depth !== 1) continue;
      if (expectKey) {
        const raw = text.slice(start + 1, i);
        key = raw.includes("\\") ? (JSON.parse(text.slice(start, i + 1)) as string) : raw;
        expectKey = false;
      } else if (inValue) {
        if (key === "model") ranges.push([start, i + 1]);
        inValue = false;
      }
    } else if (c === 123 || c === 91) {
      depth++;
      if (depth === 1) expectKey = c === 123;
      else if (depth === 2) inValue = false;
    } else if (c === 125 || c === 93) depth--;
    else if (depth === 1) {
      if (c === 58) inValue = true;
      else if (c === 44) {
        expectKey = true;
        inValue = false;
      }
    }
  }
  return ranges;
}

/** Buffer needles: a string one is converted again on every search. */
const MODEL_KEY = Buffer.from('"model"');
const UNICODE_ESCAPE = Buffer.from("\\u");

/**
 * Whether `"model"` occurs after the one at `at`. In the body's bytes when given:
 * a byte search is several times faster than a string search over a long prompt.
 * `at` is then a safe byte offset too, as only ASCII can precede a first key.
 */
function occursAgain(text: string, bytes: Uint8Array | undefined, at: number): boolean {
  // A key may also be spelt with escapes (`"mod\u0065l"`): then only the full scan, which decodes keys, can tell.
  if (bytes === undefined) return text.indexOf('"model"', at + 7) !== -1 || text.includes("\\u");
  const buffer = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length);
  return buffer.indexOf(MODEL_KEY, at + 7) !== -1 || buffer.indexOf(UNICODE_ESCAPE) !== -1;
}

/**
 * Where the top-level `model` values sit in a (valid) JSON object text: one range per
 * `model` key, however its name is spelt. Fast path: clients put `"model"` once,
 * usually first; when the text has it exactly once, no escapes, and it is the first
 * key, nothing else is scanned. Anything else gets the full scan.
 */
export function modelValueRanges(text: string, bytes?: Uint8Array): [number, number][] {
  const at = text.indexOf('"model"');
  if (at !== -1 && !occursAgain(text, bytes, at)) {
    let i = 0;
    while (i < at && text.charCodeAt(i) <= 32) i++;
    if (text.charCodeAt(i) === 123) {
      i++;
      while (i < at && text.charCodeAt(i) <= 32) i++;
      if (i === at) {
        let j = at + 7;
        while (text.charCodeAt(j) <= 32) j++;
        if (text.charCodeAt(j) === 58) {
          j++;
          while (text.charCodeAt(j) <= 32) j++;
          if (text.charCodeAt(j) === 34) return [[j, stringEnd(text, j) + 1]];
          return [];
        }
      }
    }
  }
  return scanModelValues(text);
}

/**
 * The client's body with only the top-level `model` value replaced: every other byte
 * keeps its form (key order, `1.0`, 20-digit integers, whitespace).
 */
export function rewriteModel(body: Uint8Array, text: string, ranges: readonly [number, number][], model: string): Uint8Array {
  if (ranges.length === 0) return body;
  const value = modelValue(model);
  const parts: Uint8Array[] = [];
  let charPos = 0;
  let bytePos = 0;
  for (const [start, end] of ranges) {
    const byteStart = bytePos + Buffer.byteLength(text.slice(charPos, start));
    const byteEnd = byteStart + Buffer.byteLength(text.slice(start, end));
    parts.push(body.subarray(bytePos, byteStart), value);
    charPos = end;
    bytePos = byteEnd;
  }
  parts.push(body.subarray(bytePos));
  return Buffer.concat(parts);
}

const modelValues = new Map<string, Uint8Array>();

/** A configured model name as JSON bytes, encoded once (names come from the config, so they are few). */
function modelValue(model: string): Uint8Array {
  let value = modelValues.get(model);
  if (value === undefined) modelValues.set(model, (value = encoder.encode(JSON.stringify(model))));
  return value;
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
