import { resolve } from "node:path";
import * as v from "valibot";
import { buildConfig } from "./build.ts";
import { interpolate } from "./interpolate.ts";
import { ConfigError, Problem, renderPath } from "./problems.ts";
import { configSchema, type RawConfig } from "./schema.ts";
import type { Config } from "./types.ts";
import { findUnknownKeys } from "./unknown-keys.ts";
import { parseYaml } from "./yaml.ts";

/** The config file is not there: the caller says so in one line. */
export class ConfigNotFoundError extends Error {
  constructor(
    readonly path: string,
    options?: ErrorOptions,
  ) {
    super(`config file not found: ${resolve(path)} (start from the example: cp config.example.yaml ${path}, then edit it)`, options);
    this.name = "ConfigNotFoundError";
  }
}

export interface Loaded {
  config: Config | undefined;
  /** Every warning and error, in the order found. */
  problems: Problem[];
}

/** Validates configuration text. Never throws: errors come back as problems and no config. */
export function parseConfig(text: string, file: string, env: Record<string, string | undefined> = process.env): Loaded {
  const parsed = parseYaml(text, file);
  if (parsed.problems.length > 0) return { config: undefined, problems: parsed.problems };
  const data = parsed.value ?? {};
  const problems: Problem[] = [];
  const vars = interpolate(data, env);
  problems.push(...vars.problems);
  problems.push(...findUnknownKeys(configSchema, vars.value));

  const result = v.safeParse(configSchema, vars.value);
  if (!result.success) {
    for (const issue of result.issues) problems.push(new Problem("error", renderPath(issuePath(issue)), issue.message));
    // Report every problem at once: check the cross-references of the rest of the file too.
    const rest = lenientParse(vars.value, result.issues);
    if (rest) buildConfig(rest, file, problems);
    return { config: undefined, problems: withoutEchoes(problems, vars.problems) };
  }
  if (vars.fromEnv.has("proxy_api_key") && result.output.proxy_api_key.trim() === "") {
    problems.push(new Problem("error", "proxy_api_key", "is empty after substituting environment variables; set the variable, or remove proxy_api_key to run without a key"));
  }
  const topLevelKeys = vars.value !== null && typeof vars.value === "object" ? Object.keys(vars.value) : [];
  const config = buildConfig(result.output, file, problems, topLevelKeys);
  if (problems.some((p) => p.severity === "error")) return { config: undefined, problems: withoutEchoes(problems, vars.problems) };
  return { config, problems };
}

/** A value whose variable is not set is reported once: not again as a bad URL, listen, and so on. */
function withoutEchoes(problems: Problem[], unset: readonly Problem[]): Problem[] {
  const paths = new Set(unset.map((p) => p.path));
  return problems.filter((p) => unset.includes(p) || !paths.has(p.path));
}

const issuePath = (issue: v.BaseIssue<unknown>) => (issue.path ?? []).map((p) => p.key as string | number);

/** A copy of plain YAML data (mappings and lists); scalars, RawScalar included, are shared. */
function copyData(node: unknown): unknown {
  if (Array.isArray(node)) return node.map(copyData);
  if (node !== null && typeof node === "object" && Object.getPrototypeOf(node) === Object.prototype) {
    return Object.fromEntries(Object.entries(node).map(([k, value]) => [k, copyData(value)]));
  }
  return node;
}

/** The configuration without its invalid values (defaults in their place), or undefined if that is not enough. */
function lenientParse(data: unknown, issues: readonly v.BaseIssue<unknown>[]): RawConfig | undefined {
  let current = copyData(data);
  let pending = issues;
  for (let round = 0; round < 5; round++) {
    let removed = 0;
    for (const issue of pending) {
      const keys = issuePath(issue);
      if (keys.length === 0) return undefined;
      let parent: unknown = current;
      for (const key of keys.slice(0, -1)) parent = (parent as Record<string | number, unknown> | undefined)?.[key];
      if (parent !== null && typeof parent === "object") {
        (parent as Record<string | number, unknown>)[keys.at(-1)!] = undefined;
        removed++;
      }
    }
    const again = v.safeParse(configSchema, current);
    if (again.success) return again.output;
    if (removed === 0) return undefined;
    pending = again.issues;
  }
  return undefined;
}

/** Reads and validates a config file; throws ConfigNotFoundError or ConfigError. */
export async function loadConfig(path: string, env: Record<string, string | undefined> = process.env): Promise<{ config: Config; problems: Problem[] }> {
  const text = await readConfigText(path);
  const { config, problems } = parseConfig(text, path, env);
  if (!config) throw new ConfigError(problems);
  return { config, problems };
}

/** The config file's text; ConfigNotFoundError when there is no file, ConfigError when it cannot be read. */
export async function readConfigText(path: string): Promise<string> {
  const file = Bun.file(path);
  if (!(await file.exists())) throw new ConfigNotFoundError(path);
  let text: string;
  try {
    text = await file.text();
  } catch (cause) {
    const reason = (cause as { code?: string }).code === "EISDIR" ? "it is a folder, not a file" : (cause as Error).message;
    throw new ConfigError([new Problem("error", "", `cannot read the config file ${resolve(path)}: ${reason}`)], { cause });
  }
  return text;
}
