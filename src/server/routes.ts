import type { Server } from "bun";
import type { Config } from "../config/types.ts";
import type { ClusterStatus } from "../ops/cluster.ts";
import { METRICS_CONTENT_TYPE } from "../ops/prometheus.ts";
import { errorResponse, protocolOf, type Protocol } from "../proxy/errors.ts";
import { forward, type Forwarded, type ProxyContext } from "../proxy/forward.ts";
import { spendOf } from "../ops/usage-record.ts";
import type { KeyServices } from "../ops/usage-services.ts";
import { admit } from "./admission.ts";
import { withoutKey } from "./auth.ts";
import { readIncoming } from "./incoming.ts";
import { identify, isOperator, type Principal } from "./keys.ts";
import { modelList } from "./models.ts";
import type { LiveStatus } from "./live.ts";
import { spendReport } from "./spend.ts";
import { statusReport } from "./status.ts";
import { usageAnswer } from "./usage.ts";

/** Paths that only take POST: another method gets 405 rather than a confusing 400. */
const POST_ONLY = new Set(["/v1/chat/completions", "/v1/completions", "/v1/embeddings", "/v1/responses", "/v1/messages", "/v1/messages/count_tokens", "/chat/completions", "/completions", "/embeddings", "/responses"]);

/** What the endpoints need besides the request: the current configuration's context and the instance. */
export interface RouteContext {
  readonly proxy: ProxyContext;
  readonly startedAt: number;
  readonly version: string;
  /** Renders /metrics. */
  readonly metrics?: (snapshot: { cooldownsActive: number }) => string | Promise<string>;
  /** The cluster link's state, for /status. */
  readonly cluster?: () => ClusterStatus | undefined;
  readonly services: KeyServices;
  /** The status page's feed, when `ui` is on. */
  readonly live?: LiveStatus;
}

/** A request on its way in: its id, and where it is going. */
export interface Routed {
  readonly req: Request;
  readonly server: Server<undefined>;
  readonly id: string;
  readonly fromClient: boolean;
}

/** Either an answer made here, or a proxied request handed to the attempt loop. */
export type RouteResult = { readonly own: Response } | { readonly proxied: Forwarded };

const methodNotAllowed = (protocol: Protocol, method: string, path: string, allow: string) =>
  errorResponse("method_not_allowed", protocol, `${method} is not allowed on ${path}; use ${allow}`, { allow });

function unauthorized(protocol: Protocol): Response {
  return errorResponse("invalid_api_key", protocol, "missing or wrong API key; send the proxy's key as Authorization: Bearer <key> or x-api-key: <key>");
}

function operatorOnly(protocol: Protocol, path: string): Response {
  return errorResponse("operator_only", protocol, `${path} needs the proxy's own key (proxy_api_key), not one of keys:`);
}

/** Who may see an operator endpoint: 401 without a known key, 403 with a key of `keys:`. */
function operatorCheck(principal: Principal | undefined, protocol: Protocol, path: string): Response | undefined {
  if (!principal) return unauthorized(protocol);
  return isOperator(principal) ? undefined : operatorOnly(protocol, path);
}

/** Splits `req.url` (absolute: http://host/path?query) without building a URL object. */
function pathAndSearch(raw: string): { path: string; search: string } {
  const slash = raw.indexOf("/", raw.indexOf("//") + 2);
  const mark = raw.indexOf("?", slash);
  return { path: slash === -1 ? "/" : mark === -1 ? raw.slice(slash) : raw.slice(slash, mark), search: mark === -1 ? "" : raw.slice(mark) };
}

/** The endpoints: health, models, metrics, status, and everything else proxied. */
export async function route(r: Routed, ctx: RouteContext): Promise<RouteResult> {
  const { req } = r;
  const config: Config = ctx.proxy.config;
  const { path, search } = pathAndSearch(req.url);
  const protocol = protocolOf(path);
  const method = req.method;
  const own = (response: Response): RouteResult => ({ own: response });

  if (req.headers.get("upgrade")?.toLowerCase() === "websocket") {
    return own(errorResponse("upgrade_required", protocol, "llm-proxy speaks HTTP, not WebSocket; send the same request as a plain HTTP POST", { upgrade: "HTTP/1.1" }));
  }
  if (path === "/health" || path === "/healthz") {
    return own(method === "GET" || method === "HEAD" ? new Response("ok") : methodNotAllowed(protocol, method, path, "GET"));
  }
  const principal = identify(config, req.headers);
  if (path === "/v1/models" || path === "/models") {
    // Without a key, every enabled alias (as the original); with one of keys:, the aliases it may use.
    const allows = principal?.kind === "key" ? principal.key.allows : undefined;
    return own(method === "GET" || method === "HEAD" ? modelList(config, req.headers, allows) : methodNotAllowed(protocol, method, path, "GET"));
  }
  if (path === "/metrics" && ctx.metrics) {
    if (method !== "GET" && method !== "HEAD") return own(methodNotAllowed(protocol, method, path, "GET"));
    const refused = config.metricsPublic ? undefined : operatorCheck(principal, protocol, path);
    if (refused) return own(refused);
    const body = await ctx.metrics({ cooldownsActive: ctx.proxy.cooldowns.active(Date.now()).length });
    return own(new Response(body, { headers: { "content-type": METRICS_CONTENT_TYPE } }));
  }

  if (!principal) return own(unauthorized(protocol));
  if (path === "/usage") return own(await usageAnswer(req, new URL(req.url), principal, ctx.services, protocol));
  if (ctx.live && (path === "/status/events" || path === "/status/spend")) {
    const refused = operatorCheck(principal, protocol, path) ?? (method === "GET" ? undefined : methodNotAllowed(protocol, method, path, "GET"));
    if (refused) return own(refused);
    if (path === "/status/spend") return own(Response.json(await spendReport(config, ctx.services, Date.now()), { headers: { "cache-control": "no-store" } }));
    // The feed sends every second; Bun's idle timer has nothing to cut, and a page that stops reading is dropped by the feed.
    r.server.timeout(req, 0);
    return own(ctx.live.subscribe(req.signal));
  }
  if (path === "/status" || path === "/status/cooldowns") {
    const refused = operatorCheck(principal, protocol, path);
    if (refused) return own(refused);
    const { proxy } = ctx;
    return own(statusReport(req, new URL(req.url), { config, cooldowns: proxy.cooldowns, startedAt: ctx.startedAt, version: ctx.version, redact: proxy.mask, log: proxy.log, id: r.id, cluster: ctx.cluster?.() }));
  }
  if (method === "GET" || method === "HEAD") {
    if (POST_ONLY.has(path)) return own(methodNotAllowed(protocol, method, path, "POST"));
    return own(errorResponse("not_found", protocol, `${path} is not an endpoint of llm-proxy; it forwards requests whose JSON body names a model (POST)`));
  }

  const keyName = principal.kind === "key" ? principal.key.name : undefined;
  const incoming = await readIncoming({ req, id: r.id, fromClient: r.fromClient, path, search: withoutKey(search, config.proxyKey), protocol, key: keyName }, config, ctx.proxy.log);
  if (incoming instanceof Response) return own(incoming);
  const admission = await admit(principal, incoming.alias.name, protocol, ctx.services, Date.now());
  if (admission instanceof Response) return own(admission);
  // A stream may be slow between tokens; Bun's idle timer must not cut it. The proxy's own
  // timers decide, and Bun's comes back when the request is over.
  r.server.timeout(req, 0);
  const forwarded = await forward(ctx.proxy, incoming);
  const done = forwarded.done.then((record) => {
    admission.release(spendOf(record.usage, record.route), Date.now());
    return record;
  });
  return { proxied: { response: forwarded.response, done } };
}
