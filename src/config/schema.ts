import * as v from "valibot";
import { RawScalar } from "./yaml.ts";

/**
 * The configuration file's schema: every key of the original Go proxy with its
 * meaning, plus llm-proxy's additions. Types and defaults come from here; the
 * README's configuration reference is checked against it (test/readme.test.ts).
 *
 * Keys of the original are lenient where the original is (odd values are warnings,
 * reported by `build.ts`); the schema only refuses what the original refuses too:
 * a value of the wrong type.
 */

export function describeValue(input: unknown): string {
  if (input instanceof RawScalar) return input.source;
  if (input === null || input === undefined) return "nothing";
  if (typeof input === "string") return JSON.stringify(input);
  if (Array.isArray(input)) return "a list";
  if (typeof input === "object") return "a mapping";
  return String(input);
}

function scalar<T>(convert: (input: unknown) => T | undefined, expected: string) {
  return v.pipe(
    v.custom<unknown>((input) => convert(input) !== undefined, (issue) => `expected ${expected}, got ${describeValue(issue.input)}`),
    v.transform((input) => convert(input) as T),
  );
}

/** Any scalar, read as the text it was written as (as yaml.v3 does for Go strings). */
export const text = scalar<string>((i) => (typeof i === "string" ? i : i instanceof RawScalar ? i.source : undefined), "text");

const YAML11_BOOLEANS: Record<string, boolean> = {
  true: true, True: true, TRUE: true, yes: true, Yes: true, YES: true, on: true, On: true, ON: true, y: true, Y: true,
  false: false, False: false, FALSE: false, no: false, No: false, NO: false, off: false, Off: false, OFF: false, n: false, N: false,
};

/** true/false, and YAML 1.1's yes/no/on/off — also quoted, as yaml.v3 accepts them for a bool field. */
export const bool = scalar<boolean>((i) => {
  if (typeof i === "boolean") return i;
  if (i instanceof RawScalar) return typeof i.value === "boolean" ? i.value : undefined;
  if (typeof i === "string") return YAML11_BOOLEANS[i];
  return undefined;
}, "true or false");

function toNumber(i: unknown): number | undefined {
  const value = i instanceof RawScalar ? i.value : i;
  if (typeof value === "bigint") return Number(value);
  return typeof value === "number" && !Number.isNaN(value) ? value : undefined;
}

/** A number, fractions allowed (every `*_seconds` key takes `0.2`). */
export const number = scalar<number>(toNumber, "a number");
export const integer = scalar<number>((i) => {
  const n = toNumber(i);
  return n !== undefined && Number.isInteger(n) ? n : undefined;
}, "a whole number");

const mapping = (what: string) => (issue: v.BaseIssue<unknown>) => `expected ${what}, got ${describeValue(issue.input)}`;

const seconds = v.pipe(number, v.check((n) => n >= 0 && Number.isFinite(n), "must be 0 or more seconds"));
const positiveSeconds = v.pipe(number, v.check((n) => n > 0 && Number.isFinite(n), "must be more than 0 seconds"));

/** `timeouts:` at the top level; the same keys under a backend override them for it. */
const timeoutEntries = {
  connect_seconds: positiveSeconds,
  first_byte_seconds: positiveSeconds,
  idle_seconds: positiveSeconds,
  total_seconds: seconds,
};

export const DEFAULT_TIMEOUTS = { connect_seconds: 10, first_byte_seconds: 60, idle_seconds: 300, total_seconds: 0 } as const;

const HEADER_NAME = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;

export const AUTH_STYLES = ["bearer", "x-api-key", "none"] as const;

/** What a backend speaks: OpenAI Chat Completions (and the other OpenAI endpoints), Anthropic Messages, or the OpenAI Responses API. */
export const PROTOCOLS = ["openai", "anthropic", "openai-responses"] as const;

/**
 * Usage in OpenAI Chat streams: `auto` asks for it (`stream_options.include_usage`) on
 * translated streams only; `off` never; `inject` on every stream, removing the extra
 * usage chunk from a client that did not ask for it.
 */
export const STREAM_USAGE = ["auto", "off", "inject"] as const;

const dollars = v.pipe(number, v.check((n) => n >= 0 && Number.isFinite(n), "must be 0 or more (USD per million tokens)"));

/** USD per million tokens; cache prices absent are charged at the input price. */
const priceSchema = v.object(
  {
    input: dollars,
    output: dollars,
    cache_read: v.optional(dollars),
    cache_write: v.optional(dollars),
  },
  mapping("a price: input and output (and optionally cache_read, cache_write) in USD per million tokens"),
);

const backendSchema = v.object(
  {
    name: v.nullish(text, ""),
    url: v.nullish(text, ""),
    api_key: v.nullish(text, ""),
    enabled: v.nullish(bool, true),
    // Absent: bearer, or x-api-key for `protocol: anthropic` (build.ts decides).
    auth: v.nullish(v.picklist(AUTH_STYLES, (issue) => `expected one of bearer, x-api-key, none; got ${describeValue(issue.input)}`)),
    protocol: v.nullish(v.pipe(text, v.picklist(PROTOCOLS, (issue) => `expected one of ${PROTOCOLS.join(", ")}; got ${describeValue(issue.input)}`))),
    // Read as written: unquoted, YAML 1.1 reads `off` as false.
    stream_usage: v.nullish(v.pipe(text, v.picklist(STREAM_USAGE, (issue) => `expected one of ${STREAM_USAGE.join(", ")}; got ${describeValue(issue.input)}`)), "auto"),
    price: v.nullish(priceSchema),
    headers: v.nullish(
      v.record(
        v.pipe(v.string(), v.regex(HEADER_NAME, (issue) => `${JSON.stringify(issue.input)} is not a valid header name`)),
        v.pipe(text, v.check((value) => !/[\r\n\0]/.test(value), "a header value cannot contain line breaks")),
        mapping("a mapping of header names to values"),
      ),
      {},
    ),
    timeouts: v.nullish(
      v.object(
        {
          connect_seconds: v.optional(timeoutEntries.connect_seconds),
          first_byte_seconds: v.optional(timeoutEntries.first_byte_seconds),
          idle_seconds: v.optional(timeoutEntries.idle_seconds),
          total_seconds: v.optional(timeoutEntries.total_seconds),
        },
        mapping("a mapping of timeouts"),
      ),
      {},
    ),
  },
  mapping("a backend (a mapping with name, url, api_key)"),
);

const routeSchema = v.object(
  {
    backend: v.nullish(text, ""),
    model: v.nullish(text, ""),
    priority: v.nullish(integer, 0),
    enabled: v.nullish(bool, true),
    weight: v.nullish(v.pipe(number, v.check((w) => w > 0 && Number.isFinite(w), "must be greater than 0")), 1),
    max_tokens: v.nullish(v.pipe(integer, v.check((n) => n >= 1, "must be 1 or more"))),
    price: v.nullish(priceSchema),
  },
  mapping("a route (a mapping with backend, model, priority)"),
);

const aliasSchema = v.object(
  {
    enabled: v.nullish(bool, true),
    routes: v.nullish(v.array(routeSchema, mapping("a list of routes")), []),
  },
  mapping("a model alias (a mapping with routes)"),
);

export const DEFAULT_MAX_COOLDOWN_SECONDS = 3600;

export const DEFAULT_ERROR_CODES = ["401", "402", "403", "404", "408", "429", "5xx"] as const;

const count = v.pipe(number, v.check((n) => n >= 0 && Number.isFinite(n), "must be 0 or more"));

/** `keys:` — one entry per person, laptop or CI job. */
const keySchema = v.object(
  {
    name: v.nullish(text, ""),
    key: v.nullish(text, ""),
    enabled: v.nullish(bool, true),
    models: v.nullish(v.array(text, mapping("a list of aliases or globs")), ["*"]),
    limits: v.nullish(
      v.object({ rpm: v.optional(count), tpm: v.optional(count), concurrent: v.optional(count) }, mapping("a mapping of rpm, tpm, concurrent")),
      {},
    ),
    budget: v.nullish(
      v.object(
        {
          usd: v.optional(count),
          tokens: v.optional(count),
          per: v.nullish(v.picklist(["day", "week", "month"], (issue) => `expected day, week or month; got ${describeValue(issue.input)}`), "month"),
        },
        mapping("a budget: usd or tokens, and per: day, week or month"),
      ),
    ),
    expires: v.nullish(text, ""),
  },
  mapping("a key (a mapping with name and key)"),
);

/** Paths the page may not take: the proxy's own endpoints and the API prefixes clients use. */
const RESERVED_PATHS = ["/v1", "/health", "/healthz", "/metrics", "/status", "/usage", "/models", "/chat", "/completions", "/embeddings", "/responses"];

function isPagePath(path: string): boolean {
  if (!/^(\/[A-Za-z0-9_-]+)+$/.test(path)) return false;
  return !RESERVED_PATHS.some((r) => path === r || path.startsWith(`${r}/`));
}

export const configSchema = v.object(
  {
    listen: v.nullish(text, "127.0.0.1:8080"),
    proxy_api_key: v.nullish(text, ""),
    backends: v.nullish(v.array(backendSchema, mapping("a list of backends")), []),
    models: v.nullish(v.record(v.string(), aliasSchema, mapping("a mapping of model aliases")), {}),
    fallback: v.nullish(
      v.object(
        {
          cooldown_seconds: v.nullish(number, 60),
          // No default here: build.ts tells an explicit value (which may conflict with cooldown_seconds) from an absent one.
          max_cooldown_seconds: v.nullish(positiveSeconds),
          backoff: v.nullish(v.picklist(["none", "exponential"], (issue) => `expected none or exponential, got ${describeValue(issue.input)}`), "none"),
          max_retries: v.nullish(integer, 0),
          alias_fallback: v.nullish(
            v.record(v.string(), v.nullish(v.array(text, mapping("a list of aliases")), []), mapping("a mapping of alias to fallback aliases")),
            {},
          ),
        },
        mapping("a mapping"),
      ),
      {},
    ),
    detection: v.nullish(
      v.object(
        {
          error_codes: v.nullish(v.array(text, mapping("a list of status codes")), [...DEFAULT_ERROR_CODES]),
          error_patterns: v.nullish(v.array(text, mapping("a list of texts")), []),
        },
        mapping("a mapping"),
      ),
      {},
    ),
    logging: v.nullish(
      v.object(
        {
          level: v.nullish(text, "info"),
          general_file: v.nullish(text, ""),
          separate_files: v.nullish(bool, false),
          request_dir: v.nullish(text, "./logs/requests"),
          error_dir: v.nullish(text, "./logs/errors"),
          mask_sensitive: v.nullish(bool, true),
          enable_metrics: v.nullish(bool, false),
          max_file_size_mb: v.nullish(number, 100),
          format: v.nullish(v.picklist(["text", "json"], (issue) => `expected text or json, got ${describeValue(issue.input)}`), "text"),
          max_files: v.nullish(v.pipe(integer, v.check((n) => n >= 0, "must be 0 (no limit) or more")), 30),
          max_age_days: v.nullish(v.pipe(number, v.check((n) => n >= 0, "must be 0 (no limit) or more")), 30),
          console: v.nullish(bool, true),
        },
        mapping("a mapping"),
      ),
      {},
    ),
    timeouts: v.nullish(
      v.object(
        {
          connect_seconds: v.nullish(timeoutEntries.connect_seconds, DEFAULT_TIMEOUTS.connect_seconds),
          first_byte_seconds: v.nullish(timeoutEntries.first_byte_seconds, DEFAULT_TIMEOUTS.first_byte_seconds),
          idle_seconds: v.nullish(timeoutEntries.idle_seconds, DEFAULT_TIMEOUTS.idle_seconds),
          total_seconds: v.nullish(timeoutEntries.total_seconds, DEFAULT_TIMEOUTS.total_seconds),
        },
        mapping("a mapping of timeouts"),
      ),
      {},
    ),
    limits: v.nullish(
      v.object(
        {
          max_body_mb: v.nullish(v.pipe(number, v.check((n) => n > 0 && n <= 1024, "must be more than 0 and at most 1024")), 32),
          inspect_kib: v.nullish(v.pipe(number, v.check((n) => n >= 1 && n <= 65536, "must be from 1 to 65536 (KiB)")), 256),
          max_response_mb: v.nullish(v.pipe(number, v.check((n) => n > 0 && n <= 4096, "must be more than 0 and at most 4096")), 64),
        },
        mapping("a mapping"),
      ),
      {},
    ),
    metrics: v.nullish(v.object({ public: v.nullish(bool, false) }, mapping("a mapping")), {}),
    ui: v.nullish(
      v.object(
        {
          // No default here: absent means "on when proxy_api_key is set" (build.ts).
          enabled: v.nullish(bool),
          path: v.nullish(v.pipe(text, v.check(isPagePath, `expected a path such as /ui: a leading /, letters, digits, - and _, and not one of the proxy's own paths (${RESERVED_PATHS.join(", ")})`)), "/ui"),
        },
        mapping("a mapping"),
      ),
      {},
    ),
    shutdown_grace_seconds: v.nullish(seconds, 30),
    cluster: v.nullish(
      v.object(
        {
          redis_url: v.nullish(
            v.pipe(text, v.check((u) => u === "" || /^rediss?:\/\/[^\s]+$/.test(u), "expected a redis:// or rediss:// URL, e.g. redis://127.0.0.1:6379/0")),
            "",
          ),
          key_prefix: v.nullish(text, "llm-proxy:"),
        },
        mapping("a mapping"),
      ),
      {},
    ),
    workers: v.nullish(v.pipe(integer, v.check((n) => n >= 1 && n <= 256, "must be from 1 to 256")), 1),
    keys: v.nullish(v.array(keySchema, mapping("a list of keys")), []),
    usage: v.nullish(
      v.object(
        {
          enabled: v.nullish(bool, true),
          database: v.nullish(text, "./data/llm-proxy.db"),
          retention_days: v.nullish(count, 90),
        },
        mapping("a mapping"),
      ),
      {},
    ),
  },
  mapping("a mapping of settings"),
);

export type RawConfig = v.InferOutput<typeof configSchema>;
export type RawBackend = RawConfig["backends"][number];
export type RawRoute = RawConfig["models"][string]["routes"][number];
