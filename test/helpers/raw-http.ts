import type { Socket } from "bun";

/**
 * A minimal HTTP/1.1 client on a raw TCP socket (Bun.connect), for what `fetch`
 * cannot do in a test: send a head that lies about its body, send a body slowly
 * or never finish it, and hold hundreds of streams open at once (Bun's `fetch`
 * runs at most 256 requests at a time per process, and the in-process proxy's
 * own upstream requests share that budget). Loopback only.
 */

export interface RawResponse {
  readonly status: number;
  readonly headers: Headers;
}

export interface RawResult extends RawResponse {
  /** The body, de-chunked when it was chunked. */
  readonly body: string;
  /** `complete`: the body's framing said it was over; `closed`: the connection ended first. */
  readonly end: "complete" | "closed";
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  if (a.length === 0) return b;
  const out = new Uint8Array(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  return out;
}

function indexOfCrlf(bytes: Uint8Array, from: number): number {
  for (let i = from; i + 1 < bytes.length; i++) if (bytes[i] === 13 && bytes[i + 1] === 10) return i;
  return -1;
}

/** One request on its own connection. The response is parsed as it arrives. */
export class RawClient {
  private socket: Socket<undefined> | undefined;
  private buffer: Uint8Array = new Uint8Array(0);
  private head: RawResponse | undefined;
  private framing: { kind: "length"; left: number } | { kind: "chunked" } | { kind: "close" } = { kind: "close" };
  private chunkLeft = -1;
  private body: Uint8Array[] = [];
  private finished = false;
  private pendingWrites: Uint8Array[] = [];
  private drained: (() => void)[] = [];
  private resolveHead!: (r: RawResponse) => void;
  private resolveDone!: (r: RawResult) => void;
  private rejectAll!: (e: Error) => void;
  /** Resolves when the status line and headers have arrived. */
  readonly response: Promise<RawResponse>;
  /** Resolves when the body is over (by its framing) or the connection closed. */
  readonly done: Promise<RawResult>;
  /** Resolves when the connection is closed, by either side. */
  readonly closed: Promise<void>;
  private markClosed!: () => void;
  /** Keep the connection open after a complete response (to see whether the server closes it). */
  private keepOpen = false;
  /** Body text received so far. */
  get text(): string {
    return decoder.decode(this.body.reduce(concat, new Uint8Array(0)));
  }

  private constructor() {
    let rejectHead!: (e: Error) => void;
    let rejectDone!: (e: Error) => void;
    this.response = new Promise((resolve, reject) => {
      this.resolveHead = resolve;
      rejectHead = reject;
    });
    this.done = new Promise((resolve, reject) => {
      this.resolveDone = resolve;
      rejectDone = reject;
    });
    this.closed = new Promise((resolve) => (this.markClosed = resolve));
    this.rejectAll = (e) => {
      rejectHead(e);
      rejectDone(e);
    };
    // Callers may only await one of them.
    this.response.catch(() => {});
    this.done.catch(() => {});
  }

  static async connect(port: number, options: { keepOpen?: boolean } = {}): Promise<RawClient> {
    const client = new RawClient();
    client.keepOpen = options.keepOpen ?? false;
    client.socket = await Bun.connect<undefined>({
      hostname: "127.0.0.1",
      port,
      socket: {
        data: (_s, data) => client.onData(data),
        drain: () => client.flush(),
        close: () => client.onClose(),
        error: (_s, error) => client.rejectAll(error),
        connectError: (_s, error) => client.rejectAll(error),
      },
    });
    return client;
  }

  /** Writes bytes, respecting back-pressure; resolves when the kernel took them all. */
  write(data: string | Uint8Array): Promise<void> {
    this.pendingWrites.push(typeof data === "string" ? encoder.encode(data) : data);
    const done = new Promise<void>((resolve) => this.drained.push(resolve));
    this.flush();
    return done;
  }

  private flush(): void {
    while (this.pendingWrites.length > 0 && this.socket) {
      const next = this.pendingWrites[0]!;
      const n = this.socket.write(next);
      if (n < next.length) {
        this.pendingWrites[0] = next.subarray(Math.max(n, 0));
        return;
      }
      this.pendingWrites.shift();
    }
    for (const wake of this.drained.splice(0)) wake();
  }

  /** A POST with a JSON body, on a connection the server is asked to close afterwards. */
  async post(path: string, body: string, headers: Record<string, string> = {}): Promise<void> {
    const bytes = encoder.encode(body);
    const extra = Object.entries(headers).map(([k, v]) => `${k}: ${v}\r\n`).join("");
    await this.write(`POST ${path} HTTP/1.1\r\nhost: 127.0.0.1\r\ncontent-type: application/json\r\ncontent-length: ${bytes.length}\r\nconnection: close\r\n${extra}\r\n`);
    await this.write(bytes);
  }

  close(): void {
    this.socket?.end();
  }

  private onData(data: Uint8Array): void {
    this.buffer = concat(this.buffer, new Uint8Array(data));
    if (!this.head) {
      const text = decoder.decode(this.buffer);
      const end = text.indexOf("\r\n\r\n");
      if (end === -1) return;
      const headLength = encoder.encode(text.slice(0, end + 4)).length;
      const [statusLine, ...lines] = text.slice(0, end).split("\r\n");
      const headers = new Headers();
      for (const line of lines) {
        const colon = line.indexOf(":");
        headers.append(line.slice(0, colon).trim(), line.slice(colon + 1).trim());
      }
      this.head = { status: Number(statusLine!.split(" ")[1]), headers };
      if (headers.get("transfer-encoding")?.includes("chunked")) this.framing = { kind: "chunked" };
      else if (headers.has("content-length")) this.framing = { kind: "length", left: Number(headers.get("content-length")) };
      this.buffer = this.buffer.subarray(headLength);
      this.resolveHead(this.head);
    }
    this.parseBody();
  }

  private parseBody(): void {
    const f = this.framing;
    if (f.kind === "close") {
      this.body.push(this.buffer);
      this.buffer = new Uint8Array(0);
      return;
    }
    if (f.kind === "length") {
      const take = this.buffer.subarray(0, f.left);
      this.body.push(take);
      f.left -= take.length;
      this.buffer = this.buffer.subarray(take.length);
      if (f.left === 0) this.finish("complete");
      return;
    }
    for (;;) {
      if (this.chunkLeft < 0) {
        const crlf = indexOfCrlf(this.buffer, 0);
        if (crlf === -1) return;
        const size = parseInt(decoder.decode(this.buffer.subarray(0, crlf)).split(";")[0]!, 16);
        this.buffer = this.buffer.subarray(crlf + 2);
        if (size === 0) return this.finish("complete");
        this.chunkLeft = size;
      }
      // A chunk's data (possibly split across reads), then its CRLF.
      const take = this.buffer.subarray(0, Math.min(this.buffer.length, this.chunkLeft));
      if (take.length > 0) this.body.push(take);
      this.chunkLeft -= take.length;
      this.buffer = this.buffer.subarray(take.length);
      if (this.chunkLeft > 0 || this.buffer.length < 2) return;
      this.buffer = this.buffer.subarray(2);
      this.chunkLeft = -1;
    }
  }

  private finish(end: RawResult["end"]): void {
    if (this.finished) return;
    this.finished = true;
    if (!this.head) {
      this.rejectAll(new Error(`connection closed before a response; got ${JSON.stringify(decoder.decode(this.buffer))}`));
      return;
    }
    this.resolveDone({ ...this.head, body: this.text, end });
    if (end === "complete" && !this.keepOpen) this.socket?.end();
  }

  private onClose(): void {
    this.markClosed();
    this.finish(this.framing.kind === "close" && this.head ? "complete" : "closed");
  }
}

/** Sends one POST on a fresh connection and returns the whole result. */
export async function rawPost(port: number, path: string, body: string, headers: Record<string, string> = {}): Promise<RawResult> {
  const client = await RawClient.connect(port);
  await client.post(path, body, headers);
  return client.done;
}
