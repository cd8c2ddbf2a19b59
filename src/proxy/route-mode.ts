import type { BackendProtocol, Route } from "../config/types.ts";
import type { Protocol } from "../protocols/types.ts";

/**
 * What a route does with a client's request: pass the body through (the backend
 * speaks the client's protocol, or says nothing about what it speaks), translate it
 * (the client's endpoint is one of the three that translate, and the backend speaks
 * another protocol), or skip the route (it cannot serve the endpoint at all: an
 * embeddings request to an Anthropic backend). A skipped route is neither tried nor
 * cooled.
 */
export type RouteMode = "pass" | "translate" | "skip";

/** The endpoints a translator exists for, by path (with or without the /v1 prefix clients use). */
const TRANSLATED_PATHS: Record<string, Protocol> = {
  "/v1/chat/completions": "openai",
  "/chat/completions": "openai",
  "/v1/messages": "anthropic",
  "/v1/responses": "openai-responses",
  "/responses": "openai-responses",
};

/** OpenAI's two protocols serve the same other endpoints (embeddings, completions, files…). */
const family = (p: Protocol) => (p === "anthropic" ? "anthropic" : "openai");

export function routeMode(path: string, client: Protocol, backend: BackendProtocol | undefined): RouteMode {
  if (backend === undefined || backend === client) return "pass";
  if (TRANSLATED_PATHS[path] === client) return "translate";
  return family(client) === family(backend) ? "pass" : "skip";
}

/** The mode of each route for one request, worked out once per route per request. */
export const modeOf = (path: string, client: Protocol) => (route: Route) => routeMode(path, client, route.backend.protocol);
