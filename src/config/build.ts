import { Problem, renderPath } from "./problems.ts";
import { camelize } from "./case.ts";
import { buildKeys } from "./keys.ts";
import { cooldownKey } from "./pair.ts";
import { DEFAULT_MAX_COOLDOWN_SECONDS, type RawConfig } from "./schema.ts";
import { whyNothingServed } from "./served.ts";
import type { Alias, Backend, Config, Listen, LogLevel, LoggingConfig, PriorityGroup, Route, Timeouts, UnusableBackend } from "./types.ts";

type Problems = Problem[];
const warn = (problems: Problems, path: (string | number)[], message: string) => problems.push(new Problem("warning", renderPath(path), message));
const fail = (problems: Problems, path: (string | number)[], message: string) => problems.push(new Problem("error", renderPath(path), message));

/** `":8080"` is every interface, as in Go; a bare host:port is that address. */
export function parseListen(text: string, problems: Problems): Listen {
  const match = /^(?:\[([^\]]*)\]|([^:]*)):(\d{1,5})$/.exec(text.trim());
  const port = match ? Number(match[3]) : NaN;
  if (!match || port > 65535) {
    fail(problems, ["listen"], `${JSON.stringify(text)} is not host:port; write ":8080" for every interface or "127.0.0.1:8080" for this machine only`);
    return { hostname: "127.0.0.1", port: 8080, allInterfaces: false, text };
  }
  const host = match[1] ?? match[2] ?? "";
  const allInterfaces = host === "" || host === "0.0.0.0" || host === "::";
  return { hostname: host === "" ? "0.0.0.0" : host, port, allInterfaces, text };
}

const STATUS_PATTERN = /^[1-5xX][0-9xX]{2}$/;

/** Compiles `error_codes` (`429`, `4xx`, `50x`) into a lookup table indexed by status. */
export function compileStatusCodes(codes: readonly string[], problems: Problems): Uint8Array {
  const table = new Uint8Array(1000);
  codes.forEach((raw, i) => {
    const code = raw.trim();
    if (!STATUS_PATTERN.test(code)) {
      warn(problems, ["detection", "error_codes", i], `${JSON.stringify(raw)} is not a status code or pattern like "429" or "5xx"; it never matches`);
      return;
    }
    for (let status = 100; status < 600; status++) {
      const s = String(status);
      if ([0, 1, 2].every((k) => code[k] === "x" || code[k] === "X" || code[k] === s[k])) table[status] = 1;
    }
  });
  return table;
}

function parseLevel(level: string, problems: Problems): LogLevel {
  const l = level.trim().toLowerCase();
  if (l === "debug" || l === "info" || l === "error") return l;
  if (l === "warn" || l === "warning") return "warn";
  warn(problems, ["logging", "level"], `${JSON.stringify(level)} is not a level; use debug, info, warn or error (using info)`);
  return "info";
}

const definedOnly = (t: RawTimeouts): RawTimeouts => Object.fromEntries(Object.entries(t).filter(([, value]) => value !== undefined));

const CREDENTIAL_HEADER = /auth|key|token|secret|cookie|signature|password/i;

type RawTimeouts = Partial<Record<"connect_seconds" | "first_byte_seconds" | "idle_seconds" | "total_seconds", number>>;

function timeoutsOf(t: Required<RawTimeouts>): Timeouts {
  return { connectMs: t.connect_seconds * 1000, firstByteMs: t.first_byte_seconds * 1000, idleMs: t.idle_seconds * 1000, totalMs: t.total_seconds * 1000 };
}

function buildBackends(raw: RawConfig, problems: Problems) {
  const backends = new Map<string, Backend & { enabled: boolean }>();
  const unusable = new Map<string, UnusableBackend>();
  const secrets: string[] = [];
  raw.backends.forEach((b, i) => {
    const path = ["backends", i];
    if (b.api_key) secrets.push(b.api_key);
    const headers = Object.entries(b.headers).map(([name, value]) => [name.toLowerCase(), value] as const);
    for (const [name, value] of headers) if (CREDENTIAL_HEADER.test(name) && value) secrets.push(value);
    if (!b.name) return warn(problems, [...path, "name"], "backend has no name; no route can use it");
    if (backends.has(b.name) || unusable.has(b.name)) return warn(problems, [...path, "name"], `duplicate backend name ${JSON.stringify(b.name)}; this definition is ignored, the first one is used`);
    let url: URL | undefined;
    try {
      url = new URL(b.url);
    } catch {
      // Reported just below: an unusable URL is a warning, as the original starts with it.
    }
    if (!url || (url.protocol !== "http:" && url.protocol !== "https:")) {
      // Its text is repeated in warnings and /status: a key in its query is masked there like any other.
      for (const [name, value] of new URLSearchParams(b.url.split("?")[1] ?? "")) if (CREDENTIAL_HEADER.test(name) && value) secrets.push(value);
      const problem = b.url.trim() === "" ? "it has no url" : `its url ${JSON.stringify(b.url)} is not an http:// or https:// URL`;
      unusable.set(b.name, { name: b.name, url: b.url, enabled: b.enabled, auth: b.auth ?? (b.protocol === "anthropic" ? "x-api-key" : "bearer"), problem });
      const hint = /^[\w-]+(\.[\w-]+)+(:\d+)?(\/|$)/.test(b.url.trim()) ? ` (did you mean "https://${b.url.trim()}"?)` : "";
      return warn(problems, [...path, "url"], `${JSON.stringify(b.url)} is not an http:// or https:// URL${hint}; backend ${JSON.stringify(b.name)} is unusable: every route to it is skipped`);
    }
    const basePath = url.pathname.replace(/\/+$/, "");
    const query = url.search.slice(1);
    for (const [name, value] of url.searchParams) if (CREDENTIAL_HEADER.test(name) && value) secrets.push(value);
    backends.set(b.name, {
      name: b.name,
      url: url.origin + basePath,
      origin: url.origin,
      basePath,
      query,
      apiKey: b.api_key,
      auth: b.auth ?? (b.protocol === "anthropic" ? "x-api-key" : "bearer"),
      protocol: b.protocol ?? undefined,
      streamUsage: b.stream_usage,
      price: b.price ?? undefined,
      headers,
      timeouts: timeoutsOf({ ...raw.timeouts, ...definedOnly(b.timeouts) }),
      enabled: b.enabled,
    });
  });
  return { backends, unusable, secrets };
}

function buildRoutes(raw: RawConfig, backends: Config["backends"], unusable: Config["unusableBackends"], problems: Problems) {
  const groupsByAlias = new Map<string, PriorityGroup[]>();
  for (const [alias, a] of Object.entries(raw.models)) {
    const byPriority = new Map<number, Route[]>();
    a.routes.forEach((r, i) => {
      const path = ["models", alias, "routes", i];
      if (!r.enabled) return;
      const backend = backends.get(r.backend);
      const broken = unusable.get(r.backend);
      if (broken) {
        if (a.enabled && broken.enabled) warn(problems, [...path, "backend"], `backend ${JSON.stringify(r.backend)} is unusable (${broken.problem}); this route is skipped`);
        return;
      }
      if (!backend) {
        const known = [...backends.keys()].map((n) => JSON.stringify(n)).join(", ");
        return warn(problems, [...path, "backend"], `unknown backend ${JSON.stringify(r.backend)}; this route is skipped${known ? ` (backends: ${known})` : ""}`);
      }
      if (!backend.enabled) {
        if (a.enabled) warn(problems, [...path, "backend"], `backend ${JSON.stringify(r.backend)} is disabled; this route is skipped`);
        return;
      }
      if (!r.model) return warn(problems, [...path, "model"], "route has no model; it is skipped");
      const routes = byPriority.get(r.priority) ?? [];
      if (routes.some((x) => x.backend === backend && x.model === r.model)) {
        return warn(problems, path, `duplicate route to ${r.backend} / ${r.model}; only the first is used`);
      }
      routes.push({ alias, backend, model: r.model, priority: r.priority, weight: r.weight, maxTokens: r.max_tokens ?? undefined, price: r.price ?? backend.price, key: cooldownKey(backend.name, r.model) });
      byPriority.set(r.priority, routes);
    });
    const groups = [...byPriority.entries()]
      .sort(([p], [q]) => p - q)
      .map(([priority, routes]) => ({ alias, priority, routes, weighted: routes.some((r) => r.weight !== routes[0]!.weight), depth: 0 }));
    groupsByAlias.set(alias, groups);
  }
  return groupsByAlias;
}

/** Each enabled alias, with its own groups followed by those of its L2 aliases (depth first, cycles cut, duplicate pairs dropped). */
function buildAliases(raw: RawConfig, groupsByAlias: Map<string, PriorityGroup[]>, problems: Problems) {
  const enabled = (name: string) => raw.models[name]?.enabled === true;
  for (const [alias, targets] of Object.entries(raw.fallback.alias_fallback)) {
    if (!(alias in raw.models)) warn(problems, ["fallback", "alias_fallback", alias], `unknown alias ${JSON.stringify(alias)}; its fallbacks are never used`);
    targets.forEach((t, i) => {
      if (!(t in raw.models)) warn(problems, ["fallback", "alias_fallback", alias, i], `unknown alias ${JSON.stringify(t)}; skipped`);
    });
  }
  const aliases = new Map<string, Alias>();
  for (const name of Object.keys(raw.models)) {
    if (!enabled(name)) continue;
    const chain: string[] = [];
    const seen = new Set<string>();
    const visit = (alias: string, depth: number) => {
      if (seen.has(alias) || !enabled(alias)) return;
      seen.add(alias);
      chain.push(alias);
      for (const group of groupsByAlias.get(alias) ?? []) groups.push({ ...group, depth });
      for (const next of raw.fallback.alias_fallback[alias] ?? []) visit(next, depth + 1);
    };
    const groups: PriorityGroup[] = [];
    visit(name, 0);
    const pairs = new Set<string>();
    const deduped = groups
      .map((g) => {
        const routes = g.routes.filter((r) => !pairs.has(r.key));
        for (const r of routes) pairs.add(r.key);
        return routes.length === g.routes.length ? g : { ...g, routes, weighted: routes.some((r) => r.weight !== routes[0]?.weight) };
      })
      .filter((g) => g.routes.length > 0);
    if (deduped.length === 0) warn(problems, ["models", name], "this alias has no usable route (enabled route to an enabled backend), here or in its fallback aliases; requests for it get 503");
    aliases.set(name, { name, groups: deduped, chain: chain.slice(1) });
  }
  return aliases;
}

function buildLogging(raw: RawConfig, problems: Problems): LoggingConfig {
  const l = raw.logging;
  let maxFileSizeMb = l.max_file_size_mb;
  if (maxFileSizeMb < 0) {
    warn(problems, ["logging", "max_file_size_mb"], "must not be negative; using 100");
    maxFileSizeMb = 100;
  }
  return { ...camelize(l), level: parseLevel(l.level, problems), maxFileSizeMb };
}

/** Turns a schema-valid configuration into the immutable value the proxy serves with. */
export function buildConfig(raw: RawConfig, file: string, problems: Problems, topLevelKeys: readonly string[] = []): Config {
  const listen = parseListen(raw.listen, problems);
  const proxyKey = raw.proxy_api_key;
  if (listen.allInterfaces && !proxyKey) {
    warn(problems, ["listen"], `${JSON.stringify(listen.text)} listens on every network interface and no proxy_api_key is set: anyone who can reach this machine can use your provider keys`);
  }
  const { backends, unusable, secrets } = buildBackends(raw, problems);
  if (proxyKey) secrets.push(proxyKey);
  const redisPassword = /^rediss?:\/\/[^:@/]*:([^@/]+)@/.exec(raw.cluster.redis_url)?.[1];
  if (redisPassword) secrets.push(redisPassword, decodeURIComponent(redisPassword));
  if (raw.workers > 1 && process.platform !== "linux") {
    warn(problems, ["workers"], `several processes on one port need Linux (reusePort); on ${process.platform} one process serves`);
  }
  const groups = buildRoutes(raw, backends, unusable, problems);
  const aliases = buildAliases(raw, groups, problems);
  const { keys, secrets: keySecrets } = buildKeys(raw, new Set(aliases.keys()), problems);
  secrets.push(...keySecrets);
  if (keys.length > 0 && !proxyKey) {
    warn(problems, ["keys"], "keys are set but proxy_api_key is not: every request needs one of the keys, and /status, cooldown clearing and everyone's /usage are refused to all (they need proxy_api_key)");
  }
  let cooldownSeconds = raw.fallback.cooldown_seconds;
  if (cooldownSeconds < 0) {
    warn(problems, ["fallback", "cooldown_seconds"], "must not be negative; using 0 (no cooldown)");
    cooldownSeconds = 0;
  }
  const maxCooldownSeconds = raw.fallback.max_cooldown_seconds ?? DEFAULT_MAX_COOLDOWN_SECONDS;
  if (raw.fallback.max_cooldown_seconds != null && cooldownSeconds > 0 && maxCooldownSeconds < cooldownSeconds) {
    // The policy takes the larger of the two as the maximum (see maxCooldownMs below): say so rather than ignore the smaller one quietly.
    warn(
      problems,
      ["fallback", "max_cooldown_seconds"],
      `${maxCooldownSeconds} is less than cooldown_seconds (${cooldownSeconds}), so cooldown_seconds wins: the longest cooldown is ${cooldownSeconds} s ` +
        `(a Retry-After is capped at it, a 401, 402 or 403 cools a pair for it, and backoff cannot grow past it)`,
    );
  }
  let maxRetries = raw.fallback.max_retries;
  if (maxRetries < 0) {
    warn(problems, ["fallback", "max_retries"], "must not be negative; using 0 (every route once)");
    maxRetries = 0;
  }
  return {
    file,
    loadedAt: new Date(),
    listen,
    proxyKey,
    backends,
    unusableBackends: unusable,
    aliases,
    nothingServed: whyNothingServed(raw, backends, unusable, aliases, topLevelKeys),
    cooldownMs: cooldownSeconds * 1000,
    maxCooldownMs: Math.max(maxCooldownSeconds, cooldownSeconds) * 1000,
    backoff: raw.fallback.backoff,
    maxRetries,
    timeouts: timeoutsOf(raw.timeouts),
    maxBodyBytes: Math.floor(raw.limits.max_body_mb * 1024 * 1024),
    inspectBytes: Math.floor(raw.limits.inspect_kib * 1024),
    maxResponseBytes: Math.floor(raw.limits.max_response_mb * 1024 * 1024),
    metricsPublic: raw.metrics.public,
    ui: buildUi(raw, problems),
    shutdownGraceMs: raw.shutdown_grace_seconds * 1000,
    cluster: { redisUrl: raw.cluster.redis_url, keyPrefix: raw.cluster.key_prefix },
    workers: raw.workers,
    errorStatus: compileStatusCodes(raw.detection.error_codes, problems),
    errorCodes: raw.detection.error_codes,
    errorPatterns: raw.detection.error_patterns.filter((p) => p !== ""),
    logging: buildLogging(raw, problems),
    secrets: [...new Set(secrets.filter((s) => s.length > 0))].sort((a, b) => b.length - a.length),
    keys: new Map(keys.map((k) => [k.digest, k])),
    usage: { enabled: raw.usage.enabled, database: raw.usage.database, retentionDays: raw.usage.retention_days },
    warnings: problems.filter((p) => p.severity === "warning"),
  };
}

/** The page is on by default only when a proxy key guards it: an open proxy does not show its routes to passers-by. */
function buildUi(raw: RawConfig, problems: Problems): Config["ui"] {
  const enabled = raw.ui.enabled ?? raw.proxy_api_key !== "";
  if (raw.ui.enabled === true && raw.proxy_api_key === "") {
    warn(problems, ["ui", "enabled"], "the status page is on without proxy_api_key: anyone who can reach the proxy sees its routes and can clear cooldowns there");
  }
  return { enabled, path: raw.ui.path };
}
