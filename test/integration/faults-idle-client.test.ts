import { expect, test } from "bun:test";
import { chatCompletion, FakeProvider, waitFor } from "../helpers/fake-provider.ts";
import { oneRoute } from "../helpers/faults.ts";
import { startProxy } from "../helpers/proxy.ts";
import { RawClient } from "../helpers/raw-http.ts";

/**
 * A client that keeps its connection open and says nothing more. Bun.serve closes
 * such a connection after its idle timeout (10 s by default); a proxied request
 * turns that timer off for its stream (server.timeout(req, 0)), and the connection
 * must not stay without one for the rest of its life: clients that vanish without
 * closing (a laptop lid, a dropped NAT entry) would hold a descriptor forever.
 */
test(
  "an idle keep-alive connection is closed after a proxied request as after any other",
  async () => {
    await using provider = new FakeProvider(() => Response.json(chatCompletion("hi")));
    await using proxy = startProxy(oneRoute(provider.url));
    const port = Number(new URL(proxy.url).port);
    const keepAlive = async (head: string) => {
      const c = await RawClient.connect(port, { keepOpen: true });
      await c.write(head);
      return c;
    };
    const body = JSON.stringify({ model: "m" });
    const health = await keepAlive("GET /health HTTP/1.1\r\nhost: 127.0.0.1\r\n\r\n");
    const proxied = await keepAlive(`POST /v1/chat/completions HTTP/1.1\r\nhost: 127.0.0.1\r\ncontent-type: application/json\r\ncontent-length: ${body.length}\r\n\r\n${body}`);
    for (const c of [health, proxied]) expect((await c.response).status).toBe(200);
    for (const c of [health, proxied]) expect((await c.done).end).toBe("complete");
    let healthClosed = false;
    let proxiedClosed = false;
    void health.closed.then(() => (healthClosed = true));
    void proxied.closed.then(() => (proxiedClosed = true));
    await waitFor(() => healthClosed, "the idle connection after /health to be closed (the control)", 25_000);
    await waitFor(() => proxiedClosed, "the idle connection after a proxied request to be closed as well", 5_000).finally(() => proxied.close());
  },
  40_000,
);
