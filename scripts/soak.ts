#!/usr/bin/env bun
/**
 * `bun run soak [--requests N] [--concurrency C]`: many requests through the real
 * proxy process, to find leaks a short test cannot. Starts fake providers in this
 * process — a healthy one, a flaky one failing about 10% of its requests (500, 429,
 * an error body, an error as a stream's first event, a stream gone silent), and a
 * small share of routes to one that resets every connection — and `bun src/main.ts`
 * in front of them. A client process sends N requests, C at a time: half streamed,
 * some abandoned mid-stream, a fifth on Anthropic's /v1/messages. The proxy's RSS
 * and open descriptors are read from /proc at the start, the middle and the end,
 * and again once the client process has gone. It fails (exit 1) when RSS at the
 * end is more than 15% above the middle, when the descriptors do not come back to
 * the start count, or when any client got something that is neither a whole answer
 * nor a clear error. Talks to 127.0.0.1 only.
 */
import type { Subprocess, TCPSocketListener } from "bun";
import { mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const ROOT = join(import.meta.dir, "..");
const USAGE = "usage: bun run soak [--requests N] [--concurrency C]";
/** How long the descriptors may take to come back once the load is over. */
const SETTLE_MS = 30_000;
const RSS_TOLERANCE = 0.15;
/** Requests of every kind sent before the start is measured. */
const WARMUP = 20;

function options(argv: string[]): { requests: number; concurrency: number } {
  const o = { requests: 100_000, concurrency: 64 };
  for (let i = 0; i < argv.length; i++) {
    const [flag, inline] = argv[i]!.split("=", 2) as [string, string | undefined];
    const value = () => Number(inline ?? argv[++i]);
    if (flag === "--requests") o.requests = value();
    else if (flag === "--concurrency") o.concurrency = value();
    else if (flag === "--help" || flag === "-h") {
      console.log(USAGE);
      process.exit(0);
    } else {
      console.error(`soak: unknown option ${flag}\n${USAGE}`);
      process.exit(2);
    }
  }
  for (const [name, n] of Object.entries(o)) {
    if (!Number.isInteger(n) || n < 1) {
      console.error(`soak: --${name} must be a whole number above 0\n${USAGE}`);
      process.exit(2);
    }
  }
  return o;
}

// ---- fake providers -------------------------------------------------------------------------

const encoder = new TextEncoder();
const PARTS = ["The ", "quick ", "brown ", "fox ", "jumps."];
const chunk = (content: string, model: string) => `data: ${JSON.stringify({ id: "c1", object: "chat.completion.chunk", model, choices: [{ index: 0, delta: { content }, finish_reason: null }] })}\n\n`;
const anthropicEvent = (type: string, payload: Record<string, unknown> = {}) => `event: ${type}\ndata: ${JSON.stringify({ type, ...payload })}\n\n`;

function completion(model: string, anthropic: boolean): Response {
  if (anthropic) return Response.json({ id: "msg_1", type: "message", role: "assistant", model, content: [{ type: "text", text: PARTS.join("") }], stop_reason: "end_turn", usage: { input_tokens: 3, output_tokens: 5 } });
  return Response.json({ id: "c1", object: "chat.completion", model, choices: [{ index: 0, message: { role: "assistant", content: PARTS.join("") }, finish_reason: "stop" }] });
}

/** A stream of PARTS, a millisecond apart (so a client can leave mid-way); `stallAfter` goes silent, open, after that many events. */
function stream(model: string, anthropic: boolean, stallAfter?: number): Response {
  const events = anthropic
    ? [anthropicEvent("message_start", { message: { id: "msg_1", model, content: [] } }), ...PARTS.map((text) => anthropicEvent("content_block_delta", { index: 0, delta: { type: "text_delta", text } })), anthropicEvent("message_stop")]
    : [...PARTS.map((p) => chunk(p, model)), "data: [DONE]\n\n"];
  let i = 0;
  let timer: Timer | undefined;
  const body = new ReadableStream<Uint8Array>({
    start(controller) {
      const next = () => {
        if (stallAfter !== undefined && i === stallAfter) return;
        if (i === events.length) return controller.close();
        controller.enqueue(encoder.encode(events[i++]!));
        timer = setTimeout(next, 1);
      };
      next();
    },
    cancel() {
      clearTimeout(timer);
    },
  });
  return new Response(body, { headers: { "content-type": "text/event-stream" } });
}

async function wanted(req: Request): Promise<{ model: string; stream: boolean; anthropic: boolean }> {
  const body = (await req.json()) as { model: string; stream?: boolean };
  return { model: body.model, stream: body.stream === true, anthropic: new URL(req.url).pathname.startsWith("/v1/messages") };
}

function provider(flaky: boolean): ReturnType<typeof Bun.serve> {
  return Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    // No idle timeout: a provider closing a pooled connection just as the proxy reuses it is a race of its
    // own (a spurious ECONNRESET), not what this run measures. Idle connections are closed on purpose instead.
    idleTimeout: 0,
    async fetch(req) {
      const w = await wanted(req);
      const roll = flaky ? Math.random() : 1;
      if (roll < 0.1) {
        if (w.stream) {
          if (roll < 0.05) return new Response(`data: ${JSON.stringify({ error: { message: "overloaded", type: "server_error" } })}\n\n`, { headers: { "content-type": "text/event-stream" } });
          return stream(w.model, w.anthropic, 2);
        }
        if (roll < 0.04) return Response.json({ error: { message: "internal error" } }, { status: 500 });
        if (roll < 0.07) return Response.json({ error: { message: "rate limited" } }, { status: 429, headers: { "retry-after-ms": "200" } });
        return Response.json({ error: { message: "overloaded", type: "server_error" } });
      }
      return w.stream ? stream(w.model, w.anthropic) : completion(w.model, w.anthropic);
    },
  });
}

/**
 * A provider that resets: on raw TCP, a streamed request gets its head and two events,
 * then the connection is reset; any other request is reset before an answer.
 */
function breaker(): TCPSocketListener<{ buffer: string; done: boolean }> {
  return Bun.listen<{ buffer: string; done: boolean }>({
    hostname: "127.0.0.1",
    port: 0,
    socket: {
      open(socket) {
        socket.data = { buffer: "", done: false };
      },
      data(socket, data) {
        if (socket.data.done) return;
        socket.data.buffer += new TextDecoder().decode(data);
        const end = socket.data.buffer.indexOf("\r\n\r\n");
        if (end === -1) return;
        const length = Number(/\r\ncontent-length:\s*(\d+)/i.exec(socket.data.buffer.slice(0, end))?.[1] ?? "0");
        const body = socket.data.buffer.slice(end + 4);
        if (encoder.encode(body).length < length) return;
        socket.data.done = true;
        if (!body.includes('"stream":true')) return void socket.terminate();
        const frame = (t: string) => `${encoder.encode(t).length.toString(16)}\r\n${t}\r\n`;
        const anthropic = socket.data.buffer.startsWith("POST /v1/messages");
        const events = anthropic ? [anthropicEvent("message_start", { message: { id: "msg_1", content: [] } }), anthropicEvent("content_block_delta", { index: 0, delta: { type: "text_delta", text: "The " } })] : [chunk("The ", "breaker"), chunk("quick ", "breaker")];
        socket.write(`HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ntransfer-encoding: chunked\r\n\r\n${events.map(frame).join("")}`);
        // A moment for the proxy to read the events first, so most resets land after the commit.
        setTimeout(() => socket.terminate(), 5);
      },
    },
  });
}

// ---- the proxy process ----------------------------------------------------------------------

interface Proxy {
  proc: ReturnType<typeof Bun.spawn>;
  url: string;
  tail: () => string;
}

async function startProxy(dir: string, good: string, flaky: string, resetting: string): Promise<Proxy> {
  const config = join(dir, "config.yaml");
  writeFileSync(
    config,
    `listen: "127.0.0.1:0"
proxy_api_key: sk-soak-0123456789abcdef
backends:
  - { name: good, url: "${good}/v1", api_key: sk-good-backend-000000000 }
  - { name: flaky, url: "${flaky}/v1", api_key: sk-flaky-backend-00000000 }
  - { name: breaker, url: "${resetting}/v1", api_key: sk-breaker-backend-0000000 }
models:
  soak:
    routes:
      - { backend: good, model: good-model, weight: 10 }
      - { backend: flaky, model: flaky-model, weight: 10 }
      - { backend: breaker, model: breaker-model, weight: 1 }
fallback: { cooldown_seconds: 0.05, max_cooldown_seconds: 1 }
timeouts: { connect_seconds: 2, first_byte_seconds: 10, idle_seconds: 0.5 }
logging: { level: info }
`,
  );
  const proc = Bun.spawn([process.execPath, join(ROOT, "src", "main.ts"), "-config", config], { cwd: dir, stdin: "ignore", stdout: "pipe", stderr: "pipe" });
  let out = "";
  let listening = "";
  const decoder = new TextDecoder();
  // Drained all along (a full pipe would stall the proxy's logging); the last 20 kB kept for a failure report.
  const drain = async (s: ReadableStream<Uint8Array>) => {
    for await (const c of s) {
      out = (out + decoder.decode(c, { stream: true })).slice(-20_000);
      if (!listening) listening = /listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(out)?.[1] ?? "";
    }
  };
  void drain(proc.stdout as ReadableStream<Uint8Array>);
  void drain(proc.stderr as ReadableStream<Uint8Array>);
  const deadline = Date.now() + 20_000;
  while (!listening) {
    if (proc.exitCode !== null || Date.now() > deadline) throw new Error(`the proxy did not start:\n${out}`);
    await Bun.sleep(10);
  }
  return { proc, url: listening, tail: () => out };
}

interface Sample {
  rssKiB: number;
  fds: number;
  /** What each descriptor is (`socket:[123]`, `anon_inode:[eventfd]`, a path), by number. */
  targets: Map<string, string>;
}

function sample(pid: number): Sample {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  const targets = new Map<string, string>();
  for (const fd of readdirSync(`/proc/${pid}/fd`)) {
    try {
      targets.set(fd, readlinkSync(`/proc/${pid}/fd/${fd}`));
    } catch {
      // Closed between the listing and the look: not open any more.
    }
  }
  return { rssKiB: Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0), fds: targets.size, targets };
}

/** How many of the sample's descriptors are TCP connections (not listeners, pipes or unix sockets). */
function tcpConnections(pid: number, s: Sample): number {
  const inodes = new Set<string>();
  for (const table of ["tcp", "tcp6"]) {
    let text = "";
    try {
      text = readFileSync(`/proc/${pid}/net/${table}`, "utf8");
    } catch {
      continue; // No IPv6 here.
    }
    for (const line of text.split("\n").slice(1)) {
      const f = line.trim().split(/\s+/);
      // Field 3 is the state (0A = listening), field 9 the inode.
      if (f.length > 9 && f[3] !== "0A") inodes.add(f[9]!);
    }
  }
  return [...s.targets.values()].filter((t) => inodes.has(/^socket:\[(\d+)\]$/.exec(t)?.[1] ?? "")).length;
}

/** Descriptors open now that were not at the start (same number and same target). */
function newSince(start: Sample, now: Sample): string[] {
  return [...now.targets].filter(([fd, target]) => start.targets.get(fd) !== target).map(([fd, target]) => `${fd} → ${target}`);
}

const mib = (kib: number) => `${(kib / 1024).toFixed(1)} MiB`;
const show = (label: string, s: Sample) => console.log(`${label.padEnd(34)} RSS ${mib(s.rssKiB).padStart(10)}   open descriptors ${String(s.fds).padStart(5)}`);

// ---- the client process ---------------------------------------------------------------------

type Outcome = "ok" | "ok_after_fallback" | "stream_ok" | "stream_ok_after_fallback" | "stream_cut" | "abandoned" | `http_${number}` | "broken" | "network_error";

/** What one request came to; for anything but a whole answer, a short description to print as an example. */
interface Result {
  outcome: Outcome;
  detail?: string;
}

const short = (text: string) => (text.length > 400 ? `${text.slice(0, 150)} … ${text.slice(-250)}` : text);

async function one(url: string, i: number, keepalive = true): Promise<Result> {
  const streamed = i % 2 === 0;
  const anthropic = i % 5 === 1 || i % 5 === 2;
  const abandon = streamed && i % 20 === 0;
  const path = anthropic ? "/v1/messages" : "/v1/chat/completions";
  const what = `${path}${streamed ? " stream" : ""}`;
  const client = new AbortController();
  const body = anthropic
    ? { model: "soak", max_tokens: 16, stream: streamed, messages: [{ role: "user", content: `request ${i}` }] }
    : { model: "soak", stream: streamed, messages: [{ role: "user", content: `request ${i}` }] };
  let res: Response;
  try {
    res = await fetch(url + path, {
      method: "POST",
      headers: { "content-type": "application/json", authorization: "Bearer sk-soak-0123456789abcdef" },
      body: JSON.stringify(body),
      signal: client.signal,
      keepalive,
    });
  } catch (error) {
    return { outcome: "network_error", detail: `${what}: ${(error as Error).message}` };
  }
  const route = `${res.headers.get("x-llm-proxy-backend")}, ${res.headers.get("x-llm-proxy-attempts")} attempts`;
  if (res.status >= 400) {
    const text = await res.text().catch((error: Error) => `(body unreadable: ${error.message})`);
    return { outcome: `http_${res.status}`, detail: `${what}: ${short(text)}` };
  }
  const fallback = Number(res.headers.get("x-llm-proxy-attempts") ?? "1") > 1 ? "_after_fallback" : "";
  if (!streamed) {
    const text = await res.text().catch((error: Error) => `(body unreadable: ${error.message})`);
    return text.includes("jumps.") ? { outcome: `ok${fallback}` as Outcome } : { outcome: "broken", detail: `${what} (${route}): ${short(text)}` };
  }
  const reader = res.body!.getReader();
  const decoder = new TextDecoder();
  let text = "";
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      text += decoder.decode(value, { stream: true });
      if (abandon) {
        client.abort();
        return { outcome: "abandoned" };
      }
    }
  } catch (error) {
    return { outcome: "broken", detail: `${what} (${route}): read failed (${(error as Error).message}) after ${JSON.stringify(short(text))}` };
  }
  const complete = anthropic ? text.endsWith(anthropicEvent("message_stop")) : text.endsWith("data: [DONE]\n\n");
  if (complete && PARTS.every((p) => text.includes(p))) return { outcome: `stream_ok${fallback}` as Outcome };
  // An honest cut: the last event is the proxy's error event, and no completion marker came before it.
  const last = text.trimEnd().split("\n\n").at(-1) ?? "";
  const cut = anthropic
    ? last.startsWith("event: error\n") && last.includes("incomplete") && !text.includes("message_stop")
    : last.startsWith("data: ") && last.includes('"code":"stream_cut"') && !text.includes("[DONE]");
  return cut ? { outcome: "stream_cut" } : { outcome: "broken", detail: `${what} (${route}): ${JSON.stringify(short(text))}` };
}

/** The client process: sends the requests, says when half are done, and prints the counts as JSON. */
async function client(url: string, requests: number, concurrency: number): Promise<number> {
  const counts: Record<string, number> = {};
  const examples: Record<string, string[]> = {};
  let next = 0;
  let done = 0;
  const began = performance.now();
  const worker = async () => {
    for (let i = next++; i < requests; i = next++) {
      const { outcome, detail } = await one(url, i);
      counts[outcome] = (counts[outcome] ?? 0) + 1;
      if (detail !== undefined && (examples[outcome] ??= []).length < 3) examples[outcome]!.push(detail);
      done++;
      if (done === Math.floor(requests / 2)) console.log(`half ${done}`);
      if (done % 10_000 === 0) console.log(`progress ${done} ${(done / ((performance.now() - began) / 1000)).toFixed(0)}`);
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  console.log(`end ${JSON.stringify({ done, seconds: (performance.now() - began) / 1000, counts, examples })}`);
  // Wait to be told to go, so the proxy can be measured while this process's connections are still open.
  for await (const _ of console) break;
  return 0;
}

// ---- the run --------------------------------------------------------------------------------

type Providers = { good: ReturnType<typeof Bun.serve>; flaky: ReturnType<typeof Bun.serve>; resetting: TCPSocketListener<{ buffer: string; done: boolean }> };
interface LoadResult {
  done: number;
  seconds: number;
  counts: Record<string, number>;
  examples: Record<string, string[]>;
}

/**
 * Waits, closing the providers' idle connections, until `enough` holds for the proxy (or SETTLE_MS passed).
 * The proxy must close its side of each and keep nothing else open.
 */
async function settle(pid: number, p: Providers, enough: (s: Sample) => boolean): Promise<Sample> {
  const from = Date.now();
  let now = sample(pid);
  while (!enough(now) && Date.now() - from < SETTLE_MS) {
    p.good.closeIdleConnections();
    p.flaky.closeIdleConnections();
    await Bun.sleep(100);
    now = sample(pid);
  }
  return now;
}

/** Runs the client process; samples the proxy at the half and at the end, while the clients are still connected. */
async function runLoad(load: Subprocess<"pipe", "pipe", "inherit">, pid: number): Promise<{ middle?: Sample; end?: Sample; result?: LoadResult }> {
  const out: { middle?: Sample; end?: Sample; result?: LoadResult } = {};
  let pending = "";
  for await (const piece of load.stdout) {
    pending += new TextDecoder().decode(piece);
    let nl: number;
    while ((nl = pending.indexOf("\n")) !== -1) {
      const line = pending.slice(0, nl);
      pending = pending.slice(nl + 1);
      const [kind, ...rest] = line.split(" ");
      if (kind === "half") show(`middle (${rest[0]} done)`, (out.middle = sample(pid)));
      else if (kind === "progress") console.log(`  ${rest[0]} done, ${rest[1]} requests/s`);
      else if (kind === "end") {
        out.result = JSON.parse(rest.join(" ")) as LoadResult;
        show(`end (${out.result.done} done)`, (out.end = sample(pid)));
        void load.stdin.end();
      }
    }
  }
  await load.exited;
  return out;
}

function judge(requests: number, start: Sample, middle: Sample, end: Sample, idle: Sample, result: LoadResult): string[] {
  const { done, seconds, counts, examples } = result;
  console.log(`\n${done} requests in ${seconds.toFixed(1)} s (${(done / seconds).toFixed(0)} requests/s)`);
  for (const [outcome, n] of Object.entries(counts).sort((a, b) => b[1] - a[1])) console.log(`  ${outcome.padEnd(26)} ${String(n).padStart(7)}`);
  for (const [outcome, list] of Object.entries(examples)) console.log(`\nexamples of ${outcome}:\n${list.map((e) => `  ${e}`).join("\n")}`);

  const problems: string[] = [];
  const growth = (end.rssKiB - middle.rssKiB) / middle.rssKiB;
  console.log(`\nRSS end vs middle: ${growth >= 0 ? "+" : ""}${(growth * 100).toFixed(1)}% (limit +${RSS_TOLERANCE * 100}%)`);
  if (growth > RSS_TOLERANCE) problems.push(`RSS grew ${(growth * 100).toFixed(1)}% from the middle to the end (${mib(middle.rssKiB)} → ${mib(end.rssKiB)})`);
  console.log(`descriptors once the clients are gone vs start: ${idle.fds} vs ${start.fds}`);
  if (idle.fds > start.fds) {
    problems.push(`${idle.fds - start.fds} descriptors still open ${SETTLE_MS / 1000} s after the clients went away (${start.fds} at the start); new since the start: ${newSince(start, idle).join(", ")}`);
  }
  const broken = (counts.broken ?? 0) + (counts.network_error ?? 0);
  if (broken > 0) problems.push(`${broken} requests got neither a whole answer nor a clear error`);
  if (done !== requests) problems.push(`only ${done} of ${requests} requests finished`);
  return problems;
}

async function main(): Promise<number> {
  const argv = process.argv.slice(2);
  if (argv[0] === "--client") return client(argv[1]!, Number(argv[2]), Number(argv[3]));
  const { requests, concurrency } = options(argv);
  const dir = mkdtempSync(join(tmpdir(), "llm-proxy-soak-"));
  const providers: Providers = { good: provider(false), flaky: provider(true), resetting: breaker() };
  let proxy: Proxy | undefined;
  let load: Subprocess<"pipe", "pipe", "inherit"> | undefined;
  let stopped: Promise<void> | undefined;
  const stopAll = () =>
    (stopped ??= (async () => {
      if (load && load.exitCode === null) load.kill("SIGKILL");
      if (proxy && proxy.proc.exitCode === null) {
        proxy.proc.kill("SIGTERM");
        await Promise.race([proxy.proc.exited, Bun.sleep(5000)]);
        if (proxy.proc.exitCode === null) proxy.proc.kill("SIGKILL");
      }
      await providers.good.stop(true);
      await providers.flaky.stop(true);
      providers.resetting.stop(true);
      rmSync(dir, { recursive: true, force: true });
    })());
  process.on("SIGINT", () => void stopAll().then(() => process.exit(130)));
  process.on("SIGTERM", () => void stopAll().then(() => process.exit(143)));
  try {
    const url = (x: { port?: number }) => `http://127.0.0.1:${x.port}`;
    proxy = await startProxy(dir, url(providers.good), url(providers.flaky), url(providers.resetting));
    const pid = proxy.proc.pid;
    console.log(`soak: ${requests} requests, ${concurrency} at a time, through ${proxy.url} (proxy pid ${pid})\n`);
    // Warm-up: the first upstream request makes fetch's own event loop (two descriptors, kept for good); the
    // start is measured after it, once the warm-up's TCP connections are all closed.
    for (let i = 0; i < WARMUP; i++) await one(proxy.url, i, false);
    const start = await settle(pid, providers, (x) => tcpConnections(pid, x) === 0);
    show(`start (after ${WARMUP} warm-up requests)`, start);

    load = Bun.spawn([process.execPath, import.meta.path, "--client", proxy.url, String(requests), String(concurrency)], { stdin: "pipe", stdout: "pipe", stderr: "inherit" });
    const { middle, end, result } = await runLoad(load, pid);
    if (!result || !end) throw new Error(`the client process ended with ${load.exitCode} before reporting`);
    const settleFrom = Date.now();
    const idle = await settle(pid, providers, (x) => x.fds <= start.fds);
    show(`clients gone (+${((Date.now() - settleFrom) / 1000).toFixed(1)} s)`, idle);

    const problems = judge(requests, start, middle ?? start, end, idle, result);
    if (proxy.proc.exitCode !== null) problems.push(`the proxy exited with ${proxy.proc.exitCode}:\n${proxy.tail()}`);
    if (problems.length > 0) {
      console.log(`\nFAIL\n${problems.map((p) => `  - ${p}`).join("\n")}`);
      return 1;
    }
    console.log("\nPASS");
    return 0;
  } finally {
    await stopAll();
  }
}

process.exit(await main());
