import type { Config, PriorityGroup } from "./types.ts";

const share = (weight: number, total: number) => `${Math.round((weight / total) * 100)}%`;

/** The client endpoints of each protocol: a route to a backend of another protocol translates them. */
const ENDPOINTS = { openai: "/v1/chat/completions", anthropic: "/v1/messages", "openai-responses": "/v1/responses" } as const;

/** `(protocol anthropic: /v1/chat/completions and /v1/responses translated)`, or nothing for a passthrough backend. */
function protocolNote(protocol: keyof typeof ENDPOINTS | undefined): string {
  if (protocol === undefined) return "";
  const translated = Object.entries(ENDPOINTS).filter(([p]) => p !== protocol).map(([, path]) => path);
  return ` (protocol ${protocol}: ${translated.join(" and ")} translated)`;
}

function describeGroup(group: PriorityGroup): string {
  const routes = group.routes.map((r) => `${r.backend.name} → ${r.model}${protocolNote(r.backend.protocol)}`);
  if (routes.length === 1) return `priority ${group.priority}: ${routes[0]}`;
  if (!group.weighted) return `priority ${group.priority}: ${routes.join(", ")} (random order, equal shares)`;
  const total = group.routes.reduce((sum, r) => sum + r.weight, 0);
  return `priority ${group.priority}: ${group.routes.map((r, i) => `${routes[i]} (weight ${r.weight}, first ${share(r.weight, total)})`).join(", ")} (weighted random order)`;
}

/**
 * For each alias, the order in which its routes would be tried: priority groups,
 * weights, then its L2 fallback aliases. Printed by `--check`.
 */
export function describePlans(config: Config): string {
  const lines: string[] = [];
  for (const alias of config.aliases.values()) {
    lines.push(`${JSON.stringify(alias.name)}:`);
    if (alias.groups.length === 0) {
      lines.push("  no usable route: requests get 503");
      continue;
    }
    let current = alias.name;
    for (const group of alias.groups) {
      if (group.alias !== current) {
        current = group.alias;
        lines.push(`  then fallback alias ${JSON.stringify(current)}:`);
      }
      lines.push(`  ${group.alias === alias.name ? "" : "  "}${describeGroup(group)}`);
    }
  }
  return lines.join("\n");
}
