import type { Backend } from "../config/types.ts";

/**
 * Headers that describe one connection, not the message: never forwarded either way.
 * https://www.rfc-editor.org/rfc/rfc9110#section-7.6.1
 */
const HOP_BY_HOP = ["connection", "keep-alive", "proxy-connection", "transfer-encoding", "te", "trailer", "upgrade", "proxy-authenticate", "proxy-authorization"];

/** The client's credentials for the proxy: they must never reach a provider. */
const CLIENT_CREDENTIALS = ["authorization", "x-api-key", "api-key", "x-goog-api-key", "cookie"];

/** `expect: 100-continue` was the client's exchange with the proxy; the body goes upstream in the same write. */
const DROP_REQUEST = new Set([...HOP_BY_HOP, ...CLIENT_CREDENTIALS, "host", "content-length", "expect"]);

/** Response headers never passed back: hop-by-hop, and the length, since Bun frames the body we send. */
const DROP_RESPONSE = new Set([...HOP_BY_HOP, "content-length"]);

/** Tokens of a `Connection` header name more hop-by-hop headers for this message. */
function connectionTokens(value: string | null): Set<string> | undefined {
  if (!value) return undefined;
  return new Set(value.split(",").map((t) => t.trim().toLowerCase()).filter(Boolean));
}

/** What one backend adds to every request: its credential and `headers`, as head lines, once per backend. */
interface Injected {
  readonly lines: string;
  readonly pairs: readonly (readonly [string, string])[];
  /** Client headers of these names are replaced. */
  readonly names: ReadonlySet<string>;
}

const injectedFor = new WeakMap<Backend, Injected>();

function injected(backend: Backend): Injected {
  let found = injectedFor.get(backend);
  if (found) return found;
  const pairs = new Map<string, string>();
  if (backend.apiKey) {
    if (backend.auth === "bearer") pairs.set("authorization", `Bearer ${backend.apiKey}`);
    else if (backend.auth === "x-api-key") pairs.set("x-api-key", backend.apiKey);
  }
  for (const [name, value] of backend.headers) pairs.set(name, value);
  // A key read from a file or variable can end in a line break; written raw it would split the head.
  for (const [name, value] of pairs) {
    if (/[\r\n\0]|[^\u0000-\u00ff]/.test(value)) throw new Error(`backend ${backend.name}: the value for ${name} contains a line break or a character a header cannot carry; check its api_key and headers`);
  }
  found = { lines: [...pairs].map(([n, v]) => `${n}: ${v}\r\n`).join(""), pairs: [...pairs], names: new Set(pairs.keys()) };
  injectedFor.set(backend, found);
  return found;
}

/** Calls `emit` for each client header that goes upstream: cleaned, without those the backend replaces. */
function forwarded(client: Headers, backend: Backend, stream: boolean, emit: (name: string, value: string) => void): Injected {
  const own = injected(backend);
  const listed = connectionTokens(client.get("connection"));
  for (const [name, value] of client) {
    if (DROP_REQUEST.has(name) || own.names.has(name) || listed?.has(name)) continue;
    // Decoding a compressed stream can hold tokens back until a block fills; ask for it plain.
    if (stream && name === "accept-encoding") continue;
    emit(name, value);
  }
  if (stream && !own.names.has("accept-encoding")) emit("accept-encoding", "identity");
  return own;
}

/** The request headers for one backend: the client's, cleaned, with the backend's credential and headers set. */
export function upstreamHeaders(client: Headers, backend: Backend, stream: boolean): Headers {
  const out = new Headers();
  const own = forwarded(client, backend, stream, (name, value) => out.append(name, value));
  for (const [name, value] of own.pairs) out.set(name, value);
  return out;
}

const encoder = new TextEncoder();

/**
 * The whole upstream request as bytes, head and body: what `upstreamHeaders` would
 * send, written as HTTP/1.1. https://www.rfc-editor.org/rfc/rfc9112#section-3
 */
export function requestMessage(method: string, target: string, host: string, client: Headers, backend: Backend, stream: boolean, body: readonly Uint8Array[]): Uint8Array {
  let length = 0;
  for (const part of body) length += part.length;
  let head = `${method} ${target} HTTP/1.1\r\nhost: ${host}\r\n`;
  const own = forwarded(client, backend, stream, (name, value) => {
    head += `${name}: ${value}\r\n`;
  });
  head += own.lines;
  if (length > 0 || (method !== "GET" && method !== "HEAD")) head += `content-length: ${length}\r\n`;
  head += "\r\n";
  // One buffer, one write: the head and every body piece copied once.
  const size = head.length;
  const out = Buffer.allocUnsafe(size + length);
  out.write(head, 0, "latin1");
  let at = size;
  for (const part of body) {
    out.set(part, at);
    at += part.length;
  }
  return out;
}

/** A response header line: lower-case name, value. */
export type HeaderPair = readonly [string, string];

/**
 * Upstream response headers safe to pass to the client, as lines. `decoded`: the
 * body was decompressed on the way, so its `content-encoding` no longer applies.
 */
export function clientHeaderList(upstream: readonly HeaderPair[], decoded: boolean): [string, string][] {
  const listed = connectionTokens(upstream.filter(([name]) => name === "connection").map(([, value]) => value).join(",") || null);
  const out: [string, string][] = [];
  for (const [name, value] of upstream) {
    if (DROP_RESPONSE.has(name) || listed?.has(name) || (decoded && name === "content-encoding")) continue;
    out.push([name, value]);
  }
  return out;
}

/**
 * Joins a backend URL and the client's path as the original does: the backend URL
 * includes its base path; a request path that already starts with it is used as
 * is, any other gets it prefixed. `https://h/v1` + `/v1/chat/completions` →
 * `https://h/v1/chat/completions`; `https://h/api` + `/v1/chat/completions` →
 * `https://h/api/v1/chat/completions`. A query in the backend URL (`?key=…`) is added
 * to the client's.
 */
export function joinUrl(backend: Backend, path: string, clientSearch: string): string {
  return backend.origin + requestTarget(backend, path, clientSearch);
}

/** `joinUrl` without the origin: the path and query an HTTP/1.1 request line carries. */
export function requestTarget(backend: Backend, path: string, clientSearch: string): string {
  const base = backend.basePath;
  const search = backend.query === "" ? clientSearch : clientSearch === "" || clientSearch === "?" ? `?${backend.query}` : `${clientSearch}&${backend.query}`;
  if (base === "" || path === base || path.startsWith(`${base}/`)) return path + search;
  return base + path + search;
}

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

/** A Buffer needle: a string one is converted again on every search. */
const MODEL_KEY = Buffer.from('"model"');

/**
 * Whether `"model"` occurs after the one at `at`. In the body's bytes when given:
 * a byte search is several times faster than a string search over a long prompt.
 * `at` is then a safe byte offset too, as only ASCII can precede a first key.
 */
function occursAgain(text: string, bytes: Uint8Array | undefined, at: number): boolean {
  if (bytes === undefined) return text.indexOf('"model"', at + 7) !== -1;
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length).indexOf(MODEL_KEY, at + 7) !== -1;
}

/**
 * Where the top-level `model` value sits in a (valid) JSON object text. Fast path:
 * clients put `"model"` once, usually first; when the text has it exactly once and
 * it is the first key, nothing else is scanned. Anything else gets the full scan.
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
 * The client's body with only the top-level `model` value replaced, as pieces to
 * write one after another: every other byte keeps its form (key order, `1.0`,
 * 20-digit integers, whitespace), and nothing is copied.
 */
export function modelParts(body: Uint8Array, text: string, ranges: readonly [number, number][], model: string): Uint8Array[] {
  if (ranges.length === 0) return [body];
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
  return parts;
}

const modelValues = new Map<string, Uint8Array>();

/** A configured model name as JSON bytes, encoded once (names come from the config, so they are few). */
function modelValue(model: string): Uint8Array {
  let value = modelValues.get(model);
  if (value === undefined) modelValues.set(model, (value = encoder.encode(JSON.stringify(model))));
  return value;
}

/** `modelParts` joined into one body. */
export function rewriteModel(body: Uint8Array, text: string, ranges: readonly [number, number][], model: string): Uint8Array {
  if (ranges.length === 0) return body;
  return Buffer.concat(modelParts(body, text, ranges, model));
}
