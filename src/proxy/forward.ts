import type { Route } from "../config/types.ts";
import type { Usage } from "../protocols/types.ts";
import type { Logger } from "../log/logger.ts";
import { plural } from "../log/text.ts";
import { attempt, type AttemptContext } from "./attempt.ts";
import { coolDown, coolDownCutStream } from "./cool-down.ts";
import type { CooldownTable } from "./cooldown.ts";
import { describeRoute, withDecorations } from "./decorations.ts";
import { finalAnswer } from "./final-answer.ts";
import type { Answer, Outcome } from "./outcome.ts";
import type { ProxyRequest } from "./request.ts";
import { ownAnswer } from "./own-answer.ts";
import { modeOf } from "./route-mode.ts";
import { plan } from "./router.ts";
import type { StreamEnd } from "./stream.ts";

export type RequestOutcome = "served" | "failed" | "rejected" | "client_gone";

/** What the proxy reports as it goes; /metrics implements it. */
export interface ProxyObserver {
  request(alias: string, outcome: RequestOutcome, status: number): void;
  attempt(backend: string, model: string, result: "ok" | "failure", seconds: number): void;
  firstByte(backend: string, model: string, seconds: number): void;
  fallback(level: "l1" | "l2", backend: string, model: string): void;
  cooldown(backend: string, model: string, reason: string): void;
  streamedBytes(backend: string, model: string, bytes: number): void;
}

/** Everything the request path needs; one per configuration, swapped on reload. */
export interface ProxyContext extends AttemptContext {
  readonly cooldowns: CooldownTable;
  readonly log: Logger;
  readonly observer?: ProxyObserver;
}

/** One upstream attempt, for logs, per-request files and metrics lines. */
export interface AttemptRecord {
  readonly route: string;
  readonly ms: number;
  readonly status?: number;
  readonly result: string;
}

/** One proxied request, once it is over (its stream included). */
export interface RequestRecord {
  readonly id: string;
  readonly request: ProxyRequest;
  readonly attempts: readonly AttemptRecord[];
  readonly status: number;
  readonly outcome: Exclude<RequestOutcome, "rejected">;
  readonly totalMs: number;
  readonly route?: Route;
  readonly streamEnd?: StreamEnd;
  /** What `first_byte_seconds` bounds, for the answer that served: its head, or a stream's first event. */
  readonly firstByteMs?: number;
  /** The tokens the answer reported (as far as it got, for a cut stream). */
  readonly usage?: Usage;
}

/** The answer to give the client now, and the request's end, which may come later (a stream). */
export interface Forwarded {
  readonly response: Response;
  readonly done: Promise<RequestRecord>;
}

/**
 * The attempt loop: plan the alias's routes, try each in turn, cool down the ones
 * that fail, commit the first answer that serves, else make the final answer.
 */
export async function forward(ctx: ProxyContext, req: ProxyRequest): Promise<Forwarded> {
  const { config, cooldowns, log, observer } = ctx;
  const started = performance.now();
  const mode = modeOf(req.path, req.protocol);
  const candidates = plan(req.alias, (key) => cooldowns.remaining(key, Date.now()), Math.random, (route) => mode(route) !== "skip");
  const records: AttemptRecord[] = [];
  const record = (status: number, outcome: RequestRecord["outcome"], route?: Route, streamEnd?: StreamEnd, served?: { firstByteMs: number; usage: Usage | undefined }): RequestRecord => ({
    id: req.id,
    request: req,
    attempts: records,
    status,
    outcome,
    totalMs: performance.now() - started,
    route,
    streamEnd,
    firstByteMs: served?.firstByteMs,
    usage: served?.usage,
  });
  const own = ownAnswer(ctx, req, candidates, mode);
  if (own) {
    observer?.request(req.alias.name, own.status < 400 ? "served" : "rejected", own.status);
    return { response: own, done: Promise.resolve(record(own.status, own.status < 400 ? "served" : "failed")) };
  }
  let cooling = candidates.cooling;
  let timedOut = false;
  let last: { answer: Answer; route: Route } | undefined;
  let previous: Route | undefined;

  for (const route of candidates.routes) {
    if (config.maxRetries > 0 && records.length >= config.maxRetries) break;
    // No time left for this route: trying it would only fail it (and cool it) for nothing.
    const total = route.backend.timeouts.totalMs;
    if (total > 0 && Date.now() >= req.arrived + total) {
      timedOut = true;
      continue;
    }
    // Another request may have cooled this pair since the plan was made, or be probing it.
    const access = cooldowns.claim(route.key, Date.now());
    if (access === "cooling") {
      cooling++;
      continue;
    }
    if (previous) observer?.fallback(route.alias === req.alias.name ? "l1" : "l2", route.backend.name, route.model);
    if (access === "probe") log.info(`probing ${describeRoute(route)} after its cooldown`, req.id);
    previous = route;

    const attemptStarted = performance.now();
    const outcome: Outcome = await attempt(ctx, req, route);
    const ms = performance.now() - attemptStarted;

    if (outcome.kind === "gone") {
      cooldowns.release(route.key);
      records.push({ route: describeRoute(route), ms, result: "client gone" });
      log.info(`client went away during attempt ${records.length} (${describeRoute(route)})`, req.id);
      observer?.request(req.alias.name, "client_gone", 499);
      return { response: new Response(null, { status: 499, headers: { "x-request-id": req.id } }), done: Promise.resolve(record(499, "client_gone", route)) };
    }
    if (outcome.kind === "served") {
      cooldowns.succeeded(route.key);
      records.push({ route: describeRoute(route), ms, status: outcome.status, result: "ok" });
      observer?.attempt(route.backend.name, route.model, "ok", ms / 1000);
      observer?.firstByte(route.backend.name, route.model, outcome.firstByteMs / 1000);
      observer?.request(req.alias.name, "served", outcome.status);
      const response = new Response(outcome.body, { status: outcome.status, headers: withDecorations(outcome.headers, req, route, records.length) });
      if (log.enabled("info")) log.info(`${req.alias.name} → ${describeRoute(route)}: ${outcome.status}${outcome.streaming ? ", streaming" : ""} after ${plural(records.length, "attempt")} in ${(performance.now() - started).toFixed(1)} ms`, req.id);
      const done = outcome.finished.then((end) => {
        if (outcome.streaming) observer?.streamedBytes(route.backend.name, route.model, end.bytes);
        if (end.kind === "cut") coolDownCutStream(ctx, req, route, end.reason, outcome.streaming);
        else if (end.kind === "client_gone") log.info(`client went away before the end of the answer from ${describeRoute(route)}; upstream request aborted`, req.id);
        else if (outcome.streaming) log.debug(`stream from ${describeRoute(route)} complete: ${end.bytes} bytes`, req.id);
        const served = { firstByteMs: outcome.firstByteMs, usage: outcome.usage() };
        return record(outcome.status, end.kind === "complete" ? "served" : end.kind === "cut" ? "failed" : "client_gone", route, outcome.streaming ? end : undefined, served);
      });
      return { response, done };
    }

    records.push({ route: describeRoute(route), ms, status: outcome.status, result: outcome.reason });
    observer?.attempt(route.backend.name, route.model, "failure", ms / 1000);
    if (outcome.answer) last = { answer: outcome.answer, route };
    coolDown(ctx, req, route, outcome);
  }

  const response = finalAnswer(ctx, req, { records, cooling, firstFreeMs: candidates.firstFreeMs, timedOut, last });
  observer?.request(req.alias.name, "failed", response.status);
  // The pair whose answer the client got (or the last one tried): the ledger says which backend failed the request.
  return { response, done: Promise.resolve(record(response.status, "failed", last?.route ?? previous)) };
}
