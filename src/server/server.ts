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
  const requests = new Requests(initial, log, options);
  const server = Bun.serve({
    hostname: options.hostname ?? initial.listen.hostname,
    port: options.port ?? initial.listen.port,
    idleTimeout: requests.idleSeconds,
    maxRequestBodySize: BUN_BODY_CAP,
    reusePort: options.reusePort ?? false,
    // The page is static (no configuration in it); Bun serves it and its assets from the bundle.
    ...(initial.ui.enabled ? { routes: { [initial.ui.path]: page } } : {}),
    // Without it Bun serves the page as a development bundle (hot reload client, unminified).
    development: false,
    fetch: (req, server) => requests.handle(req, server),
    error(error) {
      log.error(`internal error: ${error.stack ?? error.message}`);
      return errorResponse("internal_error", "openai", "llm-proxy hit an internal error; the details are in its log");
    },
  });
  return controls(server, requests);
}

/** What every request shares: the current configuration's context, the counters, the status page's recorder. */
class Requests {
  readonly cooldowns: CooldownTable;
  readonly idleSeconds: number;
  readonly inFlight: InFlight;
  readonly live: { readonly traffic: TrafficRecorder; readonly status: LiveStatus } | undefined;
  private readonly hooks: ServerHooks;
  private readonly startedAt = Date.now();
  private readonly services: KeyServices;
  private context: RouteContext;

  constructor(
    initial: Config,
    private readonly log: Logger,
    options: ServerOptions,
  ) {
    this.cooldowns = options.cooldowns ?? new CooldownTable();
    this.hooks = options.hooks ?? {};
    this.idleSeconds = options.idleSeconds ?? IDLE_SECONDS;
    this.inFlight = new InFlight(this.hooks.observer);
    this.services = options.services ?? { limiter: new LocalLimiter(), ledger: undefined };
    this.live = initial.ui.enabled ? this.startLive(initial) : undefined;
    this.context = this.contextFor(initial);
  }

  get config(): Config {
    return this.context.proxy.config;
  }

  /** New requests get this configuration; requests in flight keep theirs. */
  setConfig(config: Config): void {
    this.context = this.contextFor(config);
  }

  async handle(req: Request, server: Server<undefined>): Promise<Response> {
    this.hooks.beforeRequest?.();
    const { id, fromClient } = requestId(req.headers);
    this.inFlight.enter();
    let result;
    try {
      result = await route({ req, server, id, fromClient }, this.context);
    } catch (error) {
      this.inFlight.leave();
      throw error;
    }
    if ("own" in result) {
      this.inFlight.leave();
      return this.ownAnswer(result.own, id);
    }
    const { response, done } = result.proxied;
    // In flight until the request is over (a stream at its end), so a graceful shutdown waits for it.
    void done.then((record) => {
      server.timeout(req, this.idleSeconds);
      this.inFlight.leave();
      this.live?.traffic.record(record);
      this.hooks.onDone?.(record);
    });
    return response;
  }

  /** An answer made here: it carries the request id, and a refusal is counted. */
  private ownAnswer(response: Response, id: string): Response {
    if (!response.headers.has("x-request-id")) response.headers.set("x-request-id", id);
    if (REJECTIONS.has(response.status) && response.headers.get("content-type")?.includes("json")) this.hooks.observer?.request("", "rejected", response.status);
    return response;
  }

  private contextFor(config: Config): RouteContext {
    const { hooks } = this;
    const proxy: ProxyContext = { config, cooldowns: this.cooldowns, log: this.log, mask: createMask(config.secrets), observer: hooks.observer };
    return { proxy, startedAt: this.startedAt, version: hooks.version ?? "", metrics: hooks.metrics, cluster: hooks.cluster, services: this.services, live: this.live?.status };
  }

  /** The status page's traffic recorder and feed; the page itself is served by Bun from the bundle built into the executable. */
  private startLive(initial: Config) {
    const traffic = new TrafficRecorder();
    const status = new LiveStatus({ config: () => this.config, mask: () => this.context.proxy.mask, cooldowns: this.cooldowns, traffic, instance: () => this.instance() }, initial);
    return { traffic, status };
  }

  private instance() {
    const { hooks } = this;
    const cluster = hooks.cluster?.();
    const refused = hooks.reloadError?.();
    const reloadError = refused ? { at: refused.at, message: this.context.proxy.mask(refused.message) } : null;
    return { version: hooks.version ?? "", startedAt: this.startedAt, reloadError, cluster: cluster ? { connected: cluster.connected } : null, workers: this.config.workers, usage: this.services.ledger !== undefined };
  }
}

/** The running server as serve.ts and the tests hold it. */
function controls(server: Server<undefined>, requests: Requests): ProxyServer {
  const { inFlight } = requests;
  return {
    server,
    url: `http://${server.hostname?.includes(":") ? `[${server.hostname}]` : server.hostname}:${server.port}`,
    cooldowns: requests.cooldowns,
    config: () => requests.config,
    inFlight: () => inFlight.count,
    setConfig: (next) => requests.setConfig(next),
    async shutdown(graceMs) {
      requests.live?.status.close();
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
