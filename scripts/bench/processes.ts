/**
 * Child processes of `bun run bench` and what /proc says about them: every
 * child is tracked so that an error or Ctrl+C still ends it; CPU time, peak RSS,
 * CPU affinity and the owner of a listening socket come from /proc (Linux).
 */
import type { Subprocess } from "bun";
import { closeSync, existsSync, openSync, readFileSync, readdirSync, readlinkSync, writeFileSync } from "node:fs";

const children = new Set<Subprocess>();

/** Bun.spawn, remembered until the child exits so that stopAll can end it. */
export function spawnTracked(cmd: string[], options: Parameters<typeof Bun.spawn>[1] = {}): Subprocess {
  const proc = Bun.spawn(cmd, options);
  children.add(proc);
  void proc.exited.then(() => children.delete(proc));
  return proc;
}

/** Asks every child to stop (SIGTERM), then kills what is left after `graceMs`. */
export async function stopAll(graceMs = 2000): Promise<void> {
  const live = [...children];
  for (const proc of live) proc.kill("SIGTERM");
  const timeout = Bun.sleep(graceMs).then(() => "timeout" as const);
  if ((await Promise.race([Promise.all(live.map((p) => p.exited)), timeout])) === "timeout") killAllNow();
}

/** For the process `exit` event, where nothing asynchronous runs. */
export function killAllNow(): void {
  for (const proc of children) if (proc.exitCode === null && proc.signalCode === null) proc.kill("SIGKILL");
}

/** Environment for children: Bun's fetch obeys proxy variables, and the bench talks to 127.0.0.1 only. */
export function childEnv(): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [name, value] of Object.entries(process.env)) {
    if (value !== undefined && !/^(http|https|all|no)_proxy$/i.test(name)) env[name] = value;
  }
  return env;
}

/** CPUs this process may run on, from `Cpus_allowed_list` ("0-3,6"). */
export function allowedCpus(pid: number | "self" = "self"): number[] {
  const list = /Cpus_allowed_list:\s*(\S+)/.exec(readFileSync(`/proc/${pid}/status`, "utf8"))?.[1] ?? "";
  return list.split(",").flatMap((part) => {
    const [from, to] = part.split("-").map(Number);
    if (from === undefined || Number.isNaN(from)) return [];
    return Array.from({ length: (to ?? from) - from + 1 }, (_, i) => from + i);
  });
}

/** Clock ticks per second, the unit of utime and stime in /proc/PID/stat. */
export function clockTicks(): number {
  const result = Bun.spawnSync(["getconf", "CLK_TCK"]);
  const ticks = Number(result.stdout.toString().trim());
  if (!result.success || !(ticks > 0)) throw new Error("getconf CLK_TCK gave no answer; it is part of libc-bin");
  return ticks;
}

/** utime + stime of every thread of the process, in clock ticks. */
export function cpuTicks(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  // The command name (field 2) may hold spaces; the fields after its closing parenthesis do not.
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return Number(fields[11]) + Number(fields[12]);
}

/** Peak resident set size (VmHWM) in MiB. */
export function peakRssMiB(pid: number): number {
  return Number(/VmHWM:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, "utf8"))?.[1] ?? NaN) / 1024;
}

/**
 * Resets VmHWM to the current RSS, so the next reading is the peak of one
 * measurement. https://www.kernel.org/doc/html/latest/filesystems/proc.html ("clear_refs", value 5)
 */
export function resetPeakRss(pid: number): boolean {
  try {
    writeFileSync(`/proc/${pid}/clear_refs`, "5");
    return true;
  } catch {
    // Not permitted (another user's process, an old kernel): peaks then run from the start.
    return false;
  }
}

/** Ports that `pid` itself listens on at 127.0.0.1: its socket inodes matched against /proc/net/tcp. */
export function listeningPorts(pid: number): number[] {
  const mine = new Set<string>();
  let fds: string[];
  try {
    fds = readdirSync(`/proc/${pid}/fd`);
  } catch {
    // Gone already; the caller sees the exit.
    return [];
  }
  for (const fd of fds) {
    try {
      const inode = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/${pid}/fd/${fd}`))?.[1];
      if (inode) mine.add(inode);
    } catch {
      // The descriptor closed while we looked.
    }
  }
  const ports: number[] = [];
  for (const line of readFileSync("/proc/net/tcp", "utf8").split("\n").slice(1)) {
    // local address, remote address, state (0A = LISTEN), ..., inode
    const f = line.trim().split(/\s+/);
    if (f[1]?.startsWith("0100007F:") && f[3] === "0A" && f[9] && mine.has(f[9])) ports.push(parseInt(f[1].slice(9), 16));
  }
  return ports;
}

export interface Serving {
  readonly name: string;
  readonly proc: Subprocess;
  readonly pid: number;
  readonly port: number;
  /** Where its stdout and stderr go. */
  readonly output: string;
}

const tail = (file: string, lines = 20) => (existsSync(file) ? readFileSync(file, "utf8").trimEnd().split("\n").slice(-lines).join("\n") : "");

/**
 * Starts a server with its output in a file (so a busy log can never block on a
 * full pipe) and waits until the very process we hold listens on 127.0.0.1: its
 * port is read from its own sockets, so the CPU and memory read later are the
 * serving process's, not those of a launcher. When it also prints `listening on
 * http://127.0.0.1:PORT` (llm-proxy does at `logging.level: info`), the two must agree.
 */
export async function startServing(name: string, cmd: string[], output: string, options: { cwd?: string; env?: Record<string, string>; timeoutMs?: number } = {}): Promise<Serving> {
  const fd = openSync(output, "w");
  const proc = spawnTracked(cmd, { cwd: options.cwd, env: { ...childEnv(), ...options.env }, stdin: "ignore", stdout: fd, stderr: fd });
  closeSync(fd);
  const deadline = performance.now() + (options.timeoutMs ?? 20_000);
  for (;;) {
    const ports = proc.exitCode === null ? listeningPorts(proc.pid) : [];
    if (ports.length > 0) {
      const said = Number(/listening on http:\/\/127\.0\.0\.1:(\d+)/.exec(readFileSync(output, "utf8"))?.[1] ?? 0);
      if (ports.length > 1 || (said > 0 && said !== ports[0])) {
        throw new Error(`${name}: PID ${proc.pid} listens on ${ports.join(", ")}${said > 0 ? ` but says ${said}` : ""}; cannot tell which is the server`);
      }
      return { name, proc, pid: proc.pid, port: ports[0]!, output };
    }
    if (proc.exitCode !== null || proc.signalCode !== null) {
      throw new Error(`${name} exited (${proc.exitCode ?? proc.signalCode}) before listening:\n${tail(output)}`);
    }
    if (performance.now() > deadline) throw new Error(`${name} did not print "listening on" within ${options.timeoutMs ?? 20_000} ms:\n${tail(output)}`);
    await Bun.sleep(20);
  }
}

export { tail as outputTail };

export interface CpuStat {
  /** user + nice + system, in clock ticks: time spent running tasks. */
  readonly busy: number;
  /** Time the hypervisor gave this virtual CPU to someone else. */
  readonly steal: number;
  /** idle + iowait: time nothing ran. */
  readonly idle: number;
  readonly total: number;
}

/** One CPU's line of /proc/stat. https://www.kernel.org/doc/html/latest/filesystems/proc.html (1.7 Miscellaneous kernel statistics) */
export function cpuStat(cpu: number): CpuStat {
  const line = readFileSync("/proc/stat", "utf8").split("\n").find((l) => l.startsWith(`cpu${cpu} `)) ?? "";
  const [user = 0, nice = 0, system = 0, idle = 0, iowait = 0, irq = 0, softirq = 0, steal = 0] = line.trim().split(/\s+/).slice(1).map(Number);
  return { busy: user + nice + system, steal, idle: idle + iowait, total: user + nice + system + idle + iowait + irq + softirq + steal };
}

/** This process's CPU time plus that of its children already reaped (wrk, stream clients), in clock ticks. */
export function selfTicksWithChildren(): number {
  const stat = readFileSync("/proc/self/stat", "utf8");
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return [11, 12, 13, 14].reduce((n, i) => n + Number(fields[i]), 0);
}

export interface Interference {
  /** Share of the CPUs' time used by processes that are not part of the benchmark, %. */
  readonly otherPct: number;
  readonly stealPct: number;
}

/**
 * Watches a set of CPUs for work that is not ours: their busy time minus the
 * CPU time of our own processes on them. Another user's test run on the
 * proxy's core would otherwise pass for a slow proxy.
 */
export function watchCpus(cpus: readonly number[], ours: () => number): () => Interference {
  const sum = () => cpus.map(cpuStat).reduce((a, b) => ({ busy: a.busy + b.busy, steal: a.steal + b.steal, total: a.total + b.total }), { busy: 0, steal: 0, total: 0 });
  const before = sum();
  const oursBefore = ours();
  return () => {
    const after = sum();
    const window = Math.max(after.total - before.total, 1);
    const others = after.busy - before.busy - (ours() - oursBefore);
    return { otherPct: (Math.max(others, 0) / window) * 100, stealPct: ((after.steal - before.steal) / window) * 100 };
  };
}

/**
 * Waits until the process is idle again (at most one clock tick in 100 ms), so
 * that work a measurement left behind (a log backlog, GC) is counted in its CPU
 * time and does not slow the next measurement down.
 */
export async function settle(pid: number, maxMs: number): Promise<void> {
  return settleTree([pid], maxMs);
}

/** The same for several processes (a master and its workers) together. */
export async function settleTree(pids: readonly number[], maxMs: number): Promise<void> {
  const deadline = performance.now() + maxMs;
  let last = treeTicks(pids);
  while (performance.now() < deadline) {
    await Bun.sleep(100);
    const now = treeTicks(pids);
    if (now - last <= 1) return;
    last = now;
  }
}

/** Waits, at most `maxMs`, for half a second in which processes outside the benchmark and the hypervisor took under 5% of these CPUs. Returns the time waited. */
export async function waitForQuiet(cpus: readonly number[], ours: () => number, maxMs: number): Promise<number> {
  const started = performance.now();
  while (performance.now() - started < maxMs) {
    const done = watchCpus(cpus, ours);
    await Bun.sleep(500);
    const seen = done();
    if (seen.otherPct < 5 && seen.stealPct < 5) break;
  }
  return performance.now() - started;
}

/** The process and all its descendants (a peer such as nginx serves from worker processes), from the PPid of every /proc entry. */
export function processTree(root: number): number[] {
  const children = new Map<number, number[]>();
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, "utf8");
      const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
      const list = children.get(ppid) ?? [];
      list.push(Number(entry));
      children.set(ppid, list);
    } catch {
      // Gone while we looked.
    }
  }
  const out: number[] = [];
  const walk = (pid: number) => {
    out.push(pid);
    for (const child of children.get(pid) ?? []) walk(child);
  };
  walk(root);
  return out;
}

const quietly = (read: () => number) => {
  try {
    return read();
  } catch {
    // A process of the tree exited between the listing and the read.
    return 0;
  }
};

export const treeTicks = (pids: readonly number[]) => pids.reduce((n, pid) => n + quietly(() => cpuTicks(pid)), 0);
/** Sum of the processes' peak RSS: for a master with workers, slightly above the peak of their sum. */
export const treePeakRssMiB = (pids: readonly number[]) => pids.reduce((n, pid) => n + quietly(() => peakRssMiB(pid)), 0);
export const treeRssMiB = (pids: readonly number[]) =>
  pids.reduce((n, pid) => n + quietly(() => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, "utf8"))?.[1] ?? 0) / 1024), 0);

/** Whether anything listens on this TCP port, on any address (a peer may bind 0.0.0.0 or ::). */
export function portListening(port: number): boolean {
  const hex = `:${port.toString(16).toUpperCase().padStart(4, "0")}`;
  for (const table of ["/proc/net/tcp", "/proc/net/tcp6"]) {
    if (!existsSync(table)) continue;
    for (const line of readFileSync(table, "utf8").split("\n").slice(1)) {
      const f = line.trim().split(/\s+/);
      if (f[1]?.endsWith(hex) && f[3] === "0A") return true;
    }
  }
  return false;
}

/** A port nothing listens on now, from the kernel (bind to 0, read it, close). */
export function freePort(): number {
  const probe = Bun.listen({ hostname: "127.0.0.1", port: 0, socket: { data() {} } });
  const port = probe.port;
  probe.stop(true);
  return port;
}
