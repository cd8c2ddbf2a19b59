import { describe, expect, test } from "bun:test";
import { anthropicStream } from "../helpers/anthropic.ts";
import { chatChunk, FakeProvider, modelOf, type Received, ScriptedStream, waitFor } from "../helpers/fake-provider.ts";
import { cooldownOf, cooling, dataOf, events, RawProvider, readAll, readRest, twoRoutes, type BodyReader } from "../helpers/faults.ts";
import { post, readUntil, within } from "../helpers/http.ts";
import { startProxy, type TestProxy } from "../helpers/proxy.ts";

/**
 * Faults of streamed answers. Before the first data event the proxy may still fall
 * back; after it, a fault cuts the client's stream with an error event and no
 * completion marker, and cools the pair.
 */

const SSE = { "content-type": "text/event-stream" };

/** A complete, healthy stream. */
function goodStream(r: Received): Response {
  const s = new ScriptedStream();
  s.send(chatChunk("from-b", modelOf(r)));
  s.send("data: [DONE]\n\n");
  s.end();
  return s.response();
}

const streamRequest = { model: "m", stream: true, messages: [{ role: "user", content: "hi" }] };

/** The client's whole stream came from b, complete, with nothing of a's in it. */
async function expectServedByB(res: Response): Promise<string> {
  expect(res.status).toBe(200);
  expect(res.headers.get("x-llm-proxy-backend")).toBe("b");
  const { text, error } = await readAll(res);
  expect(error).toBeUndefined();
  expect(events(text)).toEqual([chatChunk("from-b", "model-b").trim(), "data: [DONE]"]);
  return text;
}

async function nextIsServedByB(proxy: TestProxy, second: FakeProvider): Promise<void> {
  const before = second.received.length;
  await expectServedByB(await post(`${proxy.url}/v1/chat/completions`, streamRequest));
  expect(second.received.length).toBe(before + 1);
}

/** Reads the rest of a cut stream and checks: the chunks, then the proxy's honest cut as the last event. */
async function expectCutAfter(reader: BodyReader, seen: { text: string }, chunks: string[], why: RegExp): Promise<void> {
  const rest = await readRest(reader, seen);
  const all = events(rest);
  expect(all.slice(0, chunks.length)).toEqual(chunks.map((c) => c.trim()));
  expect(all.length).toBe(chunks.length + 1);
  const cut = dataOf(all.at(-1)!) as { error: { code: string; type: string; message: string } };
  expect(cut.error.code).toBe("stream_cut");
  expect(cut.error.message).toMatch(why);
  expect(rest).not.toContain("[DONE]");
}

describe("faults before a stream's first event fall back", () => {
  test("a head and then silence falls back after first_byte_seconds", async () => {
    await using raw = new RawProvider((x) => x.writeHead(200, SSE));
    await using second = new FakeProvider(goodStream);
    await using proxy = startProxy(twoRoutes(raw.url, second.url));
    const started = performance.now();
    await expectServedByB(await post(`${proxy.url}/v1/chat/completions`, streamRequest));
    expect(performance.now() - started).toBeGreaterThanOrEqual(490);
    expect(raw.exchanges.length).toBe(1);
    await within(raw.exchanges[0]!.closed, "the proxy to close the silent stream", 2000);
    expect(cooling(proxy)).toEqual(["a/model-a"]);
    expect(cooldownOf(proxy, "a/model-a")!.reason).toBe("no first event within 0.5 s");
    await nextIsServedByB(proxy, second);
  });

  test("a first event that is an error falls back and cools the pair", async () => {
    await using first = new FakeProvider(() => {
      const s = new ScriptedStream();
      s.send(`data: ${JSON.stringify({ error: { message: "The server is overloaded", type: "server_error" } })}\n\n`);
      s.send(chatChunk("never seen"));
      s.end();
      return s.response();
    });
    await using second = new FakeProvider(goodStream);
    await using proxy = startProxy(twoRoutes(first.url, second.url));
    const text = await expectServedByB(await post(`${proxy.url}/v1/chat/completions`, streamRequest));
    expect(text).not.toContain("overloaded");
    expect(first.received.length).toBe(1);
    expect(cooling(proxy)).toEqual(["a/model-a"]);
    expect(cooldownOf(proxy, "a/model-a")!.reason).toBe("stream began with an error event");
    await nextIsServedByB(proxy, second);
    expect(first.received.length).toBe(1);
  });

  test("pings alone never commit: it falls back when first_byte_seconds runs out", async () => {
    const pinging: { stream: ScriptedStream; timer: Timer }[] = [];
    await using first = new FakeProvider(() => {
      const stream = new ScriptedStream();
      stream.send(": ping\n\n");
      const timer = setInterval(() => {
        if (stream.cancelled) clearInterval(timer);
        else stream.send(": OPENROUTER PROCESSING\n\nevent: ping\n\n");
      }, 50);
      pinging.push({ stream, timer });
      return stream.response();
    });
    await using second = new FakeProvider(goodStream);
    await using proxy = startProxy(twoRoutes(first.url, second.url));
    try {
      const started = performance.now();
      const text = await expectServedByB(await post(`${proxy.url}/v1/chat/completions`, streamRequest));
      expect(performance.now() - started).toBeGreaterThanOrEqual(490);
      expect(text).not.toContain("ping");
      await waitFor(() => pinging[0]!.stream.cancelled || first.received[0]!.signal.aborted, "the pinging stream to be closed", 2000);
      expect(cooling(proxy)).toEqual(["a/model-a"]);
      expect(cooldownOf(proxy, "a/model-a")!.reason).toBe("no first event within 0.5 s");
      await nextIsServedByB(proxy, second);
    } finally {
      for (const p of pinging) clearInterval(p.timer);
    }
  });

  /** Printable bytes and invalid UTF-8, but never CR or LF: no line, so no event, ever ends. */
  function garbage(n: number): Uint8Array {
    const bytes = crypto.getRandomValues(new Uint8Array(n));
    for (let i = 0; i < n; i++) if (bytes[i] === 10 || bytes[i] === 13) bytes[i] = 0x7f;
    return bytes;
  }

  test("garbage labelled text/event-stream that keeps coming falls back at the first-byte timeout", async () => {
    await using raw = new RawProvider((x) => {
      x.writeHead(200, SSE);
      const timer = setInterval(() => {
        if (x.isClosed) return clearInterval(timer);
        const g = garbage(512);
        x.write(`${g.length.toString(16)}\r\n`);
        x.write(g);
        x.write("\r\n");
      }, 20);
    });
    await using second = new FakeProvider(goodStream);
    await using proxy = startProxy(twoRoutes(raw.url, second.url));
    const started = performance.now();
    await expectServedByB(await post(`${proxy.url}/v1/chat/completions`, streamRequest));
    expect(performance.now() - started).toBeGreaterThanOrEqual(490);
    await within(raw.exchanges[0]!.closed, "the proxy to close the garbage stream", 2000);
    expect(cooldownOf(proxy, "a/model-a")!.reason).toBe("no first event within 0.5 s");
    await nextIsServedByB(proxy, second);
  });

  test("garbage labelled text/event-stream that ends falls back at once as an empty stream", async () => {
    await using first = new FakeProvider(() => new Response(garbage(4096), { headers: SSE }));
    await using second = new FakeProvider(goodStream);
    await using proxy = startProxy(twoRoutes(first.url, second.url));
    const started = performance.now();
    await expectServedByB(await post(`${proxy.url}/v1/chat/completions`, streamRequest));
    expect(performance.now() - started).toBeLessThan(450);
    expect(cooling(proxy)).toEqual(["a/model-a"]);
    expect(cooldownOf(proxy, "a/model-a")!.reason).toBe("stream ended before its first event");
    await nextIsServedByB(proxy, second);
  });
});

describe("faults after a stream committed cut it honestly", () => {
  const chunks = ["c0", "c1", "c2"].map((c) => chatChunk(c, "model-a"));

  test("a reset after 3 chunks: the client gets the 3 chunks, then the cut event, no [DONE]; the pair cools", async () => {
    await using raw = new RawProvider((x) => {
      x.writeHead(200, SSE);
      for (const c of chunks) x.chunk(c);
    });
    await using second = new FakeProvider(goodStream);
    await using proxy = startProxy(twoRoutes(raw.url, second.url));
    const res = await post(`${proxy.url}/v1/chat/completions`, streamRequest);
    expect(res.status).toBe(200);
    expect(res.headers.get("x-llm-proxy-backend")).toBe("a");
    const reader = res.body!.getReader();
    const seen = { text: "" };
    await readUntil(reader, seen, (t) => t.includes('"c2"'));
    raw.exchanges[0]!.reset();
    await expectCutAfter(reader, seen, chunks, /incomplete/);
    expect(second.received.length).toBe(0);
    await waitFor(() => cooling(proxy).length === 1, "the pair to cool down", 2000);
    expect(cooling(proxy)).toEqual(["a/model-a"]);
    expect(cooldownOf(proxy, "a/model-a")!.reason).toStartWith("stream cut:");
    await nextIsServedByB(proxy, second);
    expect(raw.exchanges.length).toBe(1);
  });

  test("silence after 3 chunks past idle_seconds: the same cut, and the provider sees the abort", async () => {
    const stream = new ScriptedStream();
    await using first = new FakeProvider(() => {
      for (const c of chunks) stream.send(c);
      return stream.response();
    });
    await using second = new FakeProvider(goodStream);
    await using proxy = startProxy(twoRoutes(first.url, second.url));
    const res = await post(`${proxy.url}/v1/chat/completions`, streamRequest);
    const reader = res.body!.getReader();
    const seen = { text: "" };
    await readUntil(reader, seen, (t) => t.includes('"c2"'));
    const quietFrom = performance.now();
    await expectCutAfter(reader, seen, chunks, /no data for 0\.5 s/);
    expect(performance.now() - quietFrom).toBeGreaterThanOrEqual(400);
    await waitFor(() => stream.cancelled || first.received[0]!.signal.aborted, "the provider to see the stream aborted", 2000);
    await waitFor(() => cooling(proxy).length === 1, "the pair to cool down", 2000);
    expect(cooldownOf(proxy, "a/model-a")!.reason).toBe("stream cut: no data for 0.5 s");
    await nextIsServedByB(proxy, second);
    expect(first.received.length).toBe(1);
  });

  test("an Anthropic stream cut mid-way ends with event: error and no message_stop", async () => {
    const all = anthropicStream(["Hel", "lo", " there"]);
    const sent = all.slice(0, 4);
    await using raw = new RawProvider((x) => {
      x.writeHead(200, SSE);
      for (const e of sent) x.chunk(e);
    });
    await using second = new FakeProvider(goodStream);
    await using proxy = startProxy(twoRoutes(raw.url, second.url));
    const res = await post(`${proxy.url}/v1/messages`, { model: "m", stream: true, max_tokens: 5, messages: [] });
    const reader = res.body!.getReader();
    const seen = { text: "" };
    await readUntil(reader, seen, (t) => t.includes('"lo"'));
    raw.exchanges[0]!.reset();
    const text = await readRest(reader, seen);
    const got = events(text);
    expect(got.slice(0, sent.length)).toEqual(sent.map((e) => e.trim()));
    expect(got.length).toBe(sent.length + 1);
    expect(got.at(-1)!.split("\n")[0]).toBe("event: error");
    expect((dataOf(got.at(-1)!) as { type: string; error: { type: string } }).error.type).toBe("api_error");
    expect(text).not.toContain("message_stop");
    await waitFor(() => cooling(proxy).length === 1, "the pair to cool down", 2000);
  });
});
