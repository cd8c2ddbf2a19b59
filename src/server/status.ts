import type { ClusterStatus } from "../ops/cluster.ts";
import { cooldownKey, pairOf } from "../config/pair.ts";
import type { Config } from "../config/types.ts";
import type { CooldownTable } from "../proxy/cooldown.ts";
import { errorResponse } from "../proxy/errors.ts";
import type { Logger } from "../log/logger.ts";
import type { Mask } from "../log/mask.ts";

export interface StatusSources {
  readonly config: Config;
  readonly cooldowns: CooldownTable;
  readonly startedAt: number;
  readonly version: string;
  readonly redact: Mask;
  readonly log: Logger;
  readonly id: string;
  readonly cluster?: ClusterStatus;
}


/**
 * GET /status: what the proxy serves and what is cooling down, as JSON (no keys).
 * DELETE /status/cooldowns: clears every cooldown, or one pair with
 * ?backend=…&model=… (model names contain `/`, so they cannot be path segments).
 */
export function statusReport(req: Request, url: URL, s: StatusSources): Response {
  const now = Date.now();
  if (url.pathname === "/status/cooldowns") {
    if (req.method !== "DELETE" && req.method !== "GET") return errorResponse("method_not_allowed", "openai", `${req.method} is not allowed on /status/cooldowns; use GET or DELETE`, { allow: "GET, DELETE" });
    if (req.method === "GET") return Response.json({ cooldowns: cooldownList(s.cooldowns, now) });
    const backend = url.searchParams.get("backend");
    const model = url.searchParams.get("model");
    if ((backend === null) !== (model === null)) {
      return errorResponse("invalid_json", "openai", "give both backend and model to clear one pair (?backend=…&model=…), or neither to clear all");
    }
    const key = backend === null ? undefined : cooldownKey(backend, model!);
    const cleared = key === undefined ? s.cooldowns.active(now).length : s.cooldowns.remaining(key, now) > 0 ? 1 : 0;
    if (key !== undefined && cleared === 0) {
      const pairs = knownPairs(s.config, s.cooldowns, now);
      // A misspelt pair must not look like a success: say it is unknown, and what is known.
      if (!pairs.has(key)) return errorResponse("not_found", "openai", unknownPair(backend!, model!, pairs));
      s.cooldowns.clear(key);
      return Response.json({ cleared: 0, note: `${backend}/${model} was not cooling down` });
    }
    s.cooldowns.clear(key);
    s.log.info(`cooldowns cleared by an operator: ${backend === null ? "all" : `${backend}/${model}`} (${cleared} active)`, s.id);
    return Response.json({ cleared });
  }
  if (req.method !== "GET" && req.method !== "HEAD") return errorResponse("method_not_allowed", "openai", `${req.method} is not allowed on /status; use GET`, { allow: "GET" });
  const { config } = s;
  return Response.json({
    version: s.version,
    uptime_seconds: Math.round((now - s.startedAt) / 1000),
    config: { file: config.file, loaded_at: config.loadedAt.toISOString(), warnings: config.warnings.map((w) => s.redact(String(w))) },
    listen: config.listen.text,
    backends: [
      ...[...config.backends.values()].map((b) => ({ name: b.name, url: s.redact(b.url), enabled: b.enabled, auth: b.auth, usable: b.enabled, ...(b.enabled ? {} : { problem: "disabled (enabled: false)" }) })),
      // Kept out of routing, shown here: the original starts with them, and every route to them is skipped.
      ...[...config.unusableBackends.values()].map((b) => ({ name: b.name, url: s.redact(b.url.replace(/\?.*$/, "")), enabled: b.enabled, auth: b.auth, usable: false, problem: s.redact(`${b.problem}: every route to it is skipped`) })),
    ],
    models: [...config.aliases.values()].map((a) => ({
      alias: a.name,
      fallbacks: a.chain,
      routes: a.groups.flatMap((g) => g.routes.map((r) => ({ alias: r.alias, backend: r.backend.name, model: r.model, priority: r.priority, weight: r.weight }))),
    })),
    cooldowns: cooldownList(s.cooldowns, now),
    cluster: s.cluster ?? null,
  });
}

/** Every backend+model pair a route names (enabled aliases) and every pair cooling now (perhaps from an earlier configuration). */
function knownPairs(config: Config, cooldowns: CooldownTable, now: number): Set<string> {
  const pairs = new Set<string>(cooldowns.active(now).map(([key]) => key));
  for (const alias of config.aliases.values()) for (const group of alias.groups) for (const route of group.routes) pairs.add(route.key);
  return pairs;
}

const LISTED = 20;

function unknownPair(backend: string, model: string, pairs: Set<string>): string {
  const all = [...pairs].map((key) => { const p = pairOf(key); return [p.backend, p.model] as [string, string]; });
  const ofBackend = all.filter(([b]) => b === backend).map(([, m]) => m);
  const list = (items: string[]) => `${items.slice(0, LISTED).join(", ")}${items.length > LISTED ? `, and ${items.length - LISTED} more` : ""}`;
  if (ofBackend.length > 0) return `backend ${JSON.stringify(backend)} has no route to model ${JSON.stringify(model)}; its models: ${list(ofBackend)}`;
  const known = all.map(([b, m]) => `${b}/${m}`);
  return `unknown backend ${JSON.stringify(backend)} (no route uses it and nothing of it is cooling down), so there is no ${backend}/${model} cooldown to clear; known pairs: ${known.length > 0 ? list(known) : "none"}`;
}

function cooldownList(cooldowns: CooldownTable, now: number) {
  return cooldowns.active(now).map(([key, c]) => {
    const { backend, model } = pairOf(key);
    return {
      backend,
      model,
      reason: c.reason,
      status: c.status ?? null,
      since: new Date(c.since).toISOString(),
      until: new Date(c.until).toISOString(),
      seconds_left: Math.max(0, (c.until - now) / 1000),
      failures: c.failures,
      probing: c.probing,
    };
  });
}
