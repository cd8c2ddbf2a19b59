import { describe, expect, test } from "bun:test";
import OpenAI from "openai";
import { cooldownKey } from "../../src/config/pair.ts";
import { chatChunk, chatCompletion, FakeProvider, ScriptedStream, waitFor } from "../helpers/fake-provider.ts";
import { cooling, twoRoutes } from "../helpers/faults.ts";
import { post } from "../helpers/http.ts";
import { startProxy } from "../helpers/proxy.ts";

/** A provider that serves chat only: anything else is a 404 about the path (as most servers word it). */
const chatOnly = (answer = "from a") =>
  new FakeProvider((r) => {
    if (r.url.pathname.endsWith("/chat/completions")) return Response.json(chatCompletion(answer));
    return new Response("404 page not found", { status: 404, headers: { "content-type": "text/plain" } });
  });

const embeddings = { model: "m", input: "hello" };

describe("a 404, 405 or 501 for a path the provider does not serve", () => {
  test("falls back to the next route and cools nothing: chat on the same alias still goes to the first route", async () => {
    await using a = chatOnly();
    await using b = new FakeProvider((r) => (r.url.pathname.endsWith("/embeddings") ? Response.json({ object: "list", data: [{ embedding: [0.1] }] }) : Response.json(chatCompletion("from b"))));
    await using proxy = startProxy(twoRoutes(a.url, b.url));
    const res = await post(`${proxy.url}/v1/embeddings`, embeddings);
    expect(res.status).toBe(200);
    expect(res.headers.get("x-llm-proxy-backend")).toBe("b");
    expect(cooling(proxy)).toEqual([]);
    const chat = await post(`${proxy.url}/v1/chat/completions`, { model: "m", messages: [] });
    expect(chat.headers.get("x-llm-proxy-backend")).toBe("a");
    expect(proxy.log.text).toContain("not cooled down: the provider does not serve /v1/embeddings");
  });

  test("when every route says so, the client gets the provider's own 404 at once (the OpenAI SDK does not wait on a Retry-After), and nothing cools", async () => {
    await using a = chatOnly();
    await using b = chatOnly("from b");
    await using proxy = startProxy(twoRoutes(a.url, b.url));
    const client = new OpenAI({ baseURL: `${proxy.url}/v1`, apiKey: "unused", maxRetries: 0 });
    const started = performance.now();
    const error = await client.embeddings.create({ model: "m", input: "hello" }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(OpenAI.NotFoundError);
    expect((error as InstanceType<typeof OpenAI.NotFoundError>).headers?.get("retry-after") ?? null).toBeNull();
    expect(performance.now() - started).toBeLessThan(5000);
    expect(cooling(proxy)).toEqual([]);
    for (const method of [405, 501]) {
      await using p = new FakeProvider(() => new Response("nope", { status: method }));
      await using q = startProxy(twoRoutes(p.url, b.url, `fallback: { cooldown_seconds: 30 }\ndetection: { error_codes: ["404", "405", "5xx"] }`));
      const r = await post(`${q.url}/v1/embeddings`, embeddings);
      expect([method, r.status]).toEqual([method, 404]);
      expect(cooling(q)).toEqual([]);
    }
  });

  test("a 404 about the model (OpenAI's model_not_found, or a body naming the route's model) still cools the pair", async () => {
    await using openaiStyle = new FakeProvider(() => Response.json({ error: { message: "The model `model-a` does not exist", type: "invalid_request_error", code: "model_not_found" } }, { status: 404 }));
    await using ollamaStyle = new FakeProvider(() => Response.json({ error: 'model "model-a" not found, try pulling it first' }, { status: 404 }));
    await using good = new FakeProvider(() => Response.json(chatCompletion("from b")));
    for (const bad of [openaiStyle, ollamaStyle]) {
      await using proxy = startProxy(twoRoutes(bad.url, good.url));
      const res = await post(`${proxy.url}/v1/chat/completions`, { model: "m", messages: [] });
      expect(res.headers.get("x-llm-proxy-backend")).toBe("b");
      expect(proxy.proxy.cooldowns.get(cooldownKey("a", "model-a"))?.status).toBe(404);
    }
  });
});

describe("a client that closes after the final event", () => {
  test("the OpenAI SDK reading a stream to [DONE] is a served request, not a client that went away", async () => {
    const stream = new ScriptedStream();
    await using provider = new FakeProvider(() => stream.response());
    await using proxy = startProxy(`
backends: [{ name: a, url: "${provider.url}/v1" }]
models: { m: { routes: [{ backend: a, model: model-a }] } }
logging: { level: debug }
`);
    const done: string[] = [];
    const client = new OpenAI({ baseURL: `${proxy.url}/v1`, apiKey: "unused", maxRetries: 0 });
    stream.send(chatChunk("hel"));
    const answer = await client.chat.completions.create({ model: "m", messages: [{ role: "user", content: "hi" }], stream: true });
    let text = "";
    let k = 0;
    for await (const chunk of answer) {
      text += chunk.choices[0]?.delta?.content ?? "";
      // The provider sends the next piece only once the client has this one; [DONE] last, and the connection stays open after it.
      if (k++ === 0) stream.send(`${chatChunk("lo")}data: [DONE]\n\n`);
    }
    done.push(text);
    expect(done).toEqual(["hello"]);
    // The provider has not closed yet; the client now closes its side, as SDKs and agents do.
    answer.controller.abort();
    await waitFor(() => /stream from a\/model-a complete|went away/.test(proxy.log.text), "the stream's end to be logged");
    expect(proxy.log.text).toContain("stream from a/model-a complete");
    expect(proxy.log.text).not.toContain("went away");
    // The proxy let the provider go as soon as the client left.
    await waitFor(() => stream.cancelled, "the provider's stream to be cancelled");
  });
});
