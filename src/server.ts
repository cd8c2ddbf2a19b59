import type { Server } from "bun";
import type { Config } from "./config/types.ts";
import { CooldownTable } from "./cooldown.ts";
import { errorResponse, protocolOf, type Protocol } from "./errors.ts";
import type { Logger } from "./log.ts";
import { createMask } from "./mask.ts";
import { forward, type ProxyContext } from "./proxy.ts";
import { modelValueRanges } from "./upstream.ts";

/** Request bodies above this get 413 (the resilience work makes it `limits.max_body_mb`). */
export const MAX_BODY_BYTES = 32 * 1024 * 1024;

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

interface State {
  context: ProxyContext;
}

export interface ProxyServer {
  readonly server: Server<undefined>;
  readonly url: string;
  readonly cooldowns: CooldownTable;
  /** Serves new requests with this configuration; requests in flight keep theirs. */
  setConfig(config: Config): void;
  stop(force?: boolean): Promise<void>;
}

function contextFor(config: Config, cooldowns: CooldownTable, log: Logger): ProxyContext {
  return { config, cooldowns, log, redact: createMask(config.secrets) };
}

export function startServer(config: Config, log: Logger, options: { hostname?: string; port?: number } = {}): ProxyServer {
  const cooldowns = new CooldownTable();
  const state: State = { context: contextFor(config, cooldowns, log) };

  const handle = async (req: Request, server: Server<undefined>): Promise<Response> => {
    const { context } = state;
    const { config } = context;
    const url = new URL(req.url);
    const path = url.pathname;
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

    if (config.proxyKey && !safeEqual(presentedKey(req.headers) ?? "", config.proxyKey)) {
      return errorResponse("invalid_api_key", protocol, "missing or wrong API key; send the proxy's key as Authorization: Bearer <key> or x-api-key: <key>");
    }
    if (method === "GET" || method === "HEAD") {
      if (POST_ONLY.has(path)) return methodNotAllowed(protocol, method, path, "POST");
      return errorResponse("not_found", protocol, `${path} is not an endpoint of llm-proxy; it forwards requests whose JSON body names a model (POST)`);
    }

    const declared = Number(req.headers.get("content-length") ?? "0");
    if (declared > MAX_BODY_BYTES) {
      return errorResponse("request_too_large", protocol, `request body of ${declared} bytes is over the limit of ${MAX_BODY_BYTES} bytes`);
    }
    const body = new Uint8Array(await req.arrayBuffer());
    if (body.length > MAX_BODY_BYTES) {
      return errorResponse("request_too_large", protocol, `request body is over the limit of ${MAX_BODY_BYTES} bytes`);
    }
    let text: string;
    let parsed: unknown;
    try {
      // JSON is UTF-8 (RFC 8259); a lenient decode would shift every byte offset after a bad byte.
      text = strictUtf8.decode(body);
    } catch {
      return errorResponse("invalid_json", protocol, "request body is not valid UTF-8; send a UTF-8 JSON object with a \"model\" field");
    }
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

    // A stream may be slow between tokens; Bun's idle timer must not cut it.
    server.timeout(req, 0);
    return forward(context, {
      method,
      path,
      search: url.search,
      headers: req.headers,
      body,
      text,
      modelRanges: modelValueRanges(text),
      alias,
      stream: (parsed as { stream?: unknown }).stream === true,
      protocol,
      signal: req.signal,
    });
  };

  const server = Bun.serve({
    hostname: options.hostname ?? config.listen.hostname,
    port: options.port ?? config.listen.port,
    maxRequestBodySize: MAX_BODY_BYTES + 1024 * 1024,
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
    setConfig(next) {
      state.context = contextFor(next, cooldowns, log);
    },
    async stop(force = false) {
      await server.stop(force);
    },
  };
}
