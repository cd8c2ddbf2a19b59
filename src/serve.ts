import { describePlans } from "./config/describe.ts";
import { ClusterLink } from "./ops/cluster.ts";
import { parseConfig, readConfigText } from "./config/load.ts";
import { ConfigError } from "./config/problems.ts";
import { ConfigReloader, describeRejection } from "./config/reload.ts";
import { nothingServedLine } from "./config/served.ts";
import type { Config } from "./config/types.ts";
import { Logger } from "./log/logger.ts";
import { ProxyMetrics } from "./ops/metrics.ts";
import { onRequestDone } from "./ops/request-records.ts";
import { startServer, type ProxyServer } from "./server/server.ts";
import { closeIdleConnections } from "./upstream/fetch.ts";
import { forwardProxyFor } from "./upstream/forward-proxy.ts";
import { CooldownTable } from "./proxy/cooldown.ts";
import { relaunchedHow } from "./relaunch.ts";
import { startUsage, type UsageServices } from "./ops/usage-services.ts";
import { PrimaryLink, WorkerLink } from "./ops/worker-link.ts";
import { VERSION } from "./config/version.ts";
import { followParent, startWorkers, workerNumber, type Workers } from "./ops/workers.ts";
import { plural } from "./log/text.ts";

/** The start-up block: what is listening, what is loaded, every warning. */
export function startupSummary(config: Config, url: string, usage?: string): string {
  const lines = [`llm-proxy ${VERSION} listening on ${url}${config.listen.allInterfaces ? " (every interface)" : ""}`];
  lines.push(`  config: ${config.file}`);
  const keys = config.keys.size > 0 ? ` and ${plural(config.keys.size, "key")} of keys:` : "";
  lines.push(`  auth: ${config.proxyKey ? `proxy key${keys} required` : keys ? `${plural(config.keys.size, "key")} of keys: required` : "none (no proxy_api_key)"}`);
  const backends = [...config.backends.values()];
  lines.push(`  backends: ${backends.map((b) => `${b.name}${b.enabled ? "" : " (disabled)"}`).join(", ") || "none"}`);
  lines.push(`  models: ${[...config.aliases.keys()].join(", ") || "none"}`);
  if (usage !== undefined) lines.push(`  usage: ${usage}`);
  lines.push(`  status page: ${config.ui.enabled ? `${url}${config.ui.path} (sign in with the proxy key)` : "off (ui.enabled; on by default when proxy_api_key is set)"}`);
  if (config.warnings.length > 0) lines.push(`  ${plural(config.warnings.length, "warning")}:`);
  return lines.join("\n");
}

/** What the steps of `serve` share once they have started: the parts a later step or a signal needs. */
interface Running {
  readonly path: string;
  readonly config: Config;
  readonly worker: number;
  /** Several processes share the port (Linux, `workers` above 1). */
  readonly multi: boolean;
  readonly log: Logger;
  readonly metrics: ProxyMetrics;
  readonly cooldowns: CooldownTable;
  cluster?: ClusterLink;
  primaryLink?: PrimaryLink;
  workers?: Workers;
  reloader?: ConfigReloader;
  /** The last reload refused, for the status page; cleared by the next one applied. */
  reloadError: { at: number; message: string } | null;
  /** Pairs cooling down at the last scrape, for the metrics of this process. */
  activeNow: number;
}

/**
 * Serves with a config file: the logger, metrics, the server, hot reload, the
 * cluster link, worker processes, and a graceful stop on SIGINT/SIGTERM.
 */
export async function serve(path: string): Promise<ProxyServer> {
  const text = await readConfigText(path);
  const { config, problems } = parseConfig(text, path);
  if (!config) throw new ConfigError(problems);
  const log = new Logger();
  log.configure(config.logging, config.secrets);
  const run: Running = { path, config, worker: workerNumber(), multi: config.workers > 1 && process.platform === "linux", log, metrics: new ProxyMetrics(), cooldowns: new CooldownTable(), reloadError: null, activeNow: 0 };
  // A worker's log file lines go to the primary, the one writer, from the first line on.
  const workerLink = run.worker > 0 && WorkerLink.available() ? new WorkerLink(() => renderMetrics(run)) : undefined;
  if (workerLink) log.sendFileLinesTo((line) => workerLink.sendLogLine(line), () => workerLink.flush());
  const usage = await startUsage(config, run.cooldowns, log);
  const proxy = startProxyServer(run, usage, workerLink);
  if (run.worker === 0) logStartup(run, proxy, usage.summary);
  else log.info(`worker ${run.worker} listening on ${proxy.url}`);
  startCluster(run);
  if (run.multi && run.worker === 0) {
    const workers = startWorkers(config.workers, log, (message, child) => run.primaryLink?.heard(message, child));
    run.workers = workers;
    run.primaryLink = new PrimaryLink(() => workers.children(), () => renderMetrics(run), (line) => log.writeFileLine(line));
  }
  run.reloader = watchConfig(run, text, proxy);
  stopOnSignals(run, proxy, usage);
  return proxy;
}

function renderMetrics(run: Running): string {
  const { cluster } = run;
  return run.metrics.render({ cooldownsActive: run.activeNow, version: VERSION, cluster: cluster && { connected: cluster.connected } });
}

/** The server, with what each finished request feeds: per-request files, the ledger, metrics. */
function startProxyServer(run: Running, usage: UsageServices, workerLink: WorkerLink | undefined): ProxyServer {
  const { log, metrics } = run;
  const requestDone = onRequestDone(log, () => proxy.config());
  const proxy = startServer(run.config, log, {
    reusePort: run.multi,
    cooldowns: run.cooldowns,
    services: usage.services,
    hooks: {
      observer: metrics,
      onDone(record) {
        requestDone(record);
        usage.record(record);
        metrics.usage(record);
      },
      // With workers, one scrape reports the whole instance, whichever process it lands on.
      metrics: ({ cooldownsActive }) => {
        run.activeNow = cooldownsActive;
        return run.primaryLink ? run.primaryLink.instance() : workerLink ? workerLink.instance() : renderMetrics(run);
      },
      // "Write the file, then send a request" works, as in the original: at most one stat per 100 ms.
      beforeRequest: () => run.reloader?.maybeReload(),
      cluster: () => run.cluster?.status(),
      reloadError: () => run.reloadError,
      version: VERSION,
    },
  });
  return proxy;
}

/** The start-up block, its warnings, and what a person starting it should know. */
function logStartup(run: Running, proxy: ProxyServer, usageSummary: string | undefined): void {
  const { config, log } = run;
  for (const line of startupSummary(config, proxy.url, usageSummary).split("\n")) log.info(line);
  for (const warning of config.warnings) log.warn(String(warning));
  if (config.nothingServed) log.error(nothingServedLine(config.nothingServed));
  if (log.enabled("debug")) log.debug(`routes, in the order they are tried:\n${describePlans(config)}`);
  const relaunched = relaunchedHow();
  if (relaunched) log.debug(relaunched);
  const viaEnvProxy = [...config.backends.values()].filter((b) => b.enabled && forwardProxyFor(b.origin)).map((b) => b.name);
  if (viaEnvProxy.length > 0) log.info(`backends reached through the forward proxy named in HTTP_PROXY/HTTPS_PROXY: ${viaEnvProxy.join(", ")}`);
  if (!process.env.BUN_CONFIG_MAX_HTTP_REQUESTS) log.warn("BUN_CONFIG_MAX_HTTP_REQUESTS is not set: at most 256 upstream requests run at once (Bun's fetch default); the llm-proxy command sets it itself");
}

function startCluster(run: Running): void {
  const { config, log } = run;
  if (config.cluster.redisUrl) {
    run.cluster = new ClusterLink({ url: config.cluster.redisUrl, prefix: config.cluster.keyPrefix, table: run.cooldowns, log });
    // The request path never waits on Redis: serving starts now, sharing when the link is up.
    void run.cluster.start();
  } else if (run.multi && run.worker === 0) {
    log.warn("workers without cluster.redis_url: each worker keeps its own cooldowns (a failing provider is learned by each worker on its own)");
  }
}

/** Hot reload: a new file is applied whole, or refused whole with every problem logged. */
function watchConfig(run: Running, text: string, proxy: ProxyServer): ConfigReloader {
  const { config, log, metrics, path } = run;
  const reloader = new ConfigReloader({
    path,
    current: config,
    text,
    onReload(next, summary) {
      // Logged before the new logging settings apply: a reload to `level: warn` still says what it did.
      log.info(summary);
      run.reloadError = null;
      log.configure(next.logging, next.secrets);
      proxy.setConfig(next);
      metrics.reload("ok");
      for (const warning of next.warnings) log.warn(String(warning));
      if (next.nothingServed) log.error(nothingServedLine(next.nothingServed));
      for (const part of partsNeedingRestart(config, next)) log.warn(`${part} changed: restart llm-proxy to apply that part (the rest is applied)`);
    },
    onRejected(problems) {
      metrics.reload("rejected");
      run.reloadError = { at: Date.now(), message: describeRejection(problems, path) };
      log.error(run.reloadError.message);
    },
    onMissing(file, detail) {
      log.warn(`the config file ${file} is gone (${detail}); still serving the configuration loaded last`);
    },
  });
  reloader.start();
  return reloader;
}

/** What a reload cannot change in a running process. */
function partsNeedingRestart(was: Config, next: Config): string[] {
  const parts: string[] = [];
  if (next.cluster.redisUrl !== was.cluster.redisUrl || next.cluster.keyPrefix !== was.cluster.keyPrefix || next.workers !== was.workers) parts.push("cluster or workers");
  if (next.usage.enabled !== was.usage.enabled || next.usage.database !== was.usage.database) parts.push("usage.enabled or usage.database");
  if (next.ui.enabled !== was.ui.enabled || next.ui.path !== was.ui.path) parts.push("ui.enabled or ui.path");
  return parts;
}

/** SIGINT and SIGTERM: no new connections, requests in flight get the grace period, then everything closes in order. */
function stopOnSignals(run: Running, proxy: ProxyServer, usage: UsageServices): void {
  const { log, workers } = run;
  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    workers?.signal("SIGTERM");
    const { shutdownGraceMs } = proxy.config();
    const waiting = proxy.inFlight();
    log.info(`${signal} received; no new connections${waiting > 0 ? `; waiting up to ${shutdownGraceMs / 1000} s for ${plural(waiting, "request")} in flight` : ""}`);
    run.reloader?.stop();
    const left = await proxy.shutdown(shutdownGraceMs);
    // Providers see idle connections close now rather than at their own timeout.
    closeIdleConnections();
    if (left > 0) log.warn(`stopped with ${plural(left, "request")} still in flight after the grace period`);
    await workers?.exited();
    await run.cluster?.stop();
    await usage.close();
    log.info("stopped");
    await log.close();
    process.exit(0);
  };
  process.on("SIGINT", () => void stop("SIGINT"));
  process.on("SIGTERM", () => void stop("SIGTERM"));
  if (workers && process.platform !== "win32") process.on("SIGHUP", () => workers.signal("SIGHUP"));
  followParent(() => void stop("the primary process is gone"));
}
