#!/usr/bin/env bun
import { ConfigNotFoundError, parseConfig, readConfigText } from "./config/load.ts";
import { describePlans } from "./config/describe.ts";
import { ConfigError, type Problem } from "./config/problems.ts";
import { nothingServedLine } from "./config/served.ts";
import type { Config } from "./config/types.ts";
import { relaunchIfCapped } from "./relaunch.ts";
import { serve } from "./serve.ts";
import { usageCommand } from "./usage-command.ts";
import type { ProxyServer } from "./server/server.ts";
import { COMMIT, VERSION } from "./config/version.ts";
import { plural } from "./log/text.ts";

export { VERSION } from "./config/version.ts";

export const USAGE = `llm-proxy ${VERSION} — one endpoint and one key for every LLM client

Usage:
  llm-proxy [-config config.yaml]     start the proxy
  llm-proxy --check [-config FILE]    validate the config, print warnings and errors, do not serve
  llm-proxy usage [-config FILE] [--since 7d] [--by key]
                                      print the usage ledger: requests, tokens, cost (usage --help)
  llm-proxy --version                 print the version
  llm-proxy --help                    print this help

Options:
  -config, --config, -c FILE   the configuration file (default: config.yaml in the working directory)
  --check                      print warnings and errors, then exit 1 if the config has errors (it
                               would not start) or no model has a usable route (it would start but
                               answer 503 to everything); 0 otherwise, warnings included
`;

export interface Args {
  config: string;
  check: boolean;
  version: boolean;
  help: boolean;
}

export class UsageError extends Error {
  override name = "UsageError";
}

/** A switch: `--check`, or as Go's flag package allows, `--check=true` / `--check=false`. */
function onOff(flag: string, inline: string | undefined): boolean {
  if (inline === undefined || inline === "true" || inline === "1") return true;
  if (inline === "false" || inline === "0") return false;
  throw new UsageError(`${flag} takes no value (or =true / =false), got ${JSON.stringify(inline)}`);
}

/** Parses the command line as the original (Go's flag package: `-config x`, `--config=x`), plus `-c`. */
export function parseArgs(argv: readonly string[]): Args {
  const args: Args = { config: "config.yaml", check: false, version: false, help: false };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    const [flag, inline] = arg.includes("=") ? [arg.slice(0, arg.indexOf("=")), arg.slice(arg.indexOf("=") + 1)] : [arg, undefined];
    switch (flag) {
      case "-config":
      case "--config":
      case "-c": {
        const value = inline ?? argv[++i];
        if (value === undefined || value === "") throw new UsageError(`${flag} needs a file name, e.g. ${flag} config.yaml`);
        args.config = value;
        break;
      }
      case "--check":
      case "-check":
        args.check = onOff(flag, inline);
        break;
      case "--version":
      case "-version":
      case "-v":
        args.version = onOff(flag, inline);
        break;
      case "--help":
      case "-help":
      case "-h":
        args.help = onOff(flag, inline);
        break;
      default:
        throw new UsageError(`unknown argument ${JSON.stringify(arg)}; see llm-proxy --help`);
    }
  }
  return args;
}

export function formatProblems(problems: readonly Problem[]): string {
  return problems.map((p) => `${p.severity === "error" ? "error" : "warning"}: ${p}\n`).join("");
}

/** `--check`: 1 when the proxy would not start (errors) or would serve nothing, else 0 (warnings only). */
async function check(path: string): Promise<number> {
  const { config, problems } = parseConfig(await readConfigText(path), path);
  if (config) process.stdout.write(`Routes, in the order they are tried:${config.aliases.size > 0 ? `\n${describePlans(config)}` : " none"}\n\n`);
  process.stdout.write(formatProblems(problems));
  if (config?.nothingServed) process.stdout.write(`${nothingServedLine(config.nothingServed)}\n`);
  const errors = problems.filter((p) => p.severity === "error").length;
  const warnings = problems.length - errors;
  process.stdout.write(`${path}: ${plural(errors, "error")}, ${plural(warnings, "warning")}${config ? `; ${served(config)}` : ""}\n`);
  return errors > 0 || config?.nothingServed ? 1 : 0;
}

function served(config: Config): string {
  const aliases = [...config.aliases.values()];
  const usable = aliases.filter((a) => a.groups.length > 0).length;
  if (usable === 0) return "nothing served";
  return `${plural(usable, "model")} served${usable < aliases.length ? ` (${aliases.length - usable} more without a usable route)` : ""}`;
}

/**
 * Runs the command line. Returns the exit code, or -1 when the proxy is serving
 * (then `onServing` gets it, and the process lives on until a signal).
 */
export async function main(argv: readonly string[], onServing?: (proxy: ProxyServer) => void, relaunch = false): Promise<number> {
  try {
    if (argv[0] === "usage") return await usageCommand(argv.slice(1));
    const args = parseArgs(argv);
    if (args.help) {
      process.stdout.write(USAGE);
      return 0;
    }
    if (args.version) {
      process.stdout.write(`llm-proxy ${VERSION} (${COMMIT})\n`);
      return 0;
    }
    if (args.check) return await check(args.config);
    if (relaunch) {
      const code = await relaunchIfCapped();
      if (code !== undefined) return code;
    }
    const proxy = await serve(args.config);
    onServing?.(proxy);
    return -1;
  } catch (error) {
    if (error instanceof UsageError) {
      process.stderr.write(`llm-proxy: ${error.message}\n`);
      return 2;
    }
    if (error instanceof ConfigNotFoundError) {
      process.stderr.write(`llm-proxy: ${error.message}\n`);
      return 1;
    }
    if (error instanceof ConfigError) {
      process.stderr.write(formatProblems(error.problems));
      process.stderr.write(`llm-proxy: not started: the configuration has errors (see above)\n`);
      return 1;
    }
    const e = error as Error;
    if ((e as { code?: string }).code === "EADDRINUSE") {
      process.stderr.write(`llm-proxy: cannot listen: the address is already in use (${e.message}); change listen in the config or stop the other process\n`);
      return 1;
    }
    process.stderr.write(`llm-proxy: ${e.stack ?? e.message}\n`);
    return 1;
  }
}

// No top-level await: the compiled executable is built with bytecode, which needs CommonJS.
if (import.meta.main) {
  void main(process.argv.slice(2), undefined, true).then((code) => {
    if (code >= 0) process.exit(code);
  });
}
