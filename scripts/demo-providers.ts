import type { Server } from "bun";

/**
 * Local stand-ins for LLM providers, for the demo: real HTTP servers on loopback
 * that speak OpenAI chat completions and Anthropic messages, as JSON or SSE.
 * Not a test double: they only make the demo work without a provider account.
 *
 * Tool calls, so a client can see them pass through the proxy: a request with
 * `tools` is answered with a call of its first tool, each parameter of the tool's
 * schema set to a demo value (the first of an `enum`, else "demo" for text, 1 for a
 * number, true for a boolean, [] or {}); a request whose last message is a tool
 * result is answered with text that quotes the result.
 */

const encoder = new TextEncoder();
const sse = (event: string | undefined, data: unknown) => `${event ? `event: ${event}\n` : ""}data: ${typeof data === "string" ? data : JSON.stringify(data)}\n\n`;

type Json = Record<string, unknown>;
const isObject = (value: unknown): value is Json => typeof value === "object" && value !== null && !Array.isArray(value);
const list = (value: unknown): unknown[] => (Array.isArray(value) ? value : []);

interface Asked {
  model: string;
  stream: boolean;
  prompt: string;
  /** The tool to call (the request's first), with its arguments. */
  call?: { name: string; input: Json };
  /** The request ends with a tool's result. */
  result?: { name: string; text: string };
}

/** Text of a message content: a string, or the text parts of a list. */
function textOf(content: unknown): string {
  if (typeof content === "string") return content;
  return list(content)
    .map((part) => (isObject(part) && typeof part.text === "string" ? part.text : isObject(part) && part.type === "tool_result" ? textOf(part.content) : ""))
    .join(" ");
}

/** A demo value for each parameter of a JSON schema: fixed, so the call is the same every time. */
function demoArguments(schema: unknown): Json {
  const properties = isObject(schema) && isObject(schema.properties) ? schema.properties : {};
  const valueFor = (p: unknown): unknown => {
    if (!isObject(p)) return "demo";
    if (Array.isArray(p.enum) && p.enum.length > 0) return p.enum[0];
    const type = Array.isArray(p.type) ? p.type[0] : p.type;
    return type === "number" || type === "integer" ? 1 : type === "boolean" ? true : type === "array" ? [] : type === "object" ? {} : "demo";
  };
  return Object.fromEntries(Object.entries(properties).map(([name, p]) => [name, valueFor(p)]));
}

/** What an OpenAI chat completions request asks for. */
function askedOpenAI(body: Json): Asked {
  const messages = list(body.messages).filter(isObject);
  const last = messages.at(-1);
  const asked: Asked = { model: String(body.model ?? ""), stream: body.stream === true, prompt: textOf(last?.content) };
  if (last?.role === "tool") {
    const calls = messages.flatMap((m) => list(m.tool_calls)).filter(isObject);
    const call = calls.find((c) => c.id === last.tool_call_id);
    const name = isObject(call?.function) ? String(call.function.name) : "the tool";
    return { ...asked, result: { name, text: textOf(last.content) } };
  }
  const tool = list(body.tools).find(isObject);
  if (tool && isObject(tool.function)) asked.call = { name: String(tool.function.name), input: demoArguments(tool.function.parameters) };
  return asked;
}

/** What an Anthropic messages request asks for. */
function askedAnthropic(body: Json): Asked {
  const messages = list(body.messages).filter(isObject);
  const last = messages.at(-1);
  const asked: Asked = { model: String(body.model ?? ""), stream: body.stream === true, prompt: textOf(last?.content) };
  const result = list(last?.content).filter(isObject).find((b) => b.type === "tool_result");
  if (result) {
    const uses = messages.flatMap((m) => list(m.content)).filter(isObject);
    const use = uses.find((b) => b.type === "tool_use" && b.id === result.tool_use_id);
    return { ...asked, result: { name: use ? String(use.name) : "the tool", text: textOf(result.content) } };
  }
  const tool = list(body.tools).find(isObject);
  if (tool && typeof tool.name === "string") asked.call = { name: tool.name, input: demoArguments(tool.input_schema) };
  return asked;
}

function reply(name: string, asked: Asked): string[] {
  const said = asked.result ? `The tool ${asked.result.name} returned: ${asked.result.text}` : `You said: ${asked.prompt || "(nothing)"}`;
  return `Hello from the demo provider "${name}", answering as ${asked.model}. ${said}`.split(/(?<= )/);
}

/** The arguments' JSON in a few pieces, as providers stream them. */
const pieces = (json: string) => json.match(/.{1,8}/gs) ?? [""];

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
  const call = asked.call && { id: "call_demo_1", type: "function", function: { name: asked.call.name, arguments: JSON.stringify(asked.call.input) } };
  const prompt = asked.prompt.split(" ").length;
  if (!asked.stream) {
    const message = call ? { role: "assistant", content: null, tool_calls: [call] } : { role: "assistant", content: words.join("") };
    return Response.json({
      id, object: "chat.completion", created, model: asked.model,
      choices: [{ index: 0, message, finish_reason: call ? "tool_calls" : "stop" }],
      usage: { prompt_tokens: prompt, completion_tokens: words.length, total_tokens: prompt + words.length },
    });
  }
  const chunk = (delta: object, finish: string | null) => sse(undefined, { id, object: "chat.completion.chunk", created, model: asked.model, choices: [{ index: 0, delta, finish_reason: finish }] });
  const body = call
    ? [
        chunk({ role: "assistant", content: null, tool_calls: [{ index: 0, id: call.id, type: "function", function: { name: call.function.name, arguments: "" } }] }, null),
        ...pieces(call.function.arguments).map((p) => chunk({ tool_calls: [{ index: 0, function: { arguments: p } }] }, null)),
        chunk({}, "tool_calls"),
      ]
    : [chunk({ role: "assistant", content: "" }, null), ...words.map((w) => chunk({ content: w }, null)), chunk({}, "stop")];
  return streamOf([...body, sse(undefined, "[DONE]")], delayMs);
}

function anthropic(name: string, asked: Asked, delayMs: number): Response {
  const words = reply(name, asked);
  const message = { id: `msg_demo_${Date.now()}`, type: "message", role: "assistant", model: asked.model, stop_reason: null, stop_sequence: null, usage: { input_tokens: 1, output_tokens: 0 } };
  const use = asked.call && { type: "tool_use", id: "toolu_demo_1", name: asked.call.name, input: asked.call.input };
  const stop = use ? "tool_use" : "end_turn";
  if (!asked.stream) {
    return Response.json({ ...message, content: [use ?? { type: "text", text: words.join("") }], stop_reason: stop, usage: { input_tokens: 1, output_tokens: words.length } });
  }
  const delta = (d: object) => sse("content_block_delta", { type: "content_block_delta", index: 0, delta: d });
  const block = use
    ? [
        sse("content_block_start", { type: "content_block_start", index: 0, content_block: { ...use, input: {} } }),
        ...pieces(JSON.stringify(use.input)).map((p) => delta({ type: "input_json_delta", partial_json: p })),
      ]
    : [sse("content_block_start", { type: "content_block_start", index: 0, content_block: { type: "text", text: "" } }), ...words.map((w) => delta({ type: "text_delta", text: w }))];
  const events = [
    sse("message_start", { type: "message_start", message: { ...message, content: [] } }),
    ...block,
    sse("content_block_stop", { type: "content_block_stop", index: 0 }),
    sse("message_delta", { type: "message_delta", delta: { stop_reason: stop, stop_sequence: null }, usage: { output_tokens: words.length } }),
    sse("message_stop", { type: "message_stop" }),
  ];
  return streamOf(events, delayMs);
}

/**
 * An error in the protocol of the path: Anthropic's shape under /v1/messages, OpenAI's elsewhere.
 * https://docs.anthropic.com/en/api/errors · https://platform.openai.com/docs/guides/error-codes
 */
function errorFor(path: string, status: number, type: { openai: string; anthropic: string; code?: string }, message: string): Response {
  if (path.startsWith("/v1/messages")) return Response.json({ type: "error", error: { type: type.anthropic, message } }, { status });
  return Response.json({ error: { message, type: type.openai, param: null, code: type.code ?? null } }, { status });
}

/** No Retry-After: the demo's own cooldown_seconds decides how long it is skipped, so what the README says is what happens. */
function rateLimited(path: string): Response {
  return errorFor(path, 429, { openai: "rate_limit_error", anthropic: "rate_limit_error", code: "rate_limit_exceeded" }, "Rate limit reached (this demo provider is always rate-limited)");
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
      let body: unknown;
      try {
        body = await req.json();
      } catch {
        body = undefined;
      }
      if (!isObject(body)) return errorFor(path, 400, { openai: "invalid_request_error", anthropic: "invalid_request_error" }, "the body is not a JSON object");
      if (path.endsWith("/messages")) return anthropic(name, askedAnthropic(body), delayMs);
      if (path.endsWith("/chat/completions")) return openai(name, askedOpenAI(body), delayMs);
      return errorFor(path, 404, { openai: "invalid_request_error", anthropic: "not_found_error", code: "not_found" }, `the demo provider does not serve ${path}`);
    },
  });
  return { name, server, url: `http://127.0.0.1:${server.port}` };
}
