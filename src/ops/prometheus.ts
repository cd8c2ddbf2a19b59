/**
 * Prometheus metrics without a client library: counters, gauges and histograms
 * keyed by label values, and a registry that renders them (the proxy's own families: metrics.ts).
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
