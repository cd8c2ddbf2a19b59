import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { join } from "node:path";
import { waitFor, type Received } from "../helpers/fake-provider.ts";
import { post } from "../helpers/http.ts";
import { sqliteRows, waitForRows } from "../helpers/ledger-file.ts";
import { killAllProxies, ProxyProcess } from "../helpers/proxy-process.ts";
import { UsageProvider } from "../helpers/usage-provider.ts";

afterAll(killAllProxies);

const ADMIN = "admin-limits-key-0123456789abcdef";
const key = (name: string) => `${name}-limits-key-0123456789`;

// Every chat answer of the provider reports 120 tokens (100 prompt of which 30 cached, 20 completion);
// at $100 per million tokens of every kind it costs $0.012.
const config = (url: string) => `listen: "127.0.0.1:0"
proxy_api_key: ${ADMIN}
backends:
  - { name: up, url: "${url}/v1", price: { input: 100, output: 100 } }
models:
  rpm: { routes: [{ backend: up, model: chat-rpm }] }
  conc: { routes: [{ backend: up, model: chat-hold-conc }] }
  quick: { routes: [{ backend: up, model: chat-quick }] }
  open: { routes: [{ backend: up, model: chat-open }] }
  tpm: { routes: [{ backend: up, model: chat-tpm }] }
  flight: { routes: [{ backend: up, model: chat-hold-flight }] }
  usd: { routes: [{ backend: up, model: chat-usd }] }
  tokens: { routes: [{ backend: up, model: chat-tokens }] }
  ant: { routes: [{ backend: up, model: ant-limited }] }
keys:
  - { name: rpm10, key: ${key("rpm10")}, limits: { rpm: 10 } }
  - { name: conc5, key: ${key("conc5")}, limits: { concurrent: 5 } }
  - { name: conc1, key: ${key("conc1")}, limits: { concurrent: 1 } }
  - { name: tpm300, key: ${key("tpm300")}, limits: { tpm: 300 } }
  - { name: flight300, key: ${key("flight300")}, limits: { tpm: 300 } }
  - { name: usd003, key: ${key("usd003")}, budget: { usd: 0.03, per: day } }
  - { name: tok250, key: ${key("tok250")}, budget: { tokens: 250, per: week } }
  - { name: anyone, key: ${key("anyone")} }
  - { name: shut, key: ${key("shut")}, limits: { rpm: 0 } }
  - { name: broke, key: ${key("broke")}, budget: { usd: 0 } }
`;

interface Answer {
  status: number;
  retryAfter: string | null;
  body: { error?: { type: string; code?: string; message: string }; type?: string };
}

describe("key limits: 429 before anything goes upstream", () => {
  let up: UsageProvider;
  let proxy: ProxyProcess;
  const upstream = (model: string) => up.received.filter((r: Received) => (JSON.parse(r.text) as { model: string }).model === model).length;
  const ask = async (name: string, alias: string, init: { path?: string; signal?: AbortSignal; stream?: boolean } = {}): Promise<Answer> => {
    const path = init.path ?? "/v1/chat/completions";
    const body = path === "/v1/responses" ? { model: alias, input: "hi" } : { model: alias, max_tokens: 16, stream: init.stream ?? false, messages: [{ role: "user", content: "hi" }] };
    const headers: Record<string, string> = path === "/v1/messages" ? { "x-api-key": key(name), "anthropic-version": "2023-06-01" } : { authorization: `Bearer ${key(name)}` };
    const res = await post(`${proxy.url}${path}`, body, headers, { signal: init.signal });
    const text = await res.text();
    return { status: res.status, retryAfter: res.headers.get("retry-after"), body: text.startsWith("{") ? JSON.parse(text) : {} };
  };
  const rows = () => sqliteRows(join(proxy.dir, "data", "llm-proxy.db"));

  beforeAll(async () => {
    up = new UsageProvider();
    proxy = await ProxyProcess.start(config(up.url));
  }, 60_000);
  afterAll(async () => {
    await proxy?.[Symbol.asyncDispose]();
    await up?.[Symbol.asyncDispose]();
  });

  test("rpm 10 under a burst of 50: exactly 10 are served, 40 get 429 naming rpm and when it frees, and only 10 reach the provider", async () => {
    const answers = await Promise.all(Array.from({ length: 50 }, () => ask("rpm10", "rpm")));
    const served = answers.filter((a) => a.status === 200);
    const refused = answers.filter((a) => a.status === 429);
    expect(served.length).toBe(10);
    expect(refused.length).toBe(40);
    expect(upstream("chat-rpm")).toBe(10);
    for (const a of refused) {
      expect(a.body.error).toMatchObject({ type: "rate_limit_error", code: "rate_limit_exceeded" });
      expect(a.body.error!.message).toContain('key "rpm10"');
      expect(a.body.error!.message).toContain("rpm: 10 requests per minute");
      expect(a.body.error!.message).toMatch(/it frees in (\d+ s|1 min), at \d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z/);
      const seconds = Number(a.retryAfter);
      expect(seconds).toBeGreaterThanOrEqual(1);
      expect(seconds).toBeLessThanOrEqual(60);
    }
    // Still limited, in each protocol's shape: Anthropic's on /v1/messages, OpenAI's on /v1/responses.
    const anthropic = await ask("rpm10", "rpm", { path: "/v1/messages" });
    expect(anthropic.status).toBe(429);
    expect(anthropic.body).toMatchObject({ type: "error", error: { type: "rate_limit_error" } });
    expect(anthropic.body.error!.message).toContain("rpm");
    expect(Number(anthropic.retryAfter)).toBeGreaterThanOrEqual(1);
    const responses = await ask("rpm10", "rpm", { path: "/v1/responses" });
    expect(responses.status).toBe(429);
    expect(responses.body.error).toMatchObject({ type: "rate_limit_error", code: "rate_limit_exceeded" });
    expect(upstream("chat-rpm")).toBe(10);
    // Each refusal is a ledger row: the key, the alias, 429, "limited", no tokens.
    const limited = await waitForRows(rows, (r) => r.key_name === "rpm10" && r.status === 429, 42);
    for (const r of limited) expect([r.alias, r.outcome, r.input_tokens, r.output_tokens, r.cost_usd, r.attempts]).toEqual(["rpm", "limited", 0, 0, 0, 0]);
    expect((await waitForRows(rows, (r) => r.key_name === "rpm10" && r.status === 200, 10)).length).toBe(10);
  });

  test("concurrent 5 under a burst of 50: exactly 5 reach the provider, the rest get 429 naming concurrent; a slot frees when a request ends", async () => {
    up.hold();
    const burst = Array.from({ length: 50 }, () => ask("conc5", "conc"));
    await waitFor(() => up.waiting === 5, "five requests held at the provider");
    // The 45 others are answered while the five are still in flight.
    const settled: Answer[] = [];
    for (const p of burst) void p.then((a) => settled.push(a));
    await waitFor(() => settled.length === 45, "45 refusals");
    expect(settled.every((a) => a.status === 429)).toBe(true);
    for (const a of settled) {
      expect(a.body.error!.message).toContain("concurrent: 5 requests in flight");
      expect(a.body.error!.message).toContain("frees when one of them finishes");
      expect(a.retryAfter).toBe("1");
    }
    expect(up.waiting).toBe(5);
    expect(upstream("chat-hold-conc")).toBe(5);
    up.release();
    const all = await Promise.all(burst);
    expect(all.filter((a) => a.status === 200).length).toBe(5);
    // Free again.
    expect((await ask("conc5", "quick")).status).toBe(200);
  });

  test("a concurrency slot frees when the client goes away, and is held by a stream until its end", async () => {
    up.hold();
    const gone = new AbortController();
    const first = ask("conc1", "conc", { signal: gone.signal }).catch((e: unknown) => e);
    await waitFor(() => up.waiting === 1, "the request at the provider");
    expect((await ask("conc1", "quick")).status).toBe(429);
    gone.abort();
    await first;
    // The proxy sees the client go and frees the slot; wait for that, bounded, with no request held meanwhile.
    let status = 0;
    await waitFor(async () => (status = (await ask("conc1", "quick")).status) === 200, "the slot freed after the client left");
    expect(status).toBe(200);
    up.release();

    // A stream holds its slot until it ends.
    up.hold();
    const res = await post(`${proxy.url}/v1/chat/completions`, { model: "open", stream: true, messages: [] }, { authorization: `Bearer ${key("conc1")}` });
    expect(res.status).toBe(200);
    const refused = await ask("conc1", "quick");
    expect(refused.status).toBe(429);
    expect(refused.body.error!.message).toContain("concurrent: 1 request in flight");
    up.release();
    await res.text();
    await waitFor(async () => (await ask("conc1", "quick")).status === 200, "the slot freed at the stream's end");
  });

  test("tpm is a soft cap: checked before, debited after; sequentially it overshoots by at most one request", async () => {
    const statuses: number[] = [];
    for (let i = 0; i < 4; i++) statuses.push((await ask("tpm300", "tpm")).status);
    // 0, 120, 240 tokens used before each of the first three: admitted; 360 ≥ 300 before the fourth.
    expect(statuses).toEqual([200, 200, 200, 429]);
    const refused = await ask("tpm300", "tpm");
    expect(refused.status).toBe(429);
    expect(refused.body.error!.message).toContain("tpm: 300 tokens per minute, 360 used in the last minute");
    expect(refused.body.error!.message).toMatch(/it frees in (\d+ s|1 min), at /);
    expect(Number(refused.retryAfter)).toBeGreaterThanOrEqual(1);
    expect(Number(refused.retryAfter)).toBeLessThanOrEqual(60);
    expect(upstream("chat-tpm")).toBe(3);
  });

  test("tpm overshoots by at most the requests already in flight when they were admitted", async () => {
    up.hold();
    const inFlight = Array.from({ length: 8 }, () => ask("flight300", "flight"));
    // All eight are admitted: nothing was used when they arrived.
    await waitFor(() => up.waiting === 8, "eight requests in flight");
    up.release();
    expect((await Promise.all(inFlight)).map((a) => a.status)).toEqual(Array(8).fill(200));
    const next = await ask("flight300", "flight");
    expect(next.status).toBe(429);
    expect(next.body.error!.message).toContain("960 used");
    expect(upstream("chat-hold-flight")).toBe(8);
  });

  test("a USD budget is a soft cap like tpm, and its 429 names the budget, the spend and when the period ends", async () => {
    const statuses: number[] = [];
    for (let i = 0; i < 4; i++) statuses.push((await ask("usd003", "usd")).status);
    // $0, $0.012, $0.024 spent before the first three; $0.036 before the fourth.
    expect(statuses).toEqual([200, 200, 200, 429]);
    const refused = await ask("usd003", "usd", { path: "/v1/messages" });
    expect(refused.status).toBe(429);
    expect(refused.body).toMatchObject({ type: "error", error: { type: "rate_limit_error" } });
    const message = refused.body.error!.message;
    expect(message).toContain('key "usd003" has used up its daily budget');
    expect(message).toContain("budget: $0.03, $0.04 spent");
    const tomorrow = new Date(Date.now() + 86_400_000).toISOString().slice(0, 10);
    expect(message).toContain(`at ${tomorrow}T00:00:00Z`);
    const seconds = Number(refused.retryAfter);
    expect(seconds).toBeGreaterThanOrEqual(1);
    expect(seconds).toBeLessThanOrEqual(86_400);
    expect(upstream("chat-usd")).toBe(3);
  });

  test("a token budget counts every token and says so", async () => {
    const statuses: number[] = [];
    for (let i = 0; i < 4; i++) statuses.push((await ask("tok250", "tokens")).status);
    expect(statuses).toEqual([200, 200, 200, 429]);
    const refused = await ask("tok250", "tokens", { path: "/v1/responses" });
    expect(refused.status).toBe(429);
    expect(refused.body.error).toMatchObject({ type: "rate_limit_error", code: "budget_exceeded" });
    expect(refused.body.error!.message).toContain("weekly budget (budget: 250 tokens, 360 used");
    expect(upstream("chat-tokens")).toBe(3);
    // The key's own /usage says what is left: nothing.
    const usage = (await (await fetch(`${proxy.url}/usage`, { headers: { authorization: `Bearer ${key("tok250")}` } })).json()) as { budget: { tokens: number; spent_tokens: number; remaining_tokens: number } };
    expect(usage.budget).toMatchObject({ tokens: 250, spent_tokens: 360, remaining_tokens: 0 });
  });

  test("a limit of 0 says it refuses every request and where to change it, not when it frees", async () => {
    const before = upstream("chat-quick");
    const shut = await ask("shut", "quick");
    expect(shut.status).toBe(429);
    expect(shut.body.error!.message).toBe('key "shut" has rpm: 0, which refuses every request; raise keys[].limits.rpm in the config to let it in');
    const broke = await ask("broke", "quick", { path: "/v1/messages" });
    expect(broke.status).toBe(429);
    expect(broke.body.error!.message).toBe('key "broke" has a budget of $0.00, which refuses every request; raise keys[].budget.usd in the config to let it in');
    expect(upstream("chat-quick")).toBe(before);
  });

  test("a key without limits and the proxy key are never limited", async () => {
    const answers = await Promise.all([...Array.from({ length: 30 }, () => ask("anyone", "rpm")), ...Array.from({ length: 30 }, () => post(`${proxy.url}/v1/chat/completions`, { model: "rpm", messages: [] }, { authorization: `Bearer ${ADMIN}` }).then((r) => ({ status: r.status })))]);
    expect(answers.every((a) => a.status === 200)).toBe(true);
  });
});
