/**
 * The live feed: GET /status/events read with fetch (EventSource cannot send a bearer
 * token), parsed as server-sent events, and opened again after a drop.
 */
import type { Snapshot, Tick } from "../live-model.ts";
import { call, refusal } from "./session.ts";

export interface FeedHandlers {
  snapshot(s: Snapshot): void;
  tick(t: Tick): void;
  /** Connected, or waiting to connect again (with what went wrong, when something did). */
  state(state: "live" | "reconnecting", detail?: string): void;
  refused(message: string): void;
}

const RETRY_MS = [1000, 2000, 5000, 10_000];

export class Feed {
  private stopped = false;
  private abort: AbortController | undefined;

  constructor(private readonly on: FeedHandlers) {}

  start(): void {
    void this.run();
  }

  stop(): void {
    this.stopped = true;
    this.abort?.abort();
  }

  private async run(): Promise<void> {
    let failures = 0;
    while (!this.stopped) {
      this.abort = new AbortController();
      let problem: string | undefined;
      try {
        const res = await call("/status/events", { signal: this.abort.signal });
        if (res.status === 401 || res.status === 403) {
          this.on.refused(await refusal(res));
          return;
        }
        if (!res.ok || !res.body) throw new Error(await refusal(res));
        failures = 0;
        this.on.state("live");
        await this.read(res.body);
      } catch (error) {
        problem = error instanceof Error ? error.message : String(error);
      }
      if (this.stopped) return;
      this.on.state("reconnecting", problem);
      await new Promise((resolve) => setTimeout(resolve, RETRY_MS[Math.min(failures++, RETRY_MS.length - 1)]));
    }
  }

  private async read(body: ReadableStream<Uint8Array>): Promise<void> {
    const reader = body.getReader();
    const decoder = new TextDecoder();
    let buffer = "";
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return;
      buffer += decoder.decode(value, { stream: true });
      let end: number;
      while ((end = buffer.indexOf("\n\n")) !== -1) {
        this.dispatch(buffer.slice(0, end));
        buffer = buffer.slice(end + 2);
      }
    }
  }

  private dispatch(block: string): void {
    let name = "message";
    const data: string[] = [];
    for (const line of block.split("\n")) {
      if (line.startsWith("event: ")) name = line.slice(7);
      else if (line.startsWith("data: ")) data.push(line.slice(6));
    }
    if (data.length === 0) return;
    const payload: unknown = JSON.parse(data.join("\n"));
    if (name === "snapshot") this.on.snapshot(payload as Snapshot);
    else if (name === "tick") this.on.tick(payload as Tick);
  }
}
