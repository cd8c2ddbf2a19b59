/**
 * Which forward proxy, if any, Bun's fetch goes through for an origin: it honours
 * `HTTPS_PROXY` / `HTTP_PROXY` (or their lower-case names) minus `NO_PROXY` itself;
 * this says the same, so the start-up summary can list such backends and the
 * connect probe knows which address a connection is really made to.
 */

const decided = new Map<string, URL | null>();

function env(name: string): string {
  return process.env[name.toLowerCase()] ?? process.env[name] ?? "";
}

/** Whether `NO_PROXY` (comma-separated hosts, `.suffix`, `*`, optional `:port`) exempts this origin. */
export function exempt(noProxy: string, hostname: string, port: number): boolean {
  const host = hostname.toLowerCase().replace(/^\[|\]$/g, "");
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

/** The forward proxy the environment names for this origin (`https://h` or `http://h:8080`), or undefined. Decided once per origin. */
export function forwardProxyFor(origin: string): URL | undefined {
  let found = decided.get(origin);
  if (found === undefined) {
    const url = new URL(origin);
    const tls = url.protocol === "https:";
    const named = tls ? env("HTTPS_PROXY") || env("HTTP_PROXY") : env("HTTP_PROXY");
    const port = Number(url.port) || (tls ? 443 : 80);
    found = null;
    if (named !== "" && !exempt(env("NO_PROXY"), url.hostname, port)) {
      try {
        found = new URL(named.includes("://") ? named : `http://${named}`);
      } catch {
        // Bun's fetch would refuse it too; the request's own error says so.
        found = null;
      }
    }
    decided.set(origin, found);
  }
  return found ?? undefined;
}
