import { describe, expect, test } from "bun:test";
import { chatChunk, chatCompletion, echo, FakeProvider, ScriptedStream, waitFor } from "../helpers/fake-provider.ts";
import { cooldownOf, cooling, dataOf, events, readAll } from "../helpers/faults.ts";
import { post, within } from "../helpers/http.ts";
import { startProxy } from "../helpers/proxy.ts";

/** `timeouts.total_seconds`: a bound on the whole request, before and after the commit. */

/** A provider that sends a ping every 50 ms and never a first event. */
function pingingForever(): FakeProvider {
  return new FakeProvider(() => {
    const stream = new ScriptedStream();
    const timer = setInterval(() => (stream.cancelled ? clearInterval(timer) : stream.send(": ping\n\n")), 50);
    return stream.response();
  });
}

const config = (a: string, b: string, aTimeouts: string, global: string) => `
backends:
  - { name: a, url: "${a}/v1", timeouts: ${aTimeouts} }
  - { name: b, url: "${b}/v1" }
models:
  m:
    routes:
      - { backend: a, model: model-a, priority: 1 }
      - { backend: b, model: model-b, priority: 2 }
timeouts: ${global}
fallback: { cooldown_seconds: 30 }
`;

describe("timeouts.total_seconds", () => {
  test("a backend's own total_seconds running out before the commit falls back to the next route", async () => {
    await using a = pingingForever();
    await using b = new FakeProvider(echo);
    await using proxy = startProxy(config(a.url, b.url, "{ total_seconds: 0.5 }", "{ connect_seconds: 0.3, first_byte_seconds: 5, idle_seconds: 5 }"));
    const started = performance.now();
    const res = await post(`${proxy.url}/v1/chat/completions`, { model: "m", stream: true });
    expect(res.status).toBe(200);
    expect(((await res.json()) as { model: string }).model).toBe("model-b");
    expect(performance.now() - started).toBeGreaterThanOrEqual(490);
    await within(a.received[0]!.aborted, "a's request to be aborted", 2000);
    expect(cooling(proxy)).toEqual(["a/model-a"]);
    expect(cooldownOf(proxy, "a/model-a")!.reason).toBe("request took longer than 0.5 s");
    const next = await post(`${proxy.url}/v1/chat/completions`, { model: "m" });
    expect(((await next.json()) as { model: string }).model).toBe("model-b");
  });

  test("a request whose total time ran out on one route does not cool the routes it had no time left for", async () => {
    await using a = pingingForever();
    // b is healthy and takes 20 ms to answer, as any real provider takes some time.
    await using b = new FakeProvider(async (r) => {
      await Bun.sleep(20);
      return echo(r);
    });
    await using proxy = startProxy(config(a.url, b.url, "{}", "{ connect_seconds: 0.3, first_byte_seconds: 5, idle_seconds: 5, total_seconds: 0.5 }"));
    const res = await post(`${proxy.url}/v1/chat/completions`, { model: "m", stream: true });
    // a used the whole time without an answer, and b was not tried: the proxy's own 502.
    expect(res.status).toBe(502);
    const body = (await res.json()) as { error: { code: string; message: string } };
    expect(body.error.code).toBe("upstream_unavailable");
    expect(body.error.message).toContain("request took longer than 0.5 s");
    // a used up the request's time and is cooled; b never had a fair chance and must stay usable.
    expect(cooling(proxy)).toEqual(["a/model-a"]);
    const next = await post(`${proxy.url}/v1/chat/completions`, { model: "m" });
    expect(next.status).toBe(200);
    expect(((await next.json()) as { model: string }).model).toBe("model-b");
  });

  test("total_seconds running out after the commit cuts the stream honestly and cools the pair", async () => {
    let stream!: ScriptedStream;
    await using a = new FakeProvider(() => {
      stream = new ScriptedStream();
      let n = 0;
      stream.send(chatChunk(`c${n++}`, "model-a"));
      // A chunk every 50 ms: never idle, but never finished either.
      const timer = setInterval(() => (stream.cancelled ? clearInterval(timer) : stream.send(chatChunk(`c${n++}`, "model-a"))), 50);
      return stream.response();
    });
    await using b = new FakeProvider(echo);
    await using proxy = startProxy(config(a.url, b.url, "{}", "{ connect_seconds: 0.3, first_byte_seconds: 5, idle_seconds: 0.3, total_seconds: 0.6 }"));
    const started = performance.now();
    const res = await post(`${proxy.url}/v1/chat/completions`, { model: "m", stream: true });
    expect(res.status).toBe(200);
    const { text, error } = await within(readAll(res), "the cut stream", 5000);
    expect(error).toBeUndefined();
    expect(performance.now() - started).toBeGreaterThanOrEqual(590);
    const all = events(text);
    expect(all.length).toBeGreaterThan(3);
    expect(all.slice(0, -1).every((e) => e.includes('"content":"c'))).toBe(true);
    const cut = dataOf(all.at(-1)!) as { error: { code: string; message: string } };
    expect(cut.error.code).toBe("stream_cut");
    expect(cut.error.message).toContain("total time ran out");
    expect(text).not.toContain("[DONE]");
    await waitFor(() => stream.cancelled || a.received[0]!.signal.aborted, "a's stream to be aborted", 2000);
    await waitFor(() => cooling(proxy).length === 1, "the pair to cool down", 2000);
    expect(cooldownOf(proxy, "a/model-a")!.reason).toBe("stream cut: the request's total time ran out");
    expect(b.received.length).toBe(0);
  });
});
