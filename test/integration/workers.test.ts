import { describe, expect, test } from "bun:test";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { chatCompletion, FakeProvider, waitFor } from "../helpers/fake-provider.ts";
import { ProxyProcess, sample } from "../helpers/proxy-process.ts";
import { freePort } from "../helpers/redis.ts";

const KEY = "sk-workers-test-key-0123456789";
const linux = process.platform === "linux";

/** A request on a fresh connection, so the kernel spreads them over the processes. */
const fresh = (url: string, init: RequestInit = {}) => fetch(url, { ...init, headers: { authorization: `Bearer ${KEY}`, connection: "close", ...(init.headers as Record<string, string>) }, keepalive: false });

describe.skipIf(!linux)("workers: 2", () => {
  test("every scrape of /metrics reports the whole instance, and one process writes (and rolls) the general log", async () => {
    await using provider = new FakeProvider(() => Response.json(chatCompletion("hi")));
    const port = await freePort();
    await using proxy = await ProxyProcess.start(
      `listen: "127.0.0.1:${port}"
proxy_api_key: "${KEY}"
workers: 2
backends: [{ name: p, url: "${provider.url}/v1" }]
models: { m: { routes: [{ backend: p, model: real }] } }
logging: { general_file: "./logs/proxy.log", max_file_size_mb: 0.002, enable_metrics: true, max_files: 0 }
usage: { enabled: false }
`,
      { noWait: true },
    );
    const base = `http://127.0.0.1:${port}`;
    await waitFor(async () => (await fresh(`${base}/health`).catch(() => undefined))?.status === 200, "the proxy to listen");
    await waitFor(() => proxy.stdout.includes("worker 1 listening"), "the second process to listen", 20_000);
    const n = 40;
    for (let i = 0; i < n; i++) expect((await fresh(`${base}/v1/chat/completions`, { method: "POST", body: JSON.stringify({ model: "m" }) })).status).toBe(200);
    expect(provider.received.length).toBe(n);
    // Ten scrapes on fresh connections: each lands on either process, and each counts all n requests.
    for (let i = 0; i < 10; i++) {
      const text = await (await fresh(`${base}/metrics`)).text();
      expect(sample(text, "llm_proxy_requests_total", { alias: "m", outcome: "served", status: "200" })).toBe(n);
    }
    // Every request's metrics line reaches the log files, written by one process: rolled by size, never past it by more than a line.
    const logs = join(proxy.dir, "logs");
    const lines = () => readdirSync(logs).flatMap((f) => readFileSync(join(logs, f), "utf8").split("\n")).filter((l) => l.includes("metrics alias=m"));
    await waitFor(() => lines().length === n, `${n} metrics lines in the log files`);
    const files = readdirSync(logs);
    expect(files.length).toBeGreaterThan(2);
    for (const f of files) expect(readFileSync(join(logs, f)).length).toBeLessThan(0.002 * 1024 * 1024 + 512);
  }, 60_000);
  test("a worker's last lines, logged while it stops, reach the general log the primary writes", async () => {
    const port = await freePort();
    await using proxy = await ProxyProcess.start(
      `listen: "127.0.0.1:${port}"
workers: 2
backends: [{ name: p, url: "http://127.0.0.1:9/v1" }]
models: { m: { routes: [{ backend: p, model: real }] } }
logging: { general_file: "./logs/proxy.log" }
usage: { enabled: false }
`,
      { noWait: true },
    );
    await waitFor(() => proxy.stdout.includes("worker 1 listening"), "the second process to listen", 20_000);
    proxy.signal("SIGTERM");
    expect(await proxy.exited).toBe(0);
    const logs = join(proxy.dir, "logs");
    const lines = readdirSync(logs).flatMap((f) => readFileSync(join(logs, f), "utf8").split("\n"));
    // The worker sends its lines once per event-loop turn; the ones of its last turn go up as its logger closes.
    expect(lines.filter((l) => l.includes("SIGTERM received")).length).toBe(2);
    expect(lines.filter((l) => l.endsWith("[INFO] stopped")).length).toBe(2);
  });
});
