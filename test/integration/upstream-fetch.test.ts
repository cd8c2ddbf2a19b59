import { describe, expect, test } from "bun:test";
import type { Socket, TCPSocketListener } from "bun";
import { join } from "node:path";
import { chatCompletion, FakeProvider, waitFor } from "../helpers/fake-provider.ts";
import { RawProvider, twoRoutes } from "../helpers/faults.ts";
import { post } from "../helpers/http.ts";
import { startProxy } from "../helpers/proxy.ts";
import { ProxyProcess } from "../helpers/proxy-process.ts";

const TLS_DIR = join(import.meta.dir, "..", "fixtures", "tls");
const KEY = "sk-backend-key-000000000";

const oneRoute = (url: string) => `
listen: "127.0.0.1:0"
backends:
  - { name: p, url: "${url}/v1", api_key: ${KEY} }
models:
  m: { routes: [{ backend: p, model: real }] }
fallback: { cooldown_seconds: 30 }
timeouts: { connect_seconds: 2, first_byte_seconds: 5 }
`;

interface Conn {
  buffer: Buffer;
}

/**
 * A keep-alive provider on a raw socket: answers every request on a connection
 * (head plus content-length body) with a chat completion, and counts connections
 * and the raw request heads it saw. `close: true` answers `connection: close` and ends.
 */
class KeepAliveProvider implements AsyncDisposable {
  connections = 0;
  readonly heads: string[] = [];
  private readonly listener: TCPSocketListener<Conn>;

  constructor(close = false) {
    const answer = JSON.stringify(chatCompletion("hello"));
    this.listener = Bun.listen<Conn>({
      hostname: "127.0.0.1",
      port: 0,
      socket: {
        open: (s) => {
          this.connections++;
          s.data = { buffer: Buffer.alloc(0) };
        },
        data: (s: Socket<Conn>, data) => {
          s.data.buffer = Buffer.concat([s.data.buffer, data]);
          for (;;) {
            const end = s.data.buffer.indexOf("\r\n\r\n");
            if (end === -1) return;
            const head = s.data.buffer.toString("latin1", 0, end);
            const length = Number(/\r\ncontent-length:\s*(\d+)/i.exec(head)?.[1] ?? "0");
            if (s.data.buffer.length < end + 4 + length) return;
            s.data.buffer = s.data.buffer.subarray(end + 4 + length);
            this.heads.push(head);
            s.write(`HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(answer)}\r\n${close ? "connection: close\r\n" : ""}\r\n${answer}`);
            if (close) s.end();
          }
        },
      },
    });
  }

  get url(): string {
    return `http://127.0.0.1:${this.listener.port}`;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    this.listener.stop(true);
  }
}

/** A provider over TLS with the test certificate (valid for `localhost` only). */
function tlsProvider(): FakeProvider & { port: number } {
  const provider = new FakeProvider(() => Response.json(chatCompletion("over tls")));
  // FakeProvider serves plain HTTP; a second server with the same recorder serves TLS.
  const tls = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    tls: { cert: Bun.file(join(TLS_DIR, "localhost.pem")), key: Bun.file(join(TLS_DIR, "localhost.key")) },
    fetch: (req) => fetch(`${provider.url}${new URL(req.url).pathname}`, { method: req.method, headers: req.headers, body: req.body }),
  });
  const dispose = provider[Symbol.asyncDispose].bind(provider);
  return Object.assign(provider, {
    port: tls.port!,
    [Symbol.asyncDispose]: async () => {
      await tls.stop(true);
      await dispose();
    },
  });
}

describe("upstream requests on Bun's fetch", () => {
  test("sends requests one after another over one kept-alive connection", async () => {
    await using provider = new KeepAliveProvider();
    await using proxy = startProxy(oneRoute(provider.url));
    for (let i = 0; i < 20; i++) {
      const res = await post(`${proxy.url}/v1/chat/completions`, { model: "m", messages: [{ role: "user", content: `n${i}` }] });
      expect(res.status).toBe(200);
      expect(((await res.json()) as ReturnType<typeof chatCompletion>).choices[0]!.message.content).toBe("hello");
    }
    expect(provider.heads.length).toBe(20);
    expect(provider.connections).toBe(1);
  });

  test("opens a new connection after an answer that says connection: close", async () => {
    await using provider = new KeepAliveProvider(true);
    await using proxy = startProxy(oneRoute(provider.url));
    for (let i = 0; i < 5; i++) expect((await post(`${proxy.url}/v1/chat/completions`, { model: "m" })).status).toBe(200);
    expect(provider.connections).toBe(5);
  });

  test("writes one host line, one backend credential and the body's exact length", async () => {
    await using provider = new KeepAliveProvider();
    await using proxy = startProxy(oneRoute(provider.url));
    const body = JSON.stringify({ model: "m", messages: [{ role: "user", content: "héllo ✓" }] });
    const res = await fetch(`${proxy.url}/v1/chat/completions`, { method: "POST", body, headers: { authorization: "Bearer client-key-123456", "content-type": "application/json", "x-custom": "kept" } });
    expect(res.status).toBe(200);
    // Header names are case-insensitive; compare them in lower case.
    const lines = provider.heads[0]!.split("\r\n").map((l, i) => (i === 0 ? l : l.replace(/^[^:]+/, (n) => n.toLowerCase())));
    expect(lines[0]).toBe("POST /v1/chat/completions HTTP/1.1");
    expect(lines.filter((l) => l.startsWith("host:"))).toEqual([`host: ${new URL(provider.url).host}`]);
    expect(lines.filter((l) => l.startsWith("authorization:"))).toEqual([`authorization: Bearer ${KEY}`]);
    expect(lines).toContain("x-custom: kept");
    const sent = Buffer.byteLength(body.replace('"model":"m"', '"model":"real"'));
    expect(lines.filter((l) => l.startsWith("content-length:"))).toEqual([`content-length: ${sent}`]);
  });

  test("sends and receives 20 MiB bodies whole (the socket takes a large request in several writes)", async () => {
    let received = 0;
    const answer = JSON.stringify(chatCompletion("b".repeat(20 * 1024 * 1024)));
    await using provider = new FakeProvider((r) => {
      received = r.body.length;
      return new Response(answer, { headers: { "content-type": "application/json" } });
    });
    await using proxy = startProxy(`${oneRoute(provider.url)}\nlimits: { max_body_mb: 64 }\n`);
    const body = JSON.stringify({ model: "m", messages: [{ role: "user", content: "a".repeat(20 * 1024 * 1024) }] });
    const res = await fetch(`${proxy.url}/v1/chat/completions`, { method: "POST", body });
    expect(res.status).toBe(200);
    expect(await res.text()).toBe(answer);
    // The model name grew from "m" to "real".
    expect(received).toBe(Buffer.byteLength(body) + 3);
  });

  test("reaches an HTTPS provider whose certificate is trusted through NODE_EXTRA_CA_CERTS", async () => {
    await using provider = tlsProvider();
    await using proxy = await ProxyProcess.start(oneRoute(`https://localhost:${provider.port}`), { env: { NODE_EXTRA_CA_CERTS: join(TLS_DIR, "ca.pem") } });
    const res = await post(`${proxy.url}/v1/chat/completions`, { model: "m" });
    expect(res.status).toBe(200);
    expect(((await res.json()) as ReturnType<typeof chatCompletion>).choices[0]!.message.content).toBe("over tls");
    expect(provider.received[0]!.headers.get("authorization")).toBe(`Bearer ${KEY}`);
  });

  test("refuses a certificate nobody trusts, before sending anything", async () => {
    await using provider = tlsProvider();
    await using proxy = startProxy(oneRoute(`https://localhost:${provider.port}`));
    const res = await post(`${proxy.url}/v1/chat/completions`, { model: "m" });
    expect(res.status).toBe(502);
    expect(proxy.proxy.cooldowns.active(Date.now())[0]?.[1].reason).toContain("TLS");
    expect(provider.received.length).toBe(0);
  });

  test("refuses a trusted certificate issued for another name, before sending anything", async () => {
    await using provider = tlsProvider();
    // The certificate names localhost only; the backend URL says 127.0.0.1.
    await using proxy = await ProxyProcess.start(oneRoute(`https://127.0.0.1:${provider.port}`), { env: { NODE_EXTRA_CA_CERTS: join(TLS_DIR, "ca.pem") } });
    const res = await post(`${proxy.url}/v1/chat/completions`, { model: "m" });
    expect(res.status).toBe(502);
    expect(await res.text()).toContain("TLS");
    expect(provider.received.length).toBe(0);
  });

  test("goes through the forward proxy named in HTTP_PROXY, and says so at start-up", async () => {
    const seen: string[] = [];
    await using forward = Bun.serve({
      hostname: "127.0.0.1",
      port: 0,
      fetch: async (req) => {
        seen.push(`${req.method} ${req.url} ${req.headers.get("authorization")}`);
        await req.text();
        // Compressed: fetch decodes it, so the client must not be told it is still gzip.
        return new Response(Bun.gzipSync(JSON.stringify(chatCompletion("via forward proxy"))), { headers: { "content-type": "application/json", "content-encoding": "gzip" } });
      },
    });
    // Port 9 on loopback refuses connections: only the forward proxy can answer.
    await using proxy = await ProxyProcess.start(oneRoute("http://127.0.0.1:9"), { env: { HTTP_PROXY: `http://127.0.0.1:${forward.port}`, NO_PROXY: "" } });
    const res = await post(`${proxy.url}/v1/chat/completions`, { model: "m" });
    expect(res.status).toBe(200);
    expect(res.headers.get("content-encoding")).toBeNull();
    expect(((await res.json()) as ReturnType<typeof chatCompletion>).choices[0]!.message.content).toBe("via forward proxy");
    expect(seen).toEqual([`POST http://127.0.0.1:9/v1/chat/completions Bearer ${KEY}`]);
    expect(proxy.stdout).toContain("forward proxy named in HTTP_PROXY/HTTPS_PROXY: p");
  });

  test("a request the provider read on a fresh connection is not sent again when it closes without answering", async () => {
    let requests = 0;
    using listener = Bun.listen({
      hostname: "127.0.0.1",
      port: 0,
      socket: {
        data(socket, data) {
          if (!data.includes("\r\n\r\n")) return;
          requests++;
          socket.end();
        },
      },
    });
    await using proxy = startProxy(oneRoute(`http://127.0.0.1:${listener.port}`));
    const res = await post(`${proxy.url}/v1/chat/completions`, { model: "m" });
    expect(res.status).toBe(502);
    expect(requests).toBe(1);
  });

  test("skips the forward proxy for a host NO_PROXY names", async () => {
    const seen: string[] = [];
    await using forward = Bun.serve({
      hostname: "127.0.0.1",
      port: 0,
      fetch: (req) => {
        seen.push(req.url);
        return new Response("the forward proxy must not be used", { status: 502 });
      },
    });
    await using provider = new FakeProvider(() => Response.json(chatCompletion("direct")));
    await using proxy = await ProxyProcess.start(oneRoute(provider.url), { env: { HTTP_PROXY: `http://127.0.0.1:${forward.port}`, NO_PROXY: "127.0.0.1" } });
    const res = await post(`${proxy.url}/v1/chat/completions`, { model: "m" });
    expect(res.status).toBe(200);
    expect(((await res.json()) as ReturnType<typeof chatCompletion>).choices[0]!.message.content).toBe("direct");
    expect(seen).toEqual([]);
    expect(provider.received.length).toBe(1);
    expect(proxy.stdout).not.toContain("forward proxy named in HTTP_PROXY");
  });

  test("a head with a bare line feed in a header value fails that route and the next one answers", async () => {
    await using bad = new RawProvider((ex) => {
      const body = JSON.stringify(chatCompletion("fine"));
      ex.write(`HTTP/1.1 200 OK\r\ncontent-type: application/json\r\nx-odd: a\nb\r\nx-kept: yes\r\ncontent-length: ${Buffer.byteLength(body)}\r\n\r\n${body}`);
      ex.end();
    });
    await using good = new FakeProvider(() => Response.json(chatCompletion("from b")));
    await using proxy = startProxy(twoRoutes(bad.url, good.url));
    const res = await post(`${proxy.url}/v1/chat/completions`, { model: "m" });
    expect(res.status).toBe(200);
    expect(res.headers.get("x-llm-proxy-backend")).toBe("b");
    expect(((await res.json()) as ReturnType<typeof chatCompletion>).choices[0]!.message.content).toBe("from b");
  });

  test("a client that stops reading a stream stops the proxy reading from the provider", async () => {
    let pulled = 0;
    const piece = new TextEncoder().encode(`data: ${JSON.stringify({ choices: [{ delta: { content: "x".repeat(256 * 1024) } }] })}\n\n`);
    await using provider = new FakeProvider(
      () =>
        new Response(
          new ReadableStream({
            pull(controller) {
              pulled += piece.length;
              controller.enqueue(piece);
            },
          }),
          { headers: { "content-type": "text/event-stream" } },
        ),
    );
    await using proxy = startProxy(oneRoute(provider.url));
    const port = Number(new URL(proxy.url).port);
    const body = JSON.stringify({ model: "m", stream: true });
    const client = await Bun.connect({
      hostname: "127.0.0.1",
      port,
      socket: {
        // Takes the first bytes, then reads nothing more.
        data(socket) {
          socket.pause();
        },
      },
    });
    client.write(`POST /v1/chat/completions HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: ${body.length}\r\n\r\n${body}`);
    await waitFor(() => pulled > 2 * piece.length, "the stream to start");
    // It settles: every buffer on the way fills and the provider is asked for nothing more.
    let last = -1;
    await waitFor(
      async () => {
        const settled = pulled === last;
        last = pulled;
        await Bun.sleep(200);
        return settled && pulled === last;
      },
      "the provider to stop being read",
      15_000,
    );
    expect(pulled).toBeLessThan(64 * 1024 * 1024);
    client.terminate();
  });
});
