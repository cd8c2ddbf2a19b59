import type { Route } from "../config/types.ts";
import type { ProxyRequest } from "./request.ts";

export const describeRoute = (r: Route) => `${r.backend.name}/${r.model}`;

/**
 * Says which route served the request, and carries the ids both ways: the
 * provider's own request id moves to `x-upstream-request-id`.
 */
export function withDecorations(headers: [string, string][], req: ProxyRequest, route: Route | undefined, attempts: number): [string, string][] {
  const at = headers.findIndex(([name]) => name === "x-request-id");
  if (at !== -1) {
    const upstreamId = headers[at]![1];
    headers.splice(at, 1);
    if (upstreamId !== req.id) headers.push(["x-upstream-request-id", upstreamId]);
  }
  headers.push(["x-request-id", req.id]);
  if (route) headers.push(["x-llm-proxy-backend", route.backend.name], ["x-llm-proxy-model", route.model]);
  headers.push(["x-llm-proxy-attempts", String(attempts)]);
  return headers;
}
