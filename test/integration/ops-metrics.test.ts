import { afterAll, describe, expect, test } from "bun:test";
import { promtool, promtoolTool } from "../helpers/promtool.ts";
import { chatChunk, chatCompletion, FakeProvider, modelOf, waitFor } from "../helpers/fake-provider.ts";
import { post } from "../helpers/http.ts";
import { killAllProxies, ProxyProcess, sample } from "../helpers/proxy-process.ts";

afterAll(killAllProxies);

const KEY = "sk-proxy-metrics-0123456789abcdef";
const SSE = `${chatChunk("Hel")}${chatChunk("lo")}data: [DONE]\n\n`;

/** "limited" answers 429, "down*" 500, anything else works (streamed when asked). */
const provider = () =>
  new FakeProvider((r) => {
    const model = modelOf(r);
    if (model === "limited") return Response.json({ error: { message: "rate limited" } }, { status: 429 });
    if (model.startsWith("down")) return Response.json({ error: { message: "down" } }, { status: 500 });
    if ((JSON.parse(r.text) as { stream?: boolean }).stream) return new Response(SSE, { headers: { "content-type": "text/event-stream" } });
    return Response.json(chatCompletion("hi", model));
  });

function config(url: string, tail = ""): string {
  return `listen: "127.0.0.1:0"
proxy_api_key: ${KEY}
backends:
  - { name: a, url: "${url}/v1" }
  - { name: b, url: "${url}/v1" }
models:
  m:
    routes:
      - { backend: a, model: limited, priority: 1 }
      - { backend: b, model: good, priority: 2 }
  n: { routes: [{ backend: a, model: down }] }
  f: { routes: [{ backend: a, model: down-too }] }
fallback:
  cooldown_seconds: 300
  alias_fallback:
    n: [m]
${tail}`;
}

const scrape = async (proxy: ProxyProcess, headers: Record<string, string> = { "x-api-key": KEY }) => {
  const res = await fetch(`${proxy.url}/metrics`, { headers });
  return { status: res.status, type: res.headers.get("content-type"), text: await res.text() };
};
const ask = (proxy: ProxyProcess, model: string, stream = false) => post(`${proxy.url}/v1/chat/completions`, { model, stream, messages: [] }, { "x-api-key": KEY });

describe("/metrics of the real process", () => {
  test("counters move as requests succeed, fall back (l1 and l2), fail, cool pairs down and stream", async () => {
    await using up = provider();
    await using proxy = await ProxyProcess.start(config(up.url));
    const before = (await scrape(proxy)).text;
    expect(sample(before, "llm_proxy_requests_total", { alias: "m", outcome: "served", status: "200" })).toBeUndefined();
    expect(sample(before, "llm_proxy_cooldowns_active")).toBe(0);

    const first = await ask(proxy, "m");
    expect(first.headers.get("x-llm-proxy-attempts")).toBe("2");
    const mid = (await scrape(proxy)).text;
    expect(sample(mid, "llm_proxy_requests_total", { alias: "m", outcome: "served", status: "200" })).toBe(1);
    expect(sample(mid, "llm_proxy_fallbacks_total", { level: "l1", backend: "b", model: "good" })).toBe(1);

    const streamed = await ask(proxy, "n", true);
    expect(await streamed.text()).toBe(SSE);
    expect((await ask(proxy, "f")).status).toBe(500);
    expect((await ask(proxy, "m")).headers.get("x-llm-proxy-attempts")).toBe("1");

    // The stream's bytes are counted when it ends, just after the client has read them.
    let text = "";
    await waitFor(async () => sample((text = (await scrape(proxy)).text), "llm_proxy_streamed_bytes_total", { backend: "b", model: "good" }) !== undefined, "the streamed bytes");
    const expected: [string, Record<string, string>, number][] = [
      ["llm_proxy_requests_total", { alias: "m", outcome: "served", status: "200" }, 2],
      ["llm_proxy_requests_total", { alias: "n", outcome: "served", status: "200" }, 1],
      ["llm_proxy_requests_total", { alias: "f", outcome: "failed", status: "500" }, 1],
      ["llm_proxy_upstream_attempts_total", { backend: "a", model: "limited", result: "failure" }, 1],
      ["llm_proxy_upstream_attempts_total", { backend: "a", model: "down", result: "failure" }, 1],
      ["llm_proxy_upstream_attempts_total", { backend: "a", model: "down-too", result: "failure" }, 1],
      ["llm_proxy_upstream_attempts_total", { backend: "b", model: "good", result: "ok" }, 3],
      ["llm_proxy_fallbacks_total", { level: "l1", backend: "b", model: "good" }, 1],
      ["llm_proxy_fallbacks_total", { level: "l2", backend: "b", model: "good" }, 1],
      ["llm_proxy_cooldowns_entered_total", { backend: "a", model: "limited", reason: "status_429" }, 1],
      ["llm_proxy_cooldowns_entered_total", { backend: "a", model: "down", reason: "status_500" }, 1],
      ["llm_proxy_cooldowns_entered_total", { backend: "a", model: "down-too", reason: "status_500" }, 1],
      ["llm_proxy_streamed_bytes_total", { backend: "b", model: "good" }, new TextEncoder().encode(SSE).length],
      ["llm_proxy_cooldowns_active", {}, 3],
      ["llm_proxy_upstream_latency_seconds_count", { backend: "b", model: "good" }, 3],
      ["llm_proxy_upstream_first_byte_seconds_count", { backend: "b", model: "good" }, 3],
    ];
    for (const [name, labels, value] of expected) expect([name, labels, sample(text, name, labels)]).toEqual([name, labels, value]);
    expect(text).not.toContain("llm_proxy_config_reloads_total{");
  });

  test("reloads are counted as ok or rejected, and metrics.public opens /metrics without the key", async () => {
    await using up = provider();
    await using proxy = await ProxyProcess.start(config(up.url));
    expect((await scrape(proxy, {})).status).toBe(401);
    expect((await scrape(proxy, { authorization: "Bearer wrong" })).status).toBe(401);
    const keyed = await scrape(proxy, { authorization: `Bearer ${KEY}` });
    expect(keyed.status).toBe(200);
    expect(keyed.type).toBe("text/plain; version=0.0.4; charset=utf-8");

    let mark = proxy.stdout.length;
    proxy.writeConfig(config(up.url, "shutdown_grace_seconds: soon\n"));
    await waitFor(async () => (await fetch(`${proxy.url}/health`)).ok && proxy.stdout.includes("not reloaded", mark), "the rejected reload");
    expect(sample((await scrape(proxy)).text, "llm_proxy_config_reloads_total", { result: "rejected" })).toBe(1);
    expect((await scrape(proxy, {})).status).toBe(401);

    mark = proxy.stdout.length;
    proxy.writeConfig(config(up.url, "metrics: { public: true }\n"));
    await waitFor(async () => (await fetch(`${proxy.url}/health`)).ok && proxy.stdout.includes("config reloaded: settings: metrics.public", mark), "the reload");
    const open = await scrape(proxy, {});
    expect(open.status).toBe(200);
    expect(sample(open.text, "llm_proxy_config_reloads_total", { result: "ok" })).toBe(1);
    expect(sample(open.text, "llm_proxy_config_reloads_total", { result: "rejected" })).toBe(1);
    // Only /metrics is public: proxied requests still need the key.
    expect((await post(`${proxy.url}/v1/chat/completions`, { model: "m" })).status).toBe(401);
  });

  test.skipIf(!promtoolTool.run)("the scraped text passes promtool check metrics", async () => {
    await using up = provider();
    await using proxy = await ProxyProcess.start(config(up.url));
    await ask(proxy, "m");
    await (await ask(proxy, "n", true)).text();
    await ask(proxy, "f");
    let text = "";
    await waitFor(async () => (text = (await scrape(proxy)).text).includes("llm_proxy_streamed_bytes_total{"), "the streamed bytes");
    for (const family of ["requests_total", "upstream_attempts_total", "upstream_latency_seconds", "upstream_first_byte_seconds", "fallbacks_total", "cooldowns_entered_total", "streamed_bytes_total", "requests_in_flight", "cooldowns_active", "build_info"]) {
      expect(text).toContain(`# TYPE llm_proxy_${family} `);
    }
    const { code, output } = await promtool(text);
    expect(output).toBe("");
    expect(code).toBe(0);
  });
});
