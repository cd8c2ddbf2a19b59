import { describe, expect, test } from "bun:test";
import { anthropicErrorEvent, anthropicStream } from "../helpers/anthropic.ts";
import { chatChunk, FakeProvider, modelOf, type Received, ScriptedStream, waitFor } from "../helpers/fake-provider.ts";
import { post, readUntil, within } from "../helpers/http.ts";
import { startProxy } from "../helpers/proxy.ts";

/** A provider whose whole SSE body is `events`, each sent as its own chunk. */
function sse(events: readonly string[], status = 200): Response {
  const stream = new ScriptedStream();
  for (const e of events) stream.send(e);
  stream.end();
  return stream.response({ status });
}

const good = (r: Received) => sse([chatChunk("from-second", modelOf(r)), "data: [DONE]\n\n"]);

const twoRoutes = (first: string, second: string) => `
backends:
  - { name: a, url: "${first}/v1", auth: x-api-key, api_key: sk-first-backend-key-1111 }
  - { name: b, url: "${second}/v1", auth: x-api-key, api_key: sk-second-backend-key-2222 }
models:
  m:
    routes:
      - { backend: a, model: model-a, priority: 1 }
      - { backend: b, model: model-b, priority: 2 }
`;

describe("a stream's first event decides", () => {
  const failingStarts: [string, string[]][] = [
    ["an Anthropic `event: error`", [anthropicErrorEvent()]],
    ["a data event with a top-level error", [`data: ${JSON.stringify({ error: { message: "quota exceeded", type: "insufficient_quota" } })}\n\n`]],
    ["an error after SSE comments and pings", [": ping\n\n", ": keep-alive\n\n", "event: ping\n\n", anthropicErrorEvent("api_error", "boom")]],
    ["the stream ending before any event", [": ping\n\n"]],
  ];
  for (const [what, events] of failingStarts) {
    test(`falls back when a stream begins with ${what}`, async () => {
      await using first = new FakeProvider(() => sse(events));
      await using second = new FakeProvider(good);
      await using proxy = startProxy(twoRoutes(first.url, second.url));
      const res = await post(`${proxy.url}/v1/chat/completions`, { model: "m", stream: true });
      expect(res.status).toBe(200);
      const text = await res.text();
      expect(text).toContain("from-second");
      expect(text).not.toContain("ping");
      expect(text).not.toContain("error");
      expect(first.received.length).toBe(1);
      expect(second.received.length).toBe(1);
    });
  }

  test("SSE comments before the first event do not commit: a later error still falls back", async () => {
    const stream = new ScriptedStream();
    await using first = new FakeProvider(() => stream.response());
    await using second = new FakeProvider(good);
    await using proxy = startProxy(twoRoutes(first.url, second.url));
    let settled = false;
    const pending = post(`${proxy.url}/v1/chat/completions`, { model: "m", stream: true }).finally(() => {
      settled = true;
    });
    await first.waitForRequests(1);
    stream.send(": ping\n\n");
    stream.send(": ping\n\n");
    // The proxy is still deciding: the client has no answer yet, and no second request went out.
    expect(settled).toBe(false);
    expect(second.received.length).toBe(0);
    stream.send(`data: ${JSON.stringify({ error: { message: "overloaded" } })}\n\n`);
    const res = await pending;
    expect(await res.text()).toContain("from-second");
    await waitFor(() => stream.cancelled || first.received[0]!.signal.aborted, "the abandoned stream to be closed");
  });

  test("a stream that begins with a real event is served, pings included, and not retried", async () => {
    const events = [": ping\n\n", ...anthropicStream(["Hel", "lo"])];
    await using first = new FakeProvider(() => sse(events));
    await using second = new FakeProvider(good);
    await using proxy = startProxy(twoRoutes(first.url, second.url));
    const res = await post(`${proxy.url}/v1/messages`, { model: "m", stream: true, max_tokens: 5 });
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toContain("text/event-stream");
    expect(await res.text()).toBe(events.join(""));
    expect(second.received.length).toBe(0);
    expect(first.received[0]!.headers.get("x-api-key")).toBe("sk-first-backend-key-1111");
  });

  test("a stream asks the provider for an uncompressed body", async () => {
    await using first = new FakeProvider(() => sse([chatChunk("x"), "data: [DONE]\n\n"]));
    await using proxy = startProxy(twoRoutes(first.url, first.url));
    await (await post(`${proxy.url}/v1/chat/completions`, { model: "m", stream: true }, { "accept-encoding": "gzip, br" })).text();
    expect(first.received[0]!.headers.get("accept-encoding")).toBe("identity");
  });

  test("an error after the stream committed cuts the client's stream and cools the pair down", async () => {
    const stream = new ScriptedStream();
    await using first = new FakeProvider(() => stream.response());
    await using second = new FakeProvider(good);
    await using proxy = startProxy(twoRoutes(first.url, second.url));
    const pending = post(`${proxy.url}/v1/chat/completions`, { model: "m", stream: true });
    await first.waitForRequests(1);
    stream.send(chatChunk("c0"));
    const res = await pending;
    const reader = res.body!.getReader();
    const seen = { text: "" };
    await readUntil(reader, seen, (t) => t.includes('"c0"'));
    stream.fail();
    // The client must see the cut: an error event and no [DONE], never a clean end as if complete.
    const rest = await within(
      (async () => {
        for (;;) {
          const { done, value } = await reader.read();
          if (done) return seen.text;
          seen.text += new TextDecoder().decode(value);
        }
      })(),
      "the cut to reach the client",
    );
    const events = rest.split("\n\n").filter((e) => e.trim() !== "");
    const last = JSON.parse(events.at(-1)!.replace(/^data: /, "")) as { error: { code: string; message: string } };
    expect(last.error.code).toBe("stream_cut");
    expect(last.error.message).toContain("incomplete");
    expect(rest).not.toContain("[DONE]");
    expect(second.received.length).toBe(0);
    await waitFor(() => proxy.proxy.cooldowns.active(Date.now()).length === 1, "the pair to cool down");
  });
});
