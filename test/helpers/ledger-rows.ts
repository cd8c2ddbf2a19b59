import type { GroupBy, UsageRow } from "../../src/ops/ledger.ts";

/** A usage row with sensible values; override what the test is about. */
export function usageRow(over: Partial<UsageRow> = {}): UsageRow {
  return {
    time: Date.parse("2026-12-02T10:00:00Z"),
    key: "alice",
    alias: "gpt",
    backend: "openai",
    model: "gpt-4o",
    status: 200,
    outcome: "ok",
    attempts: 1,
    input: 100,
    output: 20,
    cacheRead: 0,
    cacheWrite: 0,
    costUsd: 0.0012,
    latencyMs: 850,
    firstByteMs: 300,
    streamComplete: null,
    ...over,
  };
}

/** A deterministic spread of rows over keys, aliases, backends, models and days (a small LCG, not Math.random). */
export function sampleRows(n: number, start: number, spanMs: number): UsageRow[] {
  let seed = 12345;
  const next = () => {
    seed = (seed * 1103515245 + 12345) % 2147483648;
    return seed / 2147483648;
  };
  const pick = <T>(xs: readonly T[]) => xs[Math.floor(next() * xs.length)]!;
  return Array.from({ length: n }, () => {
    const input = Math.floor(next() * 5000);
    const output = Math.floor(next() * 800);
    const cacheRead = Math.floor(next() * 3) === 0 ? Math.floor(next() * 4000) : 0;
    const cacheWrite = Math.floor(next() * 5) === 0 ? Math.floor(next() * 1000) : 0;
    const stream = next() < 0.5;
    return usageRow({
      time: start + Math.floor(next() * spanMs),
      key: pick(["alice", "bob", "carol", "ci-bot"]),
      alias: pick(["gpt", "claude", "cheap"]),
      backend: pick(["openai", "anthropic", "groq"]),
      model: pick(["gpt-4o", "claude-sonnet", "llama-70b", "gpt-4o-mini"]),
      status: pick([200, 200, 200, 429, 502]),
      outcome: pick(["ok", "ok", "failed"]),
      attempts: 1 + Math.floor(next() * 3),
      input,
      output,
      cacheRead,
      cacheWrite,
      costUsd: (input * 2.5 + output * 10 + cacheRead * 1.25 + cacheWrite * 3.75) / 1e6,
      latencyMs: Math.floor(next() * 4000),
      firstByteMs: next() < 0.1 ? null : Math.floor(next() * 900),
      streamComplete: stream ? next() < 0.9 : null,
    });
  });
}

/** What a summary must say, computed in plain JS from the rows. */
export function expectedSummary(rows: readonly UsageRow[], by: GroupBy, from: number, to: number, key?: string): Map<string, { requests: number; input_tokens: number; cache_read_tokens: number; cache_write_tokens: number; output_tokens: number; cost_usd: number }> {
  const out = new Map<string, { requests: number; input_tokens: number; cache_read_tokens: number; cache_write_tokens: number; output_tokens: number; cost_usd: number }>();
  for (const r of rows) {
    if (r.time < from || r.time >= to || (key !== undefined && r.key !== key)) continue;
    const group = by === "day" ? new Date(r.time).toISOString().slice(0, 10) : by === "key" ? r.key : r[by];
    const t = out.get(group) ?? { requests: 0, input_tokens: 0, cache_read_tokens: 0, cache_write_tokens: 0, output_tokens: 0, cost_usd: 0 };
    out.set(group, {
      requests: t.requests + 1,
      input_tokens: t.input_tokens + r.input,
      cache_read_tokens: t.cache_read_tokens + r.cacheRead,
      cache_write_tokens: t.cache_write_tokens + r.cacheWrite,
      output_tokens: t.output_tokens + r.output,
      cost_usd: t.cost_usd + r.costUsd,
    });
  }
  return out;
}

/** A log callback that keeps its lines, for tests that check what was said (and how often). */
export class LogLines {
  readonly lines: string[] = [];
  readonly log = (level: "info" | "warn" | "error", message: string) => {
    this.lines.push(`${level}: ${message}`);
  };
  count(part: string): number {
    return this.lines.filter((l) => l.includes(part)).length;
  }
}
