import { describe, expect, test } from "bun:test";
import { describePair } from "../../src/config/pair.ts";
import { chatChunk, chatCompletion, FakeProvider, ScriptedStream, waitFor } from "../helpers/fake-provider.ts";
import { post, readUntil, within } from "../helpers/http.ts";
import { startProxy } from "../helpers/proxy.ts";

const oneRoute = (url: string) => `
backends:
  - { name: p, url: "${url}/v1", api_key: sk-backend-key-000000000 }
models:
  m: { routes: [{ backend: p, model: real }] }
`;

describe("client disconnect", () => {
  test("a client that goes away mid-stream aborts the provider's stream", async () => {
    const stream = new ScriptedStream();
    await using provider = new FakeProvider(() => stream.response());
    await using proxy = startProxy(oneRoute(provider.url));
    const client = new AbortController();
    const pending = post(`${proxy.url}/v1/chat/completions`, { model: "m", stream: true }, {}, { signal: client.signal });
    const received = await provider.waitForRequests(1);
    stream.send(chatChunk("c0"));
    const res = await pending;
    const reader = res.body!.getReader();
    await readUntil(reader, { text: "" }, (t) => t.includes('"c0"'));
    let providerSawAbort = false;
    void received.aborted.then(() => {
      providerSawAbort = true;
    });
    client.abort();
    await waitFor(() => providerSawAbort || stream.cancelled, "the provider to see the client go away");
    // Nothing the proxy does afterwards may cool the healthy pair down.
    expect(proxy.proxy.cooldowns.active(Date.now())).toEqual([]);
  });

  test("a client that goes away before the answer's headers aborts the provider's request", async () => {
    await using provider = new FakeProvider((r) => r.aborted.then(() => new Response("too late")));
    await using proxy = startProxy(oneRoute(provider.url));
    const client = new AbortController();
    const pending = post(`${proxy.url}/v1/chat/completions`, { model: "m" }, {}, { signal: client.signal });
    const received = await provider.waitForRequests(1);
    client.abort();
    expect(await pending.then(() => "answered", () => "aborted")).toBe("aborted");
    await within(received.aborted, "the provider to see the abort");
    expect(received.signal.aborted).toBe(true);
    expect(proxy.proxy.cooldowns.active(Date.now())).toEqual([]);
  });

  test("a client that goes away while a stream is still deciding aborts the provider and tries no other route", async () => {
    const stream = new ScriptedStream();
    await using provider = new FakeProvider(() => stream.response());
    await using other = new FakeProvider(() => Response.json(chatCompletion("other")));
    await using proxy = startProxy(`
backends:
  - { name: p, url: "${provider.url}/v1" }
  - { name: q, url: "${other.url}/v1" }
models:
  m:
    routes:
      - { backend: p, model: real, priority: 1 }
      - { backend: q, model: real, priority: 2 }
`);
    const client = new AbortController();
    const pending = post(`${proxy.url}/v1/chat/completions`, { model: "m", stream: true }, {}, { signal: client.signal });
    pending.catch(() => {
      // The abort below rejects it; that is the point.
    });
    const received = await provider.waitForRequests(1);
    stream.send(": ping\n\n");
    client.abort();
    await within(received.aborted, "the provider to see the abort");
    expect(other.received.length).toBe(0);
  });
});

describe("compressed answers", () => {
  test("a gzip body from the provider reaches the client as plain JSON without a content-encoding", async () => {
    const answer = JSON.stringify(chatCompletion("compressed ".repeat(50)));
    await using provider = new FakeProvider(() => new Response(Bun.gzipSync(answer), { headers: { "content-type": "application/json", "content-encoding": "gzip" } }));
    await using proxy = startProxy(oneRoute(provider.url));
    const res = await fetch(`${proxy.url}/v1/chat/completions`, { method: "POST", body: '{"model":"m"}', headers: { "accept-encoding": "gzip" }, decompress: false } as RequestInit);
    expect(res.status).toBe(200);
    const encoding = res.headers.get("content-encoding");
    const raw = new Uint8Array(await res.arrayBuffer());
    const text = encoding === "gzip" ? new TextDecoder().decode(Bun.gunzipSync(raw)) : new TextDecoder().decode(raw);
    // Plaintext labelled gzip is the bug to catch: whatever the label says must be true of the bytes.
    expect(text).toBe(answer);
    expect(encoding === null || encoding === "identity" || encoding === "gzip").toBe(true);
    const length = res.headers.get("content-length");
    if (length !== null) expect(Number(length)).toBe(raw.length);
  });

  test("a gzip body that is not JSON passes through decoded and correctly labelled", async () => {
    const answer = "plain text answer ".repeat(40);
    await using provider = new FakeProvider(() => new Response(Bun.gzipSync(answer), { headers: { "content-type": "text/plain", "content-encoding": "gzip" } }));
    await using proxy = startProxy(oneRoute(provider.url));
    const res = await fetch(`${proxy.url}/v1/audio/speech`, { method: "POST", body: '{"model":"m"}', decompress: false } as RequestInit);
    expect(res.status).toBe(200);
    const raw = new Uint8Array(await res.arrayBuffer());
    const text = res.headers.get("content-encoding") === "gzip" ? new TextDecoder().decode(Bun.gunzipSync(raw)) : new TextDecoder().decode(raw);
    expect(text).toBe(answer);
  });
});

describe("slow streams", () => {
  test(
    "a stream with a pause longer than the server's idle timeout between two chunks is not cut by it",
    async () => {
      const stream = new ScriptedStream();
      await using provider = new FakeProvider(() => stream.response());
      // Bun's idle timeout made 1 s (10 s by default), so the pause need not be as long.
      await using proxy = startProxy(oneRoute(provider.url), {}, { idleSeconds: 1 });
      const pending = post(`${proxy.url}/v1/chat/completions`, { model: "m", stream: true });
      await provider.waitForRequests(1);
      stream.send(chatChunk("before"));
      const res = await pending;
      const reader = res.body!.getReader();
      const seen = { text: "" };
      await readUntil(reader, seen, (t) => t.includes('"before"'));
      // The deliberate silence (the thing under test, not a wait for a result): Bun checks idle sockets in
      // steps of about 4 s, so a 1 s timeout fires within 8 s: 10 s of silence would be cut without the fix.
      await Bun.sleep(10_000);
      stream.send(chatChunk("after"));
      stream.send("data: [DONE]\n\n");
      stream.end();
      await readUntil(reader, seen, (t) => t.includes("[DONE]"));
      expect(seen.text).toContain('"after"');
      expect((await reader.read()).done).toBe(true);
    },
    40_000,
  );
});

describe("a kept-alive connection the provider closes after reading the request", () => {
  // The first connection answers one request; the next request on it is read, then the
  // connection closes without an answer (at once, or a second later): the provider may
  // have started, and billed, the work. It must not see the request again.
  for (const delayMs of [0, 1000]) {
    test(`${delayMs === 0 ? "at once" : "after a second"}: the request is not sent to that route again, the next route answers, the pair cools`, async () => {
      let connections = 0;
      let requests = 0;
      const raw = Bun.listen<{ n: number; served: number }>({
        hostname: "127.0.0.1",
        port: 0,
        socket: {
          open(socket) {
            socket.data = { n: ++connections, served: 0 };
          },
          data(socket, data) {
            if (!data.includes("\r\n\r\n")) return;
            requests++;
            if (socket.data.served === 1) {
              if (delayMs === 0) socket.terminate();
              else setTimeout(() => socket.terminate(), delayMs);
              return;
            }
            socket.data.served++;
            const body = JSON.stringify({ id: "x", object: "chat.completion", choices: [] });
            socket.write(`HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: ${body.length}\r\n\r\n${body}`);
          },
        },
      });
      try {
        await using second = new FakeProvider(() => Response.json({ id: "from-second" }));
        await using proxy = startProxy(`
backends:
  - { name: a, url: "http://127.0.0.1:${raw.port}/v1" }
  - { name: b, url: "${second.url}/v1" }
models:
  m:
    routes:
      - { backend: a, model: real-a, priority: 1 }
      - { backend: b, model: real-b, priority: 2 }
`);
        const first = await fetch(`${proxy.url}/v1/chat/completions`, { method: "POST", body: JSON.stringify({ model: "m" }) });
        expect(first.status).toBe(200);
        await first.text();
        const res = await fetch(`${proxy.url}/v1/chat/completions`, { method: "POST", body: JSON.stringify({ model: "m" }) });
        expect(res.status).toBe(200);
        expect(res.headers.get("x-llm-proxy-backend")).toBe("b");
        expect(res.headers.get("x-llm-proxy-attempts")).toBe("2");
        // Two client requests, two requests at route a: the second one exactly once.
        expect(requests).toBe(2);
        expect(connections).toBe(1);
        expect(second.received.length).toBe(1);
        expect(proxy.proxy.cooldowns.active(Date.now()).map(([key]) => describePair(key))).toEqual(["a/real-a"]);
      } finally {
        raw.stop(true);
      }
    });
  }
});
