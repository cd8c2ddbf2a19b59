#!/usr/bin/env bun
import pkg from "../package.json" with { type: "json" };
import { ConfigNotFoundError, parseConfig, readConfigText } from "./config/load.ts";
import { ConfigReloader, describeRejection } from "./config/reload.ts";
import { describePlans } from "./check.ts";
import { ConfigError, type Problem } from "./config/problems.ts";
import type { Config } from "./config/types.ts";
import { Logger } from "./log.ts";
import { ProxyMetrics } from "./metrics.ts";
import { onRequestDone } from "./request-log.ts";
import { startServer, type ProxyServer } from "./server.ts";

/** Set at build time by scripts/build.ts; absent when run from source. */
declare const LLM_PROXY_VERSION: string | undefined;
declare const LLM_PROXY_COMMIT: string | undefined;

export const VERSION = typeof LLM_PROXY_VERSION === "string" ? LLM_PROXY_VERSION : pkg.version;
const COMMIT = typeof LLM_PROXY_COMMIT === "string" ? LLM_PROXY_COMMIT : "source";

export const USAGE = `llm-proxy ${VERSION} — one endpoint and one key for every LLM client

Usage:
  llm-proxy [-config config.yaml]     start the proxy
  llm-proxy --check [-config FILE]    validate the config, print warnings and errors, do not serve
  llm-proxy --version                 print the version
  llm-proxy --help                    print this help

Options:
  -config, --config, -c FILE   the configuration file (default: config.yaml in the working directory)
  --check                      exit 1 if the config has errors, 0 otherwise (warnings are printed)
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

const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? "" : "s"}`;

export function formatProblems(problems: readonly Problem[]): string {
  return problems.map((p) => `${p.severity === "error" ? "error" : "warning"}: ${p}\n`).join("");
}

/** The start-up block: what is listening, what is loaded, every warning. */
export function startupSummary(config: Config, url: string): string {
  const lines = [`llm-proxy ${VERSION} listening on ${url}${config.listen.allInterfaces ? " (every interface)" : ""}`];
  lines.push(`  config: ${config.file}`);
  lines.push(`  auth: ${config.proxyKey ? "proxy key required" : "none (no proxy_api_key)"}`);
  const backends = [...config.backends.values()];
  lines.push(`  backends: ${backends.map((b) => `${b.name}${b.enabled ? "" : " (disabled)"}`).join(", ") || "none"}`);
  lines.push(`  models: ${[...config.aliases.keys()].join(", ") || "none"}`);
  if (config.warnings.length > 0) lines.push(`  ${plural(config.warnings.length, "warning")}:`);
  return lines.join("\n");
}

async function check(path: string): Promise<number> {
  const { config, problems } = parseConfig(await readConfigText(path), path);
  if (config) process.stdout.write(`Routes, in the order they are tried:\n${describePlans(config)}\n\n`);
  process.stdout.write(formatProblems(problems));
  const errors = problems.filter((p) => p.severity === "error").length;
  const warnings = problems.length - errors;
  process.stdout.write(`${path}: ${plural(errors, "error")}, ${plural(warnings, "warning")}${config ? `; ${plural(config.aliases.size, "model")} served` : ""}\n`);
  return errors > 0 ? 1 : 0;
}

async function serve(path: string): Promise<ProxyServer> {
  const text = await readConfigText(path);
  const { config, problems } = parseConfig(text, path);
  if (!config) throw new ConfigError(problems);
  const log = new Logger();
  log.configure(config.logging, config.secrets);
  let reloader: ConfigReloader | undefined;
  const metrics = new ProxyMetrics();
  const proxy = startServer(config, log, {
    hooks: {
      observer: metrics,
      onDone: onRequestDone(log, () => proxy.config()),
      metrics: ({ cooldownsActive }) => metrics.render({ cooldownsActive, version: VERSION }),
      // "Write the file, then send a request" works, as in the original: at most one stat per 100 ms.
      beforeRequest: () => reloader?.maybeReload(),
      version: VERSION,
    },
  });
  for (const line of startupSummary(config, proxy.url).split("\n")) log.info(line);
  for (const warning of config.warnings) log.warn(String(warning));
  reloader = new ConfigReloader({
    path,
    current: config,
    text,
    onReload(next, summary) {
      log.configure(next.logging, next.secrets);
      proxy.setConfig(next);
      metrics.reload("ok");
      log.info(summary);
      for (const warning of next.warnings) log.warn(String(warning));
    },
    onRejected(problems) {
      metrics.reload("rejected");
      log.error(describeRejection(problems, path));
    },
    onMissing(file, detail) {
      log.warn(`the config file ${file} is gone (${detail}); still serving the configuration loaded last`);
    },
  });
  reloader.start();
  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    const { shutdownGraceMs } = proxy.config();
    const waiting = proxy.inFlight();
    log.info(`${signal} received; no new connections${waiting > 0 ? `; waiting up to ${shutdownGraceMs / 1000} s for ${waiting} request${waiting === 1 ? "" : "s"} in flight` : ""}`);
    reloader?.stop();
    await proxy.shutdown(shutdownGraceMs);
    const left = proxy.inFlight();
    if (left > 0) log.warn(`stopped with ${left} request${left === 1 ? "" : "s"} still in flight after the grace period`);
    log.info("stopped");
    await log.close();
    process.exit(0);
  };
  process.on("SIGINT", () => void stop("SIGINT"));
  process.on("SIGTERM", () => void stop("SIGTERM"));
  return proxy;
}

/**
 * Runs the command line. Returns the exit code, or -1 when the proxy is serving
 * (then `onServing` gets it, and the process lives on until a signal).
 */
export async function main(argv: readonly string[], onServing?: (proxy: ProxyServer) => void): Promise<number> {
  try {
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
  void main(process.argv.slice(2)).then((code) => {
    if (code >= 0) process.exit(code);
  });
}
