import { camel } from "./case.ts";
import { configSchema } from "./schema.ts";
import type { Alias, Backend, Config, Listen, LoggingConfig } from "./types.ts";

/** Comparing two configurations for the one-line reload summary: names only, never keys or header values. */
export const sameListen = (a: Listen, b: Listen) => a.hostname === b.hostname && a.port === b.port;

/** Deep equality for plain data: primitives, arrays, typed arrays, plain objects. */
function equal(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== "object" || typeof b !== "object" || a === null || b === null) return false;
  if (ArrayBuffer.isView(a) || Array.isArray(a)) {
    const x = a as ArrayLike<unknown>;
    const y = b as ArrayLike<unknown>;
    if (!(ArrayBuffer.isView(b) || Array.isArray(b)) || x.length !== y.length) return false;
    for (let i = 0; i < x.length; i++) if (!equal(x[i], y[i])) return false;
    return true;
  }
  const keys = Object.keys(a);
  return keys.length === Object.keys(b).length && keys.every((k) => equal((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k]));
}

/** What a backend means for requests (name is the map key). Headers as a set: their order in the file does not matter. */
const backendShape = (b: Backend & { enabled: boolean }) => ({
  url: b.url,
  apiKey: b.apiKey,
  auth: b.auth,
  enabled: b.enabled,
  timeouts: b.timeouts,
  headers: b.headers.map(([k, value]) => `${k}\u0000${value}`).sort(),
});

const aliasShape = (a: Alias) => ({
  chain: a.chain,
  groups: a.groups.map((g) => ({ priority: g.priority, depth: g.depth, routes: g.routes.map((r) => [r.backend.name, r.model, r.priority, r.weight]) })),
});


/** Settings by their name in the file. Values are compared, never printed: proxy_api_key is one of them. */
const SETTINGS: readonly (readonly [string, (c: Config) => unknown])[] = [
  ["proxy_api_key", (c) => c.proxyKey],
  ["fallback.cooldown_seconds", (c) => c.cooldownMs],
  ["fallback.max_cooldown_seconds", (c) => c.maxCooldownMs],
  ["fallback.backoff", (c) => c.backoff],
  ["fallback.max_retries", (c) => c.maxRetries],
  ["detection.error_codes", (c) => c.errorStatus],
  ["detection.error_patterns", (c) => c.errorPatterns],
  ["timeouts", (c) => c.timeouts],
  ["limits.max_body_mb", (c) => c.maxBodyBytes],
  ["limits.inspect_kib", (c) => c.inspectBytes],
  ["limits.max_response_mb", (c) => c.maxResponseBytes],
  ["metrics.public", (c) => c.metricsPublic],
  ["shutdown_grace_seconds", (c) => c.shutdownGraceMs],
  ...Object.keys(configSchema.entries.logging.wrapped.entries).map((name) => [`logging.${name}`, (c: Config) => c.logging[camel(name) as keyof LoggingConfig]] as const),
];

const NAME = /^[\w.:/@-]+$/;
const show = (name: string) => (NAME.test(name) ? name : JSON.stringify(name));

/** `+added -removed ~changed`, names in file order; empty when nothing differs. */
function diffNames<T>(prev: ReadonlyMap<string, T>, next: ReadonlyMap<string, T>, shape: (value: T) => unknown): string {
  const added: string[] = [];
  const changed: string[] = [];
  for (const [name, value] of next) {
    const old = prev.get(name);
    if (old === undefined) added.push(`+${show(name)}`);
    else if (!equal(shape(old), shape(value))) changed.push(`~${show(name)}`);
  }
  const removed = [...prev.keys()].filter((name) => !next.has(name)).map((name) => `-${show(name)}`);
  return [...added, ...removed, ...changed].join(" ");
}

/**
 * One line saying what a reload changed, e.g.
 * `config reloaded: backends +openrouter -old ~openai; models +gpt-5 ~claude-sonnet-4-5; settings: fallback.cooldown_seconds`.
 * Names only: no key or header value ever appears. `listening` is the address in use
 * (default `prev.listen`): a new `listen` needs a restart.
 */
export function summarizeChanges(prev: Config, next: Config, listening: Listen = prev.listen): string {
  const parts: string[] = [];
  const backends = diffNames(prev.backends, next.backends, backendShape);
  if (backends) parts.push(`backends ${backends}`);
  const models = diffNames(prev.aliases, next.aliases, aliasShape);
  if (models) parts.push(`models ${models}`);
  const settings = SETTINGS.filter(([, get]) => !equal(get(prev), get(next))).map(([name]) => name);
  if (settings.length > 0) parts.push(`settings: ${settings.join(", ")}`);
  if (!sameListen(prev.listen, next.listen)) {
    const to = JSON.stringify(next.listen.text);
    const inUse = JSON.stringify(listening.text);
    parts.push(sameListen(next.listen, listening) ? `listen ${to}: the address in use` : `listen ${to} needs a restart (still listening on ${inUse})`);
  }
  return `config reloaded: ${parts.length > 0 ? parts.join("; ") : "no changes"}`;
}
