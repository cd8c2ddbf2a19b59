#!/usr/bin/env bun
/**
 * `bun run demo`: llm-proxy in front of two local demo providers, no account needed.
 * One provider is always rate-limited (429, no Retry-After), the other healthy: the
 * first request, and the first after each 10 s cooldown, meets the rate-limited one
 * and falls back; the others go straight to the healthy one. Options: --port N
 * (default 8080; 0 picks a free port). The config is written to a temporary folder,
 * removed when the demo exits.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { main } from "../src/main.ts";
import { relaunchIfCapped } from "../src/relaunch.ts";
import { startDemoProvider } from "./demo-providers.ts";

export const DEMO_KEY = "sk-demo-0123456789abcdef";

// The demo's proxy runs in this process: lift Bun's cap of 256 upstream requests first, as the llm-proxy command does.
if (import.meta.main) {
  const relaunched = await relaunchIfCapped();
  if (relaunched !== undefined) process.exit(relaunched);
}

function portFromArgs(argv: string[]): number {
  const i = argv.findIndex((a) => a === "--port" || a.startsWith("--port="));
  const raw = i === -1 ? (process.env.PORT ?? "8080") : argv[i]!.includes("=") ? argv[i]!.split("=")[1] : argv[i + 1];
  const port = Number(raw);
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    process.stderr.write(`demo: --port needs a port number (0-65535), got ${JSON.stringify(raw)}\n`);
    process.exit(2);
  }
  return port;
}

const port = portFromArgs(process.argv.slice(2));
const limited = startDemoProvider("always-rate-limited", "rate-limited");
const healthy = startDemoProvider("healthy", "healthy");

const dir = mkdtempSync(join(tmpdir(), "llm-proxy-demo-"));

const config = `# Written by scripts/demo.ts: two local demo providers behind llm-proxy.
listen: "127.0.0.1:${port}"
proxy_api_key: "${DEMO_KEY}"

backends:
  - name: "always-rate-limited"
    url: "${limited.url}/v1"
    api_key: "sk-demo-provider-a-000000000000"
  - name: "healthy"
    url: "${healthy.url}/v1"
    api_key: "sk-demo-provider-b-000000000000"
    auth: "x-api-key"

models:
  "demo-model":
    routes:
      - backend: "always-rate-limited"
        model: "fast-model"
        priority: 1
      - backend: "healthy"
        model: "steady-model"
        priority: 2

fallback:
  cooldown_seconds: 10

logging:
  level: "info"

# The demo's usage ledger lives and goes with its folder: each run starts afresh.
usage:
  database: "${join(dir, "usage.db")}"
`;

const file = join(dir, "config.yaml");
writeFileSync(file, config);
// Every way out ends in process.exit: the proxy's SIGINT/SIGTERM handler after its graceful stop, or the line at the end.
process.on("exit", () => rmSync(dir, { recursive: true, force: true }));

const code = await main(["-config", file], (proxy) => {
  process.stdout.write(`
Demo running: llm-proxy at ${proxy.url}, in front of two local demo providers
(${limited.url}: always rate-limited; ${healthy.url}: healthy). Config: ${file}

Try it (another terminal):

  curl ${proxy.url}/v1/chat/completions \\
    -H "Authorization: Bearer ${DEMO_KEY}" \\
    -H "Content-Type: application/json" \\
    -d '{"model": "demo-model", "messages": [{"role": "user", "content": "Hello"}], "stream": true}'

The first request, and the first after each 10 s cooldown, meets the rate-limited
provider and falls back to the healthy one; the others go straight to the healthy one.

The status page, live (sign in with the key ${DEMO_KEY}):

  ${proxy.url}/ui

What the proxy sees (routes, cooldowns) and its metrics, as JSON and text:

  curl -H "Authorization: Bearer ${DEMO_KEY}" ${proxy.url}/status
  curl -H "Authorization: Bearer ${DEMO_KEY}" ${proxy.url}/metrics

Press Ctrl+C to stop.
`);
});
if (code >= 0) {
  limited.server.stop(true);
  healthy.server.stop(true);
  process.exit(code);
}
