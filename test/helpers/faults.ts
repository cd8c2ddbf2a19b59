import type { Socket, TCPSocketListener } from "bun";
import { describePair } from "../../src/config/pair.ts";
import type { TestProxy } from "./proxy.ts";
import { waitFor } from "./fake-provider.ts";
import { within } from "./http.ts";

/**
 * Misbehaving providers on real sockets, for the fault suite: a port nobody
 * listens on, a listener that never accepts, and a raw TCP "provider" that
 * writes exactly the bytes a test tells it to, then resets or hangs.
 */

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** The short timers every fault test runs with. */
export const FAST_TIMEOUTS = "timeouts: { connect_seconds: 0.3, first_byte_seconds: 0.5, idle_seconds: 0.5 }";

/**
 * Two routes of alias `m`: backend `a` (model-a) at priority 1, backend `b`
 * (model-b) at priority 2, with the short timers and a long cooldown unless
 * `extra` says otherwise.
 */
export function twoRoutes(first: string, second: string, extra = "fallback: { cooldown_seconds: 30 }", timeouts = FAST_TIMEOUTS): string {
  return `
backends:
  - { name: a, url: "${first}/v1", api_key: sk-first-backend-key-1111 }
  - { name: b, url: "${second}/v1", api_key: sk-second-backend-key-2222 }
models:
  m:
    routes:
      - { backend: a, model: model-a, priority: 1 }
      - { backend: b, model: model-b, priority: 2 }
${timeouts}
${extra}
`;
}

/** One route of alias `m`: backend `a` (model-a), with the short timers. */
export function oneRoute(url: string, extra = "fallback: { cooldown_seconds: 30 }", timeouts = FAST_TIMEOUTS): string {
  return `
backends:
  - { name: a, url: "${url}/v1", api_key: sk-first-backend-key-1111 }
models:
  m: { routes: [{ backend: a, model: model-a }] }
${timeouts}
${extra}
`;
}

/** The pairs cooling down now, as `backend/model`, sorted. */
export function cooling(proxy: TestProxy): string[] {
  return proxy.proxy.cooldowns
    .active(Date.now())
    .map(([key]) => describePair(key))
    .sort();
}

/** The cooldown entry of `backend/model` (expired or not), or undefined. */
export function cooldownOf(proxy: TestProxy, pair: string) {
  return proxy.proxy.cooldowns.active(0).find(([key]) => describePair(key) === pair)?.[1];
}

/** A URL on 127.0.0.1 where nothing listens: a port that was just bound and released. */
export function refusedUrl(): string {
  const listener = Bun.listen<undefined>({ hostname: "127.0.0.1", port: 0, socket: { data() {} } });
  const port = listener.port;
  listener.stop(true);
  return `http://127.0.0.1:${port}`;
}

/**
 * A listener whose connections never complete: python3 binds 127.0.0.1:0 with a
 * backlog of 0 and never accepts; one connection of ours fills the accept queue,
 * so the kernel drops every later SYN and a connect just hangs.
 */
export class BlackholeListener implements AsyncDisposable {
  private readonly sockets: Socket<undefined>[] = [];
  private constructor(
    private readonly proc: ReturnType<typeof Bun.spawn>,
    readonly port: number,
  ) {}

  static async start(): Promise<BlackholeListener> {
    const script = "import socket,sys\ns=socket.socket()\ns.bind(('127.0.0.1',0))\ns.listen(0)\nprint(s.getsockname()[1],flush=True)\nsys.stdin.read()";
    const python = Bun.which("python3");
    if (!python) throw new Error("python3 is needed to make a listener that never accepts (apt-get install python3)");
    const proc = Bun.spawn([python, "-c", script], { stdin: "pipe", stdout: "pipe", stderr: "inherit" });
    const reader = proc.stdout.getReader();
    let out = "";
    while (!out.includes("\n")) {
      const { done, value } = await reader.read();
      if (done) throw new Error("python3 ended before printing its port");
      out += decoder.decode(value);
    }
    reader.releaseLock();
    const hole = new BlackholeListener(proc, Number(out.trim()));
    // Fill the backlog: the first connection completes into the accept queue; the rest hang, as intended.
    for (let i = 0; i < 2; i++) {
      Bun.connect<undefined>({
        hostname: "127.0.0.1",
        port: hole.port,
        socket: {
          open: (s) => void hole.sockets.push(s),
          data() {},
          connectError() {
            // Fails when the listener goes away at the end of the test; expected.
          },
        },
      }).catch(() => {
        // As above.
      });
    }
    await waitFor(() => hole.sockets.length >= 1, "a connection to fill the listener's backlog", 5000);
    return hole;
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    for (const s of this.sockets) s.terminate();
    this.proc.kill();
    await this.proc.exited;
  }
}

/** One request received by a RawProvider, with the socket to answer it on. */
export class RawExchange {
  /** Resolves when the connection is gone (the proxy aborted, or we closed it). */
  readonly closed: Promise<void>;
  private markClosed!: () => void;
  isClosed = false;
  /** Bytes the kernel did not take yet (Bun's socket.write writes what it can and returns the count). */
  private queue: Uint8Array[] = [];
  private after: "end" | "reset" | undefined;

  constructor(
    private readonly socket: Socket<RawConn>,
    readonly head: string,
    readonly body: string,
  ) {
    this.closed = new Promise((resolve) => (this.markClosed = resolve));
  }

  /** @internal */
  onClose(): void {
    this.isClosed = true;
    this.queue = [];
    this.markClosed();
  }

  /** @internal Writes what is queued, as far as the kernel takes it. */
  flush(): void {
    while (this.queue.length > 0 && !this.isClosed) {
      const next = this.queue[0]!;
      const n = this.socket.write(next);
      if (n < next.length) {
        this.queue[0] = next.subarray(Math.max(n, 0));
        return;
      }
      this.queue.shift();
    }
    if (this.after === "end") this.socket.end();
    else if (this.after === "reset") this.socket.terminate();
  }

  /** Bytes queued and not yet taken by the kernel. */
  get backlog(): number {
    return this.queue.reduce((n, b) => n + b.length, 0);
  }

  write(text: string | Uint8Array): void {
    this.queue.push(typeof text === "string" ? encoder.encode(text) : text);
    if (this.queue.length === 1) this.flush();
  }
  /** A response head; `chunked` unless a content-length is among the headers. */
  writeHead(status: number, headers: Record<string, string>): void {
    const lines = Object.entries(headers).map(([k, v]) => `${k}: ${v}\r\n`);
    if (!Object.keys(headers).some((k) => k.toLowerCase() === "content-length")) lines.push("transfer-encoding: chunked\r\n");
    this.write(`HTTP/1.1 ${status} X\r\n${lines.join("")}connection: close\r\n\r\n`);
  }
  /** One chunk of a chunked body. */
  chunk(text: string | Uint8Array): void {
    const bytes = typeof text === "string" ? encoder.encode(text) : text;
    this.write(`${bytes.length.toString(16)}\r\n`);
    this.write(bytes);
    this.write("\r\n");
  }
  /** The last chunk, then a clean close. */
  endChunked(): void {
    this.write("0\r\n\r\n");
    this.end();
  }
  /** A clean close (FIN) once what was written is out, wherever the body is. */
  end(): void {
    this.after = "end";
    this.flush();
  }
  /** An abrupt close (RST) once what was written is out, wherever the body is. */
  reset(): void {
    this.after = "reset";
    this.flush();
  }
}

interface RawConn {
  buffer: Uint8Array;
  exchange?: RawExchange;
}

/**
 * A "provider" on a raw TCP socket: it reads one request per connection (head and
 * content-length body) and hands it to `onRequest`, which writes what it likes.
 */
export class RawProvider implements AsyncDisposable {
  readonly exchanges: RawExchange[] = [];
  private readonly listener: TCPSocketListener<RawConn>;

  constructor(public onRequest: (exchange: RawExchange, index: number) => void) {
    this.listener = Bun.listen<RawConn>({
      hostname: "127.0.0.1",
      port: 0,
      socket: {
        open: (s) => {
          s.data = { buffer: new Uint8Array(0) };
        },
        data: (s, data) => {
          if (s.data.exchange) return;
          const merged = new Uint8Array(s.data.buffer.length + data.length);
          merged.set(s.data.buffer);
          merged.set(data, s.data.buffer.length);
          s.data.buffer = merged;
          const text = decoder.decode(merged);
          const end = text.indexOf("\r\n\r\n");
          if (end === -1) return;
          const head = text.slice(0, end);
          const length = Number(/\r\ncontent-length:\s*(\d+)/i.exec(head)?.[1] ?? "0");
          const bodyBytes = merged.subarray(encoder.encode(text.slice(0, end + 4)).length);
          if (bodyBytes.length < length) return;
          const exchange = new RawExchange(s, head, decoder.decode(bodyBytes));
          s.data.exchange = exchange;
          this.exchanges.push(exchange);
          this.onRequest(exchange, this.exchanges.length - 1);
        },
        drain: (s) => s.data.exchange?.flush(),
        close: (s) => s.data.exchange?.onClose(),
        error: (s) => s.data.exchange?.onClose(),
      },
    });
  }

  get url(): string {
    return `http://127.0.0.1:${this.listener.port}`;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    this.listener.stop(true);
  }
}

/** A provider that resets every connection as soon as a request has come on it: every request to it is a network error. */
export const resetting = () => new RawProvider((exchange) => exchange.reset());

/** Reads a whole body; a body that breaks off yields what came before and the error. */
export async function readAll(res: Response): Promise<{ text: string; error?: Error }> {
  const reader = res.body!.getReader();
  let text = "";
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) return { text };
      text += decoder.decode(value, { stream: true });
    }
  } catch (error) {
    return { text, error: error as Error };
  }
}

/** What readRest needs of a body reader. */
export type BodyReader = { read(): Promise<{ done: boolean; value?: Uint8Array | undefined }> };

/** Reads a body to its end, within `ms`, appending to `seen.text`; returns everything seen. */
export function readRest(reader: BodyReader, seen: { text: string }, ms = 3000): Promise<string> {
  const all = (async () => {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) return seen.text;
      seen.text += decoder.decode(value, { stream: true });
    }
  })();
  return within(all, "the stream to end", ms);
}

/** The SSE events of a text, without their trailing blank lines. */
export function events(text: string): string[] {
  return text.split(/\n\n/).filter((e) => e.trim() !== "");
}

/** Parses `data: {...}` of one event. */
export function dataOf(event: string): unknown {
  const line = event.split("\n").find((l) => l.startsWith("data:"));
  return line === undefined ? undefined : JSON.parse(line.slice(5).trim());
}
