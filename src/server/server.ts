import type { Server } from "bun";
import type { Config } from "../config/types.ts";
import type { ClusterStatus } from "../ops/cluster.ts";
import { CooldownTable } from "../proxy/cooldown.ts";
import { errorResponse, protocolOf, type Protocol } from "../proxy/errors.ts";
import type { Logger } from "../log/logger.ts";
import { createMask } from "../log/mask.ts";
import { METRICS_CONTENT_TYPE } from "../ops/metrics.ts";
import { forward, type ProxyContext, type ProxyObserver, type RequestRecord } from "../proxy/forward.ts";
import { statusReport } from "./status.ts";
import { modelValueRanges } from "../upstream/request.ts";

/** Bun's idle timeout for connections between requests (its default). */
const IDLE_SECONDS = 10;

/** Bun's own cap sits above `limits.max_body_mb`, so the proxy's clear 413 answers first. */
const BUN_BODY_CAP = 1025 * 1024 * 1024;

/** Paths that only take POST: another method gets 405 rather than a confusing 400. */
const POST_ONLY = new Set(["/v1/chat/completions", "/v1/completions", "/v1/embeddings", "/v1/responses", "/v1/messages", "/v1/messages/count_tokens", "/chat/completions", "/completions", "/embeddings", "/responses"]);

const strictUtf8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });

/** Compares in time that depends only on the expected key's length. */
export function safeEqual(given: string, expected: string): boolean {
  let diff = given.length ^ expected.length;
  for (let i = 0; i < expected.length; i++) diff |= expected.charCodeAt(i) ^ (given.charCodeAt(i) || 0);
  return diff === 0;
}

function presentedKey(headers: Headers): string | undefined {
  const authorization = headers.get("authorization");
  if (authorization) {
    const match = /^Bearer\s+(.+)$/i.exec(authorization.trim());
    if (match) return match[1];
  }
  return headers.get("x-api-key") ?? undefined;
}

const ID_PREFIX = `req_${Math.random().toString(36).slice(2, 8)}`;
let idCounter = 0;
const CLIENT_ID = /^[\x21-\x7e]{1,128}$/;

/** The client's own x-request-id when it sent a sane one, else a new one. */
function requestId(headers: Headers): { id: string; fromClient: boolean } {
  const given = headers.get("x-request-id");
  if (given !== null && CLIENT_ID.test(given)) return { id: given, fromClient: true };
  return { id: `${ID_PREFIX}${(++idCounter).toString(36).padStart(6, "0")}`, fromClient: false };
}

function modelList(config: Config, headers: Headers): Response {
  const created = Math.floor(config.loadedAt.getTime() / 1000);
  const ids = [...config.aliases.keys()];
  // Anthropic clients send anthropic-version and expect their own list shape. https://docs.anthropic.com/en/api/models-list
  if (headers.has("anthropic-version")) {
    const createdAt = config.loadedAt.toISOString();
    return Response.json({
      data: ids.map((id) => ({ type: "model", id, display_name: id, created_at: createdAt })),
      has_more: false,
      first_id: ids[0] ?? null,
      last_id: ids.at(-1) ?? null,
    });
  }
  return Response.json({ object: "list", data: ids.map((id) => ({ id, object: "model", created, owned_by: "llm-proxy" })) });
}

const methodNotAllowed = (protocol: Protocol, method: string, path: string, allow: string) =>
  errorResponse("method_not_allowed", protocol, `${method} is not allowed on ${path}; use ${allow}`, { allow });

export interface ServerHooks {
  readonly observer?: ProxyObserver;
  readonly onDone?: (record: RequestRecord) => void;
  /** Renders /metrics. */
  readonly metrics?: (snapshot: { cooldownsActive: number }) => string;
  /** Runs before each request is routed (the hot-reload modification-time check). */
  readonly beforeRequest?: () => void;
  readonly version?: string;
  /** The cluster link's state, for /status. */
  readonly cluster?: () => ClusterStatus | undefined;
}

export interface ProxyServer {
  readonly server: Server<undefined>;
  readonly url: string;
  readonly cooldowns: CooldownTable;
  readonly config: () => Config;
  /** Requests being served now, streams included. */
  readonly inFlight: () => number;
  /** Serves new requests with this configuration; requests in flight keep theirs. */
  setConfig(config: Config): void;
  /** Stops accepting; waits up to `graceMs` for requests and streams in flight, then closes the rest and says how many there were. */
  shutdown(graceMs: number): Promise<number>;
  stop(force?: boolean): Promise<void>;
}

export function startServer(initial: Config, log: Logger, options: { hostname?: string; port?: number; hooks?: ServerHooks; reusePort?: boolean } = {}): ProxyServer {
  const cooldowns = new CooldownTable();
  const hooks = options.hooks ?? {};
  const startedAt = Date.now();
  let inFlight = 0;
  const idleWaiters: (() => void)[] = [];
  const contextFor = (config: Config): ProxyContext => ({ config, cooldowns, log, redact: createMask(config.secrets), observer: hooks.observer, onDone: hooks.onDone });
  let context = contextFor(initial);

  const authorized = (config: Config, headers: Headers) => !config.proxyKey || safeEqual(presentedKey(headers) ?? "", config.proxyKey);

  const route = async (req: Request, server: Server<undefined>, id: string, fromClient: boolean, handOver: () => () => void): Promise<Response> => {
    const { config } = context;
    // req.url is absolute (http://host/path?query); no URL object is needed to split it.
    const raw = req.url;
    const slash = raw.indexOf("/", raw.indexOf("//") + 2);
    const mark = raw.indexOf("?", slash);
    const path = slash === -1 ? "/" : mark === -1 ? raw.slice(slash) : raw.slice(slash, mark);
    const search = mark === -1 ? "" : raw.slice(mark);
    const protocol = protocolOf(path);
    const method = req.method;

    if (req.headers.get("upgrade")?.toLowerCase() === "websocket") {
      return errorResponse("upgrade_required", protocol, "llm-proxy speaks HTTP, not WebSocket; send the same request as a plain HTTP POST", { upgrade: "HTTP/1.1" });
    }
    if (path === "/health" || path === "/healthz") {
      return method === "GET" || method === "HEAD" ? new Response("ok") : methodNotAllowed(protocol, method, path, "GET");
    }
    if (path === "/v1/models" || path === "/models") {
      return method === "GET" || method === "HEAD" ? modelList(config, req.headers) : methodNotAllowed(protocol, method, path, "GET");
    }
    if (path === "/metrics" && hooks.metrics) {
      if (method !== "GET" && method !== "HEAD") return methodNotAllowed(protocol, method, path, "GET");
      if (!config.metricsPublic && !authorized(config, req.headers)) return unauthorized(protocol);
      return new Response(hooks.metrics({ cooldownsActive: cooldowns.active(Date.now()).length }), { headers: { "content-type": METRICS_CONTENT_TYPE } });
    }

    if (!authorized(config, req.headers)) return unauthorized(protocol);
    if (path === "/status" || path === "/status/cooldowns") {
      return statusReport(req, new URL(raw), { config, cooldowns, startedAt, version: hooks.version ?? "", redact: context.redact, log, id, cluster: hooks.cluster?.() });
    }
    if (method === "GET" || method === "HEAD") {
      if (POST_ONLY.has(path)) return methodNotAllowed(protocol, method, path, "POST");
      return errorResponse("not_found", protocol, `${path} is not an endpoint of llm-proxy; it forwards requests whose JSON body names a model (POST)`);
    }

    const limit = config.maxBodyBytes;
    const length = req.headers.get("content-length");
    if (length !== null && Number(length) > limit) return tooLarge(protocol, limit, Number(length));
    const body = length !== null ? new Uint8Array(await req.arrayBuffer()) : await readChunked(req, limit);
    if (body === undefined) return tooLarge(protocol, limit);
    let text: string;
    try {
      // JSON is UTF-8 (RFC 8259); a lenient decode would shift every byte offset after a bad byte.
      text = strictUtf8.decode(body);
    } catch {
      return errorResponse("invalid_json", protocol, 'request body is not valid UTF-8; send a UTF-8 JSON object with a "model" field');
    }
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch (error) {
      return errorResponse("invalid_json", protocol, `request body is not valid JSON (${(error as Error).message}); send a JSON object with a "model" field`);
    }
    if (parsed === null || typeof parsed !== "object" || Array.isArray(parsed)) {
      return errorResponse("invalid_json", protocol, 'request body must be a JSON object with a "model" field');
    }
    const model = (parsed as { model?: unknown }).model;
    if (typeof model !== "string" || model === "") {
      return errorResponse("missing_model", protocol, 'request body has no "model" (a non-empty string naming one of the models in GET /v1/models)');
    }
    const alias = config.aliases.get(model);
    if (!alias) {
      return errorResponse("model_not_found", protocol, `model ${JSON.stringify(model)} is not served by this proxy; GET /v1/models lists the models it serves`);
    }
    const stream = (parsed as { stream?: unknown }).stream === true;
    // The two lines every request logs are only built when they will be written.
    if (log.enabled("info")) log.info(`${method} ${path} model=${model}${stream ? " stream" : ""}`, id);
    if (log.enabled("debug")) log.debug(`request headers: ${JSON.stringify(Object.fromEntries(req.headers))}; body: ${text}`, id);

    // A stream may be slow between tokens; Bun's idle timer must not cut it. The proxy's own timers
    // decide, and Bun's comes back when the request is over (else an idle keep-alive connection would stay forever).
    server.timeout(req, 0);
    return forward(context, {
      id,
      clientRequestId: fromClient,
      method,
      path,
      search,
      headers: req.headers,
      body,
      text,
      modelRanges: modelValueRanges(text, body),
      alias,
      stream,
      protocol,
      signal: req.signal,
      arrived: Date.now(),
      settle: handOver(),
    });
  };

  const handle = async (req: Request, server: Server<undefined>): Promise<Response> => {
    hooks.beforeRequest?.();
    const { id, fromClient } = requestId(req.headers);
    inFlight++;
    hooks.observer?.inFlight?.(1);
    // A proxied request counts as in flight until forward() says it is over (a stream at its end),
    // so a graceful shutdown waits for it; anything else is over when its answer is made.
    let handedOver = false;
    let settled = false;
    const settleOnce = () => {
      if (settled) return;
      settled = true;
      if (handedOver) server.timeout(req, IDLE_SECONDS);
      inFlight--;
      hooks.observer?.inFlight?.(-1);
      if (inFlight === 0) for (const wake of idleWaiters.splice(0)) wake();
    };
    try {
      const response = await route(req, server, id, fromClient, () => {
        handedOver = true;
        return settleOnce;
      });
      // forward() names every answer it makes; only the proxy's own answers need the id here.
      if (!handedOver && !response.headers.has("x-request-id")) response.headers.set("x-request-id", id);
      return response;
    } finally {
      if (!handedOver) settleOnce();
    }
  };

  const server = Bun.serve({
    hostname: options.hostname ?? initial.listen.hostname,
    port: options.port ?? initial.listen.port,
    idleTimeout: IDLE_SECONDS,
    maxRequestBodySize: BUN_BODY_CAP,
    // `workers`: several processes share the port (Linux).
    reusePort: options.reusePort ?? false,
    fetch: handle,
    error(error) {
      log.error(`internal error: ${error.stack ?? error.message}`);
      return errorResponse("internal_error", "openai", "llm-proxy hit an internal error; the details are in its log");
    },
  });

  return {
    server,
    url: `http://${server.hostname?.includes(":") ? `[${server.hostname}]` : server.hostname}:${server.port}`,
    cooldowns,
    config: () => context.config,
    inFlight: () => inFlight,
    setConfig(next) {
      context = contextFor(next);
    },
    async shutdown(graceMs) {
      void server.stop(false);
      if (inFlight > 0) {
        await Promise.race([new Promise<void>((resolve) => idleWaiters.push(resolve)), Bun.sleep(graceMs)]);
      }
      const left = inFlight;
      await server.stop(true);
      return left;
    },
    async stop(force = false) {
      await server.stop(force);
    },
  };
}

function unauthorized(protocol: Protocol): Response {
  return errorResponse("invalid_api_key", protocol, "missing or wrong API key; send the proxy's key as Authorization: Bearer <key> or x-api-key: <key>");
}

function tooLarge(protocol: Protocol, limit: number, size?: number): Response {
  const what = size === undefined ? "request body" : `request body of ${size} bytes`;
  return errorResponse("request_too_large", protocol, `${what} is over the limit of ${limit} bytes (limits.max_body_mb)`);
}

/** A body without Content-Length (chunked), read until it passes `limit`: then undefined, without waiting for its end. */
async function readChunked(req: Request, limit: number): Promise<Uint8Array | undefined> {
  if (!req.body) return new Uint8Array(0);
  const reader = req.body.getReader() as ReadableStreamDefaultReader<Uint8Array>;
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.length;
    if (size > limit) {
      reader.cancel().catch(() => {
        // The client is told 413; the rest of its body is not wanted.
      });
      return undefined;
    }
    chunks.push(value);
  }
  return chunks.length === 1 ? chunks[0]! : new Uint8Array(Buffer.concat(chunks));
}
