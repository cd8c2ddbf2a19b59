import type { Camelized } from "./case.ts";
import type { VirtualKey } from "./keys.ts";
import type { Problem } from "./problems.ts";
import type { AUTH_STYLES, PROTOCOLS, RawConfig, STREAM_USAGE } from "./schema.ts";

export type AuthStyle = (typeof AUTH_STYLES)[number];
export type BackendProtocol = (typeof PROTOCOLS)[number];
export type StreamUsage = (typeof STREAM_USAGE)[number];
export type LogLevel = "debug" | "info" | "warn" | "error";

/** Timeouts in milliseconds; 0 for `totalMs` means none. */
export interface Timeouts {
  readonly connectMs: number;
  readonly firstByteMs: number;
  readonly idleMs: number;
  readonly totalMs: number;
}

export interface Backend {
  readonly name: string;
  /** The configured URL without trailing slash, e.g. `https://api.openai.com/v1`. */
  readonly url: string;
  readonly origin: string;
  /** The URL's path without trailing slash: `/v1`, or `` for none. */
  readonly basePath: string;
  /** The URL's query without `?` (`key=…` for some providers), added to every request's query; `` for none. */
  readonly query: string;
  readonly apiKey: string;
  readonly auth: AuthStyle;
  /** What the backend speaks; undefined: whatever the client spoke (the body passes through). */
  readonly protocol: BackendProtocol | undefined;
  readonly streamUsage: StreamUsage;
  /** `price`, USD per million tokens; undefined: not priced. */
  readonly price: Price | undefined;
  /** `backends[].headers`, names lower-cased; they replace client headers of the same name. */
  readonly headers: readonly (readonly [string, string])[];
  /** `timeouts`, with this backend's overrides applied. */
  readonly timeouts: Timeouts;
}

/** A configured backend that cannot serve: shown in /status, skipped by every route. */
export interface UnusableBackend {
  readonly name: string;
  /** As written in the file. */
  readonly url: string;
  readonly enabled: boolean;
  readonly auth: AuthStyle;
  /** What is wrong, e.g. `its url "api.openai.com/v1" is not an http:// or https:// URL`. */
  readonly problem: string;
}

export interface Route {
  readonly alias: string;
  readonly backend: Backend;
  readonly model: string;
  readonly priority: number;
  readonly weight: number;
  /** `max_tokens`: the most output tokens a translated request asks this route for (and the default when the client names none). */
  readonly maxTokens: number | undefined;
  /** The route's `price`, else its backend's. */
  readonly price: Price | undefined;
  /** The cooldown key: backend and model, as the original keys it. */
  readonly key: string;
}

/** Routes of one alias with one priority: tried in (weighted) random order. */
export interface PriorityGroup {
  readonly alias: string;
  readonly priority: number;
  readonly routes: readonly Route[];
  /** True when some weight differs from the others; otherwise a uniform shuffle. */
  readonly weighted: boolean;
  /** 0 for the requested alias, 1 for its fallback aliases, 2 for theirs, ... */
  readonly depth: number;
}

export interface Alias {
  readonly name: string;
  /** Every group of the alias and then of its L2 fallback aliases, in the order they are tried. */
  readonly groups: readonly PriorityGroup[];
  /** The fallback aliases actually followed (enabled, known, no cycles), in order. */
  readonly chain: readonly string[];
}

/** `logging:` as the schema gives it, keys in camelCase, with its level checked. `maxFiles`, `maxAgeDays`: 0 = no limit. */
export type LoggingConfig = Omit<Camelized<RawConfig["logging"]>, "level"> & { readonly level: LogLevel };

export interface Listen {
  readonly hostname: string;
  readonly port: number;
  readonly allInterfaces: boolean;
  /** As written in the config, or the default. */
  readonly text: string;
}

/** A validated, immutable configuration with everything the request path needs precomputed. */
export interface Config {
  readonly file: string;
  readonly loadedAt: Date;
  readonly listen: Listen;
  /** Empty: no key is required (as the original with no `proxy_api_key`). */
  readonly proxyKey: string;
  readonly backends: ReadonlyMap<string, Backend & { readonly enabled: boolean }>;
  /** Backends the original starts with but no request can use (a url without http:// or https://); every route to them is skipped. */
  readonly unusableBackends: ReadonlyMap<string, UnusableBackend>;
  /** Enabled aliases only: a disabled alias is unknown to clients. */
  readonly aliases: ReadonlyMap<string, Alias>;
  /** Why no alias has a usable route (every request for a model gets 503), naming the likely cause; undefined when one has. */
  readonly nothingServed: string | undefined;
  readonly cooldownMs: number;
  readonly maxCooldownMs: number;
  /** `exponential`: each failure in a row doubles the pair's cooldown, up to the maximum. */
  readonly backoff: "none" | "exponential";
  readonly maxRetries: number;
  readonly timeouts: Timeouts;
  readonly maxBodyBytes: number;
  /** `limits.inspect_kib`: how much of an answer's body is read to judge it. */
  readonly inspectBytes: number;
  /** `limits.max_response_mb`: the most of an answer the proxy holds whole (to rebuild it). */
  readonly maxResponseBytes: number;
  /** `metrics.public`: /metrics without the proxy key. */
  readonly metricsPublic: boolean;
  /** `ui`: the status page, and where it is served. */
  readonly ui: { readonly enabled: boolean; readonly path: string };
  readonly shutdownGraceMs: number;
  /** `cluster`: cooldowns shared through Redis; empty `redisUrl` = this process only. */
  readonly cluster: { readonly redisUrl: string; readonly keyPrefix: string };
  /** Processes serving one port (Linux, reusePort). */
  readonly workers: number;
  /** Index by status code (0-999): 1 when `detection.error_codes` matches it. */
  readonly errorStatus: Uint8Array;
  /** `detection.error_codes` as written (for the reload summary); `errorStatus` is what they mean. */
  readonly errorCodes: readonly string[];
  readonly errorPatterns: readonly string[];
  readonly logging: LoggingConfig;
  /** Every configured secret (keys, credential headers), for masking. */
  readonly secrets: readonly string[];
  readonly warnings: readonly Problem[];
  /** `keys:`, enabled ones, by the SHA-256 of their value. */
  readonly keys: ReadonlyMap<string, VirtualKey>;
  /** `usage`: the ledger. */
  readonly usage: { readonly enabled: boolean; readonly database: string; readonly retentionDays: number };
}

/** USD per million tokens. */
export interface Price {
  readonly input: number;
  readonly output: number;
  readonly cache_read?: number;
  readonly cache_write?: number;
}
