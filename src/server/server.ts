import type { Server } from "bun";
import type { Config } from "../config/types.ts";
import type { Logger } from "../log/logger.ts";
import { createMask } from "../log/mask.ts";
import type { ClusterStatus } from "../ops/cluster.ts";
import { CooldownTable } from "../proxy/cooldown.ts";
import { errorResponse } from "../proxy/errors.ts";
import type { ProxyContext, ProxyObserver, RequestRecord } from "../proxy/forward.ts";
import { LocalLimiter } from "../ops/limits.ts";
import type { KeyServices } from "../ops/usage-services.ts";
import { TrafficRecorder } from "../ops/traffic.ts";
import { LiveStatus } from "./live.ts";
import { route, type RouteContext } from "./routes.ts";
import page from "./ui/page.html";

/** Bun's idle timeout for connections between requests (its default). */
const IDLE_SECONDS = 10;


/** Bun's own cap sits above `limits.max_body_mb`, so the proxy's clear 413 answers first. */
const BUN_BODY_CAP = 1025 * 1024 * 1024;

/** Statuses of answers the proxy makes itself when it refuses a request. */
const REJECTIONS = new Set([400, 401, 403, 404, 405, 413, 426, 429]);

export interface ServerObserver extends ProxyObserver {
  inFlight?(delta: 1 | -1): void;
}

export interface ServerHooks {
  readonly observer?: ServerObserver;
  /** Once per proxied request, when it is over (its stream included): per-request files, metrics lines. */
  readonly onDone?: (record: RequestRecord) => void;
  /** Renders /metrics. */
  readonly metrics?: (snapshot: { cooldownsActive: number }) => string | Promise<string>;
  /** Runs before each request is routed (the hot-reload modification-time check). */
  readonly beforeRequest?: () => void;
  readonly version?: string;
  /** The cluster link's state, for /status. */
  readonly cluster?: () => ClusterStatus | undefined;
  /** The last reload the proxy refused (for the status page), or null. */
  readonly reloadError?: () => { readonly at: number; readonly message: string } | null;
}

export interface ServerOptions {
  readonly hostname?: string;
  readonly port?: number;
  readonly hooks?: ServerHooks;
  /** `workers`: several processes share the port (Linux). */
  readonly reusePort?: boolean;
  /** Shared with the cluster link; one is made when absent. */
  readonly cooldowns?: CooldownTable;
  /** Key limits and the usage ledger; local counters and no ledger when absent. */
  readonly services?: KeyServices;
  /** Seconds a connection may sit idle between requests (Bun's default, 10); proxied requests have none. */
  readonly idleSeconds?: number;
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

const ID_PREFIX = `req_${Math.random().toString(36).slice(2, 8)}`;
let idCounter = 0;
const CLIENT_ID = /^[\x21-\x7e]{1,128}$/;

/** The client's own x-request-id when it sent a sane one, else a new one. */
function requestId(headers: Headers): { id: string; fromClient: boolean } {
  const given = headers.get("x-request-id");
  if (given !== null && CLIENT_ID.test(given)) return { id: given, fromClient: true };
  return { id: `${ID_PREFIX}${(++idCounter).toString(36).padStart(6, "0")}`, fromClient: false };
}

/** Counts requests in flight (a proxied one until its stream is over), and wakes a waiting shutdown at zero. */
class InFlight {
  count = 0;
  private waiters: (() => void)[] = [];

  constructor(private readonly observer: ServerObserver | undefined) {}

  enter(): void {
    this.count++;
    this.observer?.inFlight?.(1);
  }

  leave(): void {
    this.count--;
    this.observer?.inFlight?.(-1);
    if (this.count === 0) for (const wake of this.waiters.splice(0)) wake();
  }

  idle(): Promise<void> {
    return this.count === 0 ? Promise.resolve() : new Promise((resolve) => this.waiters.push(resolve));
  }
}

/** Bun.serve on the configured address, with the proxy's endpoints and its in-flight accounting. */
export function startServer(initial: Config, log: Logger, options: ServerOptions = {}): ProxyServer {
  const cooldowns = options.cooldowns ?? new CooldownTable();
  const hooks = options.hooks ?? {};
  const startedAt = Date.now();
  const inFlight = new InFlight(hooks.observer);
  const idleSeconds = options.idleSeconds ?? IDLE_SECONDS;
  const services: KeyServices = options.services ?? { limiter: new LocalLimiter(), ledger: undefined };
  const contextFor = (config: Config): RouteContext => {
    const proxy: ProxyContext = { config, cooldowns, log, mask: createMask(config.secrets), observer: hooks.observer };
    return { proxy, startedAt, version: hooks.version ?? "", metrics: hooks.metrics, cluster: hooks.cluster, services, live: live?.status };
  };

  /** The status page's traffic recorder and feed; the page itself is served by Bun from the bundle built into the executable. */
  function startLive() {
    const traffic = new TrafficRecorder();
    const status = new LiveStatus({
      config: () => context.proxy.config,
      mask: () => context.proxy.mask,
      cooldowns,
      traffic,
      instance: () => {
        const cluster = hooks.cluster?.();
        const refused = hooks.reloadError?.();
        const reloadError = refused ? { at: refused.at, message: context.proxy.mask(refused.message) } : null;
        return { version: hooks.version ?? "", startedAt, reloadError, cluster: cluster ? { connected: cluster.connected } : null, workers: context.proxy.config.workers, usage: services.ledger !== undefined };
      },
    }, initial);
    return { traffic, status };
  }
  const live = initial.ui.enabled ? startLive() : undefined;
  let context = contextFor(initial);

  const handle = async (req: Request, server: Server<undefined>): Promise<Response> => {
    hooks.beforeRequest?.();
    const { id, fromClient } = requestId(req.headers);
    inFlight.enter();
    let result;
    try {
      result = await route({ req, server, id, fromClient }, context);
    } catch (error) {
      inFlight.leave();
      throw error;
    }
    if ("own" in result) {
      inFlight.leave();
      const response = result.own;
      if (!response.headers.has("x-request-id")) response.headers.set("x-request-id", id);
      if (REJECTIONS.has(response.status) && response.headers.get("content-type")?.includes("json")) hooks.observer?.request("", "rejected", response.status);
      return response;
    }
    const { response, done } = result.proxied;
    // In flight until the request is over (a stream at its end), so a graceful shutdown waits for it.
    void done.then((record) => {
      server.timeout(req, idleSeconds);
      inFlight.leave();
      live?.traffic.record(record);
      hooks.onDone?.(record);
    });
    return response;
  };

  const server = Bun.serve({
    hostname: options.hostname ?? initial.listen.hostname,
    port: options.port ?? initial.listen.port,
    idleTimeout: idleSeconds,
    maxRequestBodySize: BUN_BODY_CAP,
    reusePort: options.reusePort ?? false,
    // The page is static (no configuration in it); Bun serves it and its assets from the bundle.
    ...(initial.ui.enabled ? { routes: { [initial.ui.path]: page } } : {}),
    development: false,
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
    config: () => context.proxy.config,
    inFlight: () => inFlight.count,
    setConfig(next) {
      context = contextFor(next);
    },
    async shutdown(graceMs) {
      live?.status.close();
      void server.stop(false);
      if (inFlight.count > 0) await Promise.race([inFlight.idle(), Bun.sleep(graceMs)]);
      const left = inFlight.count;
      await server.stop(true);
      return left;
    },
    async stop(force = false) {
      await server.stop(force);
    },
  };
}
