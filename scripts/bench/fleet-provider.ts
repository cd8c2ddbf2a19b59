#!/usr/bin/env bun
/**
 * The provider of `bun run bench --fleet`: thousands of slow streams at once, each
 * `events` small SSE events `intervalMs` apart, every one stamped with its send
 * time (scripts/bench/fleet-workload.ts). Plain HTTP/1.1 on Bun.listen with one
 * timer for all streams, so that one core can write 100,000 events a second.
 *
 * - POST …/chat/completions for FLEET_MODEL: the passthrough stream, 37-byte events.
 * - POST …/chat/completions for FLEET_TRANSLATED_MODEL: full OpenAI chunks, a tool call and usage (what a translating proxy gets).
 * - POST /v1/messages for FLEET_DIRECT_ANTHROPIC_MODEL: the same as Anthropic events (the direct reference of the translated rows).
 * Anything else, and a request without the backend key, gets a 500 saying why.
 *
 * Usage: bun scripts/bench/fleet-provider.ts '{"events":200,"intervalMs":25}'; prints `listening on http://127.0.0.1:PORT`.
 */
import type { Socket } from "bun";
import { BACKEND_KEY } from "./workload.ts";
import { FLEET_DIRECT_ANTHROPIC_MODEL, FLEET_MODEL, FLEET_TRANSLATED_MODEL, MAX_EVENTS, nowUs, step, type Format } from "./fleet-workload.ts";

interface Spec {
  readonly events: number;
  readonly intervalMs: number;
}

const spec = JSON.parse(process.argv[2] ?? "{}") as Spec;
if (!Number.isInteger(spec.events) || spec.events < 1 || spec.events > MAX_EVENTS || !(spec.intervalMs > 0)) {
  process.stderr.write(`usage: bun scripts/bench/fleet-provider.ts '{"events":1..${MAX_EVENTS},"intervalMs":N}'\n`);
  process.exit(2);
}

interface Stream {
  readonly socket: Socket<Conn>;
  readonly format: Format;
  readonly startMs: number;
  next: number;
  done: boolean;
}

interface Conn {
  buf: string;
  stream: Stream | undefined;
  /** Bytes the socket did not take yet, written on drain. */
  pending: string;
  closeAfter: boolean;
}

let complaints = 0;
const STREAM_HEAD = "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nCache-Control: no-cache\r\nTransfer-Encoding: chunked\r\n\r\n";

function write(socket: Socket<Conn>, text: string): void {
  const c = socket.data;
  if (c.pending) {
    c.pending += text;
    return;
  }
  const n = socket.write(text);
  if (n < text.length) c.pending = text.slice(Math.max(n, 0));
}

function refuse(socket: Socket<Conn>, reason: string): void {
  if (complaints++ < 5) process.stderr.write(`fleet provider: answering 500: ${reason}\n`);
  const body = JSON.stringify({ error: { message: `fleet provider: ${reason}`, type: "server_error" } });
  write(socket, `HTTP/1.1 500 Internal Server Error\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\nConnection: close\r\n\r\n${body}`);
  socket.data.closeAfter = true;
  if (!socket.data.pending) socket.end();
}

/** Streams due at each millisecond. */
const due = new Map<number, Stream[]>();
let lastMs = Math.floor(performance.now());

function schedule(s: Stream): void {
  const at = Math.max(Math.floor(s.startMs + s.next * spec.intervalMs), lastMs + 1);
  const list = due.get(at);
  if (list) list.push(s);
  else due.set(at, [s]);
}

function send(s: Stream): void {
  if (s.done) return;
  const text = step(s.format, s.next, nowUs(), spec.events);
  const last = s.next === spec.events - 1;
  write(s.socket, `${text.length.toString(16)}\r\n${text}\r\n${last ? "0\r\n\r\n" : ""}`);
  s.next++;
  if (!last) return schedule(s);
  s.done = true;
  s.socket.data.stream = undefined;
  if (s.socket.data.closeAfter && !s.socket.data.pending) s.socket.end();
  else if (s.socket.data.buf) handle(s.socket);
}

setInterval(() => {
  const now = Math.floor(performance.now());
  for (let ms = lastMs + 1; ms <= now; ms++) {
    const list = due.get(ms);
    if (!list) continue;
    due.delete(ms);
    // Streams sent now are due again no earlier than the next millisecond.
    lastMs = ms;
    for (const s of list) send(s);
  }
  lastMs = now;
}, 1);

function begin(socket: Socket<Conn>, format: Format): void {
  write(socket, STREAM_HEAD);
  const s: Stream = { socket, format, startMs: performance.now(), next: 0, done: false };
  socket.data.stream = s;
  send(s);
}

/** The format a request asks for, or why it gets a 500. */
function route(path: string, head: string, body: string): Format | string {
  const auth = /\r\nauthorization:[ \t]*([^\r]*)/i.exec(head)?.[1]?.trim();
  const apiKey = /\r\nx-api-key:[ \t]*([^\r]*)/i.exec(head)?.[1]?.trim();
  let parsed: { model?: unknown; stream?: unknown };
  try {
    parsed = JSON.parse(body) as { model?: unknown; stream?: unknown };
  } catch {
    return `the body is not JSON (${body.length} bytes): ${JSON.stringify(body.slice(0, 60))}`;
  }
  if (parsed.stream !== true) return `"stream" is ${JSON.stringify(parsed.stream)}, not true`;
  if (path.endsWith("/chat/completions")) {
    if (auth !== `Bearer ${BACKEND_KEY}`) return "the backend key was not sent as Authorization: Bearer";
    if (parsed.model === FLEET_MODEL) return "compact";
    if (parsed.model === FLEET_TRANSLATED_MODEL) return "chat";
    return `unexpected model ${JSON.stringify(parsed.model)}`;
  }
  if (path.endsWith("/v1/messages")) {
    if (parsed.model !== FLEET_DIRECT_ANTHROPIC_MODEL) return `an Anthropic request for ${JSON.stringify(parsed.model)} reached the OpenAI provider: the proxy passed it through instead of translating it to OpenAI Chat`;
    if (apiKey !== BACKEND_KEY && auth !== `Bearer ${BACKEND_KEY}`) return "the backend key was not sent as x-api-key";
    return "anthropic";
  }
  return `POST ${path} is not served`;
}

/** Reads one request from the connection's buffer when it is complete; keep-alive, one stream at a time. */
function handle(socket: Socket<Conn>): void {
  const c = socket.data;
  if (c.stream) return;
  const end = c.buf.indexOf("\r\n\r\n");
  if (end < 0) return;
  const head = c.buf.slice(0, end);
  const length = /\r\ncontent-length:[ \t]*(\d+)/i.exec(head);
  let body: string;
  let used: number;
  if (length) {
    const n = Number(length[1]);
    if (c.buf.length < end + 4 + n) return;
    body = c.buf.slice(end + 4, end + 4 + n);
    used = end + 4 + n;
  } else if (/\r\ntransfer-encoding:[ \t]*chunked/i.test(head)) {
    const parts: string[] = [];
    let at = end + 4;
    for (;;) {
      const eol = c.buf.indexOf("\r\n", at);
      if (eol < 0) return;
      const size = parseInt(c.buf.slice(at, eol), 16);
      if (Number.isNaN(size)) return refuse(socket, "bad chunk size in the request body");
      if (c.buf.length < eol + 2 + size + 2) return;
      if (size === 0) {
        used = eol + 4;
        break;
      }
      parts.push(c.buf.slice(eol + 2, eol + 2 + size));
      at = eol + 2 + size + 2;
    }
    body = parts.join("");
  } else {
    body = "";
    used = end + 4;
  }
  c.buf = c.buf.slice(used);
  const [method = "", path = ""] = head.slice(0, head.indexOf("\r\n") >>> 0).split(" ");
  c.closeAfter = /\r\nconnection:[ \t]*close/i.test(head);
  if (method !== "POST") return refuse(socket, `${method} ${path}: only POST is served`);
  const format = route(path, head, body);
  if (format === "compact" || format === "chat" || format === "anthropic") begin(socket, format);
  else refuse(socket, format);
}

const server = Bun.listen<Conn>({
  hostname: "127.0.0.1",
  port: 0,
  socket: {
    open(socket) {
      socket.data = { buf: "", stream: undefined, pending: "", closeAfter: false };
      socket.setNoDelay(true);
    },
    data(socket, data) {
      socket.data.buf += data.toString("latin1");
      handle(socket);
    },
    drain(socket) {
      const c = socket.data;
      const rest = c.pending;
      c.pending = "";
      if (rest) write(socket, rest);
      if (!c.pending && c.closeAfter && !c.stream) socket.end();
    },
    close(socket) {
      if (socket.data.stream) socket.data.stream.done = true;
    },
    error(socket) {
      if (socket.data?.stream) socket.data.stream.done = true;
    },
  },
});

process.stdout.write(`listening on http://127.0.0.1:${server.port}\n`);
process.on("SIGTERM", () => process.exit(0));
process.on("SIGINT", () => process.exit(0));
