import { describe, expect, test } from "bun:test";
import { brotliCompressSync } from "node:zlib";
import { chatCompletion, echo, FakeProvider } from "../helpers/fake-provider.ts";
import { cooldownOf, cooling, oneRoute, RawProvider, twoRoutes } from "../helpers/faults.ts";
import { post, within } from "../helpers/http.ts";
import { startProxy, type TestProxy } from "../helpers/proxy.ts";
import { RawClient } from "../helpers/raw-http.ts";

/** Faults in bodies, both ways: answers that are errors, cut, or compressed; requests that are too large. */

const portOf = (proxy: TestProxy) => Number(new URL(proxy.url).port);

async function nextIsServedBy(proxy: TestProxy, model: string): Promise<void> {
  const res = await post(`${proxy.url}/v1/chat/completions`, { model: "m" });
  expect(res.status).toBe(200);
  expect(((await res.json()) as { model: string }).model).toBe(model);
}

describe("answers whose body is the fault", () => {
  test("a 200 JSON answer with a top-level error falls back and cools the pair", async () => {
    await using first = new FakeProvider(() => Response.json({ error: { message: "upstream overloaded", type: "server_error" } }));
    await using second = new FakeProvider(echo);
    await using proxy = startProxy(twoRoutes(first.url, second.url));
    const res = await post(`${proxy.url}/v1/chat/completions`, { model: "m" });
    expect(res.status).toBe(200);
    const text = await res.text();
    expect(text).not.toContain("overloaded");
    expect((JSON.parse(text) as { model: string }).model).toBe("model-b");
    expect(first.received.length).toBe(1);
    expect(cooling(proxy)).toEqual(["a/model-a"]);
    expect(cooldownOf(proxy, "a/model-a")!.reason).toBe("status 200 with an error body");
    await nextIsServedBy(proxy, "model-b");
    expect(first.received.length).toBe(1);
  });

  test("a JSON body cut mid-way (connection closed before content-length bytes) falls back as a network error", async () => {
    const whole = JSON.stringify(chatCompletion("never complete"));
    await using raw = new RawProvider((x) => {
      x.write(`HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: ${whole.length}\r\n\r\n${whole.slice(0, 40)}`);
      x.end();
    });
    await using second = new FakeProvider(echo);
    await using proxy = startProxy(twoRoutes(raw.url, second.url));
    const res = await post(`${proxy.url}/v1/chat/completions`, { model: "m" });
    expect(res.status).toBe(200);
    const text = await res.text();
    expect(text).not.toContain("never complete");
    expect((JSON.parse(text) as { model: string }).model).toBe("model-b");
    expect(raw.exchanges.length).toBe(1);
    expect(cooling(proxy)).toEqual(["a/model-a"]);
    expect(cooldownOf(proxy, "a/model-a")!.reason).toContain("network error");
    await nextIsServedBy(proxy, "model-b");
  });

  // Complete HTTP messages (content-length matches) whose JSON is not: the route failed, nothing was sent yet.
  const whole = JSON.stringify(chatCompletion("half an answer"));
  const cutShort: [string, string][] = [
    ["cut in the middle of a string", whole.slice(0, 60)],
    ["cut right after an inner object closed", whole.slice(0, whole.indexOf("}") + 1)],
    ["cut right after an inner array closed", whole.slice(0, whole.lastIndexOf("]") + 1)],
  ];
  for (const [what, truncated] of cutShort) {
    test(`a complete 200 answer whose JSON is ${what} falls back and cools the pair`, async () => {
      await using first = new FakeProvider(() => new Response(truncated, { headers: { "content-type": "application/json" } }));
      await using second = new FakeProvider(echo);
      await using proxy = startProxy(twoRoutes(first.url, second.url));
      const res = await post(`${proxy.url}/v1/chat/completions`, { model: "m" });
      expect(res.status).toBe(200);
      expect(res.headers.get("x-llm-proxy-backend")).toBe("b");
      expect(((await res.json()) as { model: string }).model).toBe("model-b");
      expect(cooling(proxy)).toEqual(["a/model-a"]);
      expect(cooldownOf(proxy, "a/model-a")!.reason).toBe("status 200 with a JSON body that is cut short or malformed");
    });
  }

  test("a 200 error body from the only route comes back as 502 with that body", async () => {
    const body = JSON.stringify({ error: { message: "upstream overloaded", type: "server_error" } });
    await using only = new FakeProvider(() => new Response(body, { headers: { "content-type": "application/json" } }));
    await using proxy = startProxy(oneRoute(only.url));
    const res = await post(`${proxy.url}/v1/chat/completions`, { model: "m" });
    expect(res.status).toBe(502);
    expect(await res.text()).toBe(body);
    expect(only.received.length).toBe(1);
    expect(cooling(proxy)).toEqual(["a/model-a"]);
  });

  test("a body that is neither JSON nor SSE, cut half-way, reaches the client as an aborted body", async () => {
    await using raw = new RawProvider((x) => {
      x.write("HTTP/1.1 200 OK\r\ncontent-type: audio/mpeg\r\ncontent-length: 100000\r\n\r\n");
      x.write(new Uint8Array(30000).fill(7));
    });
    await using proxy = startProxy(twoRoutes(raw.url, raw.url));
    const res = await post(`${proxy.url}/v1/audio/speech`, { model: "m", input: "hi" });
    expect(res.status).toBe(200);
    const reader = res.body!.getReader();
    let got = 0;
    const outcome = within(
      (async () => {
        try {
          for (;;) {
            const { done, value } = await reader.read();
            if (done) return "ended";
            got += value.length;
            if (got >= 30000) raw.exchanges[0]!.reset();
          }
        } catch {
          return "aborted";
        }
      })(),
      "the body to end one way or the other",
      5000,
    );
    // Never a complete-looking answer: a clean end with 30,000 of 100,000 bytes would be one.
    expect(await outcome).toBe("aborted");
    expect(got).toBeLessThan(100000);
  });

  const encodings: [string, (text: string) => Uint8Array][] = [
    ["gzip", (t) => Bun.gzipSync(t)],
    ["br", (t) => new Uint8Array(brotliCompressSync(t))],
  ];
  for (const [encoding, compress] of encodings) {
    test(`a ${encoding} JSON answer reaches the client as the plain body with no content-encoding`, async () => {
      const answer = JSON.stringify(chatCompletion(`compressed with ${encoding} `.repeat(100)));
      await using first = new FakeProvider(() => new Response(compress(answer), { headers: { "content-type": "application/json", "content-encoding": encoding } }));
      await using proxy = startProxy(twoRoutes(first.url, first.url));
      const res = await fetch(`${proxy.url}/v1/chat/completions`, {
        method: "POST",
        body: JSON.stringify({ model: "m" }),
        headers: { "content-type": "application/json", "accept-encoding": "gzip, br" },
        decompress: false,
      } as RequestInit);
      expect(res.status).toBe(200);
      expect(res.headers.get("content-encoding")).toBeNull();
      const raw = new Uint8Array(await res.arrayBuffer());
      expect(new TextDecoder().decode(raw)).toBe(answer);
      const length = res.headers.get("content-length");
      if (length !== null) expect(Number(length)).toBe(raw.length);
      expect(cooling(proxy)).toEqual([]);
      expect(first.received.length).toBe(1);
    });
  }
});

describe("request bodies over limits.max_body_mb", () => {
  test("a declared 100 MiB body is refused 413 from its head alone, in OpenAI's shape", async () => {
    await using provider = new FakeProvider(echo);
    await using proxy = startProxy(twoRoutes(provider.url, provider.url));
    const client = await RawClient.connect(portOf(proxy));
    await client.write(
      "POST /v1/chat/completions HTTP/1.1\r\nhost: 127.0.0.1\r\ncontent-type: application/json\r\ncontent-length: 104857600\r\n\r\n" + '{"model":"m","messages":[{"role":"user","content":"' + "x".repeat(4096),
    );
    // Only 4 KiB of the 100 MiB were sent: an answer now proves the proxy did not wait for the rest.
    const head = await within(client.response, "the 413 before the body is sent", 5000);
    expect(head.status).toBe(413);
    expect(head.headers.get("content-type")).toContain("application/json");
    const length = Number(head.headers.get("content-length"));
    await within(
      (async () => {
        while (new TextEncoder().encode(client.text).length < length) await Bun.sleep(5);
      })(),
      "the 413 body",
      5000,
    );
    const body = JSON.parse(client.text) as { error: { type: string; code: string; message: string } };
    expect(body.error.type).toBe("invalid_request_error");
    expect(body.error.code).toBe("request_too_large");
    expect(body.error.message).toContain("104857600");
    client.close();
    expect(provider.received.length).toBe(0);
    await nextIsServedBy(proxy, "model-a");
  });

  /** Sends `size` bytes of a chunked JSON body in 64 KiB chunks; the last chunk only when `finish`. */
  async function sendChunked(client: RawClient, path: string, size: number, finish: boolean): Promise<void> {
    await client.write(`POST ${path} HTTP/1.1\r\nhost: 127.0.0.1\r\ncontent-type: application/json\r\ntransfer-encoding: chunked\r\n\r\n`);
    const frame = (text: string) => `${new TextEncoder().encode(text).length.toString(16)}\r\n${text}\r\n`;
    const piece = new TextEncoder().encode(frame("x".repeat(0x10000)));
    await client.write(frame('{"model":"m","x":"'));
    // The proxy may answer and close before it has all of it: that is allowed, so writes are not awaited past an answer.
    let answered = false;
    client.response.then(
      () => (answered = true),
      () => (answered = true),
    );
    for (let sent = 0; sent < size && !answered; sent += 0x10000) await Promise.race([client.write(piece), client.response]);
    if (finish && !answered) await client.write(`${frame('"}')}0\r\n\r\n`);
  }

  test("a chunked body over the limit is refused 413", async () => {
    await using provider = new FakeProvider(echo);
    await using proxy = startProxy(twoRoutes(provider.url, provider.url, "limits: { max_body_mb: 1 }"));
    const client = await RawClient.connect(portOf(proxy));
    await sendChunked(client, "/v1/messages", 2 << 20, true);
    const head = await within(client.response, "the 413", 5000);
    expect(head.status).toBe(413);
    client.close();
    expect(provider.received.length).toBe(0);
    await nextIsServedBy(proxy, "model-a");
  });

  test("a chunked body is refused 413 as soon as it passes the limit, without waiting for its end", async () => {
    await using provider = new FakeProvider(echo);
    await using proxy = startProxy(twoRoutes(provider.url, provider.url, "limits: { max_body_mb: 1 }"));
    const client = await RawClient.connect(portOf(proxy));
    // 2 MiB against a 1 MiB limit, and the body never ends: only reading it whole could keep the proxy from answering.
    await sendChunked(client, "/v1/chat/completions", 2 << 20, false);
    try {
      const head = await within(client.response, "a 413 while the over-limit body is still open", 5000);
      expect(head.status).toBe(413);
    } finally {
      client.close();
    }
    expect(provider.received.length).toBe(0);
    await nextIsServedBy(proxy, "model-a");
  });
});
