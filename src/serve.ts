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
import { startUsage } from "./ops/usage-services.ts";
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

/**
 * Serves with a config file: the logger, metrics, the server, hot reload, the
 * cluster link, worker processes, and a graceful stop on SIGINT/SIGTERM.
 */
export async function serve(path: string): Promise<ProxyServer> {
  const text = await readConfigText(path);
  const { config, problems } = parseConfig(text, path);
  if (!config) throw new ConfigError(problems);
  const worker = workerNumber();
  const log = new Logger();
  log.configure(config.logging, config.secrets);
  const multi = config.workers > 1 && process.platform === "linux";
  let reloader: ConfigReloader | undefined;
  let reloadError: { at: number; message: string } | null = null;
  let cluster: ClusterLink | undefined;
  const metrics = new ProxyMetrics();
  let activeNow = 0;
  const render = () => metrics.render({ cooldownsActive: activeNow, version: VERSION, cluster: cluster && { connected: cluster.connected } });
  let primaryLink: PrimaryLink | undefined;
  const workerLink = worker > 0 && WorkerLink.available() ? new WorkerLink(render) : undefined;
  if (workerLink) log.sendFileLinesTo((line) => workerLink.sendLogLine(line));
  const cooldowns = new CooldownTable();
  const usage = await startUsage(config, cooldowns, log);
  const requestDone = onRequestDone(log, () => proxy.config());
  const proxy = startServer(config, log, {
    reusePort: multi,
    cooldowns,
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
        activeNow = cooldownsActive;
        return primaryLink ? primaryLink.instance() : workerLink ? workerLink.instance() : render();
      },
      // "Write the file, then send a request" works, as in the original: at most one stat per 100 ms.
      beforeRequest: () => reloader?.maybeReload(),
      cluster: () => cluster?.status(),
      reloadError: () => reloadError,
      version: VERSION,
    },
  });
  if (worker === 0) {
    for (const line of startupSummary(config, proxy.url, usage.summary).split("\n")) log.info(line);
    for (const warning of config.warnings) log.warn(String(warning));
    if (config.nothingServed) log.error(nothingServedLine(config.nothingServed));
    if (log.enabled("debug")) log.debug(`routes, in the order they are tried:\n${describePlans(config)}`);
    const relaunched = relaunchedHow();
    if (relaunched) log.debug(relaunched);
    const viaEnvProxy = [...config.backends.values()].filter((b) => b.enabled && forwardProxyFor(b.origin)).map((b) => b.name);
    if (viaEnvProxy.length > 0) log.info(`backends reached through the forward proxy named in HTTP_PROXY/HTTPS_PROXY: ${viaEnvProxy.join(", ")}`);
    if (!process.env.BUN_CONFIG_MAX_HTTP_REQUESTS) log.warn("BUN_CONFIG_MAX_HTTP_REQUESTS is not set: at most 256 upstream requests run at once (Bun's fetch default); the llm-proxy command sets it itself");
  } else log.info(`worker ${worker} listening on ${proxy.url}`);

  if (config.cluster.redisUrl) {
    cluster = new ClusterLink({ url: config.cluster.redisUrl, prefix: config.cluster.keyPrefix, table: cooldowns, log });
    // The request path never waits on Redis: serving starts now, sharing when the link is up.
    void cluster.start();
  } else if (multi && worker === 0) {
    log.warn("workers without cluster.redis_url: each worker keeps its own cooldowns (a failing provider is learned by each worker on its own)");
  }
  const workers: Workers | undefined = multi && worker === 0 ? startWorkers(config.workers, log, (message, child) => primaryLink?.heard(message, child)) : undefined;
  if (workers) primaryLink = new PrimaryLink(() => workers.children(), render, (line) => log.writeFileLine(line));

  reloader = new ConfigReloader({
    path,
    current: config,
    text,
    onReload(next, summary) {
      // Logged before the new logging settings apply: a reload to `level: warn` still says what it did.
      log.info(summary);
      reloadError = null;
      log.configure(next.logging, next.secrets);
      proxy.setConfig(next);
      metrics.reload("ok");
      for (const warning of next.warnings) log.warn(String(warning));
      if (next.nothingServed) log.error(nothingServedLine(next.nothingServed));
      if (next.cluster.redisUrl !== config.cluster.redisUrl || next.cluster.keyPrefix !== config.cluster.keyPrefix || next.workers !== config.workers) {
        log.warn("cluster or workers changed: restart llm-proxy to apply that part (the rest is applied)");
      }
      if (next.usage.enabled !== config.usage.enabled || next.usage.database !== config.usage.database) {
        log.warn("usage.enabled or usage.database changed: restart llm-proxy to apply that part (the rest is applied)");
      }
    },
    onRejected(problems) {
      metrics.reload("rejected");
      reloadError = { at: Date.now(), message: describeRejection(problems, path) };
      log.error(reloadError.message);
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
    workers?.signal("SIGTERM");
    const { shutdownGraceMs } = proxy.config();
    const waiting = proxy.inFlight();
    log.info(`${signal} received; no new connections${waiting > 0 ? `; waiting up to ${shutdownGraceMs / 1000} s for ${plural(waiting, "request")} in flight` : ""}`);
    reloader?.stop();
    const left = await proxy.shutdown(shutdownGraceMs);
    // Providers see idle connections close now rather than at their own timeout.
    closeIdleConnections();
    if (left > 0) log.warn(`stopped with ${plural(left, "request")} still in flight after the grace period`);
    await workers?.exited();
    await cluster?.stop();
    await usage.close();
    log.info("stopped");
    await log.close();
    process.exit(0);
  };
  process.on("SIGINT", () => void stop("SIGINT"));
  process.on("SIGTERM", () => void stop("SIGTERM"));
  if (workers && process.platform !== "win32") process.on("SIGHUP", () => workers.signal("SIGHUP"));
  followParent(() => void stop("the primary process is gone"));
  return proxy;
}
