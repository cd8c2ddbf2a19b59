import type { Route } from "../config/types.ts";
import { estimateAnthropicTokens } from "../protocols/estimate.ts";
import { withDecorations } from "./decorations.ts";
import { errorResponse } from "./errors.ts";
import type { ProxyContext } from "./forward.ts";
import type { ProxyRequest } from "./request.ts";
import type { RouteMode } from "./route-mode.ts";
import type { Plan } from "./router.ts";

/** Claude Code counts tokens before it sends a turn; only Anthropic serves this endpoint. */
const COUNT_TOKENS = "/v1/messages/count_tokens";

/**
 * Answers the proxy gives without trying a route: a token count when the alias's first
 * usable route is not Anthropic (an estimate, so Claude Code keeps working), and a 400
 * when no route of the alias can serve the client's endpoint at all.
 */
export function ownAnswer(ctx: ProxyContext, req: ProxyRequest, candidates: Plan, mode: (route: Route) => RouteMode): Response | undefined {
  if (req.path === COUNT_TOKENS) {
    const first = firstUsable(ctx, req);
    if (first && first.backend.protocol !== undefined && first.backend.protocol !== "anthropic") {
      ctx.log.debug(`${COUNT_TOKENS}: estimated by the proxy (the first route, ${first.backend.name}, speaks ${first.backend.protocol})`, req.id);
      const headers = withDecorations([["content-type", "application/json"], ["x-llm-proxy-estimate", "true"]], req, first, 0);
      return new Response(JSON.stringify(estimateAnthropicTokens(req.json)), { headers });
    }
  }
  if (candidates.routes.length === 0 && candidates.cooling === 0 && candidates.unservable > 0) {
    const protocols = [...new Set(req.alias.groups.flatMap((g) => g.routes.filter((r) => mode(r) === "skip").map((r) => r.backend.protocol)))].join(", ");
    const response = errorResponse("no_route_for_endpoint", req.protocol, `model ${JSON.stringify(req.alias.name)} cannot serve ${req.path}: its routes' backends speak ${protocols}, which has no such endpoint`);
    response.headers.set("x-request-id", req.id);
    return response;
  }
  return undefined;
}

/** The first route of the alias, in plan order, that is not cooling down. */
function firstUsable(ctx: ProxyContext, req: ProxyRequest): Route | undefined {
  const now = Date.now();
  for (const group of req.alias.groups) for (const route of group.routes) if (ctx.cooldowns.remaining(route.key, now) === 0) return route;
  return undefined;
}
