import type { Config } from "../config/types.ts";
import type { Logger } from "../log/logger.ts";
import type { RequestRecord } from "../proxy/forward.ts";

const ms = (n: number) => `${n.toFixed(1)}ms`;

/** The original's metrics line: alias, attempts, each backend's time, the total. */
export function metricsLine(r: RequestRecord): string {
  const backends = r.attempts.map((a) => `${a.route}:${ms(a.ms)}${a.status === undefined ? "" : `(${a.status})`}`).join(",");
  return `metrics alias=${r.request.alias.name} status=${r.status} attempts=${r.attempts.length} backends=${backends || "-"} total=${ms(r.totalMs)}`;
}

/** The whole story of one request, for its file in `request_dir` (masked by the logger). */
export function requestDump(r: RequestRecord): string {
  const inc = r.request;
  const lines = [
    `request ${r.id} at ${new Date(Date.now() - r.totalMs).toISOString()}`,
    `${inc.method} ${inc.path}${inc.search} model=${inc.alias.name}${inc.stream ? " stream" : ""}`,
    "",
    "request headers:",
    ...[...inc.headers].map(([name, value]) => `  ${name}: ${value}`),
    "",
    "request body:",
    inc.text,
    "",
    "attempts:",
    ...r.attempts.map((a, i) => `  ${i + 1}. ${a.route}: ${a.result}${a.status === undefined ? "" : ` (status ${a.status})`} in ${ms(a.ms)}`),
    "",
    `result: ${r.outcome}, status ${r.status}, ${ms(r.totalMs)}${r.streamEnd ? `, stream ${r.streamEnd.kind}${"reason" in r.streamEnd ? ` (${r.streamEnd.reason})` : ""}, ${r.streamEnd.bytes} bytes` : ""}`,
    "",
  ];
  return lines.join("\n");
}

/** What happens when a proxied request is over: its metrics line and its files, when configured. */
export function onRequestDone(log: Logger, config: () => Config): (record: RequestRecord) => void {
  return (record) => {
    if (config().logging.enableMetrics) log.info(metricsLine(record), record.id);
    if (log.separateFiles) log.requestFile(record.id, requestDump(record), record.outcome === "failed");
  };
}
