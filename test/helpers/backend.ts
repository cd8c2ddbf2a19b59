import type { Backend } from "../../src/config/types.ts";

/** A backend value as the config builds it, for unit tests of what takes one: defaults, then `overrides`. */
export function testBackend(url: string, overrides: Partial<Backend> = {}): Backend {
  const u = new URL(url);
  const basePath = u.pathname.replace(/\/+$/, "");
  return {
    name: "p",
    url: u.origin + basePath,
    origin: u.origin,
    basePath,
    query: u.search.slice(1),
    apiKey: "",
    auth: "bearer",
    protocol: undefined,
    streamUsage: "auto",
    price: undefined,
    headers: [],
    timeouts: { connectMs: 10_000, firstByteMs: 60_000, idleMs: 300_000, totalMs: 0 },
    ...overrides,
  };
}
