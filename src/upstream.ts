import type { Backend } from "./config/types.ts";

/**
 * Headers that describe one connection, not the message: never forwarded either way.
 * https://www.rfc-editor.org/rfc/rfc9110#section-7.6.1
 */
const HOP_BY_HOP = ["connection", "keep-alive", "proxy-connection", "transfer-encoding", "te", "trailer", "upgrade", "proxy-authenticate", "proxy-authorization"];

/** The client's credentials for the proxy: they must never reach a provider. */
const CLIENT_CREDENTIALS = ["authorization", "x-api-key", "api-key", "x-goog-api-key", "cookie"];

const DROP_REQUEST = new Set([...HOP_BY_HOP, ...CLIENT_CREDENTIALS, "host", "content-length"]);

/**
 * Response headers not passed back: hop-by-hop, and the body framing, since fetch
 * hands us a decompressed body and Bun frames the one we send.
 */
const DROP_RESPONSE = new Set([...HOP_BY_HOP, "content-length", "content-encoding"]);

/** Tokens of a `Connection` header name more hop-by-hop headers for this message. */
function connectionTokens(headers: Headers): Set<string> | undefined {
  const value = headers.get("connection");
  if (!value) return undefined;
  return new Set(value.split(",").map((t) => t.trim().toLowerCase()).filter(Boolean));
}

/** The request headers for one backend: the client's, cleaned, with the backend's credential and headers set. */
export function upstreamHeaders(client: Headers, backend: Backend, stream: boolean): Headers {
  const out = new Headers();
  const listed = connectionTokens(client);
  for (const [name, value] of client) {
    if (DROP_REQUEST.has(name) || listed?.has(name)) continue;
    out.append(name, value);
  }
  // Decoding a compressed stream can hold tokens back until a block fills; ask for it plain.
  if (stream) out.set("accept-encoding", "identity");
  if (backend.apiKey) {
    if (backend.auth === "bearer") out.set("authorization", `Bearer ${backend.apiKey}`);
    else if (backend.auth === "x-api-key") out.set("x-api-key", backend.apiKey);
  }
  for (const [name, value] of backend.headers) out.set(name, value);
  return out;
}

/** Upstream response headers safe to pass to the client. */
export function clientHeaders(upstream: Headers): Headers {
  const out = new Headers();
  const listed = connectionTokens(upstream);
  for (const [name, value] of upstream) {
    if (DROP_RESPONSE.has(name) || listed?.has(name)) continue;
    out.append(name, value);
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
  const base = backend.basePath;
  const search = backend.query === "" ? clientSearch : clientSearch === "" || clientSearch === "?" ? `?${backend.query}` : `${clientSearch}&${backend.query}`;
  if (base === "" || path === base || path.startsWith(`${base}/`)) return backend.origin + path + search;
  return backend.origin + base + path + search;
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

/**
 * Where the top-level `model` value sits in a (valid) JSON object text. Fast path:
 * clients put `"model"` once, usually first; when the text has it exactly once and
 * it is the first key, nothing else is scanned. Anything else gets the full scan.
 */
export function modelValueRanges(text: string): [number, number][] {
  const at = text.indexOf('"model"');
  if (at !== -1 && text.indexOf('"model"', at + 7) === -1) {
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

const encoder = new TextEncoder();

/**
 * The client's body with only the top-level `model` value replaced: every other
 * byte keeps its form (key order, `1.0`, 20-digit integers, whitespace).
 */
export function rewriteModel(body: Uint8Array, text: string, ranges: readonly [number, number][], model: string): Uint8Array {
  if (ranges.length === 0) return body;
  const value = encoder.encode(JSON.stringify(model));
  const parts: Uint8Array[] = [];
  let charPos = 0;
  let bytePos = 0;
  let size = 0;
  for (const [start, end] of ranges) {
    const byteStart = bytePos + Buffer.byteLength(text.slice(charPos, start));
    const byteEnd = byteStart + Buffer.byteLength(text.slice(start, end));
    parts.push(body.subarray(bytePos, byteStart), value);
    size += byteStart - bytePos + value.length;
    charPos = end;
    bytePos = byteEnd;
  }
  parts.push(body.subarray(bytePos));
  size += body.length - bytePos;
  const out = new Uint8Array(size);
  let offset = 0;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.length;
  }
  return out;
}
