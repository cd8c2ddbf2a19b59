import type { Route } from "../config/types.ts";
import { plural } from "../log/text.ts";
import { withDecorations } from "./decorations.ts";
import { errorResponse } from "./errors.ts";
import type { AttemptRecord, ProxyContext } from "./forward.ts";
import type { Answer } from "./outcome.ts";
import type { ProxyRequest } from "./request.ts";

/** What the attempt loop went through, for the answer when no route served. */
export interface Tried {
  readonly records: readonly AttemptRecord[];
  /** Candidates skipped because they were cooling down. */
  readonly cooling: number;
  readonly firstFreeMs: number;
  /** Some route was left out because the request's total time had run out. */
  readonly timedOut: boolean;
  /** The last upstream answer that failed, to return as it was. */
  readonly last: { readonly answer: Answer; readonly route: Route } | undefined;
}

/**
 * The answer when no route served: the last provider's answer as it was (masked);
 * else 503 when every route is cooling (with Retry-After) or none is usable at all;
 * else 502. The proxy's own errors are in the client's protocol and name the alias.
 */
export function finalAnswer(ctx: ProxyContext, req: ProxyRequest, t: Tried): Response {
  const { log } = ctx;
  const alias = JSON.stringify(req.alias.name);
  const own = (response: Response) => {
    for (const [name, value] of withDecorations([], req, undefined, t.records.length)) response.headers.set(name, value);
    return response;
  };
  if (t.records.length === 0 && t.timedOut) {
    return own(errorResponse("upstream_unavailable", req.protocol, `model ${alias}: the request's total time (timeouts.total_seconds) ran out before any route could be tried`));
  }
  if (t.records.length === 0) {
    if (t.cooling > 0) {
      const wait = Math.max(1, Math.ceil(t.firstFreeMs / 1000));
      log.warn(`every route of ${req.alias.name} is cooling down; retry in ${wait} s`, req.id);
      return own(errorResponse("no_route_available", req.protocol, `every route of model ${alias} is cooling down after failures; retry in ${wait} s`, { "retry-after": String(wait) }));
    }
    log.error(`${req.alias.name} has no usable route (check its routes and backends in the config)`, req.id);
    return own(errorResponse("no_route_available", req.protocol, `model ${alias} has no usable route (every route or backend is disabled or unknown)`));
  }
  const summary = t.records.map((r) => `${r.route}: ${r.result}`).join("; ");
  log.error(`${req.alias.name}: all ${plural(t.records.length, "attempt")} failed: ${summary}`, req.id);
  if (t.last) {
    const { answer, route } = t.last;
    return new Response(ctx.mask(answer.body), { status: answer.status, headers: withDecorations([...answer.headers], req, route, t.records.length) });
  }
  return own(errorResponse("upstream_unavailable", req.protocol, `model ${alias}: ${plural(t.records.length, "attempt")} failed without an answer from any provider (${ctx.mask(summary)})`));
}
