#!/usr/bin/env bun
/**
 * The client of `bun run bench --fleet`, one of several processes: keeps its share
 * of N streams open (started over the ramp, each started again on the same
 * keep-alive connection when it ends), checks every stream (scripts/bench/fleet-check.ts)
 * and counts, for each stamped event that arrives inside the measurement window,
 * the delay from the provider's send stamp to its arrival here. Plain HTTP/1.1
 * over Bun.connect: cheap enough to read 100,000 events a second on a shared core.
 *
 * Usage: bun scripts/bench/fleet-client.ts '<JSON ClientSpec>'; prints a JSON ClientResult.
 */
import type { Socket } from "bun";
import { anthropicCheck, compactCheck, type StreamCheck } from "./fleet-check.ts";
import { Histogram, nowUs, type SparseHistogram } from "./fleet-workload.ts";

export interface ClientSpec {
  readonly port: number;
  readonly path: string;
  readonly headers: Readonly<Record<string, string>>;
  readonly body: string;
  /** What the client expects back: the passthrough events, or an Anthropic stream. */
  readonly expect: "compact" | "anthropic";
  readonly events: number;
  readonly intervalMs: number;
  /** This process's streams are global numbers `first`, `first + stride`, … of `total`. */
  readonly streams: number;
  readonly first: number;
  readonly stride: number;
  readonly total: number;
  /** CLOCK_MONOTONIC µs at which the ramp starts; the window follows the ramp. */
  readonly startAtUs: number;
  readonly rampMs: number;
  readonly windowMs: number;
  /** A stream not complete within its nominal length plus this long is a failure. */
  readonly graceMs: number;
}

export interface ClientResult {
  /** Stamped events that arrived inside the window. */
  readonly events: number;
  readonly delays: SparseHistogram;
  /** Streams completed and right (any time during the run). */
  readonly ok: number;
  readonly failures: number;
  readonly reasons: Record<string, number>;
  /** Streams still running when the window closed, ended by the client (not failures). */
  readonly cut: number;
  /** Streams open when the window opened. */
  readonly openAtWindow: number;
  /** How late this process was for the start of its ramp, ms. */
  readonly lateMs: number;
}

type Phase = "head" | "size" | "data" | "data-crlf" | "trailer" | "fixed" | "until-close";

class Slot {
  private socket: Socket<undefined> | undefined;
  private generation = 0;
  private raw = "";
  private phase: Phase = "head";
  private left = 0;
  private closeAfter = false;
  private check: StreamCheck | undefined;
  private pending: Uint8Array | undefined;
  /** nowUs() when the current stream was sent; 0 when none is running. */
  sentUs = 0;

  constructor(private readonly run: Run) {}

  async open(): Promise<void> {
    const generation = ++this.generation;
    const current = () => generation === this.generation;
    this.raw = "";
    this.pending = undefined;
    this.socket = await Bun.connect({
      hostname: "127.0.0.1",
      port: this.run.spec.port,
      socket: {
        data: (_s, data) => {
          if (current()) this.onData(data.toString("latin1"));
        },
        drain: (s) => {
          const rest = this.pending;
          this.pending = undefined;
          if (rest && current()) this.write(s, rest);
        },
        close: () => {
          if (current()) this.onClose();
        },
        error: (_s, error) => {
          if (current()) this.fail(`socket error: ${error.message}`);
        },
      },
    });
    this.socket.setNoDelay(true);
  }

  private write(socket: Socket<undefined>, bytes: Uint8Array): void {
    const n = socket.write(bytes);
    if (n < bytes.length) this.pending = bytes.subarray(Math.max(n, 0));
  }

  /** Sends the next stream on this connection, or a new one. */
  async start(): Promise<void> {
    if (this.run.over) return;
    if (!this.socket) {
      try {
        await this.open();
      } catch (error) {
        this.run.failed(`cannot connect: ${(error as Error).message}`);
        setTimeout(() => void this.start(), 100);
        return;
      }
    }
    this.phase = "head";
    this.check = this.run.newCheck();
    this.sentUs = nowUs();
    this.write(this.socket!, this.run.request);
  }

  private drop(): void {
    this.generation++;
    this.socket?.terminate();
    this.socket = undefined;
  }

  fail(reason: string): void {
    if (this.sentUs === 0 || this.run.over) return;
    this.sentUs = 0;
    this.run.failed(reason);
    this.drop();
    // A proxy that refuses at once would otherwise be asked again in a tight loop.
    setTimeout(() => void this.start(), 50);
  }

  /** At the end of the window: a running stream is cut, not failed. */
  stop(): boolean {
    const running = this.sentUs !== 0;
    this.sentUs = 0;
    this.drop();
    return running;
  }

  private finished(): void {
    const wrong = this.check!.end();
    if (wrong) return this.fail(wrong);
    this.sentUs = 0;
    this.run.succeeded();
    if (this.closeAfter || this.phase === "until-close") this.drop();
    void this.start();
  }

  private onClose(): void {
    this.socket = undefined;
    if (this.sentUs === 0) return;
    if (this.phase === "until-close") return this.finished();
    this.fail("connection closed mid-stream");
  }

  private body(text: string): boolean {
    const wrong = this.check!.feed(text);
    if (wrong) this.fail(wrong);
    return !wrong;
  }

  private onData(text: string): void {
    if (this.sentUs === 0) return;
    this.run.arrived();
    this.raw = this.raw.length > 0 ? this.raw + text : text;
    let at = 0;
    const raw = this.raw;
    for (;;) {
      switch (this.phase) {
        case "head": {
          const end = raw.indexOf("\r\n\r\n", at);
          if (end < 0) return this.keep(raw, at);
          const head = raw.slice(at, end).toLowerCase();
          at = end + 4;
          const status = Number(head.slice(9, 12));
          if (status !== 200) return this.fail(`status ${status}: ${JSON.stringify(raw.slice(at, at + 200))}`);
          this.closeAfter = /\r\nconnection:\s*close/.test(head);
          const length = /\r\ncontent-length:\s*(\d+)/.exec(head);
          if (/\r\ntransfer-encoding:\s*chunked/.test(head)) this.phase = "size";
          else if (length) {
            this.phase = "fixed";
            this.left = Number(length[1]);
          } else this.phase = "until-close";
          break;
        }
        case "until-close":
          this.raw = "";
          this.body(raw.slice(at));
          return;
        case "fixed": {
          const n = Math.min(this.left, raw.length - at);
          if (!this.body(raw.slice(at, at + n))) return;
          at += n;
          this.left -= n;
          if (this.left > 0) return this.keep(raw, at);
          this.raw = "";
          return this.finished();
        }
        case "size": {
          const eol = raw.indexOf("\r\n", at);
          if (eol < 0) return this.keep(raw, at);
          this.left = parseInt(raw.slice(at, eol), 16);
          at = eol + 2;
          if (Number.isNaN(this.left)) return this.fail("bad chunk size");
          this.phase = this.left === 0 ? "trailer" : "data";
          break;
        }
        case "data": {
          const n = Math.min(this.left, raw.length - at);
          if (n > 0 && !this.body(raw.slice(at, at + n))) return;
          at += n;
          this.left -= n;
          if (this.left > 0) return this.keep(raw, at);
          this.phase = "data-crlf";
          break;
        }
        case "data-crlf":
          if (raw.length - at < 2) return this.keep(raw, at);
          at += 2;
          this.phase = "size";
          break;
        case "trailer":
          if (raw.length - at < 2) return this.keep(raw, at);
          this.raw = raw.slice(at + 2);
          return this.finished();
      }
    }
  }

  private keep(raw: string, at: number): void {
    this.raw = at === 0 ? raw : raw.slice(at);
  }
}

class Run {
  readonly request: Uint8Array;
  over = false;
  private readonly delays = new Histogram();
  private events = 0;
  private ok = 0;
  private failures = 0;
  private readonly reasons: Record<string, number> = {};
  private readonly windowStart: number;
  private readonly windowEnd: number;
  /** nowUs() of the data callback running now: one reading for every event in it. */
  private arrivalUs = 0;

  constructor(readonly spec: ClientSpec) {
    const head = [`POST ${spec.path} HTTP/1.1`, `Host: 127.0.0.1:${spec.port}`, "Content-Type: application/json", "Accept: text/event-stream", `Content-Length: ${Buffer.byteLength(spec.body)}`];
    for (const [name, value] of Object.entries(spec.headers)) head.push(`${name}: ${value}`);
    this.request = Buffer.from(`${head.join("\r\n")}\r\n\r\n${spec.body}`);
    this.windowStart = spec.startAtUs + spec.rampMs * 1000;
    this.windowEnd = this.windowStart + spec.windowMs * 1000;
  }

  arrived(): void {
    this.arrivalUs = nowUs();
  }

  private readonly onStamp = (stampUs: number) => {
    const t = this.arrivalUs;
    if (t < this.windowStart || t > this.windowEnd) return;
    this.events++;
    this.delays.add(Math.max(0, t - stampUs));
  };

  newCheck(): StreamCheck {
    return this.spec.expect === "compact" ? compactCheck(this.spec.events, this.onStamp) : anthropicCheck(this.spec.events, this.onStamp);
  }

  succeeded(): void {
    this.ok++;
  }

  failed(reason: string): void {
    this.failures++;
    const key = reason.replace(/\d{6,}/g, "…").slice(0, 160);
    this.reasons[key] = (this.reasons[key] ?? 0) + 1;
  }

  async go(): Promise<ClientResult> {
    const spec = this.spec;
    const slots = Array.from({ length: spec.streams }, () => new Slot(this));
    const lateMs = Math.max(0, (nowUs() - spec.startAtUs) / 1000);
    const untilUs = (us: number) => Math.max(0, (us - nowUs()) / 1000);
    slots.forEach((slot, k) => {
      const offsetUs = ((spec.first + k * spec.stride) * spec.rampMs * 1000) / spec.total;
      setTimeout(() => void slot.start(), untilUs(spec.startAtUs + offsetUs));
    });
    const limitUs = (spec.events * spec.intervalMs + spec.graceMs) * 1000;
    const watchdog = setInterval(() => {
      const now = nowUs();
      for (const slot of slots) if (slot.sentUs !== 0 && now - slot.sentUs > limitUs) slot.fail(`not complete within ${Math.round(limitUs / 1000)} ms`);
    }, 500);
    await Bun.sleep(untilUs(this.windowStart));
    const openAtWindow = slots.filter((s) => s.sentUs !== 0).length;
    await Bun.sleep(untilUs(this.windowEnd));
    this.over = true;
    clearInterval(watchdog);
    const cut = slots.reduce((n, s) => n + (s.stop() ? 1 : 0), 0);
    return { events: this.events, delays: this.delays.sparse(), ok: this.ok, failures: this.failures, reasons: this.reasons, cut, openAtWindow, lateMs };
  }
}

if (import.meta.main) {
  const spec = JSON.parse(process.argv[2] ?? "{}") as ClientSpec;
  const result = await new Run(spec).go();
  process.stdout.write(`${JSON.stringify(result)}\n`);
  process.exit(0);
}
