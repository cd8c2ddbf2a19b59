import type { Server } from "bun";

/** What a fake provider received: enough to assert on headers, body bytes and aborts. */
export interface Received {
  readonly method: string;
  readonly url: URL;
  readonly headers: Headers;
  readonly body: Uint8Array;
  readonly text: string;
  /** Resolves when the proxy aborts this request (client gone, timeout); never otherwise. */
  readonly aborted: Promise<void>;
  readonly signal: AbortSignal;
}

export type Handler = (req: Received, server: Server<undefined>) => Response | Promise<Response>;

/**
 * A fake LLM provider: a real HTTP server on 127.0.0.1, port 0, that answers with
 * `handler` and records every request it received. Dispose with `await using`.
 */
export class FakeProvider {
  readonly received: Received[] = [];
  readonly server: Server<undefined>;
  private waiters: (() => void)[] = [];

  constructor(public handler: Handler) {
    this.server = Bun.serve({
      hostname: "127.0.0.1",
      port: 0,
      idleTimeout: 0,
      fetch: async (req, server) => {
        server.timeout(req, 0);
        const body = new Uint8Array(await req.arrayBuffer());
        const aborted = new Promise<void>((resolve) => req.signal.addEventListener("abort", () => resolve(), { once: true }));
        const received: Received = {
          method: req.method,
          url: new URL(req.url),
          headers: req.headers,
          body,
          text: new TextDecoder().decode(body),
          aborted,
          signal: req.signal,
        };
        this.received.push(received);
        for (const wake of this.waiters.splice(0)) wake();
        return this.handler(received, server);
      },
    });
  }

  get url(): string {
    return `http://127.0.0.1:${this.server.port}`;
  }

  /** Waits until at least `n` requests have arrived (bounded, far above what a test needs). */
  async waitForRequests(n: number, timeoutMs = 10_000): Promise<Received> {
    const deadline = Date.now() + timeoutMs;
    while (this.received.length < n) {
      if (Date.now() > deadline) throw new Error(`fake provider: expected ${n} requests, got ${this.received.length}`);
      await new Promise<void>((resolve) => {
        this.waiters.push(resolve);
        setTimeout(resolve, 50);
      });
    }
    return this.received[n - 1]!;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.server.stop(true);
  }
}

const encoder = new TextEncoder();

/** The model a request to a fake provider names (the route's upstream model). */
export const modelOf = (r: Received) => (JSON.parse(r.text) as { model: string }).model;

/** A chat completion saying which model served it, with that model's name. */
export const echo = (r: Received) => Response.json(chatCompletion(`served by ${modelOf(r)}`, modelOf(r)));

/** An OpenAI chat completion body. */
export function chatCompletion(content: string, model = "real-model") {
  return {
    id: "chatcmpl-1",
    object: "chat.completion",
    created: 1_700_000_000,
    model,
    choices: [{ index: 0, message: { role: "assistant", content }, finish_reason: "stop" }],
    usage: { prompt_tokens: 1, completion_tokens: 1, total_tokens: 2 },
  };
}

/** An OpenAI chat completion chunk, as one SSE event. */
export function chatChunk(content: string, model = "real-model"): string {
  const chunk = { id: "chatcmpl-1", object: "chat.completion.chunk", created: 1_700_000_000, model, choices: [{ index: 0, delta: { content }, finish_reason: null }] };
  return `data: ${JSON.stringify(chunk)}\n\n`;
}

/** A controllable SSE body: the test decides when each chunk goes out. */
export class ScriptedStream {
  private controller!: ReadableStreamDefaultController<Uint8Array>;
  readonly body: ReadableStream<Uint8Array>;
  cancelled = false;

  constructor() {
    this.body = new ReadableStream<Uint8Array>({
      start: (controller) => {
        this.controller = controller;
      },
      cancel: () => {
        this.cancelled = true;
      },
    });
  }

  send(text: string): void {
    this.controller.enqueue(encoder.encode(text));
  }
  end(): void {
    this.controller.close();
  }
  /** Breaks the connection mid-body. */
  fail(): void {
    this.controller.error(new Error("provider reset"));
  }

  response(init: ResponseInit = {}): Response {
    return new Response(this.body, { status: 200, ...init, headers: { "content-type": "text/event-stream", ...(init.headers as Record<string, string> | undefined) } });
  }
}

/** Waits for a condition, polling; fails after `timeoutMs` (set far above what is expected). */
export async function waitFor(condition: () => boolean | Promise<boolean>, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await Bun.sleep(5);
  }
}
