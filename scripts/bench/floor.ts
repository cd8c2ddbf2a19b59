#!/usr/bin/env bun
/**
 * The floor of `bun run bench --floor`: the least a forwarder built like llm-proxy
 * can cost here. Same runtime, same HTTP server (Bun.serve), same upstream client
 * (src/http-client.ts), same direct stream for SSE; none of the proxy's own work
 * (no config, no JSON parsing, no routing, no failure detection, no timers, no
 * logs, no metrics). It checks the proxy key, puts the upstream model in place of
 * the alias (the body starts with it), adds the backend key and passes the answer
 * back. What the proxy costs above this figure is its own work; what this figure
 * costs above direct is the runtime's and the machine's.
 *
 * Usage: bun scripts/bench/floor.ts PROVIDER_PORT; prints `listening on http://127.0.0.1:PORT`.
 */
import { readAll, send } from "../../src/upstream/http-client.ts";
import { originOf } from "../../src/upstream/http-pool.ts";
import { ALIAS, API_PATH, BACKEND_KEY, PROXY_KEY, UPSTREAM_MODEL } from "./workload.ts";

const providerPort = Number(process.argv[2]);
if (!Number.isInteger(providerPort) || providerPort <= 0) {
  process.stderr.write("usage: bun scripts/bench/floor.ts PROVIDER_PORT\n");
  process.exit(2);
}
const origin = originOf(`http://127.0.0.1:${providerPort}`);
const from = Buffer.from(`{"model":"${ALIAS}"`);
const to = Buffer.from(`{"model":"${UPSTREAM_MODEL}"`);
const head = (length: number) => `POST ${API_PATH} HTTP/1.1\r\nhost: ${origin.host}\r\nauthorization: Bearer ${BACKEND_KEY}\r\ncontent-type: application/json\r\ncontent-length: ${length}\r\n\r\n`;
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
    const rest = body.subarray(from.length);
    const message = Buffer.concat([Buffer.from(head(to.length + rest.length), "latin1"), to, rest]);
    const ex = send("POST", origin, message);
    await ex.head;
    const type = ex.header("content-type") ?? "";
    if (!type.includes("text/event-stream")) return new Response(await readAll(ex), { status: ex.status, headers: { "content-type": type } });
    return new Response(
      new ReadableStream<Uint8Array>({
        type: "direct",
        async pull(controller) {
          for (;;) {
            const r = await ex.read();
            if (r.done) break;
            const written = controller.write(r.value);
            if (typeof written !== "number") await written;
            controller.flush();
          }
          controller.close();
        },
        cancel: () => ex.abort(),
      }),
      { status: ex.status, headers: { "content-type": type } },
    );
  },
});
process.stdout.write(`listening on http://127.0.0.1:${server.port}\n`);
