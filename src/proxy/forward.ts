import type { Route } from "../config/types.ts";
import type { Usage } from "../protocols/types.ts";
import type { Logger } from "../log/logger.ts";
import type { AttemptContext } from "./attempt.ts";
import type { CooldownTable } from "./cooldown.ts";
import { ownAnswer } from "./own-answer.ts";
import type { ProxyRequest } from "./request.ts";
import { RequestRun } from "./request-run.ts";
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
  /** `backend/model`, for people. */
  readonly route: string;
  /** The pair's cooldown key. */
  readonly key: string;
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
  const run = new RequestRun(ctx, req);
  const mode = modeOf(req.path, req.protocol);
  const candidates = plan(req.alias, (key) => ctx.cooldowns.remaining(key, Date.now()), Math.random, (route) => mode(route) !== "skip");
  const own = ownAnswer(ctx, req, candidates, mode);
  if (own) return run.ownAnswer(own);
  for (const route of candidates.routes) {
    if (run.outOfAttempts()) break;
    if (!run.mayTry(route)) continue;
    const { outcome, ms } = await run.attempt(route);
    if (outcome.kind === "gone") return run.gone(route, ms);
    if (outcome.kind === "served") return run.commit(route, outcome, ms);
    run.failed(route, outcome, ms);
  }
  return run.noRouteServed(candidates);
}
