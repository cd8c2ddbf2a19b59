import { describe, expect, test } from "bun:test";
import { mergeExpositions } from "../../src/ops/metrics-merge.ts";

const worker = (requests: number, inFlight: number, le1: number, count: number, cooling: number, start: number) => `# HELP llm_proxy_requests_total Client requests.
# TYPE llm_proxy_requests_total counter
llm_proxy_requests_total{alias="m",outcome="served",status="200"} ${requests}
# HELP llm_proxy_requests_in_flight Now.
# TYPE llm_proxy_requests_in_flight gauge
llm_proxy_requests_in_flight ${inFlight}
# HELP llm_proxy_upstream_latency_seconds Latency.
# TYPE llm_proxy_upstream_latency_seconds histogram
llm_proxy_upstream_latency_seconds_bucket{backend="a",model="x",le="1"} ${le1}
llm_proxy_upstream_latency_seconds_bucket{backend="a",model="x",le="+Inf"} ${count}
llm_proxy_upstream_latency_seconds_sum{backend="a",model="x"} 0.5
llm_proxy_upstream_latency_seconds_count{backend="a",model="x"} ${count}
# HELP llm_proxy_cooldowns_active Cooling now.
# TYPE llm_proxy_cooldowns_active gauge
llm_proxy_cooldowns_active ${cooling}
# HELP process_start_time_seconds Start.
# TYPE process_start_time_seconds gauge
process_start_time_seconds ${start}
`;

describe("mergeExpositions", () => {
  test("adds up counters, histograms and in-flight gauges; instance-wide gauges take the largest or the earliest", () => {
    const merged = mergeExpositions([worker(3, 1, 2, 3, 2, 100), worker(4, 2, 1, 4, 2, 90)]);
    expect(merged).toContain('llm_proxy_requests_total{alias="m",outcome="served",status="200"} 7\n');
    expect(merged).toContain("llm_proxy_requests_in_flight 3\n");
    expect(merged).toContain('llm_proxy_upstream_latency_seconds_bucket{backend="a",model="x",le="1"} 3\n');
    expect(merged).toContain('llm_proxy_upstream_latency_seconds_bucket{backend="a",model="x",le="+Inf"} 7\n');
    expect(merged).toContain('llm_proxy_upstream_latency_seconds_sum{backend="a",model="x"} 1\n');
    expect(merged).toContain("llm_proxy_cooldowns_active 2\n");
    expect(merged).toContain("process_start_time_seconds 90\n");
    expect(merged.match(/# TYPE llm_proxy_requests_total counter/g)).toHaveLength(1);
  });

  test("a series only one process has is kept, under its family", () => {
    const other = `# HELP llm_proxy_requests_total Client requests.\n# TYPE llm_proxy_requests_total counter\nllm_proxy_requests_total{alias="n",outcome="failed",status="502"} 1\n`;
    const merged = mergeExpositions([worker(1, 0, 1, 1, 0, 1), other]);
    const lines = merged.split("\n");
    const at = lines.indexOf('llm_proxy_requests_total{alias="n",outcome="failed",status="502"} 1');
    expect(at).toBe(lines.indexOf('llm_proxy_requests_total{alias="m",outcome="served",status="200"} 1') + 1);
  });
});
