import { describe, expect, test } from "bun:test";
import { anthropicStream } from "../helpers/anthropic.ts";
import { chatChunk, FakeProvider, modelOf, type Received, ScriptedStream } from "../helpers/fake-provider.ts";
import { cooldownOf, cooling, events, RawProvider, readAll, readRest, twoRoutes } from "../helpers/faults.ts";
import { post, readUntil } from "../helpers/http.ts";
import { startProxy } from "../helpers/proxy.ts";

/** Edges of streamed answers: a connection lost after the completion marker, and a first event that never ends. */

const SSE = { "content-type": "text/event-stream" };
const streamRequest = { model: "m", stream: true, messages: [{ role: "user", content: "hi" }] };

function goodStream(r: Received): Response {
  const s = new ScriptedStream();
  s.send(chatChunk("from-b", modelOf(r)));
  s.send("data: [DONE]\n\n");
  s.end();
  return s.response();
}

async function expectServedByB(res: Response): Promise<void> {
  expect(res.status).toBe(200);
  expect(res.headers.get("x-llm-proxy-backend")).toBe("b");
  const { text, error } = await readAll(res);
  expect(error).toBeUndefined();
  expect(events(text)).toEqual([chatChunk("from-b", "model-b").trim(), "data: [DONE]"]);
}

describe("a connection lost after the stream's completion marker", () => {
  // Seen in the soak: a provider closing its keep-alive connection right after the last event, before the
  // chunked body's terminator. The answer was whole; the client must not be told otherwise.
  const cases: [string, string, string[], string][] = [
    ["OpenAI's data: [DONE]", "/v1/chat/completions", [chatChunk("whole", "model-a"), chatChunk(" answer", "model-a"), "data: [DONE]\n\n"], "[DONE]"],
    ["Anthropic's message_stop", "/v1/messages", anthropicStream(["whole", " answer"], "model-a"), "message_stop"],
  ];
  for (const [marker, path, sent, seenLast] of cases) {
    test(`a reset after ${marker} ends the client's stream as complete and cools nothing`, async () => {
      await using raw = new RawProvider((x) => {
        x.writeHead(200, SSE);
        for (const e of sent) x.chunk(e);
      });
      await using second = new FakeProvider(goodStream);
      await using proxy = startProxy(twoRoutes(raw.url, second.url));
      const res = await post(`${proxy.url}${path}`, { ...streamRequest, max_tokens: 5 });
      expect(res.status).toBe(200);
      const reader = res.body!.getReader();
      const seen = { text: "" };
      await readUntil(reader, seen, (t) => t.includes(seenLast));
      raw.exchanges[0]!.reset();
      const text = await readRest(reader, seen);
      expect(events(text)).toEqual(sent.map((e) => e.trim()));
      expect(cooling(proxy)).toEqual([]);
      expect(second.received.length).toBe(0);
    });
  }
});

describe("a stream that never makes a line", () => {
  test("a flood of bytes with no line break before the first event does not stall the proxy's other requests", async () => {
    // One 64 KiB chunk of "AAAA…", framed once; the writer keeps at most 1 MiB queued, so the flood runs at the proxy's pace.
    const frame = new TextEncoder().encode(`10000\r\n${"A".repeat(65536)}\r\n`);
    await using raw = new RawProvider((x) => {
      x.writeHead(200, SSE);
      const timer = setInterval(() => {
        if (x.isClosed) return clearInterval(timer);
        while (x.backlog < 1 << 20) x.write(frame);
      }, 1);
    });
    await using second = new FakeProvider(goodStream);
    await using proxy = startProxy(twoRoutes(raw.url, second.url, undefined, "timeouts: { connect_seconds: 0.3, first_byte_seconds: 2, idle_seconds: 0.5 }"));
    let over = false;
    const streamed = post(`${proxy.url}/v1/chat/completions`, streamRequest).finally(() => (over = true));
    const latencies: number[] = [];
    while (!over) {
      const started = performance.now();
      expect((await fetch(`${proxy.url}/health`)).status).toBe(200);
      latencies.push(performance.now() - started);
      await Bun.sleep(20);
    }
    await expectServedByB(await streamed);
    // Past 1 MiB without one event it is not SSE: the proxy stops holding it and falls back.
    expect(cooldownOf(proxy, "a/model-a")!.reason).toBe("no event in the stream's first 1 MiB");
    // Scanning each byte once keeps every health check quick (a few ms here); rescanning the growing line on
    // every chunk held the loop for seconds. The bound is far above the expected, for a busy machine.
    expect(latencies.length).toBeGreaterThan(0);
    expect(Math.max(...latencies)).toBeLessThan(2000);
  });
});
