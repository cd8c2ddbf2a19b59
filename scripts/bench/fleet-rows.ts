/**
 * The rows of a fleet run: what is measured (direct, llm-proxy, the baseline,
 * peers), which protocol its clients speak, and exactly what they send.
 */
import { BACKEND_KEY, PROXY_KEY } from "./workload.ts";
import { anthropicBody, chatBody, CHAT_PATH, FLEET_ALIAS, FLEET_ANTHROPIC_ALIAS, FLEET_DIRECT_ANTHROPIC_MODEL, FLEET_MODEL, MESSAGES_PATH } from "./fleet-workload.ts";
import type { PeerClient } from "./peer-run.ts";

export type Kind = "passthrough" | "translated";

export interface ClientRequest {
  readonly path: string;
  readonly headers: Record<string, string>;
  readonly body: string;
  readonly expect: "compact" | "anthropic";
}

/** https://docs.anthropic.com/en/api/versioning */
const ANTHROPIC_VERSION = "2023-06-01";

export function clientRequest(kind: Kind, who: "direct" | PeerClient, upstream: string): ClientRequest {
  if (kind === "translated") {
    const direct = who === "direct";
    return {
      path: MESSAGES_PATH,
      headers: { "x-api-key": direct ? BACKEND_KEY : PROXY_KEY, "anthropic-version": ANTHROPIC_VERSION },
      body: anthropicBody(direct ? FLEET_DIRECT_ANTHROPIC_MODEL : FLEET_ANTHROPIC_ALIAS),
      expect: "anthropic",
    };
  }
  const openai = (key: string, model: string, extra: Record<string, string> = {}): ClientRequest => ({
    path: CHAT_PATH,
    headers: { Authorization: `Bearer ${key}`, ...extra },
    body: chatBody(model),
    expect: "compact",
  });
  switch (who) {
    case "direct":
    case "transparent":
      return openai(BACKEND_KEY, FLEET_MODEL);
    case "llm-proxy":
      return openai(PROXY_KEY, FLEET_ALIAS);
    case "nginx":
      return openai(PROXY_KEY, FLEET_MODEL);
    case "portkey":
      // https://portkey.ai/docs: a custom OpenAI-compatible host, chosen per request by headers.
      return openai(BACKEND_KEY, FLEET_MODEL, { "x-portkey-provider": "openai", "x-portkey-custom-host": `${upstream}/v1` });
    case "ccr":
      throw new Error("claude-code-router serves Anthropic clients only: it belongs in the translated rows");
  }
}

/** A config in the shape of the shipped example: the passthrough alias and, with translation, an Anthropic alias on an OpenAI backend. */
export function fleetConfig(providerPort: number, logDir: string, translated: boolean, listen = "127.0.0.1:0"): string {
  return `# Written by scripts/bench.ts --fleet.
listen: "${listen}"
proxy_api_key: "${PROXY_KEY}"

backends:
  - name: "fleet"
    url: "http://127.0.0.1:${providerPort}/v1"
    api_key: "${BACKEND_KEY}"
${
  translated
    ? `  - name: "fleet-openai"
    url: "http://127.0.0.1:${providerPort}/v1"
    api_key: "${BACKEND_KEY}"
    protocol: openai
`
    : ""
}
models:
  "${FLEET_ALIAS}":
    routes:
      - backend: "fleet"
        model: "${FLEET_MODEL}"
${
  translated
    ? `  "${FLEET_ANTHROPIC_ALIAS}":
    routes:
      - backend: "fleet-openai"
        model: "fleet-upstream-translated"
`
    : ""
}
fallback:
  cooldown_seconds: 60
  max_retries: 3

detection:
  error_codes: ["4xx", "5xx"]

logging:
  level: "info"
  general_file: "${logDir}/proxy.log"
  mask_sensitive: true
`;
}
