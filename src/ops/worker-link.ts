import * as v from "valibot";
import type { Subprocess } from "bun";
import { mergeExpositions } from "./metrics-merge.ts";

/**
 * What the processes of one instance (`workers: N`) say to each other over Bun's IPC:
 * a worker's log lines for the general file (the primary is its one writer), and
 * scrapes of /metrics, answered by the primary with the whole instance's figures.
 */

const messageSchema = v.variant("type", [
  v.object({ type: v.literal("log"), lines: v.array(v.string()) }),
  v.object({ type: v.literal("scrape"), id: v.number() }),
  v.object({ type: v.literal("scraped"), id: v.number(), text: v.string() }),
  v.object({ type: v.literal("render"), id: v.number() }),
  v.object({ type: v.literal("rendered"), id: v.number(), text: v.string() }),
]);
export type LinkMessage = v.InferOutput<typeof messageSchema>;

/** A message from the other side, or undefined when it is not one of ours. */
export function linkMessage(value: unknown): LinkMessage | undefined {
  const result = v.safeParse(messageSchema, value);
  return result.success ? result.output : undefined;
}

/** A worker that does not answer a render within this is left out of that scrape. */
const RENDER_WAIT_MS = 2000;

let nextId = 0;

/** The primary's side: gathers every process's exposition and merges them. */
export class PrimaryLink {
  private readonly waiting = new Map<number, (text: string | undefined) => void>();

  constructor(
    private readonly children: () => Iterable<Subprocess>,
    private readonly own: () => string,
    private readonly writeLogLine: (line: string) => void,
  ) {}

  /** A message from a worker. */
  heard(raw: unknown, child: Subprocess): void {
    const m = linkMessage(raw);
    if (!m) return;
    if (m.type === "log") for (const line of m.lines) this.writeLogLine(line);
    else if (m.type === "rendered") this.waiting.get(m.id)?.(m.text);
    else if (m.type === "scrape") void this.instance().then((text) => child.send({ type: "scraped", id: m.id, text } satisfies LinkMessage));
  }

  /** The whole instance's exposition. */
  async instance(): Promise<string> {
    const asks = [...this.children()].map(
      (child) =>
        new Promise<string | undefined>((resolve) => {
          const id = ++nextId;
          const timer = setTimeout(() => done(undefined), RENDER_WAIT_MS);
          const done = (text: string | undefined) => {
            clearTimeout(timer);
            this.waiting.delete(id);
            resolve(text);
          };
          this.waiting.set(id, done);
          try {
            child.send({ type: "render", id } satisfies LinkMessage);
          } catch {
            // The worker is gone (it is being started again): left out of this scrape.
            done(undefined);
          }
        }),
    );
    const others = (await Promise.all(asks)).filter((t): t is string => t !== undefined);
    return mergeExpositions([this.own(), ...others]);
  }
}

/** A worker's side: sends its log lines up, renders on request, asks the primary for a scrape. */
export class WorkerLink {
  private readonly waiting = new Map<number, (text: string) => void>();
  private pending: string[] = [];

  constructor(private readonly own: () => string) {
    process.on("message", (raw: unknown) => this.heard(raw));
  }

  static available(): boolean {
    return typeof process.send === "function";
  }

  /**
   * Lines go up once per turn of the event loop, all of that turn's together, not
   * one IPC message per line: at `logging.level: info`, `workers: 2` then costs 5–10%
   * less CPU per request (bun run bench --workers 2, four alternating runs).
   */
  sendLogLine(line: string): void {
    if (this.pending.push(line) === 1) setImmediate(() => this.flush());
  }

  /** Sends the lines waiting now (at shutdown, before the process exits). */
  flush(): void {
    if (this.pending.length === 0) return;
    const lines = this.pending;
    this.pending = [];
    process.send?.({ type: "log", lines } satisfies LinkMessage);
  }

  /** The whole instance's exposition, from the primary (this worker's own when the primary does not answer). */
  instance(): Promise<string> {
    return new Promise((resolve) => {
      const id = ++nextId;
      const timer = setTimeout(() => done(this.own()), RENDER_WAIT_MS * 2);
      const done = (text: string) => {
        clearTimeout(timer);
        this.waiting.delete(id);
        resolve(text);
      };
      this.waiting.set(id, done);
      process.send?.({ type: "scrape", id } satisfies LinkMessage);
    });
  }

  private heard(raw: unknown): void {
    const m = linkMessage(raw);
    if (!m) return;
    if (m.type === "render") process.send?.({ type: "rendered", id: m.id, text: this.own() } satisfies LinkMessage);
    else if (m.type === "scraped") this.waiting.get(m.id)?.(m.text);
  }
}
