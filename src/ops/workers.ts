import type { Subprocess } from "bun";
import type { Logger } from "../log/logger.ts";

/** Set in the environment of a worker process: its number (1, 2, …). The primary is 0. */
export const WORKER_ENV = "LLM_PROXY_WORKER";
const PARENT_ENV = "LLM_PROXY_PARENT";

export const workerNumber = (): number => Number(process.env[WORKER_ENV] ?? "0") || 0;

/** The command that started this process, to start the same program again (source or compiled). */
export function ownCommand(): string[] {
  const script = process.argv[1] ?? "";
  // A compiled executable's argv[1] is its embedded entry point, not something to pass back.
  const compiled = script.startsWith("/$bunfs/") || /^[A-Z]:[\\/]~BUN[\\/]/i.test(script);
  return compiled ? [process.execPath, ...process.argv.slice(2)] : [process.execPath, ...process.execArgv, script, ...process.argv.slice(2)];
}

export interface Workers {
  /** The workers running now (for the primary's side of the IPC link). */
  children(): Iterable<Subprocess>;
  /** Forwards a signal to every worker. */
  signal(name: NodeJS.Signals): void;
  /** Resolves when every worker has exited (after a stop signal). */
  exited(): Promise<void>;
}

/**
 * `workers: N` on Linux: this process (the primary) serves too and starts N−1 more
 * with the same command line, all on one port with reusePort; the kernel spreads
 * connections between them. A worker that dies is started again; workers end when
 * the primary does.
 */
export function startWorkers(count: number, log: Logger, heard: (message: unknown, child: Subprocess) => void): Workers {
  const children = new Map<number, Subprocess>();
  let stopping = false;
  const spawn = (n: number, delayMs: number) => {
    setTimeout(() => {
      if (stopping) return;
      const child = Bun.spawn(ownCommand(), {
        // The primary was started (or started itself again) with BUN_CONFIG_MAX_HTTP_REQUESTS: workers inherit it.
        env: { ...process.env, [WORKER_ENV]: String(n), [PARENT_ENV]: String(process.pid) },
        stdio: ["ignore", "inherit", "inherit"],
        ipc: heard,
        onExit(_proc, code, signal) {
          children.delete(n);
          if (stopping) return;
          log.error(`worker ${n} exited (${signal ?? `code ${code}`}); starting it again`);
          spawn(n, Math.min(delayMs * 2 || 500, 10_000));
        },
      });
      children.set(n, child);
    }, delayMs);
  };
  for (let n = 1; n < count; n++) spawn(n, 0);
  log.info(`started ${count - 1} worker process${count === 2 ? "" : "es"} on the same port (workers: ${count})`);
  return {
    children: () => children.values(),
    signal(name) {
      if (name === "SIGTERM" || name === "SIGINT") stopping = true;
      for (const child of children.values()) child.kill(name);
    },
    async exited() {
      await Promise.all([...children.values()].map((child) => child.exited));
    },
  };
}

/** A worker ends when its primary is gone (killed without a chance to stop it). */
export function followParent(onGone: () => void): void {
  const parent = Number(process.env[PARENT_ENV] ?? "0");
  if (!parent) return;
  const timer = setInterval(() => {
    try {
      process.kill(parent, 0);
    } catch {
      clearInterval(timer);
      onGone();
    }
  }, 1000);
  timer.unref?.();
}
