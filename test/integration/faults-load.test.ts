import { describe, expect, test } from "bun:test";
import { chatChunk, FakeProvider, ScriptedStream, waitFor } from "../helpers/fake-provider.ts";
import { dataOf, events, RawProvider } from "../helpers/faults.ts";
import { startProxy } from "../helpers/proxy.ts";
import { RawClient, type RawResult } from "../helpers/raw-http.ts";
import { expectStreamsAtOnce, heldStreamsConfig } from "../helpers/many-streams.ts";
import { ProxyProcess } from "../helpers/proxy-process.ts";

/**
 * Many streams at once. The clients are raw sockets: Bun's fetch runs at most 256
 * requests at a time per process, and the in-process proxy's own upstream requests
 * would queue behind the test's.
 */

const CHUNKS = ["a", "b", "c", "d"];
const SSE = { "content-type": "text/event-stream" };

type Verdict = "complete" | "cut" | "http_error" | "lost";

/** Every client must get either a whole stream ending in [DONE] or a clear error. */
function verdict(r: RawResult): Verdict {
  if (r.status >= 400) return "http_error";
  if (r.end !== "complete") return "lost";
  const all = events(r.body);
  const last = all.at(-1);
  if (last === "data: [DONE]") {
    const contents = all.slice(0, -1).map((e) => (dataOf(e) as { choices: { delta: { content: string } }[] }).choices[0]!.delta.content);
    return contents.join("") === CHUNKS.join("") ? "complete" : "lost";
  }
  if (last !== undefined && (dataOf(last) as { error?: { code?: string } }).error?.code === "stream_cut" && !r.body.includes("[DONE]")) return "cut";
  return "lost";
}

describe("1,000 concurrent streams, one provider failing half of them", () => {
  test("nothing is lost: every client gets a complete stream or a clear error, 1,000 in all", async () => {
    await using good = new FakeProvider(() => {
      const s = new ScriptedStream();
      for (const c of CHUNKS) s.send(chatChunk(c, "good"));
      s.send("data: [DONE]\n\n");
      s.end();
      return s.response();
    });
    // Request i to the bad provider: even → an error as the first event; i % 4 == 1 → two chunks, then a reset;
    // i % 4 == 3 → a whole, good stream.
    let resets = 0;
    let wholes = 0;
    await using bad = new RawProvider((x, i) => {
      x.writeHead(200, SSE);
      if (i % 2 === 0) {
        x.chunk(`data: ${JSON.stringify({ error: { message: "overloaded", type: "server_error" } })}\n\n`);
        x.endChunked();
      } else if (i % 4 === 1) {
        resets++;
        x.chunk(chatChunk(CHUNKS[0]!, "bad"));
        x.chunk(chatChunk(CHUNKS[1]!, "bad"));
        setTimeout(() => x.reset(), 20);
      } else {
        wholes++;
        for (const c of CHUNKS) x.chunk(chatChunk(c, "bad"));
        x.chunk("data: [DONE]\n\n");
        x.endChunked();
      }
    });
    await using proxy = startProxy(`
backends:
  - { name: good, url: "${good.url}/v1" }
  - { name: bad, url: "${bad.url}/v1" }
models:
  m:
    routes:
      - { backend: good, model: good }
      - { backend: bad, model: bad }
fallback: { cooldown_seconds: 0 }
timeouts: { connect_seconds: 5, first_byte_seconds: 30, idle_seconds: 10 }
logging: { level: error }
`);
    const port = Number(new URL(proxy.url).port);
    const body = JSON.stringify({ model: "m", stream: true, messages: [{ role: "user", content: "hi" }] });
    const clients = await Promise.all(Array.from({ length: 1000 }, () => RawClient.connect(port)));
    // Every connection is open before any request goes out: 1,000 at once.
    await Promise.all(clients.map((c) => c.post("/v1/chat/completions", body)));
    const results = await Promise.all(clients.map((c) => c.done.then(verdict, () => "lost" as const)));

    const counts: Record<Verdict, number> = { complete: 0, cut: 0, http_error: 0, lost: 0 };
    for (const v of results) counts[v]++;
    expect(counts.lost).toBe(0);
    expect(counts.complete + counts.cut + counts.http_error).toBe(1000);
    // Every good answer, and every whole one from bad, reached a client complete.
    expect(counts.complete).toBe(good.received.length + wholes);
    // A cut is a reset the proxy saw after committing; a reset before that fell back instead.
    expect(counts.cut).toBeLessThanOrEqual(resets);
    expect(counts.cut).toBeGreaterThan(0);
    expect(counts.http_error).toBe(0);
    expect(bad.exchanges.length).toBeGreaterThan(300);
    expect(proxy.proxy.inFlight()).toBe(0);
  }, 60_000);
});

describe("many long streams through the real proxy process", () => {
  test("started without BUN_CONFIG_MAX_HTTP_REQUESTS, 400 streams held open at once all reach the provider (it starts itself again with it)", async () => {
    await expectStreamsAtOnce(400, (url) => ProxyProcess.start(heldStreamsConfig(url), { env: { BUN_CONFIG_MAX_HTTP_REQUESTS: "" } }));
  }, 60_000);
});
