import type { Route } from "../config/types.ts";
import { decideCooldown } from "./cooldown-policy.ts";
import { describeRoute } from "./decorations.ts";
import type { ProxyContext } from "./forward.ts";
import type { Failed } from "./outcome.ts";
import type { ProxyRequest } from "./request.ts";

/** Cools the pair down after a failed attempt, as the cooldown policy says. */
export function coolDown(ctx: ProxyContext, req: ProxyRequest, route: Route, outcome: Failed): void {
  const { config, cooldowns, log, observer } = ctx;
  if (outcome.requestFault) {
    cooldowns.release(route.key);
    const why = outcome.requestFault === "path" ? `the provider does not serve ${req.path}` : "the request itself was refused";
    log.warn(`${describeRoute(route)} failed (${outcome.reason}); not cooled down: ${why}`, req.id);
    return;
  }
  if (config.cooldownMs <= 0) {
    cooldowns.release(route.key);
    log.warn(`${describeRoute(route)} failed (${outcome.reason}); cooldown is off`, req.id);
    return;
  }
  const now = Date.now();
  const decision = decideCooldown(config, outcome.status, outcome.headers, cooldowns.failuresOf(route.key), now);
  cooldowns.enter(route.key, now, decision.ms, outcome.reason, outcome.status);
  observer?.cooldown(route.backend.name, route.model, outcome.status !== undefined ? `status_${outcome.status}` : outcome.failure);
  const length = `${+(decision.ms / 1000).toFixed(3)} s${decision.basis === "provider" ? " (as the provider asked)" : decision.basis === "backoff" ? " (backoff)" : ""}`;
  if (decision.basis === "auth") {
    log.error(`${describeRoute(route)} refused the key (${outcome.reason}): check backend ${route.backend.name}'s api_key and billing; cooling down for ${length}`, req.id);
  } else log.warn(`${describeRoute(route)} failed (${outcome.reason}); cooling down for ${length}`, req.id);
}

/** An answer cut after it was committed cannot fall back: its pair cools down, and the cut is logged. */
export function coolDownCutStream(ctx: ProxyContext, req: ProxyRequest, route: Route, reason: string, stream: boolean): void {
  const { config, cooldowns, log, observer } = ctx;
  if (config.cooldownMs > 0) {
    const now = Date.now();
    const decision = decideCooldown(config, undefined, undefined, cooldowns.failuresOf(route.key), now);
    cooldowns.enter(route.key, now, decision.ms, `${stream ? "stream" : "answer"} cut: ${reason}`);
    observer?.cooldown(route.backend.name, route.model, "stream_cut");
  }
  const got = stream ? "the client got an error event, not a complete answer" : "the client got an incomplete body";
  log.error(`${stream ? "stream" : "answer"} from ${describeRoute(route)} was cut after it started (${reason}); ${got}`, req.id);
}
