import type { RawConfig } from "./schema.ts";
import type { Alias, Backend, UnusableBackend } from "./types.ts";
import { nearest } from "./unknown-keys.ts";

const SECTIONS = ["backends", "models"] as const;
const quoted = (names: Iterable<string>) => [...names].map((n) => JSON.stringify(n)).join(", ");

/** Top-level keys the schema does not know that look like `backends:` or `models:` misspelt (`backend:`, `Models:`). */
function misspelt(section: (typeof SECTIONS)[number], topLevelKeys: readonly string[]): string | undefined {
  return topLevelKeys.find((key) => !(SECTIONS as readonly string[]).includes(key) && nearest(key, SECTIONS) === section);
}

function missingSection(section: (typeof SECTIONS)[number], topLevelKeys: readonly string[]): string {
  const near = misspelt(section, topLevelKeys);
  const what = section === "models" ? "no model aliases are defined" : "no backends are defined";
  return near ? `${what} (${JSON.stringify(`${near}:`)} is an unknown key: did you mean "${section}:"?)` : `${what} (the ${section}: section is missing or empty)`;
}

/**
 * Why a configuration serves nothing, naming the likely cause; undefined when some
 * alias has a usable route. The original starts with such a file and answers every
 * request with an error, so start-up keeps starting: this is what --check and the
 * start-up log say about it.
 */
export function whyNothingServed(
  raw: RawConfig,
  backends: ReadonlyMap<string, Backend & { enabled: boolean }>,
  unusable: ReadonlyMap<string, UnusableBackend>,
  aliases: ReadonlyMap<string, Alias>,
  topLevelKeys: readonly string[],
): string | undefined {
  if ([...aliases.values()].some((a) => a.groups.length > 0)) return undefined;
  if (topLevelKeys.length === 0) return "the file is empty: it defines no backends and no models";
  const aliasNames = Object.keys(raw.models);
  const causes: string[] = [];
  if (aliasNames.length === 0) causes.push(missingSection("models", topLevelKeys));
  if (raw.backends.length === 0) causes.push(missingSection("backends", topLevelKeys));
  if (causes.length > 0) return causes.join("; ");

  if (aliases.size === 0) return `every model alias is disabled (enabled: false): ${quoted(aliasNames)}`;
  const usable = [...backends.values()].filter((b) => b.enabled);
  if (usable.length === 0) {
    const why = [
      ...[...unusable.values()].map((b) => `${JSON.stringify(b.name)}: ${b.problem}`),
      ...[...backends.values()].map((b) => `${JSON.stringify(b.name)}: disabled (enabled: false)`),
    ];
    return `no backend is usable${why.length > 0 ? ` (${why.join("; ")})` : " (none has a name)"}`;
  }
  const routes = [...aliases.keys()].flatMap((name) => raw.models[name]!.routes.filter((r) => r.enabled));
  if (routes.length === 0) return `no enabled alias has an enabled route (aliases: ${quoted(aliases.keys())})`;
  const named = new Set(routes.map((r) => r.backend));
  if (![...named].some((name) => backends.get(name)?.enabled)) {
    return `every route names an unknown, disabled or unusable backend (routes name ${quoted(named)}; usable backends: ${quoted(usable.map((b) => b.name))})`;
  }
  return "no enabled alias has a usable route (an enabled route, with a model, to an enabled backend)";
}

/** The line start-up and a reload log (as an error) and --check prints, when no alias has a usable route. */
export const nothingServedLine = (cause: string) => `nothing to serve: ${cause}. llm-proxy starts, but answers 503 to every request for a model`;
