import type { Backend } from "../config/types.ts";

/**
 * Header hygiene, both ways: what of the client's request goes to a provider, and
 * what of the provider's answer goes back to the client.
 */

/**
 * Headers that describe one connection, not the message: never forwarded either way.
 * https://www.rfc-editor.org/rfc/rfc9110#section-7.6.1
 */
const HOP_BY_HOP = ["connection", "keep-alive", "proxy-connection", "transfer-encoding", "te", "trailer", "upgrade", "proxy-authenticate", "proxy-authorization"];

/** The client's credentials for the proxy: they must never reach a provider. */
const CLIENT_CREDENTIALS = ["authorization", "x-api-key", "api-key", "x-goog-api-key", "cookie"];

/** `expect: 100-continue` was the client's exchange with the proxy; fetch sends the body at once. */
const DROP_REQUEST = new Set([...HOP_BY_HOP, ...CLIENT_CREDENTIALS, "host", "content-length", "expect"]);

/**
 * Response headers never passed back: hop-by-hop ones; the length, since Bun frames the
 * body it sends; and those that describe the provider's origin or account rather than
 * the proxy's (a cookie for the provider's domain, its HSTS and Alt-Svc, which account
 * or project the backend key belongs to).
 */
const DROP_RESPONSE = new Set([
  ...HOP_BY_HOP,
  "content-length",
  "set-cookie",
  "alt-svc",
  "strict-transport-security",
  "openai-organization",
  "openai-project",
  "anthropic-organization-id",
]);

/** Tokens of a `Connection` header name more hop-by-hop headers for this message. */
function connectionTokens(value: string | null): Set<string> | undefined {
  if (!value) return undefined;
  return new Set(value.split(",").map((t) => t.trim().toLowerCase()).filter(Boolean));
}

/** What one backend adds to every request: its credential and `headers`, worked out once per backend. */
interface Injected {
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
  // A key read from a file or variable can end in a line break, which no header can carry.
  for (const [name, value] of pairs) {
    if (/[\r\n\0]|[^\u0000-\u00ff]/.test(value)) throw new Error(`backend ${backend.name}: the value for ${name} contains a line break or a character a header cannot carry; check its api_key and headers`);
  }
  found = { pairs: [...pairs], names: new Set(pairs.keys()) };
  injectedFor.set(backend, found);
  return found;
}

export interface UpstreamHeaderOptions {
  /** A streamed answer is asked for uncompressed: decoding can hold tokens back until a block fills. */
  readonly stream: boolean;
  /** Client headers of these names are left out (another protocol's headers on a translated request). */
  readonly drop?: (name: string) => boolean;
  /** Set when the client did not send them (anthropic-version for an Anthropic backend). */
  readonly defaults?: readonly (readonly [string, string])[];
}

/** The request headers for one backend: the client's, cleaned, with the backend's credential and headers set. */
export function upstreamHeaders(client: Headers, backend: Backend, options: UpstreamHeaderOptions): Headers {
  const own = injected(backend);
  const listed = connectionTokens(client.get("connection"));
  const out = new Headers();
  for (const [name, value] of client) {
    if (DROP_REQUEST.has(name) || own.names.has(name) || listed?.has(name) || options.drop?.(name)) continue;
    if (options.stream && name === "accept-encoding") continue;
    out.append(name, value);
  }
  if (options.stream && !own.names.has("accept-encoding")) out.set("accept-encoding", "identity");
  for (const [name, value] of options.defaults ?? []) if (!out.has(name)) out.set(name, value);
  for (const [name, value] of own.pairs) out.set(name, value);
  return out;
}

/**
 * The provider's answer headers that may reach the client, as lines. `decoded`: the
 * proxy decompressed the body, so its `content-encoding` no longer applies. Every value
 * passes through `mask`: providers echo keys in headers as in bodies.
 */
export function clientHeaders(upstream: Headers, decoded: boolean, mask: (text: string) => string): [string, string][] {
  const listed = connectionTokens(upstream.get("connection"));
  const out: [string, string][] = [];
  for (const [name, value] of upstream) {
    if (DROP_RESPONSE.has(name) || listed?.has(name) || (decoded && name === "content-encoding")) continue;
    out.push([name, mask(value)]);
  }
  return out;
}
