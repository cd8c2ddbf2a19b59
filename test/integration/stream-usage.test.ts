import { describe, expect, test } from "bun:test";
import { chatChunk, FakeProvider } from "../helpers/fake-provider.ts";
import { post } from "../helpers/http.ts";
import { startProxy } from "../helpers/proxy.ts";

const usageChunk = `data: ${JSON.stringify({ id: "chatcmpl-1", object: "chat.completion.chunk", choices: [], usage: { prompt_tokens: 7, completion_tokens: 2, total_tokens: 9 } })}\n\n`;

/** A provider that sends the usage chunk only when asked for it, as OpenAI does. */
const provider = () =>
  new FakeProvider((r) => {
    const body = JSON.parse(r.text) as { stream_options?: { include_usage?: boolean } };
    const usage = body.stream_options?.include_usage ? usageChunk : "";
    return new Response(`${chatChunk("hi")}${usage}data: [DONE]\n\n`, { headers: { "content-type": "text/event-stream" } });
  });

const config = (url: string, mode: string) => `
backends: [{ name: a, url: "${url}/v1", stream_usage: ${mode} }]
models: { m: { routes: [{ backend: a, model: model-a }] } }
`;

describe("stream_usage: inject", () => {
  test("asks the provider for usage and takes the usage chunk out for a client that did not ask; the rest of the body byte for byte", async () => {
    await using p = provider();
    await using proxy = startProxy(config(p.url, "inject"));
    const sent = '{"model":"m","stream":true,"messages":[{"role":"user","content":"x"}]}';
    const res = await post(`${proxy.url}/v1/chat/completions`, sent);
    expect(await res.text()).toBe(`${chatChunk("hi")}data: [DONE]\n\n`);
    expect(p.received[0]!.text).toBe('{"stream_options":{"include_usage":true},"model":"model-a","stream":true,"messages":[{"role":"user","content":"x"}]}');
  });

  test("a client that asked for usage gets it, and its body is not touched", async () => {
    await using p = provider();
    await using proxy = startProxy(config(p.url, "inject"));
    const res = await post(`${proxy.url}/v1/chat/completions`, { model: "m", stream: true, stream_options: { include_usage: true } });
    expect(await res.text()).toBe(`${chatChunk("hi")}${usageChunk}data: [DONE]\n\n`);
    expect(p.received[0]!.text).toBe('{"model":"model-a","stream":true,"stream_options":{"include_usage":true}}');
  });

  test("without it (auto), a passed-through body is sent as the client wrote it", async () => {
    await using p = provider();
    await using proxy = startProxy(config(p.url, "auto"));
    const res = await post(`${proxy.url}/v1/chat/completions`, { model: "m", stream: true });
    expect(await res.text()).toBe(`${chatChunk("hi")}data: [DONE]\n\n`);
    expect(p.received[0]!.text).toBe('{"model":"model-a","stream":true}');
  });
});
