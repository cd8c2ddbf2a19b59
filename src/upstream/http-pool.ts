import type { Socket } from "bun";

/**
 * Connections to providers: opened with `Bun.connect` (TLS checked before use), kept
 * idle per origin between requests, and closed after a few idle seconds. What runs on
 * a connection is the exchange in `http-client.ts`; the socket's events go to it.
 */

/** Where requests go: one per backend URL's scheme, host and port. */
export interface Origin {
  readonly key: string;
  readonly hostname: string;
  readonly port: number;
  readonly tls: boolean;
  /** The `host` header line's value. */
  readonly host: string;
}

const origins = new Map<string, Origin>();

/** The origin of `http(s)://host[:port]`, parsed once. */
export function originOf(origin: string): Origin {
  let o = origins.get(origin);
  if (!o) {
    const url = new URL(origin);
    const tls = url.protocol === "https:";
    o = { key: origin, hostname: url.hostname.replace(/^\[|\]$/g, ""), port: Number(url.port) || (tls ? 443 : 80), tls, host: url.host };
    origins.set(origin, o);
  }
  return o;
}

/** A network-level failure; `code` is `ECONNRESET` when the connection died before any byte of an answer. */
export class UpstreamError extends Error {
  constructor(
    message: string,
    readonly code?: string,
  ) {
    super(message);
    this.name = "UpstreamError";
  }
}

/** Idle connections are closed after this long: under most servers' own keep-alive timeout (Node's is 5 s). */
const IDLE_MS = 4_000;

/** What a connection reports its socket's events to: the exchange using it. */
export interface ConnUser {
  receive(chunk: Buffer): void;
  /** The socket can take more of the request. */
  flush(): void;
  closed(error: Error | undefined): void;
  fail(error: unknown): void;
}

/** A connection to one origin, in use by at most one exchange. */
export interface Conn {
  readonly origin: Origin;
  socket?: Socket<Conn>;
  exchange?: ConnUser;
  /** TLS verified (or plain TCP open): requests may be written. */
  ready: boolean;
  dead: boolean;
  idleSince: number;
}

const idle = new Map<string, Conn[]>();
let sweeper: Timer | undefined;

function sweep(): void {
  const now = Date.now();
  for (const [key, list] of idle) {
    const keep = list.filter((c) => {
      if (now - c.idleSince < IDLE_MS && !c.dead) return true;
      close(c);
      return false;
    });
    if (keep.length === 0) idle.delete(key);
    else idle.set(key, keep);
  }
  if (idle.size === 0 && sweeper) {
    clearInterval(sweeper);
    sweeper = undefined;
  }
}

export function close(c: Conn): void {
  c.dead = true;
  c.socket?.end();
}

/** An idle connection to this origin still fit for reuse, if any. */
export function pooled(origin: Origin): Conn | undefined {
  const list = idle.get(origin.key);
  while (list && list.length > 0) {
    const c = list.pop()!;
    if (!c.dead && Date.now() - c.idleSince < IDLE_MS) return c;
    close(c);
  }
  return undefined;
}

/** Keeps a connection whose exchange ended cleanly, for the next request to the origin. */
export function putBack(c: Conn): void {
  c.exchange = undefined;
  c.idleSince = Date.now();
  let list = idle.get(c.origin.key);
  if (!list) idle.set(c.origin.key, (list = []));
  list.push(c);
  sweeper ??= setInterval(sweep, 1_000);
  sweeper.unref();
}

/** Closes every idle connection (on shutdown, and between tests). */
export function closeIdleConnections(): void {
  for (const list of idle.values()) for (const c of list) close(c);
  idle.clear();
}

const handlers = {
  open(socket: Socket<Conn>) {
    const c = socket.data;
    c.socket = socket;
    // The exchange was aborted (a connect timeout, the client gone) while this connected.
    if (c.dead) return socket.terminate();
    socket.setNoDelay(true);
    if (!c.origin.tls) connected(c);
  },
  handshake(socket: Socket<Conn>, ok: boolean, error: Error | null) {
    const c = socket.data;
    if (c.dead) return socket.terminate();
    // Nothing, the backend's key above all, is written before the certificate checks out.
    if (ok) return connected(c);
    c.dead = true;
    c.exchange?.fail(new UpstreamError(`TLS: ${error?.message ?? "the provider's certificate was refused"}`));
    socket.terminate();
  },
  data(socket: Socket<Conn>, chunk: Buffer) {
    const c = socket.data;
    if (c.exchange) c.exchange.receive(chunk);
    // Bytes nobody asked for: the connection is out of step; never reuse it.
    else close(c);
  },
  drain(socket: Socket<Conn>) {
    socket.data.exchange?.flush();
  },
  end(socket: Socket<Conn>) {
    ended(socket.data, undefined);
  },
  close(socket: Socket<Conn>, error?: Error) {
    ended(socket.data, error);
  },
  error(socket: Socket<Conn>, error: Error) {
    ended(socket.data, error);
  },
  connectError(socket: Socket<Conn>, error: Error) {
    const c = socket.data;
    c.dead = true;
    c.exchange?.fail(new UpstreamError(`cannot connect to ${c.origin.host}: ${describe(error)}`, (error as { code?: string }).code));
  },
};

function connected(c: Conn): void {
  c.ready = true;
  c.exchange?.flush();
}

function ended(c: Conn, error: Error | undefined): void {
  const wasDead = c.dead;
  c.dead = true;
  if (c.exchange) c.exchange.closed(error);
  else if (!wasDead) c.socket?.end();
}

/** An error message with its code, once. */
export function describe(error: unknown): string {
  const e = error as { code?: string; message?: string };
  return e.code && !e.message?.includes(e.code) ? `${e.message} (${e.code})` : (e.message ?? String(error));
}

/** Opens a connection for one exchange; errors reach the exchange through the handlers. */
export function open(origin: Origin, exchange: ConnUser): Conn {
  const c: Conn = { origin, exchange, ready: false, dead: false, idleSince: 0 };
  Bun.connect<Conn>({
    hostname: origin.hostname,
    port: origin.port,
    // serverName always, an IP address too: it is what the certificate is checked against (and without it Bun never finishes the handshake).
    tls: origin.tls ? { serverName: origin.hostname } : undefined,
    data: c,
    socket: handlers,
  }).catch((error: unknown) => {
    // connectError has already failed the exchange; this catches what it could not see.
    c.dead = true;
    c.exchange?.fail(new UpstreamError(`cannot connect to ${origin.host}: ${describe(error)}`));
  });
  return c;
}

