import { describe, expect, test } from "bun:test";
import { createGzip } from "node:zlib";
import { chatChunk, chatCompletion, FakeProvider, ScriptedStream, waitFor } from "../helpers/fake-provider.ts";
import { memoryOf } from "../helpers/many-streams.ts";
import { ProxyProcess } from "../helpers/proxy-process.ts";

/**
 * Memory, read from a proxy in its own process (never one that also hosts the fake
 * providers): what a hostile provider or a slow client can make it hold.
 */

const linux = process.platform === "linux";
const MiB = 1024 * 1024;

/** A gzip of `size` zero bytes, made from one reused buffer (never the whole thing in memory). */
async function gzipOfZeros(size: number): Promise<Buffer> {
  const gzip = createGzip({ level: 1 });
  const out: Buffer[] = [];
  gzip.on("data", (chunk: Buffer) => out.push(chunk));
  const done = new Promise<void>((resolve) => gzip.on("end", resolve));
  const zeros = Buffer.alloc(MiB);
  for (let written = 0; written < size; written += MiB) if (!gzip.write(zeros)) await new Promise((resolve) => gzip.once("drain", resolve));
  gzip.end();
  await done;
  return Buffer.concat(out);
}

const config = (bomb: string, good: string, streamer: string) => `
listen: "127.0.0.1:0"
backends:
  - { name: bomb, url: "${bomb}/v1" }
  - { name: good, url: "${good}/v1" }
  - { name: s, url: "${streamer}/v1" }
models:
  m: { routes: [{ backend: bomb, model: zeros, priority: 1 }, { backend: good, model: fine, priority: 2 }] }
  only-bomb: { routes: [{ backend: bomb, model: zeros }] }
  other: { routes: [{ backend: s, model: streamed }] }
fallback: { cooldown_seconds: 0 }
`;

describe.skipIf(!linux)("a decompression bomb (a gzip of 1 GiB of zeros)", () => {
  test("costs a bounded amount of memory, and another client's stream keeps flowing event by event meanwhile", async () => {
    const bomb = await gzipOfZeros(1024 * MiB);
    expect(bomb.length).toBeLessThan(16 * MiB);
    const gz = { "content-type": "application/json", "content-encoding": "gzip" };
    await using bombProvider = new FakeProvider((r) => new Response(bomb, { status: r.url.searchParams.get("as") === "500" ? 500 : 200, headers: gz }));
    await using good = new FakeProvider(() => Response.json(chatCompletion("fine")));
    const stream = new ScriptedStream();
    await using streamer = new FakeProvider(() => stream.response());
    await using proxy = await ProxyProcess.start(config(bombProvider.url, good.url, streamer.url));
    const before = await memoryOf(proxy.pid());

    // The other client's stream: chunk k+1 is sent only once the client has chunk k.
    const pending = fetch(`${proxy.url}/v1/chat/completions`, { method: "POST", body: JSON.stringify({ model: "other", stream: true }) });
    stream.send(chatChunk("e0"));
    const reader = (await pending).body!.getReader();
    let seen = "";
    const receive = async (k: number) => {
      while (!seen.includes(`"e${k}"`)) {
        const { done, value } = await reader.read();
        if (done) throw new Error(`the stream ended before event ${k}`);
        seen += new TextDecoder().decode(value);
      }
    };
    await receive(0);

    // A bomb behind a 500: judged on limits.inspect_kib of it, a failure, the next route answers.
    const failed = await fetch(`${proxy.url}/v1/chat/completions?as=500`, { method: "POST", body: JSON.stringify({ model: "m" }) });
    expect(failed.status).toBe(200);
    expect(failed.headers.get("x-llm-proxy-backend")).toBe("good");
    await failed.text();

    // A bomb behind a 200: passed on decoded, as the client reads it; the client reads 64 MiB and leaves,
    // while the other stream moves on one event per 256 KiB read.
    const served = await fetch(`${proxy.url}/v1/chat/completions`, { method: "POST", body: JSON.stringify({ model: "only-bomb" }) });
    expect(served.status).toBe(200);
    const bombReader = served.body!.getReader();
    let read = 0;
    let k = 0;
    let nextEventAt = 0;
    while (read < 64 * MiB) {
      const { done, value } = await bombReader.read();
      if (done) break;
      read += value.length;
      while (read >= nextEventAt) {
        k++;
        stream.send(chatChunk(`e${k}`));
        await receive(k);
        nextEventAt += 256 * 1024;
      }
    }
    await bombReader.cancel();
    expect(read).toBeGreaterThanOrEqual(64 * MiB);
    expect(k).toBeGreaterThanOrEqual(256);
    stream.send("data: [DONE]\n\n");
    stream.end();
    while (!(await reader.read()).done);

    const after = await memoryOf(proxy.pid());
    // The proxy's peak stayed far below the bomb's decoded size: what it holds at once is bounded.
    expect(after.peak - before.rss).toBeLessThan(96 * MiB);
    expect((await fetch(`${proxy.url}/health`)).status).toBe(200);
  }, 60_000);
});

describe.skipIf(!linux)("a client that stops reading", () => {
  test("of a 200 MiB stream: the provider is slowed down, and the proxy's memory grows by less than 64 MiB", async () => {
    let sent = 0;
    const piece = new TextEncoder().encode(`data: ${JSON.stringify({ choices: [{ delta: { content: "x".repeat(64 * 1024) } }] })}\n\n`);
    await using provider = new FakeProvider(
      () =>
        new Response(
          new ReadableStream({
            pull(controller) {
              if (sent >= 200 * MiB) return controller.close();
              sent += piece.length;
              controller.enqueue(piece);
            },
          }),
          { headers: { "content-type": "text/event-stream" } },
        ),
    );
    await using proxy = await ProxyProcess.start(`
listen: "127.0.0.1:0"
backends: [{ name: p, url: "${provider.url}/v1" }]
models: { m: { routes: [{ backend: p, model: big }] } }
timeouts: { idle_seconds: 60 }
`);
    const before = await memoryOf(proxy.pid());
    const body = JSON.stringify({ model: "m", stream: true });
    const client = await Bun.connect({
      hostname: "127.0.0.1",
      port: Number(new URL(proxy.url).port),
      socket: {
        // Takes the first bytes, then reads nothing more.
        data(socket) {
          socket.pause();
        },
      },
    });
    client.write(`POST /v1/chat/completions HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: ${body.length}\r\n\r\n${body}`);
    await waitFor(() => sent > 2 * piece.length, "the stream to start");
    // It settles: every buffer on the way fills and the provider is asked for nothing more.
    let last = -1;
    await waitFor(
      async () => {
        const settled = sent === last;
        last = sent;
        await Bun.sleep(200);
        return settled && sent === last;
      },
      "the provider to stop being read",
      15_000,
    );
    const after = await memoryOf(proxy.pid());
    expect(sent).toBeLessThan(100 * MiB);
    expect(after.rss - before.rss).toBeLessThan(64 * MiB);
    client.terminate();
  }, 40_000);
});
