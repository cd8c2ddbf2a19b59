import type { Route } from "../config/types.ts";
import type { RequestRecord } from "../proxy/forward.ts";
import type { Usage } from "../protocols/types.ts";
import { costOf } from "./ledger-cost.ts";
import type { UsageRow } from "./ledger.ts";
import { tokensOf } from "./limits.ts";
import type { Spend } from "./limits-refusal.ts";

const NONE: Usage = { input: 0, output: 0, cacheRead: 0, cacheWrite: 0, reasoning: 0 };

/** What a finished request used, in tokens (every kind counts) and dollars (at its route's price). */
export function spendOf(usage: Usage | undefined, route: Route | undefined): Spend {
  if (!usage) return { tokens: 0, usd: 0 };
  return { tokens: tokensOf(usage), usd: costOf(usage, route?.price) };
}

/** The ledger's row for a proxied request that is over. */
export function usageRowOf(r: RequestRecord): UsageRow {
  const usage = r.usage ?? NONE;
  const pair = r.route ?? undefined;
  return {
    time: r.request.arrived,
    key: r.request.key ?? "",
    alias: r.request.alias.name,
    backend: pair?.backend.name ?? "",
    model: pair?.model ?? "",
    status: r.status,
    outcome: r.outcome,
    attempts: r.attempts.length,
    input: usage.input,
    output: usage.output,
    cacheRead: usage.cacheRead,
    cacheWrite: usage.cacheWrite,
    costUsd: costOf(usage, pair?.price),
    latencyMs: Math.round(r.totalMs),
    firstByteMs: r.firstByteMs === undefined ? null : Math.round(r.firstByteMs),
    streamComplete: r.streamEnd === undefined ? null : r.streamEnd.kind === "complete",
  };
}

/** A row for a request the proxy refused for a known key (403, 429): its outcome, no tokens. */
export function refusedRow(key: string, alias: string, status: number, outcome: string, now: number): UsageRow {
  return { time: now, key, alias, backend: "", model: "", status, outcome, attempts: 0, input: 0, output: 0, cacheRead: 0, cacheWrite: 0, costUsd: 0, latencyMs: 0, firstByteMs: null, streamComplete: null };
}
