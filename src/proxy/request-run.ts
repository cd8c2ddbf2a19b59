import type { Route } from "../config/types.ts";
import { plural } from "../log/text.ts";
import type { Usage } from "../protocols/types.ts";
import { attempt } from "./attempt.ts";
import { coolDown, coolDownCutStream } from "./cool-down.ts";
import { describeRoute, withDecorations } from "./decorations.ts";
import { finalAnswer } from "./final-answer.ts";
import type { AttemptRecord, Forwarded, ProxyContext, RequestRecord } from "./forward.ts";
import type { Answer, Failed, Outcome } from "./outcome.ts";
import type { ProxyRequest } from "./request.ts";
import type { Plan } from "./router.ts";
import type { StreamEnd } from "./stream.ts";

type Served = Extract<Outcome, { kind: "served" }>;

/**
 * One client request on its way through the attempt loop: what has been tried, and
 * each step's bookkeeping (records, metrics, logs, cooldowns), so that `forward`
 * reads as the loop alone.
 */
export class RequestRun {
  private readonly started = performance.now();
  private readonly records: AttemptRecord[] = [];
  private cooling = 0;
  private timedOut = false;
  private last: { answer: Answer; route: Route } | undefined;
  private previous: Route | undefined;

  constructor(
    private readonly ctx: ProxyContext,
    private readonly req: ProxyRequest,
  ) {}

  /** `fallback.max_retries` attempts made (0: no limit). */
  outOfAttempts(): boolean {
    const { maxRetries } = this.ctx.config;
    return maxRetries > 0 && this.records.length >= maxRetries;
  }

  /** Whether to try this route now: it has time left, and no other request cooled it or is probing it since the plan was made. */
  mayTry(route: Route): boolean {
    const { cooldowns, log, observer } = this.ctx;
    const total = route.backend.timeouts.totalMs;
    // No time left: trying it would only fail it (and cool it) for nothing.
    if (total > 0 && Date.now() >= this.req.arrived + total) {
      this.timedOut = true;
      return false;
    }
    const access = cooldowns.claim(route.key, Date.now());
    if (access === "cooling") {
      this.cooling++;
      return false;
    }
    if (this.previous) observer?.fallback(route.alias === this.req.alias.name ? "l1" : "l2", route.backend.name, route.model);
    if (access === "probe") log.info(`probing ${describeRoute(route)} after its cooldown`, this.req.id);
    this.previous = route;
    return true;
  }

  async attempt(route: Route): Promise<{ outcome: Outcome; ms: number }> {
    const started = performance.now();
    const outcome = await attempt(this.ctx, this.req, route);
    return { outcome, ms: performance.now() - started };
  }

  /** The client went away during the attempt: nobody to answer, nothing to cool. */
  gone(route: Route, ms: number): Forwarded {
    const { cooldowns, log, observer } = this.ctx;
    cooldowns.release(route.key);
    this.records.push({ route: describeRoute(route), key: route.key, ms, result: "client gone" });
    log.info(`client went away during attempt ${this.records.length} (${describeRoute(route)})`, this.req.id);
    observer?.request(this.req.alias.name, "client_gone", 499);
    return { response: new Response(null, { status: 499, headers: { "x-request-id": this.req.id } }), done: Promise.resolve(this.record(499, "client_gone", route)) };
  }

  /** The route served: its answer goes to the client; the request is over when its body is. */
  commit(route: Route, outcome: Served, ms: number): Forwarded {
    const { cooldowns, log, observer } = this.ctx;
    const req = this.req;
    cooldowns.succeeded(route.key);
    this.records.push({ route: describeRoute(route), key: route.key, ms, status: outcome.status, result: "ok" });
    observer?.attempt(route.backend.name, route.model, "ok", ms / 1000);
    observer?.firstByte(route.backend.name, route.model, outcome.firstByteMs / 1000);
    observer?.request(req.alias.name, "served", outcome.status);
    const response = new Response(outcome.body, { status: outcome.status, headers: withDecorations(outcome.headers, req, route, this.records.length) });
    if (log.enabled("info")) log.info(`${req.alias.name} → ${describeRoute(route)}: ${outcome.status}${outcome.streaming ? ", streaming" : ""} after ${plural(this.records.length, "attempt")} in ${(performance.now() - this.started).toFixed(1)} ms`, req.id);
    const done = outcome.finished.then((end) => this.ended(route, outcome, end));
    return { response, done };
  }

  /** The route failed: recorded, cooled down as the policy says, its answer kept in case no route serves. */
  failed(route: Route, outcome: Failed, ms: number): void {
    this.records.push({ route: describeRoute(route), key: route.key, ms, status: outcome.status, result: outcome.reason });
    this.ctx.observer?.attempt(route.backend.name, route.model, "failure", ms / 1000);
    if (outcome.answer) this.last = { answer: outcome.answer, route };
    coolDown(this.ctx, this.req, route, outcome);
  }

  /** Every candidate failed, was cooling, or had no time left. */
  noRouteServed(candidates: Plan): Forwarded {
    const response = finalAnswer(this.ctx, this.req, { records: this.records, cooling: candidates.cooling + this.cooling, firstFreeMs: candidates.firstFreeMs, timedOut: this.timedOut, last: this.last });
    this.ctx.observer?.request(this.req.alias.name, "failed", response.status);
    // The pair whose answer the client got, when one did.
    return { response, done: Promise.resolve(this.record(response.status, "failed", this.last?.route)) };
  }

  /** An answer the proxy gives itself, without trying a route (a token estimate, a 400). */
  ownAnswer(response: Response): Forwarded {
    const served = response.status < 400;
    this.ctx.observer?.request(this.req.alias.name, served ? "served" : "rejected", response.status);
    return { response, done: Promise.resolve(this.record(response.status, served ? "served" : "failed")) };
  }

  private ended(route: Route, outcome: Served, end: StreamEnd): RequestRecord {
    const { log, observer } = this.ctx;
    if (outcome.streaming) observer?.streamedBytes(route.backend.name, route.model, end.bytes);
    if (end.kind === "cut") coolDownCutStream(this.ctx, this.req, route, end.reason, outcome.streaming);
    else if (end.kind === "client_gone") log.info(`client went away before the end of the answer from ${describeRoute(route)}; upstream request aborted`, this.req.id);
    else if (outcome.streaming) log.debug(`stream from ${describeRoute(route)} complete: ${end.bytes} bytes`, this.req.id);
    const kind = end.kind === "complete" ? "served" : end.kind === "cut" ? "failed" : "client_gone";
    return this.record(outcome.status, kind, route, outcome.streaming ? end : undefined, { firstByteMs: outcome.firstByteMs, usage: outcome.usage() });
  }

  private record(status: number, outcome: RequestRecord["outcome"], route?: Route, streamEnd?: StreamEnd, served?: { firstByteMs: number; usage: Usage | undefined }): RequestRecord {
    return { id: this.req.id, request: this.req, attempts: this.records, status, outcome, totalMs: performance.now() - this.started, route, streamEnd, firstByteMs: served?.firstByteMs, usage: served?.usage };
  }
}
