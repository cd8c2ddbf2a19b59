/**
 * Every request to a provider goes through here: Bun's own fetch, with what a proxy
 * needs set on purpose.
 *
 * - `redirect: "manual"`: a 3xx is a failure of the route, so an injected key never
 *   travels to another host.
 * - `timeout: false`: Bun's idle timeout (5 min) is off; the attempt's own timers rule,
 *   through `signal`.
 * - `decompress: false`: the body arrives as the provider encoded it (see body.ts).
 * - One session: its keep-alive pool can be closed at shutdown.
 *
 * Bun's fetch honours HTTP_PROXY / HTTPS_PROXY / NO_PROXY itself, never sends a POST
 * again when a reused connection closes before the answer (it does resend idempotent
 * methods such as PUT once on a fresh connection), and checks TLS certificates against
 * its root store plus NODE_EXTRA_CA_CERTS.
 */

const session = new Bun.FetchSession();

export interface UpstreamRequest {
  readonly url: string;
  readonly method: string;
  readonly headers: Headers;
  readonly body: Uint8Array | undefined;
  readonly signal: AbortSignal;
}

export function upstreamFetch(r: UpstreamRequest): Promise<Response> {
  return fetch(r.url, {
    method: r.method,
    headers: r.headers,
    body: r.body,
    signal: r.signal,
    redirect: "manual",
    timeout: false,
    decompress: false,
    session,
  } as BunFetchRequestInit);
}

/** Closes the idle keep-alive connections (at shutdown: providers see them close now). */
export function closeIdleConnections(): void {
  session.close();
}
