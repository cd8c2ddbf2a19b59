import { dlopen, FFIType, ptr } from "bun:ffi";
import { constants } from "node:os";
import { ownCommand } from "./ops/workers.ts";

/**
 * Bun's fetch runs at most 256 requests at once per process unless
 * BUN_CONFIG_MAX_HTTP_REQUESTS is in the environment when the process starts
 * (setting process.env later changes nothing): the 257th stream would wait for one
 * of the others to end. So a proxy started without it starts itself again with it.
 *
 * On Linux and macOS that is execve(2) through bun:ffi: the same process (same PID,
 * standard streams, signals and exit code, which a container's PID 1 and systemd
 * rely on) becomes the same program with the variable set. Where that is not possible
 * (Windows, or libc cannot be opened), a child is started with it and everything is
 * passed through: standard streams, signals, the exit code.
 */

export const MAX_REQUESTS_ENV = "BUN_CONFIG_MAX_HTTP_REQUESTS";
/** The largest value Bun's fetch accepts; above it the default (256) applies again. */
export const MAX_REQUESTS = "65535";
/** Set in the environment of the program started again, so it can say so. */
export const RELAUNCHED_ENV = "LLM_PROXY_RELAUNCHED";

/** How the running program was started again, for one debug line, or undefined. */
export function relaunchedHow(): string | undefined {
  const how = process.env[RELAUNCHED_ENV];
  return how ? `started again with ${MAX_REQUESTS_ENV}=${process.env[MAX_REQUESTS_ENV]} (${how}): without it Bun's fetch runs at most 256 upstream requests at once` : undefined;
}

/**
 * Starts the program again with the variable set, unless it is set already. With
 * execve this does not return; with a child it resolves with the child's exit code.
 */
export async function relaunchIfCapped(): Promise<number | undefined> {
  if (process.env[MAX_REQUESTS_ENV]) return undefined;
  const command = ownCommand();
  if (process.platform !== "win32" && execInPlace(command)) return undefined;
  return runChild(command);
}

function execInPlace(command: string[]): boolean {
  try {
    const libc = dlopen(process.platform === "darwin" ? "libSystem.B.dylib" : "libc.so.6", {
      execve: { args: [FFIType.ptr, FFIType.ptr, FFIType.ptr], returns: FFIType.i32 },
    });
    const keep: Buffer[] = [];
    const cString = (s: string) => {
      const b = Buffer.from(`${s}\0`);
      keep.push(b);
      return b;
    };
    const table = (items: string[]) => {
      const t = new BigUint64Array(items.length + 1);
      items.forEach((item, i) => (t[i] = BigInt(ptr(cString(item)))));
      return t;
    };
    const env = Object.entries({ ...process.env, [MAX_REQUESTS_ENV]: MAX_REQUESTS, [RELAUNCHED_ENV]: "in place" }).map(([k, v]) => `${k}=${v ?? ""}`);
    libc.symbols.execve(ptr(cString(command[0]!)), ptr(table(command)), ptr(table(env)));
    // execve returned: it failed; the child below does the job instead.
    return false;
  } catch {
    // No FFI here (or no libc by that name): the child below does the job instead.
    return false;
  }
}

async function runChild(command: string[]): Promise<number> {
  const child = Bun.spawn(command, {
    env: { ...process.env, [MAX_REQUESTS_ENV]: MAX_REQUESTS, [RELAUNCHED_ENV]: "as a child process" },
    stdio: ["inherit", "inherit", "inherit"],
  });
  const signals: NodeJS.Signals[] = process.platform === "win32" ? ["SIGINT", "SIGBREAK"] : ["SIGINT", "SIGTERM", "SIGHUP"];
  for (const signal of signals) process.on(signal, () => child.kill(signal));
  const code = await child.exited;
  return child.signalCode ? 128 + (signalNumber(String(child.signalCode)) ?? 1) : code;
}

function signalNumber(name: string): number | undefined {
  return (constants.signals as Record<string, number>)[name];
}
