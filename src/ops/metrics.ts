import type { RequestOutcome, RequestRecord } from "../proxy/forward.ts";
import { costOf } from "./ledger-cost.ts";

/**
 * Prometheus metrics without a client library: counters, gauges and histograms
 * keyed by label values, a registry that renders them, and the proxy's own families.
 * Text exposition format 0.0.4:
 * https://prometheus.io/docs/instrumenting/exposition_formats/#text-based-format
 */

/** The Content-Type a scrape of `render()` is served with. */
export const METRICS_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8";

/** A metric defined wrongly: a programmer error, thrown at start-up, never on the hot path. */
export class MetricsError extends Error {
  override name = "MetricsError";
}

/** One string per label name, in the same order. */
export type LabelValues<L extends readonly string[]> = { readonly [K in keyof L]: string };

export interface FamilyOptions {
  /**
   * Most label combinations a family keeps. Label values can come from clients
   * (a typo'd model alias), and every new combination is memory and a series
   * to scrape forever; past the cap, new ones are counted under OVERFLOW.
   */
  readonly maxSeries?: number;
}

/** The label value every label gets in the series that takes a family's excess combinations. */
export const OVERFLOW = "__overflow__";
const DEFAULT_MAX_SERIES = 10_000;

const METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

/** A sample value as Go's ParseFloat reads it; integers never in exponent form. */
export function formatNumber(n: number): string {
  if (Number.isInteger(n)) return Math.abs(n) < 1e21 ? String(n) : BigInt(n).toString();
  if (n === Infinity) return "+Inf";
  if (n === -Infinity) return "-Inf";
  return String(n); // NaN prints as "NaN", which the format accepts.
}

const LABEL_ESCAPES: Record<string, string> = { "\\": "\\\\", '"': '\\"', "\n": "\\n" };
const escapeLabelValue = (value: string): string => value.replace(/[\\"\n]/g, (c) => LABEL_ESCAPES[c] ?? c);
// HELP text escapes backslash and newline but, unlike label values, not the double quote.
const escapeHelp = (help: string): string => help.replace(/[\\\n]/g, (c) => LABEL_ESCAPES[c] ?? c);

/** `a="x",b="y"`: built once per series, so rendering and increments never rebuild it. */
function renderLabels(names: readonly string[], values: readonly string[]): string {
  return names.map((name, i) => `${name}="${escapeLabelValue(values[i] ?? "")}"`).join(",");
}

const braced = (labels: string): string => (labels === "" ? "" : `{${labels}}`);

/** A trie over label values: finding a series costs one Map lookup per label and builds no string. */
interface Node<S> {
  readonly next: Map<string, Node<S>>;
  series: S | undefined;
}
const emptyNode = <S>(): Node<S> => ({ next: new Map(), series: undefined });

type MetricType = "counter" | "gauge" | "histogram";

abstract class Family<L extends readonly string[], S> {
  abstract readonly type: MetricType;
  /** Series in the order they appeared, which is the order they render in. */
  protected all: S[] = [];
  private root: Node<S> = emptyNode();
  private readonly maxSeries: number;

  constructor(
    readonly name: string,
    readonly help: string,
    readonly labelNames: L,
    options: FamilyOptions = {},
  ) {
    if (!METRIC_NAME.test(name)) throw new MetricsError(`invalid metric name ${JSON.stringify(name)}`);
    for (const label of labelNames) {
      if (!LABEL_NAME.test(label) || label.startsWith("__")) {
        throw new MetricsError(`${name}: invalid label name ${JSON.stringify(label)}`);
      }
    }
    if (new Set(labelNames).size !== labelNames.length) throw new MetricsError(`${name}: a label name is repeated`);
    this.maxSeries = options.maxSeries ?? DEFAULT_MAX_SERIES;
  }

  protected abstract create(labels: string): S;
  protected abstract renderSeries(out: string[], series: S): void;

  /** A family without labels has its one series from the start, so it renders 0 before the first event. */
  protected init(): void {
    if (this.labelNames.length === 0) this.seriesFor([]);
  }

  protected seriesFor(values: readonly string[]): S {
    let node: Node<S> | undefined = this.root;
    for (let i = 0; i < values.length; i++) {
      node = node.next.get(values[i] as string);
      if (node === undefined) return this.add(values);
    }
    return node.series ?? this.add(values);
  }

  private add(values: readonly string[]): S {
    const path = this.all.length < this.maxSeries ? values : this.labelNames.map(() => OVERFLOW);
    let node = this.root;
    for (const value of path) {
      let child = node.next.get(value);
      if (child === undefined) node.next.set(value, (child = emptyNode()));
      node = child;
    }
    if (node.series === undefined) {
      node.series = this.create(renderLabels(this.labelNames, path));
      this.all.push(node.series);
    }
    return node.series;
  }

  /** Forgets every series, for values that are replaced rather than accumulated (build info). */
  reset(): void {
    this.root = emptyNode();
    this.all = [];
  }

  /** Appends this family's lines; a family with no series is left out, as the Go client does. */
  render(out: string[]): void {
    if (this.all.length === 0) return;
    out.push(`# HELP ${this.name} ${escapeHelp(this.help)}`, `# TYPE ${this.name} ${this.type}`);
    for (const series of this.all) this.renderSeries(out, series);
  }
}

interface Scalar {
  readonly labels: string;
  value: number;
}

abstract class ScalarFamily<L extends readonly string[]> extends Family<L, Scalar> {
  constructor(name: string, help: string, labelNames: L, options?: FamilyOptions) {
    super(name, help, labelNames, options);
    this.init();
  }

  protected create(labels: string): Scalar {
    return { labels, value: 0 };
  }

  protected renderSeries(out: string[], s: Scalar): void {
    out.push(`${this.name}${braced(s.labels)} ${formatNumber(s.value)}`);
  }
}

export class Counter<const L extends readonly string[]> extends ScalarFamily<L> {
  readonly type = "counter";

  inc(values: LabelValues<L>, by = 1): void {
    // A negative or NaN step would break the counter's promise never to go down;
    // dropped rather than thrown, so a bad measurement cannot fail a request.
    if (!(by >= 0)) return;
    this.seriesFor(values).value += by;
  }
}

export class Gauge<const L extends readonly string[]> extends ScalarFamily<L> {
  readonly type = "gauge";

  set(values: LabelValues<L>, value: number): void {
    this.seriesFor(values).value = value;
  }

  inc(values: LabelValues<L>, by = 1): void {
    this.seriesFor(values).value += by;
  }
}

interface Buckets {
  readonly labels: string;
  /** Observations per bucket, not cumulative (one add per observe); the last slot is +Inf only. */
  readonly counts: Float64Array;
  sum: number;
}

export class Histogram<const L extends readonly string[]> extends Family<L, Buckets> {
  readonly type = "histogram";
  private readonly bounds: Float64Array;
  private readonly le: readonly string[];

  /** `buckets`: upper bounds, strictly increasing; +Inf is always added. */
  constructor(name: string, help: string, labelNames: L, buckets: readonly number[], options?: FamilyOptions) {
    super(name, help, labelNames, options);
    if (labelNames.includes("le")) throw new MetricsError(`${name}: "le" is reserved for histogram buckets`);
    const bounds = buckets.at(-1) === Infinity ? buckets.slice(0, -1) : buckets;
    bounds.forEach((b, i) => {
      if (!Number.isFinite(b) || (i > 0 && !(b > (bounds[i - 1] as number)))) {
        throw new MetricsError(`${name}: buckets must be finite and strictly increasing, got ${bounds.join(", ")}`);
      }
    });
    this.bounds = Float64Array.from(bounds);
    this.le = [...bounds.map((b) => escapeLabelValue(formatNumber(b))), "+Inf"];
    this.init();
  }

  observe(values: LabelValues<L>, value: number): void {
    if (Number.isNaN(value)) return; // would poison _sum forever; dropped for the same reason as in Counter.inc
    const s = this.seriesFor(values);
    const bounds = this.bounds;
    // A linear scan beats a binary search over a handful of bounds (the Go client switches at 35).
    let i = 0;
    while (i < bounds.length && value > (bounds[i] as number)) i++;
    s.counts[i] = (s.counts[i] as number) + 1;
    s.sum += value;
  }

  protected create(labels: string): Buckets {
    return { labels, counts: new Float64Array(this.bounds.length + 1), sum: 0 };
  }

  protected renderSeries(out: string[], s: Buckets): void {
    const prefix = s.labels === "" ? "" : `${s.labels},`;
    let cumulative = 0;
    for (let i = 0; i < s.counts.length; i++) {
      cumulative += s.counts[i] as number;
      out.push(`${this.name}_bucket{${prefix}le="${this.le[i]}"} ${formatNumber(cumulative)}`);
    }
    out.push(`${this.name}_sum${braced(s.labels)} ${formatNumber(s.sum)}`, `${this.name}_count${braced(s.labels)} ${formatNumber(cumulative)}`);
  }
}

interface Renderable {
  render(out: string[]): void;
}

/** Families in the order they were made, each name used once across all of them. */
export class Registry {
  private readonly families: Renderable[] = [];
  private readonly taken = new Set<string>();

  counter<const L extends readonly string[]>(name: string, help: string, labelNames: L, options?: FamilyOptions): Counter<L> {
    return this.add(new Counter(name, help, labelNames, options), [name]);
  }

  gauge<const L extends readonly string[]>(name: string, help: string, labelNames: L, options?: FamilyOptions): Gauge<L> {
    return this.add(new Gauge(name, help, labelNames, options), [name]);
  }

  histogram<const L extends readonly string[]>(
    name: string,
    help: string,
    labelNames: L,
    buckets: readonly number[],
    options?: FamilyOptions,
  ): Histogram<L> {
    return this.add(new Histogram(name, help, labelNames, buckets, options), [name, `${name}_bucket`, `${name}_sum`, `${name}_count`]);
  }

  /** The whole exposition; every line, the last included, ends in a newline. */
  render(): string {
    const out: string[] = [];
    for (const family of this.families) family.render(out);
    return out.length === 0 ? "" : `${out.join("\n")}\n`;
  }

  private add<F extends Renderable>(family: F, names: readonly string[]): F {
    for (const name of names) {
      if (this.taken.has(name)) throw new MetricsError(`metric name ${JSON.stringify(name)} is already used`);
    }
    for (const name of names) this.taken.add(name);
    this.families.push(family);
    return family;
  }
}

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
