#!/usr/bin/env bun
/**
 * The fake OpenAI-compatible provider of `bun run bench`, run as its own process
 * so it can be pinned beside the load generators. It answers every request with
 * the same ~600-byte completion, or a stream of 20 chunks 5 ms apart ending in
 * `[DONE]`, after checking that it received the backend key and the rewritten
 * model; anything else gets a 500, which fails the benchmark round.
 *
 * Prints one line, `listening on http://127.0.0.1:PORT`, when ready.
 */
import { BACKEND_KEY, CHUNK_GAP_MS, COMPLETION, STREAM_EVENTS, UPSTREAM_MODEL, upstreamPrefix } from "./workload.ts";

const encoder = new TextEncoder();
const events = STREAM_EVENTS.map((e) => encoder.encode(e));
const completion = encoder.encode(COMPLETION);
const expectedAuth = `Bearer ${BACKEND_KEY}`;
const streamPrefix = upstreamPrefix(true);
const jsonPrefix = upstreamPrefix(false);
let complaints = 0;

function parseObject(text: string): Record<string, unknown> | undefined {
  try {
    const value: unknown = JSON.parse(text);
    return value !== null && typeof value === "object" ? (value as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

function refuse(reason: string): Response {
  // A few reasons are enough to see what went wrong; the 500s themselves fail the round.
  if (complaints++ < 5) process.stderr.write(`bench provider: answering 500: ${reason}\n`);
  return Response.json({ error: { message: `bench provider: ${reason}`, type: "server_error" } }, { status: 500 });
}

function stream(): Response {
  const body = new ReadableStream<Uint8Array>({
    type: "direct",
    async pull(controller) {
      try {
        for (let i = 0; i < events.length; i++) {
          if (i > 0) await Bun.sleep(CHUNK_GAP_MS);
          controller.write(events[i]!);
          controller.flush();
        }
      } catch {
        // The client went away mid-stream; it counts that as a failure on its side.
      }
      controller.close();
    },
  });
  return new Response(body, { headers: { "content-type": "text/event-stream", "cache-control": "no-cache" } });
}

const server = Bun.serve({
  hostname: "127.0.0.1",
  port: 0,
  idleTimeout: 0,
  async fetch(req) {
    if (req.method !== "POST") return refuse(`${req.method} ${new URL(req.url).pathname}: only POST is served`);
    if (req.headers.get("authorization") !== expectedAuth) return refuse("the backend key was not sent as Authorization: Bearer");
    const text = await req.text();
    if (!text.endsWith("}")) return refuse(`the body was cut short (${text.length} bytes)`);
    if (text.startsWith(jsonPrefix)) return new Response(completion, { headers: { "content-type": "application/json" } });
    if (text.startsWith(streamPrefix)) return stream();
    // A proxy that rebuilds the body with its keys in another order (the original Go
    // llm-proxy sorts them) is checked the slow way; llm-proxy and nginx never get here.
    const parsed = parseObject(text);
    if (parsed?.model === UPSTREAM_MODEL && typeof parsed.stream === "boolean") {
      return parsed.stream ? stream() : new Response(completion, { headers: { "content-type": "application/json" } });
    }
    return refuse(`the body does not carry the rewritten model: ${JSON.stringify(text.slice(0, 60))}`);
  },
});

process.stdout.write(`listening on http://127.0.0.1:${server.port}\n`);
process.on("SIGTERM", () => process.exit(0));
process.on("SIGINT", () => process.exit(0));
