/** The proxy's metric families: what the request path reports, and what /metrics renders. */
import type { RequestOutcome, RequestRecord } from "../proxy/forward.ts";
import { costOf } from "./ledger-cost.ts";
import { Registry } from "./prometheus.ts";


export type AttemptResult = "ok" | "failure";
/** l1: the next route of the same alias; l2: a route of a fallback alias. */
export type FallbackLevel = "l1" | "l2";

export interface MetricsSnapshot {
  readonly cooldownsActive: number;
  readonly version: string;
  /** Given only when the proxy runs in a cluster; without it the family is left out. */
  readonly cluster?: { readonly connected: boolean };
}

/** Seconds, from a cache hit to a slow model's long answer or a stall that times out. */
export const LATENCY_BUCKETS: readonly number[] = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300];

/** The proxy's metric families: what the request path reports, and what /metrics renders. */
export class ProxyMetrics {
  private readonly registry = new Registry();
  private readonly requests = this.registry.counter(
    "llm_proxy_requests_total",
    "Client requests answered, by model alias, outcome and HTTP status.",
    ["alias", "outcome", "status"],
  );
  private readonly attempts = this.registry.counter(
    "llm_proxy_upstream_attempts_total",
    "Attempts sent upstream, by backend, model and whether the answer could be used.",
    ["backend", "model", "result"],
  );
  private readonly latency = this.registry.histogram(
    "llm_proxy_upstream_latency_seconds",
    "Time from sending an attempt until its answer was judged: headers, first stream event or full JSON body.",
    ["backend", "model"],
    LATENCY_BUCKETS,
  );
  private readonly firstBytes = this.registry.histogram(
    "llm_proxy_upstream_first_byte_seconds",
    "Time from sending an attempt until the first byte of its response body.",
    ["backend", "model"],
    LATENCY_BUCKETS,
  );
  private readonly fallbacks = this.registry.counter(
    "llm_proxy_fallbacks_total",
    "Requests that moved on to this route after an earlier one failed; l2 when the route belongs to a fallback alias.",
    ["level", "backend", "model"],
  );
  private readonly cooldowns = this.registry.counter(
    "llm_proxy_cooldowns_entered_total",
    "Backend and model pairs put into cooldown, by the class of failure.",
    ["backend", "model", "reason"],
  );
  private readonly bytes = this.registry.counter(
    "llm_proxy_streamed_bytes_total",
    "Response body bytes relayed from each backend and model to clients.",
    ["backend", "model"],
  );
  private readonly tokens = this.registry.counter(
    "llm_proxy_tokens_total",
    "Tokens the providers reported, by key name (empty for the proxy key), alias, backend, model and kind (input without cache, cache_read, cache_write, output).",
    ["key", "alias", "backend", "model", "kind"],
  );
  private readonly cost = this.registry.counter(
    "llm_proxy_cost_usd_total",
    "Cost in USD at the configured prices, by key name, alias, backend and model.",
    ["key", "alias", "backend", "model"],
  );
  private readonly inFlightNow = this.registry.gauge("llm_proxy_requests_in_flight", "Client requests being handled now.", []);
  private readonly reloads = this.registry.counter("llm_proxy_config_reloads_total", "Configuration reloads, applied (ok) or refused (rejected).", ["result"]);
  // Values of the moment, set by render() from its snapshot and the process.
  private readonly cooldownsActive = this.registry.gauge("llm_proxy_cooldowns_active", "Backend and model pairs cooling down now.", []);
  private readonly rss = this.registry.gauge("process_resident_memory_bytes", "Resident memory size in bytes.", []);
  private readonly heap = this.registry.gauge("process_heap_bytes", "JavaScript heap in use, in bytes.", []);
  private readonly startTime = this.registry.gauge("process_start_time_seconds", "Start time of the process since the Unix epoch in seconds.", []);
  private readonly buildInfo = this.registry.gauge("llm_proxy_build_info", "Always 1; the version label names the running build.", ["version"]);
  private readonly cluster = this.registry.gauge("llm_proxy_cluster_connected", "1 while this instance is connected to its cluster, else 0.", []);

  request(alias: string, outcome: RequestOutcome, status: number): void {
    this.requests.inc([alias, outcome, String(status)]);
  }

  attempt(backend: string, model: string, result: AttemptResult, seconds: number): void {
    this.attempts.inc([backend, model, result]);
    this.latency.observe([backend, model], seconds);
  }

  firstByte(backend: string, model: string, seconds: number): void {
    this.firstBytes.observe([backend, model], seconds);
  }

  fallback(level: FallbackLevel, backend: string, model: string): void {
    this.fallbacks.inc([level, backend, model]);
  }

  /** `reason`: a short class such as "status_429", "network", "timeout", "stream_cut", "auth". */
  cooldown(backend: string, model: string, reason: string): void {
    this.cooldowns.inc([backend, model, reason]);
  }

  streamedBytes(backend: string, model: string, bytes: number): void {
    this.bytes.inc([backend, model], bytes);
  }

  /** A proxied request is over: the tokens its answer reported, and their cost. */
  usage(r: RequestRecord): void {
    const u = r.usage;
    if (!u) return;
    const key = r.request.key ?? "";
    const alias = r.request.alias.name;
    const backend = r.route?.backend.name ?? "";
    const model = r.route?.model ?? "";
    this.tokens.inc([key, alias, backend, model, "input"], u.input);
    this.tokens.inc([key, alias, backend, model, "cache_read"], u.cacheRead);
    this.tokens.inc([key, alias, backend, model, "cache_write"], u.cacheWrite);
    this.tokens.inc([key, alias, backend, model, "output"], u.output);
    this.cost.inc([key, alias, backend, model], costOf(u, r.route?.price));
  }

  inFlight(delta: 1 | -1): void {
    this.inFlightNow.inc([], delta);
  }

  reload(result: "ok" | "rejected"): void {
    this.reloads.inc([result]);
  }

  render(snapshot: MetricsSnapshot): string {
    const memory = process.memoryUsage();
    this.cooldownsActive.set([], snapshot.cooldownsActive);
    this.rss.set([], memory.rss);
    this.heap.set([], memory.heapUsed);
    this.startTime.set([], performance.timeOrigin / 1000);
    // Replaced, not accumulated: only the version this snapshot names is reported.
    this.buildInfo.reset();
    this.buildInfo.set([snapshot.version], 1);
    if (snapshot.cluster === undefined) this.cluster.reset();
    else this.cluster.set([], snapshot.cluster.connected ? 1 : 0);
    return this.registry.render();
  }
}
