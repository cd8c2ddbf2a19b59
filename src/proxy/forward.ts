import { attempt, type Answer, type AttemptRequest, type Outcome } from "./attempt.ts";
import type { Alias, Config, Route } from "../config/types.ts";
import { decideCooldown } from "./cooldown-policy.ts";
import type { CooldownTable } from "./cooldown.ts";
import { errorResponse } from "./errors.ts";
import type { Logger } from "../log/logger.ts";
import type { Mask } from "../log/mask.ts";
import { plan } from "./router.ts";
import type { StreamEnd } from "./stream.ts";
import { plural } from "../log/text.ts";

/** What the proxy reports as it goes; /metrics implements it. */
export interface ProxyObserver {
  request(alias: string, outcome: "served" | "failed" | "rejected" | "client_gone", status: number): void;
  attempt(backend: string, model: string, result: "ok" | "failure", seconds: number): void;
  firstByte(backend: string, model: string, seconds: number): void;
  fallback(level: "l1" | "l2", backend: string, model: string): void;
  cooldown(backend: string, model: string, reason: string): void;
  streamedBytes(backend: string, model: string, bytes: number): void;
  inFlight?(delta: 1 | -1): void;
}

/** Everything the request path needs; one per configuration, swapped on reload. */
export interface ProxyContext {
  readonly config: Config;
  readonly cooldowns: CooldownTable;
  readonly log: Logger;
  /** Masks configured keys in bodies passed back to clients (providers echo keys in 401s). */
  readonly redact: Mask;
  readonly observer?: ProxyObserver;
  /** Called once per proxied request when it is over (stream included): per-request files, metrics lines. */
  readonly onDone?: (record: RequestRecord) => void;
}

export interface Incoming extends AttemptRequest {
  readonly alias: Alias;
  /** Called once when the request is over, stream included. */
  readonly settle?: () => void;
}

/** One upstream attempt, for logs, per-request files and metrics lines. */
export interface AttemptRecord {
  readonly route: string;
  readonly ms: number;
  readonly status?: number;
  readonly result: string;
}

export interface RequestRecord {
  readonly id: string;
  readonly incoming: Incoming;
  readonly attempts: readonly AttemptRecord[];
  readonly status: number;
  readonly outcome: "served" | "failed" | "client_gone";
  readonly totalMs: number;
  readonly route?: Route;
  readonly streamEnd?: StreamEnd;
}

const describeRoute = (r: Route) => `${r.backend.name}/${r.model}`;

/** The attempt loop: tries the alias's routes in plan order until one serves the request. */
export async function forward(ctx: ProxyContext, inc: Incoming): Promise<Response> {
  const { config, cooldowns, log, observer } = ctx;
  const started = performance.now();
  const candidates = plan(inc.alias, (key) => cooldowns.remaining(key, Date.now()));
  const records: AttemptRecord[] = [];
  let skipped = candidates.cooling;
  let last: { answer: Answer; from: Route } | undefined;
  let timedOut = false;
  let previous: Route | undefined;

  const done = (status: number, outcome: RequestRecord["outcome"], route?: Route, streamEnd?: StreamEnd) => {
    inc.settle?.();
    ctx.onDone?.({ id: inc.id, incoming: inc, attempts: records, status, outcome, totalMs: performance.now() - started, route, streamEnd });
  };

  for (const route of candidates.routes) {
    if (config.maxRetries > 0 && records.length >= config.maxRetries) break;
    // No time left for this route: trying it would only fail it (and cool it) for nothing.
    const total = route.backend.timeouts.totalMs;
    if (total > 0 && Date.now() >= inc.arrived + total) {
      timedOut = true;
      continue;
    }
    // Another request may have cooled this pair since the plan was made, or be probing it.
    const access = cooldowns.claim(route.key, Date.now());
    if (access === "cooling") {
      skipped++;
      continue;
    }
    if (previous) observer?.fallback(route.alias === inc.alias.name ? "l1" : "l2", route.backend.name, route.model);
    if (access === "probe") log.info(`probing ${describeRoute(route)} after its cooldown`, inc.id);
    previous = route;
    const attemptStarted = performance.now();
    const outcome: Outcome = await attempt(config, inc, route, (end) => streamEnded(ctx, inc, route, end, done));
    const ms = performance.now() - attemptStarted;

    if (outcome.kind === "gone") {
      cooldowns.release(route.key);
      records.push({ route: describeRoute(route), ms, result: "client gone" });
      log.info(`client went away during attempt ${records.length} (${describeRoute(route)})`, inc.id);
      observer?.request(inc.alias.name, "client_gone", 499);
      done(499, "client_gone", route);
      return new Response(null, { status: 499, headers: { "x-request-id": inc.id } });
    }
    if (outcome.kind === "served") {
      cooldowns.succeeded(route.key);
      records.push({ route: describeRoute(route), ms, status: outcome.status, result: "ok" });
      observer?.attempt(route.backend.name, route.model, "ok", ms / 1000);
      observer?.firstByte(route.backend.name, route.model, outcome.firstByteMs / 1000);
      observer?.request(inc.alias.name, "served", outcome.status);
      const streaming = outcome.streaming;
      const response = new Response(outcome.body, { status: outcome.status, headers: withDecorations(outcome.headers, inc, route, records.length) });
      if (log.enabled("info")) log.info(`${inc.alias.name} → ${describeRoute(route)}: ${outcome.status}${streaming ? ", streaming" : ""} after ${plural(records.length, "attempt")} in ${(performance.now() - started).toFixed(1)} ms`, inc.id);
      if (!streaming) done(outcome.status, "served", route);
      return response;
    }

    records.push({ route: describeRoute(route), ms, status: outcome.status, result: outcome.reason });
    observer?.attempt(route.backend.name, route.model, "failure", ms / 1000);
    if (outcome.answer) last = { answer: outcome.answer, from: route };
    coolDown(ctx, inc, route, outcome);
  }

  const alias = JSON.stringify(inc.alias.name);
  if (records.length === 0 && timedOut) {
    observer?.request(inc.alias.name, "failed", 502);
    done(502, "failed");
    return withId(errorResponse("upstream_unavailable", inc.protocol, `model ${alias}: the request's total time (timeouts.total_seconds) ran out before any route could be tried`), inc);
  }
  if (records.length === 0) {
    if (skipped > 0) {
      const wait = Math.max(1, Math.ceil(candidates.firstFreeMs / 1000));
      log.warn(`every route of ${inc.alias.name} is cooling down; retry in ${wait} s`, inc.id);
      observer?.request(inc.alias.name, "failed", 503);
      done(503, "failed");
      return withId(errorResponse("no_route_available", inc.protocol, `every route of model ${alias} is cooling down after failures; retry in ${wait} s`, { "retry-after": String(wait) }), inc);
    }
    log.error(`${inc.alias.name} has no usable route (check its routes and backends in the config)`, inc.id);
    observer?.request(inc.alias.name, "failed", 503);
    done(503, "failed");
    return withId(errorResponse("no_route_available", inc.protocol, `model ${alias} has no usable route (every route or backend is disabled or unknown)`), inc);
  }
  const summary = records.map((r) => `${r.route}: ${r.result}`).join("; ");
  log.error(`${inc.alias.name}: all ${plural(records.length, "attempt")} failed: ${summary}`, inc.id);
  if (last) {
    const { answer, from } = last;
    observer?.request(inc.alias.name, "failed", answer.status);
    done(answer.status, "failed");
    return new Response(ctx.redact(answer.body), { status: answer.status, headers: withDecorations([...answer.headers], inc, from, records.length) });
  }
  observer?.request(inc.alias.name, "failed", 502);
  done(502, "failed");
  const response = errorResponse("upstream_unavailable", inc.protocol, `model ${alias}: ${plural(records.length, "attempt")} failed without an answer from any provider (${ctx.redact(summary)})`);
  for (const [name, value] of withDecorations([], inc, undefined, records.length)) response.headers.set(name, value);
  return response;
}

/** Cools the pair down after a failed attempt, as the cooldown policy says. */
function coolDown(ctx: ProxyContext, inc: Incoming, route: Route, outcome: Extract<Outcome, { kind: "failed" }>): void {
  const { config, cooldowns, log, observer } = ctx;
  if (outcome.requestFault) {
    cooldowns.release(route.key);
    log.warn(`${describeRoute(route)} failed (${outcome.reason}); not cooled down: the request itself was refused`, inc.id);
    return;
  }
  if (config.cooldownMs <= 0) {
    cooldowns.release(route.key);
    log.warn(`${describeRoute(route)} failed (${outcome.reason}); cooldown is off`, inc.id);
    return;
  }
  const now = Date.now();
  const decision = decideCooldown(config, outcome.status, outcome.headers, cooldowns.failuresOf(route.key), now);
  cooldowns.enter(route.key, now, decision.ms, outcome.reason, outcome.status);
  observer?.cooldown(route.backend.name, route.model, outcome.status !== undefined ? `status_${outcome.status}` : outcome.failure);
  const length = `${+(decision.ms / 1000).toFixed(3)} s${decision.basis === "provider" ? " (as the provider asked)" : decision.basis === "backoff" ? " (backoff)" : ""}`;
  if (decision.basis === "auth") {
    log.error(`${describeRoute(route)} refused the key (${outcome.reason}): check backend ${route.backend.name}'s api_key and billing; cooling down for ${length}`, inc.id);
  } else log.warn(`${describeRoute(route)} failed (${outcome.reason}); cooling down for ${length}`, inc.id);
}

/** A committed stream ended: a cut one cools its pair (it cannot fall back) and is logged. */
function streamEnded(ctx: ProxyContext, inc: Incoming, route: Route, end: StreamEnd, done: (status: number, outcome: RequestRecord["outcome"], route?: Route, streamEnd?: StreamEnd) => void): void {
  const { config, cooldowns, log, observer } = ctx;
  observer?.streamedBytes(route.backend.name, route.model, end.bytes);
  if (end.kind === "cut") {
    if (config.cooldownMs > 0) {
      const now = Date.now();
      const decision = decideCooldown(config, undefined, undefined, cooldowns.failuresOf(route.key), now);
      cooldowns.enter(route.key, now, decision.ms, `stream cut: ${end.reason}`);
      observer?.cooldown(route.backend.name, route.model, "stream_cut");
    }
    log.error(`stream from ${describeRoute(route)} was cut after it started (${end.reason}); the client got an error event, not a complete answer`, inc.id);
    done(200, "failed", route, end);
    return;
  }
  if (end.kind === "client_gone") log.info(`client went away during the stream from ${describeRoute(route)}; upstream request aborted`, inc.id);
  else log.debug(`stream from ${describeRoute(route)} complete: ${end.bytes} bytes`, inc.id);
  done(200, end.kind === "complete" ? "served" : "client_gone", route, end);
}

function withId(response: Response, inc: Incoming): Response {
  response.headers.set("x-request-id", inc.id);
  return response;
}

/**
 * Says which route served the request, and carries the ids both ways: the
 * provider's own request id moves to `x-upstream-request-id`.
 */
function withDecorations(headers: [string, string][], inc: Incoming, route: Route | undefined, attempts: number): [string, string][] {
  const at = headers.findIndex(([name]) => name === "x-request-id");
  if (at !== -1) {
    const upstreamId = headers[at]![1];
    headers.splice(at, 1);
    if (upstreamId !== inc.id) headers.push(["x-upstream-request-id", upstreamId]);
  }
  headers.push(["x-request-id", inc.id]);
  if (route) headers.push(["x-llm-proxy-backend", route.backend.name], ["x-llm-proxy-model", route.model]);
  headers.push(["x-llm-proxy-attempts", String(attempts)]);
  return headers;
}
