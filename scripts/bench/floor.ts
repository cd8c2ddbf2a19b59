#!/usr/bin/env bun
/**
 * The floor of `bun run bench --floor`: the least a forwarder built like llm-proxy
 * can cost here. Same runtime, same HTTP server (Bun.serve), same upstream client
 * (Bun's fetch, as src/upstream/fetch.ts calls it), same direct stream for SSE; none of the proxy's own work
 * (no config, no JSON parsing, no routing, no failure detection, no timers, no
 * logs, no metrics). It checks the proxy key, puts the upstream model in place of
 * the alias (the body starts with it), adds the backend key and passes the answer
 * back. What the proxy costs above this figure is its own work; what this figure
 * costs above direct is the runtime's and the machine's.
 *
 * Usage: bun scripts/bench/floor.ts PROVIDER_PORT; prints `listening on http://127.0.0.1:PORT`.
 */
import { upstreamFetch } from "../../src/upstream/fetch.ts";
import { ALIAS, API_PATH, BACKEND_KEY, PROXY_KEY, UPSTREAM_MODEL } from "./workload.ts";

const providerPort = Number(process.argv[2]);
if (!Number.isInteger(providerPort) || providerPort <= 0) {
  process.stderr.write("usage: bun scripts/bench/floor.ts PROVIDER_PORT\n");
  process.exit(2);
}
const url = `http://127.0.0.1:${providerPort}${API_PATH}`;
const from = Buffer.from(`{"model":"${ALIAS}"`);
const to = Buffer.from(`{"model":"${UPSTREAM_MODEL}"`);
const expectedAuth = `Bearer ${PROXY_KEY}`;

const server = Bun.serve({
  hostname: "127.0.0.1",
  port: 0,
  idleTimeout: 0,
  maxRequestBodySize: 1024 * 1024 * 1024,
  async fetch(req) {
    if (req.headers.get("authorization") !== expectedAuth) return new Response("wrong key", { status: 401 });
    const body = Buffer.from(await req.arrayBuffer());
    if (!body.subarray(0, from.length).equals(from)) return new Response(`the body does not start with ${from}`, { status: 400 });
    const controller = new AbortController();
    const headers = new Headers({ authorization: `Bearer ${BACKEND_KEY}`, "content-type": "application/json" });
    const res = await upstreamFetch({ url, method: "POST", headers, body: Buffer.concat([to, body.subarray(from.length)]), signal: controller.signal });
    const type = res.headers.get("content-type") ?? "";
    if (!type.includes("text/event-stream")) return new Response(await res.arrayBuffer(), { status: res.status, headers: { "content-type": type } });
    const reader = res.body!.getReader();
    return new Response(
      new ReadableStream<Uint8Array>({
        type: "direct",
        async pull(out) {
          for (;;) {
            const r = await reader.read();
            if (r.done) break;
            const written = out.write(r.value);
            if (typeof written !== "number") await written;
            out.flush();
          }
          out.close();
        },
        cancel: () => controller.abort(),
      }),
      { status: res.status, headers: { "content-type": type } },
    );
  },
});
process.stdout.write(`listening on http://127.0.0.1:${server.port}\n`);
