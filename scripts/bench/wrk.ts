/**
 * Non-streaming load with wrk (Debian's `wrk` package). A Lua script written at
 * run time sets the request and, in wrk's `done()` hook, prints the exact
 * counts and latency percentiles as JSON. wrk counts a 500 as throughput unless
 * told otherwise, so every non-2xx answer and every socket error is read back
 * (from the hook and from wrk's own "Non-2xx or 3xx responses" and "Socket
 * errors" lines) and fails the measurement.
 */
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { COMPLETION_BYTES } from "./workload.ts";

export interface WrkRun {
  readonly port: number;
  readonly path: string;
  readonly key: string;
  readonly bodyFile: string;
  readonly concurrency: number;
  readonly durationS: number;
  /** How the process is started: `taskset -c N` or nothing. */
  readonly prefix: readonly string[];
}

export interface WrkResult {
  readonly requests: number;
  readonly perSecond: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  /** Why this measurement does not count; undefined when every answer was a 2xx. */
  readonly failure?: string;
}

const MARK = "BENCH-WRK ";

/** The Lua script: request set up once, results printed once, nothing run per response. */
export function writeWrkScript(dir: string, name: string, run: Pick<WrkRun, "path" | "key" | "bodyFile">): string {
  const file = join(dir, `${name}.lua`);
  writeFileSync(
    file,
    `-- Written by scripts/bench.ts for one wrk run.
local f = assert(io.open(${JSON.stringify(run.bodyFile)}, "rb"))
wrk.method = "POST"
wrk.path = ${JSON.stringify(run.path)}
wrk.body = f:read("*a")
f:close()
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer ${run.key}"

done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format('${MARK}{"requests":%.0f,"bytes":%.0f,"duration_us":%.0f,"status":%.0f,"connect":%.0f,"read":%.0f,"write":%.0f,"timeout":%.0f,"p50_us":%.0f,"p99_us":%.0f}\\n',
    summary.requests, summary.bytes, summary.duration, e.status, e.connect, e.read, e.write, e.timeout,
    latency:percentile(50), latency:percentile(99)))
end
`,
  );
  return file;
}

interface Done {
  requests: number;
  bytes: number;
  duration_us: number;
  status: number;
  connect: number;
  read: number;
  write: number;
  timeout: number;
  p50_us: number;
  p99_us: number;
}

/** Reads wrk's output; exported for checking the parser against a saved output. */
export function parseWrk(stdout: string): WrkResult {
  const line = stdout.split("\n").find((l) => l.startsWith(MARK));
  if (!line) return { requests: 0, perSecond: 0, p50Ms: NaN, p99Ms: NaN, failure: `wrk printed no results:\n${stdout.trim()}` };
  const d = JSON.parse(line.slice(MARK.length)) as Done;
  const non2xx = Math.max(d.status, Number(/Non-2xx or 3xx responses:\s*(\d+)/.exec(stdout)?.[1] ?? 0));
  const socketLine = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(stdout);
  const socket = socketLine ? socketLine.slice(1).map(Number) : [d.connect, d.read, d.write, d.timeout];
  const [connect = 0, read = 0, write = 0, timeout = 0] = socket.map((n, i) => Math.max(n, [d.connect, d.read, d.write, d.timeout][i]!));
  const problems: string[] = [];
  if (non2xx > 0) problems.push(`${non2xx} non-2xx answers`);
  if (connect + read + write + timeout > 0) problems.push(`socket errors: connect ${connect}, read ${read}, write ${write}, timeout ${timeout}`);
  if (d.requests === 0) problems.push("no answers at all");
  // Each answer carries the completion plus headers; fewer bytes means bodies were missing.
  else if (d.bytes / d.requests < COMPLETION_BYTES) problems.push(`answers average ${(d.bytes / d.requests).toFixed(0)} bytes, less than the ${COMPLETION_BYTES}-byte completion`);
  const ok = d.requests - non2xx;
  return {
    requests: ok,
    perSecond: ok / (d.duration_us / 1e6),
    p50Ms: d.p50_us / 1000,
    p99Ms: d.p99_us / 1000,
    failure: problems.length > 0 ? problems.join("; ") : undefined,
  };
}

export async function runWrk(script: string, run: WrkRun): Promise<WrkResult> {
  // One wrk thread: it shares its core with the provider, and a second thread would only contend for it.
  const cmd = [...run.prefix, "wrk", "-t1", `-c${run.concurrency}`, `-d${run.durationS}s`, "--timeout", "10s", "-s", script, `http://127.0.0.1:${run.port}${run.path}`];
  const proc = Bun.spawn(cmd, { stdout: "pipe", stderr: "pipe" });
  const [stdout, stderr, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
  if (code !== 0) return { requests: 0, perSecond: 0, p50Ms: NaN, p99Ms: NaN, failure: `wrk exited with ${code}: ${(stderr || stdout).trim()}` };
  return parseWrk(stdout);
}
