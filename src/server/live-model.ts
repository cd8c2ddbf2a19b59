/**
 * What GET /status/events sends the status page: one `snapshot` when the page
 * connects (and again after a reload changes the configuration), then a `tick` every
 * second with only what changed. Shared by the server (live.ts) and the page (ui/).
 */
import type { Point, RecentRequest } from "../ops/traffic-types.ts";

export type { Point, RecentRequest };

/** A backend+model pair, as the page names it; routes point at pairs by index. */
export interface PairInfo {
  readonly backend: string;
  readonly model: string;
  readonly protocol: string;
  /** False when its backend is disabled or unusable: every route to it is skipped. */
  readonly usable: boolean;
}

export interface RouteInfo {
  readonly pair: number;
  readonly priority: number;
  readonly weight: number;
}

export interface AliasInfo {
  readonly name: string;
  /** `alias_fallback`, in order. */
  readonly fallbacks: readonly string[];
  /** In plan order: by priority, then as written. */
  readonly routes: readonly RouteInfo[];
}

/** A pair cooling down: `[pair, until (epoch ms), reason, status, probing]`. */
export type Cooling = readonly [pair: number, until: number, reason: string, status: number | null, probing: boolean];

/** A pair's last failure: `[pair, at (epoch ms), status, message (masked)]`. */
export type Failure = readonly [pair: number, at: number, status: number | null, message: string];

export interface KeyInfo {
  readonly name: string;
  readonly budget: { readonly per: string; readonly usd?: number; readonly tokens?: number } | null;
}

export interface InstanceInfo {
  readonly version: string;
  readonly startedAt: number;
  readonly configFile: string;
  readonly loadedAt: number;
  /** The last reload the proxy refused, when it is newer than the configuration it serves. */
  readonly reloadError: { readonly at: number; readonly message: string } | null;
  readonly warnings: number;
  readonly cluster: { readonly connected: boolean } | null;
  readonly workers: number;
  readonly usage: boolean;
}

export interface Snapshot {
  readonly now: number;
  readonly bucketMs: number;
  readonly instance: InstanceInfo;
  readonly pairs: readonly PairInfo[];
  readonly aliases: readonly AliasInfo[];
  readonly keys: readonly KeyInfo[];
  readonly cooling: readonly Cooling[];
  readonly failures: readonly Failure[];
  /** Closed buckets of the last 15 minutes: `alias:<name>` and `route:<pair index>`. */
  readonly series: Readonly<Record<string, readonly Point[]>>;
  readonly recent: readonly RecentRequest[];
}

export interface Tick {
  readonly now: number;
  /** Every pair cooling now (the rest are ok). */
  readonly cooling: readonly Cooling[];
  /** Failures since the last tick. */
  readonly failures: readonly Failure[];
  /** Buckets closed since the last tick, by series. */
  readonly points: Readonly<Record<string, Point>>;
  /** Requests over since the last tick, the newest at most; `more` says how many were left out. */
  readonly recent: readonly RecentRequest[];
  readonly more: number;
}

/** GET /status/spend: usage today and this month, by key and by alias, and what is left of each key's budget. */
export interface Spend {
  readonly enabled: boolean;
  readonly day: { readonly byKey: readonly SpendRow[]; readonly byAlias: readonly SpendRow[] };
  readonly month: { readonly byKey: readonly SpendRow[]; readonly byAlias: readonly SpendRow[] };
  readonly budgets: readonly BudgetLeft[];
}

export interface SpendRow {
  /** A key's name ("" for the proxy key), or an alias. */
  readonly name: string;
  readonly requests: number;
  readonly input: number;
  readonly cached: number;
  readonly output: number;
  readonly usd: number;
}

export interface BudgetLeft {
  readonly key: string;
  readonly per: string;
  readonly usd: number | null;
  readonly spentUsd: number;
  readonly tokens: number | null;
  readonly spentTokens: number;
  readonly resetsAt: number;
}
