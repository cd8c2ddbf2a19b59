import { resolve } from "node:path";
import * as v from "valibot";
import { buildConfig } from "./build.ts";
import { interpolate } from "./interpolate.ts";
import { ConfigError, Problem, renderPath } from "./problems.ts";
import { configSchema } from "./schema.ts";
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
    for (const issue of result.issues) {
      const keys = (issue.path ?? []).map((p) => p.key as string | number);
      problems.push(new Problem("error", renderPath(keys), issue.message));
    }
  }
  if (vars.fromEnv.has("proxy_api_key") && result.success && result.output.proxy_api_key.trim() === "") {
    problems.push(new Problem("error", "proxy_api_key", "is empty after substituting environment variables; set the variable, or remove proxy_api_key to run without a key"));
  }
  if (!result.success || problems.some((p) => p.severity === "error")) return { config: undefined, problems };
  const config = buildConfig(result.output, file, problems);
  return { config: problems.some((p) => p.severity === "error") ? undefined : config, problems };
}

/** Reads and validates a config file; throws ConfigNotFoundError or ConfigError. */
export async function loadConfig(path: string, env: Record<string, string | undefined> = process.env): Promise<{ config: Config; problems: Problem[] }> {
  const file = Bun.file(path);
  if (!(await file.exists())) throw new ConfigNotFoundError(path);
  let text: string;
  try {
    text = await file.text();
  } catch (cause) {
    throw new ConfigError([new Problem("error", "", `cannot read ${path}: ${(cause as Error).message}`)], { cause });
  }
  const { config, problems } = parseConfig(text, path, env);
  if (!config) throw new ConfigError(problems);
  return { config, problems };
}
