#!/usr/bin/env bun
/**
 * The streaming load generator of `bun run bench`, run as its own process so it
 * can be pinned beside the provider. Keeps `concurrency` keep-alive connections
 * busy for `durationMs`, each sending one streamed chat request after another,
 * and checks every answer: status 200, exactly the provider's bytes, ending in
 * `data: [DONE]`. Plain HTTP/1.1 over Bun.connect keeps the client's own cost
 * low and lets it time the first body byte exactly.
 *
 * Usage: bun scripts/bench/stream-client.ts '<JSON StreamSpec>'; prints a JSON StreamResult.
 */
import type { Socket } from "bun";
import { DONE_TAIL, STREAM_BYTES } from "./workload.ts";

export interface StreamSpec {
  readonly port: number;
  readonly path: string;
  readonly key: string;
  readonly bodyFile: string;
  readonly concurrency: number;
  readonly durationMs: number;
  /** A stream not finished within this long is a failure. */
  readonly timeoutMs: number;
}

export interface StreamResult {
  readonly ok: number;
  readonly failures: number;
  readonly reasons: Record<string, number>;
  readonly elapsedMs: number;
  readonly ttfbMs: { readonly p50: number; readonly p99: number };
  readonly totalMs: { readonly p50: number; readonly p99: number };
}

const percentile = (sorted: Float64Array, p: number) => (sorted.length === 0 ? NaN : sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!);

class Samples {
  private data = new Float64Array(4096);
  private n = 0;
  push(x: number): void {
    if (this.n === this.data.length) {
      const bigger = new Float64Array(this.data.length * 2);
      bigger.set(this.data);
      this.data = bigger;
    }
    this.data[this.n++] = x;
  }
  summary() {
    const sorted = this.data.slice(0, this.n).sort();
    return { p50: percentile(sorted, 50), p99: percentile(sorted, 99) };
  }
}

const CRLF = Buffer.from("\r\n");
const HEAD_END = Buffer.from("\r\n\r\n");

type Phase = "head" | "size" | "data" | "data-crlf" | "last-crlf" | "fixed";

/** One keep-alive connection running streams back to back. */
class Connection {
  private socket: Socket<undefined> | undefined;
  private buf: Buffer = Buffer.alloc(0);
  private off = 0;
  private phase: Phase = "head";
  private status = 0;
  private left = 0;
  private bytes = 0;
  private tail = "";
  private sentAt = 0;
  private firstAt = 0;
  private closeAfter = false;
  private pending: Uint8Array | undefined;
  private generation = 0;
  inFlight = false;

  constructor(private readonly run: Run) {}

  async start(): Promise<void> {
    await this.connect();
    this.send();
  }

  private async connect(): Promise<void> {
    this.buf = Buffer.alloc(0);
    this.off = 0;
    this.pending = undefined;
    // Events of a socket this connection already replaced are stale.
    const generation = ++this.generation;
    const current = () => generation === this.generation;
    this.socket = await Bun.connect({
      hostname: "127.0.0.1",
      port: this.run.spec.port,
      socket: {
        data: (_s, data) => {
          if (current()) this.onData(data);
        },
        drain: (s) => {
          const rest = this.pending;
          this.pending = undefined;
          if (rest && current()) this.write(s, rest);
        },
        close: () => {
          if (current()) this.lost("connection closed mid-stream");
        },
        error: (_s, error) => {
          if (current()) this.lost(`socket error: ${error.message}`);
        },
      },
    });
    this.socket.setNoDelay(true);
  }

  private write(socket: Socket<undefined>, bytes: Uint8Array): void {
    const n = socket.write(bytes);
    if (n < bytes.length) this.pending = bytes.subarray(Math.max(n, 0));
  }

  private send(): void {
    if (performance.now() >= this.run.deadline) return this.stop();
    this.phase = "head";
    this.status = 0;
    this.bytes = 0;
    this.tail = "";
    this.firstAt = 0;
    this.inFlight = true;
    this.sentAt = performance.now();
    this.write(this.socket!, this.run.request);
  }

  private stop(): void {
    this.inFlight = false;
    this.socket?.end();
    this.socket = undefined;
    this.run.connectionDone();
  }

  /** A failed stream: counted, the connection replaced, the next stream sent. */
  fail(reason: string): void {
    this.inFlight = false;
    this.run.failed(reason);
    const old = this.socket;
    this.socket = undefined;
    this.generation++;
    old?.terminate();
    if (performance.now() >= this.run.deadline) return this.stop();
    this.connect().then(
      () => this.send(),
      (error: Error) => {
        this.run.failed(`cannot connect: ${error.message}`);
        this.stop();
      },
    );
  }

  private lost(reason: string): void {
    if (this.inFlight) this.fail(reason);
  }

  overdue(now: number): boolean {
    return this.inFlight && now - this.sentAt > this.run.spec.timeoutMs;
  }

  private onData(data: Buffer): void {
    if (!this.inFlight) return;
    this.buf = this.off < this.buf.length ? Buffer.concat([this.buf.subarray(this.off), data]) : data;
    this.off = 0;
    const done = this.parse();
    if (done === undefined) return;
    if (done !== "") return this.fail(done);
    this.inFlight = false;
    this.run.succeeded(this.firstAt - this.sentAt, performance.now() - this.sentAt);
    if (this.closeAfter) {
      this.generation++;
      this.socket?.end();
      this.connect().then(
        () => this.send(),
        (error: Error) => {
          this.run.failed(`cannot connect: ${error.message}`);
          this.stop();
        },
      );
    } else this.send();
  }

  private body(bytes: Buffer): void {
    if (bytes.length === 0) return;
    if (this.firstAt === 0) this.firstAt = performance.now();
    this.bytes += bytes.length;
    this.tail = (this.tail + bytes.toString("latin1")).slice(-DONE_TAIL.length);
  }

  private finish(): string {
    if (this.status !== 200) return `status ${this.status}`;
    if (!this.tail.endsWith(DONE_TAIL)) return "stream did not end with [DONE]";
    if (this.bytes !== STREAM_BYTES) return `stream of ${this.bytes} bytes, expected ${STREAM_BYTES}`;
    return "";
  }

  /** Advances the response parser; returns undefined while incomplete, "" when complete and valid, else the reason it is not. */
  private parse(): string | undefined {
    const buf = this.buf;
    for (;;) {
      switch (this.phase) {
        case "head": {
          const end = buf.indexOf(HEAD_END, this.off);
          if (end < 0) return undefined;
          const head = buf.toString("latin1", this.off, end).toLowerCase();
          this.off = end + 4;
          this.status = Number(head.slice(9, 12));
          this.closeAfter = /\r\nconnection:\s*close/.test(head);
          const length = /\r\ncontent-length:\s*(\d+)/.exec(head);
          if (/\r\ntransfer-encoding:\s*chunked/.test(head)) this.phase = "size";
          else if (length) {
            this.phase = "fixed";
            this.left = Number(length[1]);
          } else return `status ${this.status} without a body length`;
          break;
        }
        case "fixed": {
          const n = Math.min(this.left, buf.length - this.off);
          this.body(buf.subarray(this.off, this.off + n));
          this.off += n;
          this.left -= n;
          if (this.left > 0) return undefined;
          return this.finish();
        }
        case "size": {
          const eol = buf.indexOf(CRLF, this.off);
          if (eol < 0) return undefined;
          this.left = parseInt(buf.toString("latin1", this.off, eol), 16);
          this.off = eol + 2;
          if (Number.isNaN(this.left)) return "bad chunk size";
          this.phase = this.left === 0 ? "last-crlf" : "data";
          break;
        }
        case "data": {
          const n = Math.min(this.left, buf.length - this.off);
          this.body(buf.subarray(this.off, this.off + n));
          this.off += n;
          this.left -= n;
          if (this.left > 0) return undefined;
          this.phase = "data-crlf";
          break;
        }
        case "data-crlf":
        case "last-crlf": {
          if (buf.length - this.off < 2) return undefined;
          this.off += 2;
          if (this.phase === "last-crlf") return this.finish();
          this.phase = "size";
          break;
        }
      }
    }
  }
}

class Run {
  readonly request: Uint8Array;
  deadline = Infinity;
  private started = 0;
  private lastDone = 0;
  private ok = 0;
  private failures = 0;
  private readonly reasons: Record<string, number> = {};
  private readonly ttfb = new Samples();
  private readonly total = new Samples();
  private open = 0;
  private resolveDone: () => void = () => {};

  constructor(readonly spec: StreamSpec, body: Uint8Array) {
    const head = `POST ${spec.path} HTTP/1.1\r\nHost: 127.0.0.1:${spec.port}\r\nAuthorization: Bearer ${spec.key}\r\nContent-Type: application/json\r\nAccept: text/event-stream\r\nContent-Length: ${body.length}\r\n\r\n`;
    this.request = Buffer.concat([Buffer.from(head, "latin1"), body]);
  }

  succeeded(ttfb: number, total: number): void {
    this.ok++;
    this.ttfb.push(ttfb);
    this.total.push(total);
    this.lastDone = performance.now();
  }

  failed(reason: string): void {
    this.failures++;
    this.reasons[reason] = (this.reasons[reason] ?? 0) + 1;
    this.lastDone = performance.now();
  }

  connectionDone(): void {
    if (--this.open === 0) this.resolveDone();
  }

  async go(): Promise<StreamResult> {
    const connections = Array.from({ length: this.spec.concurrency }, () => new Connection(this));
    this.open = connections.length;
    const done = new Promise<void>((resolve) => (this.resolveDone = resolve));
    this.started = performance.now();
    this.deadline = this.started + this.spec.durationMs;
    const watchdog = setInterval(() => {
      const now = performance.now();
      for (const c of connections) if (c.overdue(now)) c.fail(`no complete stream within ${this.spec.timeoutMs} ms`);
    }, 250);
    await Promise.all(
      connections.map((c) =>
        c.start().catch((error: Error) => {
          this.failed(`cannot connect: ${error.message}`);
          this.connectionDone();
        }),
      ),
    );
    await done;
    clearInterval(watchdog);
    return {
      ok: this.ok,
      failures: this.failures,
      reasons: this.reasons,
      elapsedMs: Math.max(this.lastDone, this.deadline) - this.started,
      ttfbMs: this.ttfb.summary(),
      totalMs: this.total.summary(),
    };
  }
}

if (import.meta.main) {
  const spec = JSON.parse(process.argv[2] ?? "{}") as StreamSpec;
  const body = await Bun.file(spec.bodyFile).bytes();
  const result = await new Run(spec, body).go();
  process.stdout.write(`${JSON.stringify(result)}\n`);
  process.exit(0);
}
