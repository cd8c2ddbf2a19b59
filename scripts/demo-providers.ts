import type { Server } from "bun";

/**
 * Local stand-ins for LLM providers, for the demo: real HTTP servers on loopback
 * that speak OpenAI chat completions and Anthropic messages, as JSON or SSE.
 * Not a test double: they only make the demo work without a provider account.
 */

const encoder = new TextEncoder();
const sse = (event: string | undefined, data: unknown) => `${event ? `event: ${event}\n` : ""}data: ${typeof data === "string" ? data : JSON.stringify(data)}\n\n`;

interface Asked {
  model: string;
  stream: boolean;
  prompt: string;
}

function lastUserText(body: Record<string, unknown>): string {
  const messages = Array.isArray(body.messages) ? body.messages : [];
  const last = messages.at(-1) as { content?: unknown } | undefined;
  if (typeof last?.content === "string") return last.content;
  if (Array.isArray(last?.content)) {
    return last.content.map((part: { text?: unknown }) => (typeof part?.text === "string" ? part.text : "")).join(" ");
  }
  return "";
}

function reply(name: string, asked: Asked): string[] {
  const text = `Hello from the demo provider "${name}", answering as ${asked.model}. You said: ${asked.prompt || "(nothing)"}`;
  return text.split(/(?<= )/);
}

function streamOf(events: string[], delayMs: number): Response {
  const body = new ReadableStream<Uint8Array>({
    async start(controller) {
      for (const event of events) {
        controller.enqueue(encoder.encode(event));
        await Bun.sleep(delayMs);
      }
      controller.close();
    },
  });
  return new Response(body, { headers: { "content-type": "text/event-stream", "cache-control": "no-cache" } });
}

function openai(name: string, asked: Asked, delayMs: number): Response {
  const words = reply(name, asked);
  const id = `chatcmpl-demo-${Date.now()}`;
  const created = Math.floor(Date.now() / 1000);
  if (!asked.stream) {
    return Response.json({
      id, object: "chat.completion", created, model: asked.model,
      choices: [{ index: 0, message: { role: "assistant", content: words.join("") }, finish_reason: "stop" }],
      usage: { prompt_tokens: asked.prompt.split(" ").length, completion_tokens: words.length, total_tokens: asked.prompt.split(" ").length + words.length },
    });
  }
  const chunk = (delta: object, finish: string | null) => sse(undefined, { id, object: "chat.completion.chunk", created, model: asked.model, choices: [{ index: 0, delta, finish_reason: finish }] });
  const events = [chunk({ role: "assistant", content: "" }, null), ...words.map((w) => chunk({ content: w }, null)), chunk({}, "stop"), sse(undefined, "[DONE]")];
  return streamOf(events, delayMs);
}

function anthropic(name: string, asked: Asked, delayMs: number): Response {
  const words = reply(name, asked);
  const message = { id: `msg_demo_${Date.now()}`, type: "message", role: "assistant", model: asked.model, stop_reason: null, stop_sequence: null, usage: { input_tokens: 1, output_tokens: 0 } };
  if (!asked.stream) {
    return Response.json({ ...message, content: [{ type: "text", text: words.join("") }], stop_reason: "end_turn", usage: { input_tokens: 1, output_tokens: words.length } });
  }
  const events = [
    sse("message_start", { type: "message_start", message: { ...message, content: [] } }),
    sse("content_block_start", { type: "content_block_start", index: 0, content_block: { type: "text", text: "" } }),
    ...words.map((w) => sse("content_block_delta", { type: "content_block_delta", index: 0, delta: { type: "text_delta", text: w } })),
    sse("content_block_stop", { type: "content_block_stop", index: 0 }),
    sse("message_delta", { type: "message_delta", delta: { stop_reason: "end_turn", stop_sequence: null }, usage: { output_tokens: words.length } }),
    sse("message_stop", { type: "message_stop" }),
  ];
  return streamOf(events, delayMs);
}

function rateLimited(path: string): Response {
  const message = "Rate limit reached (this demo provider is always rate-limited)";
  const headers = { "retry-after": "30" };
  if (path.startsWith("/v1/messages")) return Response.json({ type: "error", error: { type: "rate_limit_error", message } }, { status: 429, headers });
  return Response.json({ error: { message, type: "rate_limit_error", code: "rate_limit_exceeded" } }, { status: 429, headers });
}

export interface DemoProvider {
  readonly name: string;
  readonly server: Server<undefined>;
  readonly url: string;
}

/** Starts one demo provider on 127.0.0.1 (port 0 = any free port). */
export function startDemoProvider(name: string, behaviour: "healthy" | "rate-limited", options: { port?: number; delayMs?: number } = {}): DemoProvider {
  const delayMs = options.delayMs ?? 40;
  const server = Bun.serve({
    hostname: "127.0.0.1",
    port: options.port ?? 0,
    idleTimeout: 0,
    async fetch(req) {
      const path = new URL(req.url).pathname;
      if (behaviour === "rate-limited") return rateLimited(path);
      let body: Record<string, unknown>;
      try {
        body = (await req.json()) as Record<string, unknown>;
      } catch {
        return Response.json({ error: { message: "body is not JSON", type: "invalid_request_error" } }, { status: 400 });
      }
      const asked: Asked = { model: String(body.model ?? ""), stream: body.stream === true, prompt: lastUserText(body) };
      if (path.endsWith("/messages")) return anthropic(name, asked, delayMs);
      if (path.endsWith("/chat/completions")) return openai(name, asked, delayMs);
      return Response.json({ error: { message: `the demo provider does not serve ${path}`, type: "invalid_request_error" } }, { status: 404 });
    },
  });
  return { name, server, url: `http://127.0.0.1:${server.port}` };
}
