import { describe, expect, test } from "bun:test";
import { cooldownKey } from "../../src/config/pair.ts";
import { chatChunk, chatCompletion, FakeProvider, ScriptedStream, waitFor } from "../helpers/fake-provider.ts";
import { dataOf, events, oneRoute, RawProvider, readAll, twoRoutes } from "../helpers/faults.ts";
import { post } from "../helpers/http.ts";
import { startProxy } from "../helpers/proxy.ts";

/** Providers that answer in ways no provider should, each reproduced against the proxy. */

const BACKEND_KEY_A = "sk-first-backend-key-1111";

describe("malformed heads fail the route", () => {
  test("Transfer-Encoding with Content-Length (RFC 9112 6.3) falls back, and a stream on another alias is untouched", async () => {
    await using smuggler = new RawProvider((ex) => {
      const body = JSON.stringify(chatCompletion("smuggled"));
      ex.write(`HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ntransfer-encoding: chunked\r\ncontent-length: 5\r\n\r\n${body.length.toString(16)}\r\n${body}\r\n0\r\n\r\n`);
    });
    await using good = new FakeProvider(() => Response.json(chatCompletion("from b")));
    const stream = new ScriptedStream();
    await using streamer = new FakeProvider(() => stream.response());
    await using proxy = startProxy(`
backends:
  - { name: a, url: "${smuggler.url}/v1" }
  - { name: b, url: "${good.url}/v1" }
  - { name: s, url: "${streamer.url}/v1" }
models:
  m: { routes: [{ backend: a, model: model-a, priority: 1 }, { backend: b, model: model-b, priority: 2 }] }
  other: { routes: [{ backend: s, model: streamed }] }
fallback: { cooldown_seconds: 30 }
`);
    const pending = post(`${proxy.url}/v1/chat/completions`, { model: "other", stream: true });
    stream.send(chatChunk("one"));
    const other = await pending;
    const reader = other.body!.getReader();
    const seen = new TextDecoder().decode((await reader.read()).value);
    expect(seen).toContain("one");

    const res = await post(`${proxy.url}/v1/chat/completions`, { model: "m" });
    expect(res.status).toBe(200);
    expect(res.headers.get("x-llm-proxy-backend")).toBe("b");
    expect(((await res.json()) as ReturnType<typeof chatCompletion>).choices[0]!.message.content).toBe("from b");
    expect(proxy.proxy.cooldowns.get(cooldownKey("a", "model-a"))?.reason).toContain("Transfer-Encoding and Content-Length");

    stream.send(chatChunk("two"));
    stream.send("data: [DONE]\n\n");
    stream.end();
    let rest = "";
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      rest += new TextDecoder().decode(value);
    }
    expect(rest).toContain("two");
    expect(rest).toContain("data: [DONE]");
  });

  for (const status of [999, 600]) {
    test(`a status of ${status} falls back, and the request does not stay in flight`, async () => {
      await using odd = new RawProvider((ex) => {
        ex.write(`HTTP/1.1 ${status} Odd\r\ncontent-type: application/json\r\ncontent-length: 2\r\n\r\n{}`);
      });
      await using good = new FakeProvider(() => Response.json(chatCompletion("from b")));
      await using proxy = startProxy(twoRoutes(odd.url, good.url));
      const res = await post(`${proxy.url}/v1/chat/completions`, { model: "m" });
      expect(res.status).toBe(200);
      expect(res.headers.get("x-llm-proxy-backend")).toBe("b");
      await res.text();
      expect(proxy.proxy.cooldowns.get(cooldownKey("a", "model-a"))?.reason).toContain(`status ${status}`);
      await waitFor(() => proxy.proxy.inFlight() === 0, "no request in flight");
    });
  }

  test(`a status of 999 from the only route is a 502 in the client's protocol, never a 500`, async () => {
    await using odd = new RawProvider((ex) => ex.write("HTTP/1.1 999 Odd\r\ncontent-length: 0\r\n\r\n"));
    await using proxy = startProxy(oneRoute(odd.url));
    const res = await post(`${proxy.url}/v1/messages`, { model: "m", max_tokens: 5, messages: [] });
    expect(res.status).toBe(502);
    const body = (await res.json()) as { type: string; error: { type: string; message: string } };
    expect(body.type).toBe("error");
    expect(body.error.message).toContain("status 999");
  });
});

describe("a stream framed by closing the connection", () => {
  test("reset half-way is ended towards the client as cut, not as a finished stream", async () => {
    await using provider = new RawProvider((ex) => {
      // No content-length, no chunked: the body ends when the connection does.
      ex.write("HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\nconnection: close\r\n\r\n");
      ex.write(chatChunk("one"));
      ex.write(chatChunk("two"));
      ex.reset();
    });
    await using proxy = startProxy(oneRoute(provider.url));
    const res = await post(`${proxy.url}/v1/chat/completions`, { model: "m", stream: true });
    expect(res.status).toBe(200);
    const { text } = await readAll(res);
    const all = events(text);
    expect(all.length).toBe(3);
    expect((dataOf(all[2]!) as { error: { code: string } }).error.code).toBe("stream_cut");
    expect(text).not.toContain("[DONE]");
    await waitFor(() => proxy.proxy.cooldowns.get(cooldownKey("a", "model-a")) !== undefined, "the pair to cool down");
  });

  test("ended cleanly after its [DONE] is complete", async () => {
    await using provider = new RawProvider((ex) => {
      ex.write("HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\nconnection: close\r\n\r\n");
      ex.write(`${chatChunk("one")}data: [DONE]\n\n`);
      ex.end();
    });
    await using proxy = startProxy(oneRoute(provider.url));
    const res = await post(`${proxy.url}/v1/chat/completions`, { model: "m", stream: true });
    const { text } = await readAll(res);
    expect(text).toBe(`${chatChunk("one")}data: [DONE]\n\n`);
    expect(proxy.proxy.cooldowns.active(Date.now())).toEqual([]);
  });
});

describe("keys in answers are masked wherever they are passed back", () => {
  const echo = (status: number) =>
    new FakeProvider(
      (r) =>
        new Response(JSON.stringify({ error: { message: `Incorrect API key provided: ${r.headers.get("authorization")?.slice(7)}` } }), {
          status,
          headers: { "content-type": "application/json", "www-authenticate": `Bearer realm="api", key="${r.headers.get("authorization")?.slice(7)}"`, "x-echo": r.headers.get("authorization") ?? "" },
        }),
    );

  test("the final 401 when every route failed: body and every header", async () => {
    await using provider = echo(401);
    await using proxy = startProxy(oneRoute(provider.url));
    const res = await post(`${proxy.url}/v1/chat/completions`, { model: "m" });
    expect(res.status).toBe(401);
    const all = `${[...res.headers].map(([n, v]) => `${n}: ${v}`).join("\n")}\n${await res.text()}`;
    expect(all).not.toContain(BACKEND_KEY_A);
    expect(res.headers.get("www-authenticate")).toContain("sk-fi****1111");
    expect(res.headers.get("x-echo")).toContain("sk-fi****1111");
  });

  test("a 401 that is not in error_codes, returned as is: body and every header", async () => {
    await using provider = echo(401);
    await using proxy = startProxy(oneRoute(provider.url, `detection: { error_codes: ["5xx"] }`));
    const res = await post(`${proxy.url}/v1/chat/completions`, { model: "m" });
    expect(res.status).toBe(401);
    const text = await res.text();
    expect(text).toContain("Incorrect API key provided: sk-fi****1111");
    expect([...res.headers].map(([, v]) => v).join(" ")).not.toContain(BACKEND_KEY_A);
    expect(text).not.toContain(BACKEND_KEY_A);
  });

  test("a long non-2xx answer passed on as it comes is masked, a key split between reads included", async () => {
    // A 404 not in error_codes whose body is far larger than limits.inspect_kib, with the key at many offsets.
    const filler = "x".repeat(997);
    await using provider = new FakeProvider((r) => {
      const key = r.headers.get("authorization")!.slice(7);
      const parts = Array.from({ length: 2000 }, (_, i) => `${filler.slice(0, i % 997)} ${key} `);
      return new Response(new ReadableStream({ pull(c) { const next = parts.shift(); if (next === undefined) c.close(); else c.enqueue(new TextEncoder().encode(next)); } }), { status: 404, headers: { "content-type": "text/plain" } });
    });
    await using proxy = startProxy(oneRoute(provider.url, `detection: { error_codes: ["5xx"] }\nlimits: { inspect_kib: 4 }`));
    const res = await post(`${proxy.url}/v1/chat/completions`, { model: "m" });
    expect(res.status).toBe(404);
    const text = await res.text();
    expect(text).not.toContain(BACKEND_KEY_A);
    expect(text.split("sk-fi****1111").length - 1).toBe(2000);
  });
});

describe("provider headers that do not belong to the client", () => {
  test("cookies, HSTS, Alt-Svc and the account's organization and project are dropped; rate limits and ids pass", async () => {
    await using provider = new FakeProvider(() => {
      const headers = new Headers({
        "content-type": "application/json",
        "openai-organization": "org-acme",
        "openai-project": "proj_acme",
        "anthropic-organization-id": "acme-org-id",
        "alt-svc": 'h3=":443"; ma=86400',
        "strict-transport-security": "max-age=31536000",
        "x-ratelimit-remaining-requests": "59",
        "request-id": "req_upstream_1",
      });
      headers.append("set-cookie", "__cf_bm=abc; Domain=api.openai.com");
      return new Response(JSON.stringify(chatCompletion("hi")), { headers });
    });
    await using proxy = startProxy(oneRoute(provider.url));
    const res = await post(`${proxy.url}/v1/chat/completions`, { model: "m" });
    expect(res.status).toBe(200);
    for (const name of ["set-cookie", "openai-organization", "openai-project", "anthropic-organization-id", "alt-svc", "strict-transport-security"]) expect([name, res.headers.get(name)]).toEqual([name, null]);
    expect(res.headers.get("x-ratelimit-remaining-requests")).toBe("59");
    expect(res.headers.get("request-id")).toBe("req_upstream_1");
  });
});

describe("hostile clients", () => {
  test('a body with "model" twice (the second spelt with an escape) is refused, nothing goes upstream', async () => {
    await using provider = new FakeProvider(() => Response.json(chatCompletion("hi")));
    await using proxy = startProxy(oneRoute(provider.url));
    for (const body of ['{"model":"m","mod\\u0065l":"model-x"}', '{"model":"m","model":"m"}', '{"messages":[],"model":"m","mode\\u006c":"m"}']) {
      const res = await post(`${proxy.url}/v1/chat/completions`, body);
      expect([body, res.status]).toEqual([body, 400]);
      expect(((await res.json()) as { error: { message: string; code: string } }).error).toMatchObject({ code: "duplicate_model" });
    }
    expect(provider.received.length).toBe(0);
  });

  test("the proxy key in the client's query is not forwarded; the backend URL's own key parameter stays", async () => {
    await using provider = new FakeProvider(() => Response.json(chatCompletion("hi")));
    await using proxy = startProxy(`
proxy_api_key: sk-proxy-key-000000000000
backends:
  - { name: a, url: "${provider.url}/v1?key=AIzaBackendOwnKey0000000000000000", api_key: "" }
models:
  m: { routes: [{ backend: a, model: model-a }] }
`);
    const res = await post(`${proxy.url}/v1/chat/completions?key=sk-proxy-key-000000000000&alt=sse&api_key=sk-proxy-key-000000000000`, { model: "m" }, { authorization: "Bearer sk-proxy-key-000000000000" });
    expect(res.status).toBe(200);
    const search = provider.received[0]!.url.search;
    expect(search).not.toContain("sk-proxy-key");
    expect(search).toBe("?alt=sse&key=AIzaBackendOwnKey0000000000000000");
  });
});

describe("first_byte_seconds bounds the head, not the body", () => {
  test("a quick head and a JSON body that trickles in over several first-byte periods is served", async () => {
    const body = JSON.stringify(chatCompletion("slow but steady"));
    const pieces = body.match(/.{1,10}/g)!;
    await using provider = new RawProvider((ex) => {
      ex.writeHead(200, { "content-type": "application/json" });
      let i = 0;
      const next = () => {
        if (ex.isClosed) return;
        if (i === pieces.length) return ex.endChunked();
        ex.chunk(pieces[i++]!);
        setTimeout(next, 60);
      };
      next();
    });
    // first_byte 0.3 s; the body takes pieces × 60 ms, well past it, with no gap near idle_seconds (2 s).
    await using proxy = startProxy(oneRoute(provider.url, "fallback: { cooldown_seconds: 30 }", "timeouts: { connect_seconds: 0.2, first_byte_seconds: 0.3, idle_seconds: 2 }"));
    const res = await post(`${proxy.url}/v1/chat/completions`, { model: "m" });
    expect(res.status).toBe(200);
    expect(await res.text()).toBe(body);
    expect(pieces.length * 60).toBeGreaterThan(3 * 300);
  });

  test("a JSON body that stops mid-way for longer than idle_seconds fails the route as idle", async () => {
    await using provider = new RawProvider((ex) => {
      ex.writeHead(200, { "content-type": "application/json" });
      ex.chunk('{"id":"x","choices":[');
    });
    await using good = new FakeProvider(() => Response.json(chatCompletion("from b")));
    await using proxy = startProxy(twoRoutes(provider.url, good.url, "fallback: { cooldown_seconds: 30 }", "timeouts: { connect_seconds: 0.2, first_byte_seconds: 5, idle_seconds: 0.3 }"));
    const res = await post(`${proxy.url}/v1/chat/completions`, { model: "m" });
    expect(res.status).toBe(200);
    expect(res.headers.get("x-llm-proxy-backend")).toBe("b");
    expect(proxy.proxy.cooldowns.get(cooldownKey("a", "model-a"))?.reason).toBe("no data for 0.3 s while reading the answer");
  });
});
