import { describe, expect, test } from "bun:test";
import { chatChunk, chatCompletion, FakeProvider, modelOf, type Received, ScriptedStream, waitFor } from "../helpers/fake-provider.ts";
import { cooldownOf, cooling, twoRoutes } from "../helpers/faults.ts";
import { post, readUntil, within } from "../helpers/http.ts";
import { startProxy, type TestProxy } from "../helpers/proxy.ts";
import { RawClient } from "../helpers/raw-http.ts";

/**
 * The client goes away. The provider must see its request aborted within a bound,
 * nothing is cooled (the provider did nothing wrong), and the next request is
 * served by the same route as if nothing had happened.
 */

const ABORT_BOUND_MS = 2000;

/** A provider whose first request is handled by `first`, and every later one answered normally. */
function provider(first: (r: Received) => Response | Promise<Response>): FakeProvider {
  let n = 0;
  return new FakeProvider((r) => (n++ === 0 ? first(r) : Response.json(chatCompletion("fine", modelOf(r)))));
}

async function nextIsServedByA(proxy: TestProxy, a: FakeProvider, b: FakeProvider): Promise<void> {
  const res = await post(`${proxy.url}/v1/chat/completions`, { model: "m" });
  expect(res.status).toBe(200);
  expect(((await res.json()) as { model: string }).model).toBe("model-a");
  expect(a.received.length).toBe(2);
  expect(b.received.length).toBe(0);
}

function streamOf(stream: ScriptedStream, chunks: number): Response {
  for (let i = 0; i < chunks; i++) stream.send(chatChunk(`c${i}`, "model-a"));
  return stream.response();
}

describe("a client that goes away", () => {
  test("before the answer's head: the provider sees the abort, no other route is tried, nothing cools", async () => {
    await using a = provider((r) => r.aborted.then(() => new Response("too late")));
    await using b = new FakeProvider((r) => Response.json(chatCompletion("b", modelOf(r))));
    await using proxy = startProxy(twoRoutes(a.url, b.url, "fallback: { cooldown_seconds: 30 }", "timeouts: { connect_seconds: 0.3, first_byte_seconds: 5, idle_seconds: 5 }"));
    const client = new AbortController();
    const pending = post(`${proxy.url}/v1/chat/completions`, { model: "m" }, {}, { signal: client.signal });
    const received = await a.waitForRequests(1);
    const abortedAt = performance.now();
    client.abort();
    expect(await pending.then(() => "answered", () => "aborted")).toBe("aborted");
    await within(received.aborted, "the provider to see the abort", ABORT_BOUND_MS);
    expect(performance.now() - abortedAt).toBeLessThan(ABORT_BOUND_MS);
    expect(proxy.proxy.cooldowns.active(0)).toEqual([]);
    await nextIsServedByA(proxy, a, b);
  });

  test("mid-stream (fetch abort): the provider's stream is cancelled, nothing cools", async () => {
    const stream = new ScriptedStream();
    await using a = provider(() => streamOf(stream, 2));
    await using b = new FakeProvider((r) => Response.json(chatCompletion("b", modelOf(r))));
    await using proxy = startProxy(twoRoutes(a.url, b.url));
    const client = new AbortController();
    const res = await post(`${proxy.url}/v1/chat/completions`, { model: "m", stream: true }, {}, { signal: client.signal });
    const reader = res.body!.getReader();
    await readUntil(reader, { text: "" }, (t) => t.includes('"c1"'));
    client.abort();
    await waitFor(() => stream.cancelled || a.received[0]!.signal.aborted, "the provider to see the client go away", ABORT_BOUND_MS);
    expect(proxy.proxy.cooldowns.active(0)).toEqual([]);
    await nextIsServedByA(proxy, a, b);
  });

  test("mid-stream (the client's socket just closes): the provider's stream is cancelled, nothing cools", async () => {
    const stream = new ScriptedStream();
    await using a = provider(() => streamOf(stream, 2));
    await using b = new FakeProvider((r) => Response.json(chatCompletion("b", modelOf(r))));
    await using proxy = startProxy(twoRoutes(a.url, b.url));
    const client = await RawClient.connect(Number(new URL(proxy.url).port));
    await client.post("/v1/chat/completions", JSON.stringify({ model: "m", stream: true }));
    expect((await within(client.response, "the stream's head")).status).toBe(200);
    await waitFor(() => client.text.includes('"c1"'), "two chunks at the client", 5000);
    client.close();
    await waitFor(() => stream.cancelled || a.received[0]!.signal.aborted, "the provider to see the client go away", ABORT_BOUND_MS);
    expect(proxy.proxy.cooldowns.active(0)).toEqual([]);
    await nextIsServedByA(proxy, a, b);
  });

  test("on /v1/messages mid-stream: the same", async () => {
    const stream = new ScriptedStream();
    await using a = provider(() => {
      stream.send(`event: message_start\ndata: ${JSON.stringify({ type: "message_start", message: { id: "msg_1", content: [] } })}\n\n`);
      return stream.response();
    });
    await using b = new FakeProvider((r) => Response.json(chatCompletion("b", modelOf(r))));
    await using proxy = startProxy(twoRoutes(a.url, b.url));
    const client = new AbortController();
    const res = await post(`${proxy.url}/v1/messages`, { model: "m", stream: true, max_tokens: 5, messages: [] }, {}, { signal: client.signal });
    await readUntil(res.body!.getReader(), { text: "" }, (t) => t.includes("message_start"));
    client.abort();
    await waitFor(() => stream.cancelled || a.received[0]!.signal.aborted, "the provider to see the client go away", ABORT_BOUND_MS);
    expect(proxy.proxy.cooldowns.active(0)).toEqual([]);
  });

  test("during a probe after a cooldown: the probe is given back, and the next request probes again", async () => {
    let calls = 0;
    await using a = new FakeProvider((r) => {
      calls++;
      if (calls === 1) return Response.json({ error: { message: "down" } }, { status: 500 });
      if (calls === 2) return r.aborted.then(() => new Response("too late"));
      return Response.json(chatCompletion("back", modelOf(r)));
    });
    await using b = new FakeProvider((r) => Response.json(chatCompletion("b", modelOf(r))));
    await using proxy = startProxy(twoRoutes(a.url, b.url, "fallback: { cooldown_seconds: 0.2 }", "timeouts: { connect_seconds: 0.3, first_byte_seconds: 5, idle_seconds: 5 }"));
    await (await post(`${proxy.url}/v1/chat/completions`, { model: "m" })).text();
    expect(cooling(proxy)).toEqual(["a/model-a"]);
    await waitFor(() => cooling(proxy).length === 0, "the cooldown to end", 5000);

    const client = new AbortController();
    const probe = post(`${proxy.url}/v1/chat/completions`, { model: "m" }, {}, { signal: client.signal }).catch(() => "aborted");
    const received = await a.waitForRequests(2);
    expect(cooldownOf(proxy, "a/model-a")!.probing).toBe(true);
    client.abort();
    await probe;
    await within(received.aborted, "the probe's provider request to be aborted", ABORT_BOUND_MS);
    await waitFor(() => cooldownOf(proxy, "a/model-a")?.probing === false, "the probe to be given back", ABORT_BOUND_MS);

    const res = await post(`${proxy.url}/v1/chat/completions`, { model: "m" });
    expect(((await res.json()) as { model: string }).model).toBe("model-a");
    expect(a.received.length).toBe(3);
    expect(proxy.proxy.cooldowns.active(0)).toEqual([]);
  });
});
