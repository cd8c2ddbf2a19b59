/**
 * The expositions of several processes of one instance (`workers: N`) as one:
 * samples with the same name and labels are added up (counters, histogram buckets,
 * sums and counts, requests in flight, memory), except a few gauges of the instance
 * as a whole, which take the largest or smallest value. Pure text in, text out.
 * https://prometheus.io/docs/instrumenting/exposition_formats/#text-based-format
 */

/** Gauges that describe the instance, not a share of it. */
const COMBINE: Record<string, (a: number, b: number) => number> = {
  llm_proxy_cooldowns_active: Math.max,
  llm_proxy_build_info: Math.max,
  llm_proxy_cluster_connected: Math.min,
  process_start_time_seconds: Math.min,
};

const SAMPLE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{.*\})? (\S+)$/;

/** The family a sample belongs to: its name without a histogram's suffix. */
const familyOf = (name: string, families: ReadonlySet<string>) => {
  for (const suffix of ["_bucket", "_sum", "_count"]) if (name.endsWith(suffix) && families.has(name.slice(0, -suffix.length))) return name.slice(0, -suffix.length);
  return name;
};

export function mergeExpositions(texts: readonly string[]): string {
  const order: string[] = [];
  const heads = new Map<string, string[]>();
  const samples = new Map<string, Map<string, number>>();
  for (const text of texts) {
    const families = new Set<string>();
    for (const line of text.split("\n")) {
      const type = /^# TYPE (\S+) /.exec(line);
      if (type) families.add(type[1]!);
    }
    let current = "";
    for (const line of text.split("\n")) {
      if (line === "") continue;
      const head = /^# (?:HELP|TYPE) (\S+) /.exec(line);
      if (head) {
        current = head[1]!;
        if (!heads.has(current)) {
          heads.set(current, []);
          samples.set(current, new Map());
          order.push(current);
        }
        const lines = heads.get(current)!;
        if (lines.length < 2 && !lines.includes(line)) lines.push(line);
        continue;
      }
      const m = SAMPLE.exec(line);
      if (!m) continue;
      const family = familyOf(m[1]!, families) || current;
      if (!samples.has(family)) {
        samples.set(family, new Map());
        heads.set(family, []);
        order.push(family);
      }
      const series = samples.get(family)!;
      const key = `${m[1]}${m[2] ?? ""}`;
      const value = Number(m[3] === "+Inf" ? Infinity : m[3] === "-Inf" ? -Infinity : m[3]);
      const before = series.get(key);
      series.set(key, before === undefined ? value : (COMBINE[family] ?? ((a: number, b: number) => a + b))(before, value));
    }
  }
  const out: string[] = [];
  for (const family of order) {
    out.push(...heads.get(family)!);
    for (const [key, value] of samples.get(family)!) out.push(`${key} ${format(value)}`);
  }
  return out.length === 0 ? "" : `${out.join("\n")}\n`;
}

function format(n: number): string {
  if (n === Infinity) return "+Inf";
  if (n === -Infinity) return "-Inf";
  return String(n);
}
