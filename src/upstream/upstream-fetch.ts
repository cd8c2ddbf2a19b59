import type { ReadResult } from "../proxy/stream.ts";
import type { UpstreamExchange } from "./http-client.ts";
import type { Origin } from "./http-pool.ts";

/**
 * Requests that must go through a forward proxy named in the environment
 * (`HTTPS_PROXY`, `HTTP_PROXY`, minus `NO_PROXY`) are sent with Bun's `fetch`,
 * which speaks to such proxies; everything else uses the proxy's own client.
 */

const decided = new Map<string, boolean>();

function env(name: string): string {
  return process.env[name.toLowerCase()] ?? process.env[name] ?? "";
}

/** Whether `NO_PROXY` (comma-separated hosts, `.suffix`, `*`, optional `:port`) exempts this origin. */
export function exempt(noProxy: string, hostname: string, port: number): boolean {
  const host = hostname.toLowerCase();
  for (const raw of noProxy.split(/[\s,]+/)) {
    let entry = raw.trim().toLowerCase();
    if (entry === "") continue;
    if (entry === "*") return true;
    const portAt = entry.lastIndexOf(":");
    if (portAt > 0 && !entry.includes("]") && entry.indexOf(":") === portAt) {
      if (Number(entry.slice(portAt + 1)) !== port) continue;
      entry = entry.slice(0, portAt);
    }
    entry = entry.replace(/^\[|\]$/g, "").replace(/^\*?\./, ".");
    if (host === entry || (entry.startsWith(".") ? host.endsWith(entry) : host.endsWith(`.${entry}`))) return true;
  }
  return false;
}

/** True when the environment names a forward proxy for this origin. Decided once per origin. */
export function proxiedByEnv(origin: Origin): boolean {
  let yes = decided.get(origin.key);
  if (yes === undefined) {
    const proxy = origin.tls ? env("HTTPS_PROXY") || env("HTTP_PROXY") : env("HTTP_PROXY");
    yes = proxy !== "" && !exempt(env("NO_PROXY"), origin.hostname, origin.port);
    decided.set(origin.key, yes);
  }
  return yes;
}

/** One request through `fetch`, seen through the same interface as the proxy's own client. */
export class FetchExchange implements UpstreamExchange {
  status = 0;
  headers = new Headers();
  /** fetch has no connect step of its own to watch; the first-byte timeout covers it. */
  readonly connected = true;
  /** fetch decompresses bodies itself. */
  readonly encoded = false;
  readonly head: Promise<void>;
  private readonly controller = new AbortController();
  private reader: ReadableStreamDefaultReader<Uint8Array> | undefined;

  constructor(url: string, init: RequestInit) {
    this.head = fetch(url, { ...init, signal: this.controller.signal, redirect: "manual", timeout: false } as RequestInit).then((res) => {
      this.status = res.status;
      this.headers = res.headers;
      this.reader = res.body?.getReader() as ReadableStreamDefaultReader<Uint8Array> | undefined;
    });
    this.head.catch(() => {
      // Rejections are read by the caller; this only keeps an abandoned one quiet.
    });
  }

  header(name: string): string | null {
    return this.headers.get(name);
  }

  pairs(): readonly (readonly [string, string])[] {
    return [...this.headers];
  }

  read(): Promise<ReadResult> {
    return this.reader ? this.reader.read() : Promise.resolve({ done: true, value: undefined });
  }

  async cancel(): Promise<void> {
    this.controller.abort();
  }

  abort(): void {
    this.controller.abort();
  }
}
