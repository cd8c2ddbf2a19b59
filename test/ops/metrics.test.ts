import { describe, expect, test } from "bun:test";
import { promtool, promtoolTool } from "../helpers/promtool.ts";
import { ProxyMetrics } from "../../src/ops/metrics.ts";
import { Counter, formatNumber, Gauge, Histogram, MetricsError, OVERFLOW, Registry } from "../../src/ops/prometheus.ts";

const withPromtool = test.skipIf(!promtoolTool.run);

const linesOf = (text: string): string[] => text.split("\n");

function rendered(...families: Array<{ render(out: string[]): void }>): string[] {
  const out: string[] = [];
  for (const family of families) family.render(out);
  return out;
}

/** Every method called, with label values that need escaping and numbers at the edges of the format. */
function busyProxyMetrics(): ProxyMetrics {
  const m = new ProxyMetrics();
  for (const status of [200, 429, 500, 502]) m.request("gpt-4o", "served", status);
  m.request('say "hi"\\ \n and ünïcödé 🦙', "rejected", 404);
  m.request("", "client_gone", 499);
  m.request("claude", "failed", 503);
  m.attempt("openai", "gpt-4o", "ok", 0.42);
  m.attempt("openai", "gpt-4o", "failure", 301);
  m.attempt("local\\llama", 'model "q4"', "ok", 0.000_000_3);
  m.firstByte("openai", "gpt-4o", 0.2);
  m.firstByte("anthropic", "claude", Infinity);
  m.fallback("l1", "anthropic", "claude");
  m.fallback("l2", "groq", "llama-3");
  for (const reason of ["status_429", "network", "timeout", "stream_cut", "auth"]) m.cooldown("openai", "gpt-4o", reason);
  m.streamedBytes("openai", "gpt-4o", 2 ** 60);
  m.streamedBytes("groq", "llama-3", 1e22);
  m.inFlight(1);
  m.inFlight(1);
  m.inFlight(-1);
  m.reload("ok");
  m.reload("rejected");
  return m;
}

describe("formatNumber", () => {
  test("integers print without an exponent, however large", () => {
    expect(formatNumber(0)).toBe("0");
    expect(formatNumber(-0)).toBe("0");
    expect(formatNumber(-3)).toBe("-3");
    expect(formatNumber(2 ** 53)).toBe("9007199254740992");
    expect(formatNumber(1e21)).toBe("1000000000000000000000");
    expect(formatNumber(1e22)).toBe("10000000000000000000000");
  });

  test("fractions print as Go's ParseFloat reads them, infinities as +Inf and -Inf", () => {
    expect(formatNumber(0.25)).toBe("0.25");
    expect(formatNumber(400.7)).toBe("400.7");
    expect(formatNumber(3e-7)).toBe("3e-7");
    expect(formatNumber(Infinity)).toBe("+Inf");
    expect(formatNumber(-Infinity)).toBe("-Inf");
    expect(formatNumber(NaN)).toBe("NaN");
  });
});

describe("Counter", () => {
  test("an unlabelled counter shows 0 from the start and moves by each increment", () => {
    const c = new Counter("jobs_total", "Jobs.", []);
    expect(rendered(c)).toEqual(["# HELP jobs_total Jobs.", "# TYPE jobs_total counter", "jobs_total 0"]);
    c.inc([]);
    c.inc([], 2.5);
    expect(rendered(c).at(-1)).toBe("jobs_total 3.5");
  });

  test("each combination of label values is its own series, in the order it first appeared", () => {
    const c = new Counter("hits_total", "Hits.", ["path", "code"]);
    c.inc(["/b", "200"]);
    c.inc(["/a", "200"]);
    c.inc(["/b", "200"]);
    c.inc(["/b", "404"], 5);
    expect(rendered(c).slice(2)).toEqual([
      'hits_total{path="/b",code="200"} 2',
      'hits_total{path="/a",code="200"} 1',
      'hits_total{path="/b",code="404"} 5',
    ]);
  });

  test("values that a joined key would blur together stay apart", () => {
    const c = new Counter("pairs_total", "Pairs.", ["a", "b"]);
    c.inc(["x\u0000y", "z"]);
    c.inc(["x", "y\u0000z"]);
    expect(rendered(c).slice(2)).toEqual(['pairs_total{a="x\u0000y",b="z"} 1', 'pairs_total{a="x",b="y\u0000z"} 1']);
  });

  test("a negative or NaN increment is dropped, so a counter never goes down", () => {
    const c = new Counter("up_total", "Up.", []);
    c.inc([], 4);
    c.inc([], -1);
    c.inc([], NaN);
    expect(rendered(c).at(-1)).toBe("up_total 4");
  });

  test("label values escape backslash, double quote and newline; HELP escapes backslash and newline only", () => {
    const c = new Counter("esc_total", 'Says "hi" \\ then\nbreaks.', ["v"]);
    c.inc(['a\\b"c\nd']);
    expect(rendered(c)).toEqual([
      '# HELP esc_total Says "hi" \\\\ then\\nbreaks.',
      "# TYPE esc_total counter",
      'esc_total{v="a\\\\b\\"c\\nd"} 1',
    ]);
  });

  test("past the cap, new label combinations are counted in one overflow series", () => {
    const c = new Counter("capped_total", "Capped.", ["alias", "status"], { maxSeries: 2 });
    c.inc(["a", "200"]);
    c.inc(["b", "200"]);
    c.inc(["c", "200"]);
    c.inc(["d", "500"]);
    c.inc(["a", "200"]);
    expect(rendered(c).slice(2)).toEqual([
      'capped_total{alias="a",status="200"} 2',
      'capped_total{alias="b",status="200"} 1',
      `capped_total{alias="${OVERFLOW}",status="${OVERFLOW}"} 2`,
    ]);
  });
});

describe("Gauge", () => {
  test("a gauge is set, goes up and down, and forgets its series on reset", () => {
    const g = new Gauge("queue_depth", "Depth.", ["queue"]);
    g.set(["q"], 10);
    g.inc(["q"]);
    g.inc(["q"], -3);
    expect(rendered(g).at(-1)).toBe('queue_depth{queue="q"} 8');
    g.reset();
    expect(rendered(g)).toEqual([]);
  });
});

describe("Histogram", () => {
  test("buckets are cumulative, a value on a bound counts in it, and _count and _sum add up", () => {
    const h = new Histogram("wait_seconds", "Wait.", ["op"], [1, 2, 5]);
    for (const v of [0.5, 1, 1.5, 3, 10]) h.observe(["read"], v);
    expect(rendered(h).slice(2)).toEqual([
      'wait_seconds_bucket{op="read",le="1"} 2',
      'wait_seconds_bucket{op="read",le="2"} 3',
      'wait_seconds_bucket{op="read",le="5"} 4',
      'wait_seconds_bucket{op="read",le="+Inf"} 5',
      'wait_seconds_sum{op="read"} 16',
      'wait_seconds_count{op="read"} 5',
    ]);
  });

  test("an unlabelled histogram shows empty buckets from the start and drops NaN", () => {
    const h = new Histogram("size_bytes", "Size.", [], [0.5, 1e3, Infinity]);
    h.observe([], NaN);
    expect(rendered(h).slice(2)).toEqual([
      'size_bytes_bucket{le="0.5"} 0',
      'size_bytes_bucket{le="1000"} 0',
      'size_bytes_bucket{le="+Inf"} 0',
      "size_bytes_sum 0",
      "size_bytes_count 0",
    ]);
  });

  test("bucket lists that are not finite and strictly increasing, and an le label, are refused", () => {
    expect(() => new Histogram("h_seconds", "H.", [], [1, 1])).toThrow(MetricsError);
    expect(() => new Histogram("h_seconds", "H.", [], [2, 1])).toThrow(MetricsError);
    expect(() => new Histogram("h_seconds", "H.", [], [NaN])).toThrow(MetricsError);
    expect(() => new Histogram("h_seconds", "H.", [], [-Infinity, 1])).toThrow(MetricsError);
    expect(() => new Histogram("h_seconds", "H.", ["le"], [1])).toThrow(MetricsError);
  });
});

describe("Registry", () => {
  test("renders its families in the order they were made, each ending in a newline", () => {
    const r = new Registry();
    r.gauge("b_things", "B.", []).set([], 2);
    r.counter("a_total", "A.", []).inc([]);
    expect(r.render()).toBe("# HELP b_things B.\n# TYPE b_things gauge\nb_things 2\n# HELP a_total A.\n# TYPE a_total counter\na_total 1\n");
  });

  test("a family with no series is left out, and an empty registry renders nothing", () => {
    const r = new Registry();
    expect(r.render()).toBe("");
    r.counter("labelled_total", "L.", ["x"]);
    expect(r.render()).toBe("");
  });

  test("a name is used once: a repeat, or a clash with a histogram's _sum, is refused", () => {
    const r = new Registry();
    r.counter("dup_total", "D.", []);
    expect(() => r.gauge("dup_total", "D.", [])).toThrow(MetricsError);
    r.histogram("lat_seconds", "L.", [], [1]);
    expect(() => r.gauge("lat_seconds_sum", "L.", [])).toThrow(MetricsError);
  });

  test("invalid metric and label names, and repeated labels, are refused", () => {
    expect(() => new Counter("9lives_total", "N.", [])).toThrow(MetricsError);
    expect(() => new Counter("has-dash_total", "N.", [])).toThrow(MetricsError);
    expect(() => new Counter("ok_total", "N.", ["bad-label"])).toThrow(MetricsError);
    expect(() => new Counter("ok_total", "N.", ["__reserved"])).toThrow(MetricsError);
    expect(() => new Counter("ok_total", "N.", ["a", "a"])).toThrow(MetricsError);
  });
});

describe("ProxyMetrics", () => {
  test("each method moves its own family", () => {
    const m = new ProxyMetrics();
    m.request("gpt-4o", "served", 200);
    m.request("gpt-4o", "served", 200);
    m.attempt("openai", "gpt-4o", "failure", 0.3);
    m.firstByte("openai", "gpt-4o", 0.07);
    m.fallback("l2", "anthropic", "claude");
    m.cooldown("openai", "gpt-4o", "status_429");
    m.streamedBytes("openai", "gpt-4o", 1000);
    m.streamedBytes("openai", "gpt-4o", 24);
    m.inFlight(1);
    m.inFlight(1);
    m.inFlight(-1);
    m.reload("rejected");
    const lines = linesOf(m.render({ cooldownsActive: 3, version: "1.2.3" }));
    expect(lines).toContain('llm_proxy_requests_total{alias="gpt-4o",outcome="served",status="200"} 2');
    expect(lines).toContain('llm_proxy_upstream_attempts_total{backend="openai",model="gpt-4o",result="failure"} 1');
    expect(lines).toContain('llm_proxy_upstream_latency_seconds_bucket{backend="openai",model="gpt-4o",le="0.25"} 0');
    expect(lines).toContain('llm_proxy_upstream_latency_seconds_bucket{backend="openai",model="gpt-4o",le="0.5"} 1');
    expect(lines).toContain('llm_proxy_upstream_latency_seconds_sum{backend="openai",model="gpt-4o"} 0.3');
    expect(lines).toContain('llm_proxy_upstream_first_byte_seconds_bucket{backend="openai",model="gpt-4o",le="0.1"} 1');
    expect(lines).toContain('llm_proxy_upstream_first_byte_seconds_count{backend="openai",model="gpt-4o"} 1');
    expect(lines).toContain('llm_proxy_fallbacks_total{level="l2",backend="anthropic",model="claude"} 1');
    expect(lines).toContain('llm_proxy_cooldowns_entered_total{backend="openai",model="gpt-4o",reason="status_429"} 1');
    expect(lines).toContain('llm_proxy_streamed_bytes_total{backend="openai",model="gpt-4o"} 1024');
    expect(lines).toContain("llm_proxy_requests_in_flight 1");
    expect(lines).toContain('llm_proxy_config_reloads_total{result="rejected"} 1');
    expect(lines).toContain("llm_proxy_cooldowns_active 3");
  });

  test("render reports memory, start time and build info as they are at that moment", () => {
    const before = Date.now() / 1000;
    const lines = linesOf(new ProxyMetrics().render({ cooldownsActive: 0, version: "0.1.0" }));
    const value = (name: string): number => Number(lines.find((l) => l.startsWith(`${name} `))?.split(" ")[1]);
    expect(value("process_resident_memory_bytes")).toBeGreaterThan(1_000_000);
    expect(value("process_heap_bytes")).toBeGreaterThan(0);
    expect(value("process_start_time_seconds")).toBeGreaterThan(before - 3600);
    expect(value("process_start_time_seconds")).toBeLessThanOrEqual(before);
    expect(lines).toContain('llm_proxy_build_info{version="0.1.0"} 1');
    expect(lines).toContain("llm_proxy_requests_in_flight 0");
  });

  test("the cluster gauge appears only when the snapshot has a cluster", () => {
    const m = new ProxyMetrics();
    expect(m.render({ cooldownsActive: 0, version: "v" })).not.toContain("llm_proxy_cluster_connected");
    expect(linesOf(m.render({ cooldownsActive: 0, version: "v", cluster: { connected: false } }))).toContain("llm_proxy_cluster_connected 0");
    expect(linesOf(m.render({ cooldownsActive: 0, version: "v", cluster: { connected: true } }))).toContain("llm_proxy_cluster_connected 1");
    expect(m.render({ cooldownsActive: 0, version: "v" })).not.toContain("llm_proxy_cluster_connected");
  });

  test("build info names only the version of the latest snapshot", () => {
    const m = new ProxyMetrics();
    m.render({ cooldownsActive: 0, version: "1.0.0" });
    const text = m.render({ cooldownsActive: 0, version: "1.0.1" });
    expect(text).toContain('llm_proxy_build_info{version="1.0.1"} 1');
    expect(text).not.toContain("1.0.0");
  });

  test("each family has one HELP and one TYPE, and its samples follow them without interruption", () => {
    const lines = linesOf(busyProxyMetrics().render({ cooldownsActive: 1, version: "x", cluster: { connected: true } }));
    expect(lines.pop()).toBe("");
    const seen = new Set<string>();
    let family = "";
    for (const line of lines) {
      const type = /^# TYPE (\S+) /.exec(line);
      if (type !== null) {
        family = type[1] ?? "";
        expect(seen.has(family)).toBe(false);
        seen.add(family);
      } else if (!line.startsWith("# HELP ")) {
        expect(line.startsWith(family)).toBe(true);
      }
    }
    expect(new Set(lines).size).toBe(lines.length);
    expect(seen.size).toBe(15);
  });

  withPromtool("the exposition passes promtool check metrics, its lint included", async () => {
    const text = busyProxyMetrics().render({ cooldownsActive: 2, version: '0.1.0 "dev"\n', cluster: { connected: false } });
    expect(await promtool(text)).toEqual({ code: 0, output: "" });
  });

  withPromtool("promtool rejects a broken exposition, so the check above can fail", async () => {
    const good = new Registry();
    good.counter("x_total", "X.", ["v"]).inc(["a"]);
    const broken = good.render().replace('v="a"', 'v="a"b"');
    expect((await promtool(broken)).code).not.toBe(0);
    const badLint = "# HELP x X.\n# TYPE x counter\nx 1\n";
    expect(await promtool(badLint)).toMatchObject({ code: 3 });
  });
});
