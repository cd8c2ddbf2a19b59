import type { Timeouts } from "../config/types.ts";
import { canConnect } from "../upstream/connect-probe.ts";

export const seconds = (ms: number) => `${+(ms / 1000).toFixed(3)} s`;

/** An error's message for people: without the advice Bun's fetch appends to its own. */
export function errorText(error: unknown): string {
  const message = (error as { message?: unknown } | undefined)?.message;
  return (typeof message === "string" ? message : String(error)).replace(/\s*For more information, pass `verbose: true`.*$/s, "");
}

/** Why an attempt was stopped by the proxy itself. */
export type StopReason = "client" | "connect_timeout" | "first_byte_timeout" | "idle_timeout" | "total_timeout";

/**
 * One attempt's abort signal and timers, for its whole life: from sending the
 * request, through reading the answer, to the end of a committed stream.
 *
 * - until the response head: `first_byte_seconds`; and at `connect_seconds`, when no
 *   answer has begun, a probe of the provider's address (see connect-probe.ts);
 * - a stream until its first event: still `first_byte_seconds`;
 * - a body being read: `idle_seconds` between reads (paused while the client is the
 *   one not keeping up);
 * - always: what is left of the request's `total_seconds`, and the client going away.
 *
 * One timer, re-armed for the nearest deadline; a read only moves a number.
 */
export class AttemptControl {
  private readonly controller = new AbortController();
  readonly signal = this.controller.signal;
  /** Set once, by whatever stopped the attempt first. */
  why: StopReason | undefined;
  private firstByteAt: number;
  private connectAt: number;
  private readonly totalAt: number;
  private idleAt = Infinity;
  private idlePaused = false;
  private timer: Timer | undefined;
  private released = false;
  private headIn = false;

  constructor(
    private readonly client: AbortSignal,
    private readonly timeouts: Timeouts,
    private readonly origin: string,
    arrived: number,
    now = Date.now(),
  ) {
    this.firstByteAt = now + timeouts.firstByteMs;
    this.connectAt = timeouts.connectMs < timeouts.firstByteMs ? now + timeouts.connectMs : Infinity;
    this.totalAt = timeouts.totalMs > 0 ? arrived + timeouts.totalMs : Infinity;
    client.addEventListener("abort", this.onClientGone);
    if (client.aborted) this.stop("client");
    else this.arm(now);
  }

  /** Stops the attempt: the upstream request is aborted, the provider sees its connection close. */
  stop(reason: StopReason): void {
    this.why ??= reason;
    this.controller.abort();
    this.release();
  }

  /** Ends the upstream exchange where it is (its connection is closed, not reused). */
  abort(): void {
    this.controller.abort();
    this.release();
  }

  /** The response head came: no more connect check; the first-byte bound stays for a stream's first event. */
  headArrived(): void {
    this.headIn = true;
    this.connectAt = Infinity;
  }

  /** From here the body is read: `idle_seconds` between reads instead of the first-byte bound. */
  readingBody(now = Date.now()): void {
    this.firstByteAt = Infinity;
    this.idleAt = now + this.timeouts.idleMs;
    this.rearm(now);
  }

  /** Data came: the idle bound starts again. */
  touch(now = Date.now()): void {
    if (this.idleAt !== Infinity) this.idleAt = now + this.timeouts.idleMs;
  }

  /** The client is not taking data: that wait is not the provider's silence. */
  pauseIdle(paused: boolean, now = Date.now()): void {
    this.idlePaused = paused;
    if (!paused) this.touch(now);
  }

  /** The attempt is over (answer taken whole, or judged): timers off, the client's abort no longer ours. */
  release(): void {
    if (this.released) return;
    this.released = true;
    clearTimeout(this.timer);
    this.client.removeEventListener("abort", this.onClientGone);
  }

  /** What stopped the attempt, in words for logs and the client's cut event; undefined when nothing did. */
  describe(): string | undefined {
    const t = this.timeouts;
    switch (this.why) {
      case undefined:
        return undefined;
      case "client":
        return "the client went away";
      case "connect_timeout":
        return `no connection within ${seconds(t.connectMs)}`;
      case "first_byte_timeout":
        return `nothing within ${seconds(t.firstByteMs)}`;
      case "idle_timeout":
        return `no data for ${seconds(t.idleMs)}`;
      case "total_timeout":
        return "the request's total time ran out";
    }
  }

  /** Milliseconds of the request's total time left (Infinity without total_seconds). */
  totalLeftMs(now = Date.now()): number {
    return this.totalAt - now;
  }

  private readonly onClientGone = () => this.stop("client");

  private rearm(now: number): void {
    if (this.released) return;
    clearTimeout(this.timer);
    this.arm(now);
  }

  private arm(now: number): void {
    const next = Math.min(this.connectAt, this.firstByteAt, this.totalAt, this.idleAt);
    if (next === Infinity) return;
    this.timer = setTimeout(this.tick, Math.max(0, next - now));
  }

  private readonly tick = () => {
    if (this.released) return;
    const now = Date.now();
    if (now >= this.totalAt) return this.stop("total_timeout");
    if (now >= this.firstByteAt) return this.stop("first_byte_timeout");
    if (now >= this.idleAt) {
      if (!this.idlePaused) return this.stop("idle_timeout");
      this.idleAt = now + this.timeouts.idleMs;
    }
    if (now >= this.connectAt) {
      this.connectAt = Infinity;
      void this.probe();
    }
    this.arm(now);
  };

  private async probe(): Promise<void> {
    const reachable = await canConnect(this.origin, this.timeouts.connectMs);
    // The answer may have begun while the probe ran: then the connection was fine after all.
    if (!reachable && !this.released && !this.headIn) this.stop("connect_timeout");
  }
}
