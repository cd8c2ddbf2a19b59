import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { join } from "node:path";
import { post } from "../helpers/http.ts";
import { type LedgerRow, sqliteRows, waitForRows } from "../helpers/ledger-file.ts";
import { killAllProxies, ProxyProcess } from "../helpers/proxy-process.ts";
import { LEDGER, UsageProvider } from "../helpers/usage-provider.ts";

afterAll(killAllProxies);

const KEY = "reader-usage-key-0123456789abcdef";
const ADMIN = "admin-usage-key-0123456789abcdef";

type Client = "chat" | "anthropic" | "responses";
type Tokens = { input: number; cacheRead: number; cacheWrite: number; output: number };
const ZERO: Tokens = { input: 0, cacheRead: 0, cacheWrite: 0, output: 0 };

interface Case {
  /** The alias, also the test's name for the case. */
  alias: string;
  client: Client;
  /** Backend (pass: no protocol, oai, ant, resp) and the model name it is asked for (picks the provider's variant). */
  backend: string;
  model: string;
  stream: boolean;
  /** What the ledger must hold. */
  tokens: Tokens;
  complete?: boolean;
  /** Asks for usage in a Chat stream (stream_options.include_usage). */
  includeUsage?: boolean;
  /** A route price of its own. */
  price?: string;
}

const CASES: Case[] = [
  // Passed through: the provider speaks the client's protocol.
  { alias: "pass-chat-json", client: "chat", backend: "pass", model: "chat-1", stream: false, tokens: LEDGER.chat },
  { alias: "pass-chat-stream", client: "chat", backend: "pass", model: "chat-2", stream: true, includeUsage: true, tokens: LEDGER.chat, complete: true },
  // A passed-through Chat stream whose client did not ask for usage carries none: nothing to count
  // (tpm and budgets do not see it). `stream_usage: inject` is meant for that; see its test below.
  { alias: "pass-chat-stream-no-usage", client: "chat", backend: "pass", model: "chat-3", stream: true, tokens: ZERO, complete: true },
  { alias: "pass-ant-json", client: "anthropic", backend: "pass", model: "ant-1", stream: false, tokens: LEDGER.anthropic },
  { alias: "pass-ant-stream", client: "anthropic", backend: "pass", model: "ant-2", stream: true, tokens: LEDGER.anthropic, complete: true },
  { alias: "pass-ant-stream-late", client: "anthropic", backend: "pass", model: "ant-late-3", stream: true, tokens: LEDGER.anthropic, complete: true },
  { alias: "pass-resp-json", client: "responses", backend: "pass", model: "resp-1", stream: false, tokens: LEDGER.responses },
  { alias: "pass-resp-stream", client: "responses", backend: "pass", model: "resp-2", stream: true, tokens: LEDGER.responses, complete: true },
  // Usage events that reach the proxy in pieces (cut inside "usage"): put together before they are read.
  { alias: "pass-chat-stream-split", client: "chat", backend: "pass", model: "chat-split-1", stream: true, includeUsage: true, tokens: LEDGER.chat, complete: true },
  { alias: "pass-ant-stream-split", client: "anthropic", backend: "pass", model: "ant-split-1", stream: true, tokens: LEDGER.anthropic, complete: true },
  { alias: "pass-resp-stream-split", client: "responses", backend: "pass", model: "resp-split-1", stream: true, tokens: LEDGER.responses, complete: true },
  { alias: "chat-to-ant-stream-split", client: "chat", backend: "ant", model: "ant-split-2", stream: true, tokens: LEDGER.anthropic, complete: true },
  // Translated: the provider's usage, read in its own protocol.
  { alias: "chat-to-ant-json", client: "chat", backend: "ant", model: "ant-4", stream: false, tokens: LEDGER.anthropic },
  { alias: "chat-to-ant-stream", client: "chat", backend: "ant", model: "ant-5", stream: true, tokens: LEDGER.anthropic, complete: true },
  { alias: "chat-to-ant-stream-late", client: "chat", backend: "ant", model: "ant-late-6", stream: true, tokens: LEDGER.anthropic, complete: true },
  { alias: "ant-to-chat-json", client: "anthropic", backend: "oai", model: "chat-5", stream: false, tokens: LEDGER.chat },
  // The proxy asks a Chat backend for usage on a translated stream (stream_usage: auto).
  { alias: "ant-to-chat-stream", client: "anthropic", backend: "oai", model: "chat-6", stream: true, tokens: LEDGER.chat, complete: true },
  { alias: "resp-to-chat-json", client: "responses", backend: "oai", model: "chat-7", stream: false, tokens: LEDGER.chat },
  { alias: "resp-to-chat-stream", client: "responses", backend: "oai", model: "chat-8", stream: true, tokens: LEDGER.chat, complete: true },
  { alias: "chat-to-resp-json", client: "chat", backend: "resp", model: "resp-3", stream: false, tokens: LEDGER.responses },
  { alias: "chat-to-resp-stream", client: "chat", backend: "resp", model: "resp-4", stream: true, tokens: LEDGER.responses, complete: true },
  { alias: "ant-to-resp-stream", client: "anthropic", backend: "resp", model: "resp-5", stream: true, tokens: LEDGER.responses, complete: true },
  { alias: "resp-to-ant-json", client: "responses", backend: "ant", model: "ant-7", stream: false, tokens: LEDGER.anthropic },
  { alias: "resp-to-ant-stream", client: "responses", backend: "ant", model: "ant-8", stream: true, tokens: LEDGER.anthropic, complete: true },
  // Cut after the start: what was seen, marked incomplete (message_start carried input and 1 output token).
  { alias: "pass-ant-cut", client: "anthropic", backend: "pass", model: "ant-cut-1", stream: true, tokens: { ...LEDGER.anthropic, output: 1 }, complete: false },
  { alias: "chat-to-ant-cut", client: "chat", backend: "ant", model: "ant-cut-2", stream: true, tokens: { ...LEDGER.anthropic, output: 1 }, complete: false },
  { alias: "pass-chat-cut", client: "chat", backend: "pass", model: "chat-cut-1", stream: true, includeUsage: true, tokens: ZERO, complete: false },
  { alias: "pass-resp-cut", client: "responses", backend: "pass", model: "resp-cut-1", stream: true, tokens: ZERO, complete: false },
  // A route's price wins over its backend's.
  { alias: "priced-route", client: "anthropic", backend: "pass", model: "ant-9", stream: false, tokens: LEDGER.anthropic, price: "{ input: 10, output: 30 }" },
];

/** USD per million tokens. */
const BACKEND_PRICE = { input: 3, output: 15, cache_read: 0.3, cache_write: 3.75 };
const costAt = (t: Tokens, p: { input: number; output: number; cache_read?: number; cache_write?: number }) =>
  (t.input * p.input + t.output * p.output + t.cacheRead * (p.cache_read ?? p.input) + t.cacheWrite * (p.cache_write ?? p.input)) / 1e6;

const config = (url: string) => {
  const price = `{ input: ${BACKEND_PRICE.input}, output: ${BACKEND_PRICE.output}, cache_read: ${BACKEND_PRICE.cache_read}, cache_write: ${BACKEND_PRICE.cache_write} }`;
  const models = CASES.map((c) => `  ${c.alias}: { routes: [{ backend: ${c.backend}, model: ${c.model}${c.price ? `, price: ${c.price}` : ""} }] }`).join("\n");
  return `listen: "127.0.0.1:0"
proxy_api_key: ${ADMIN}
backends:
  - { name: pass, url: "${url}/v1", price: ${price} }
  - { name: inject, url: "${url}/v1", stream_usage: inject, price: ${price} }
  - { name: oai, url: "${url}/v1", protocol: openai, price: ${price} }
  - { name: ant, url: "${url}/v1", protocol: anthropic, price: ${price} }
  - { name: resp, url: "${url}/v1", protocol: openai-responses, price: ${price} }
models:
${models}
  inject-chat-stream: { routes: [{ backend: inject, model: chat-4 }] }
keys:
  - { name: reader, key: ${KEY} }
`;
};

function request(c: Case): { path: string; body: Record<string, unknown>; headers: Record<string, string> } {
  if (c.client === "anthropic") return { path: "/v1/messages", body: { model: c.alias, max_tokens: 64, stream: c.stream, messages: [{ role: "user", content: "hi" }] }, headers: { "x-api-key": KEY, "anthropic-version": "2023-06-01" } };
  if (c.client === "responses") return { path: "/v1/responses", body: { model: c.alias, input: "hi", stream: c.stream }, headers: { authorization: `Bearer ${KEY}` } };
  const body: Record<string, unknown> = { model: c.alias, stream: c.stream, messages: [{ role: "user", content: "hi" }] };
  if (c.includeUsage) body.stream_options = { include_usage: true };
  return { path: "/v1/chat/completions", body, headers: { authorization: `Bearer ${KEY}` } };
}

describe("usage read from every answer, into the ledger", () => {
  let up: UsageProvider;
  let proxy: ProxyProcess;
  const answers = new Map<string, { status: number; text: string }>();
  let rows: LedgerRow[] = [];
  let started = 0;

  beforeAll(async () => {
    up = new UsageProvider();
    proxy = await ProxyProcess.start(config(up.url));
    started = Date.now();
    for (const c of CASES) {
      const { path, body, headers } = request(c);
      const res = await post(`${proxy.url}${path}`, body, headers);
      answers.set(c.alias, { status: res.status, text: await res.text() });
    }
    rows = await waitForRows(() => sqliteRows(join(proxy.dir, "data", "llm-proxy.db")), () => true, CASES.length);
  }, 60_000);
  afterAll(async () => {
    await proxy?.[Symbol.asyncDispose]();
    await up?.[Symbol.asyncDispose]();
  });

  test.each(CASES.map((c) => [c.alias, c] as const))("%s: one row with the tokens the provider reported, counted the Anthropic way", (alias, c) => {
    const answer = answers.get(alias)!;
    expect(answer.status, answer.text).toBe(200);
    const mine = rows.filter((r) => r.alias === alias);
    expect(mine.length).toBe(1);
    const row = mine[0]!;
    expect({ input: row.input_tokens, cacheRead: row.cache_read_tokens, cacheWrite: row.cache_write_tokens, output: row.output_tokens }).toEqual(c.tokens);
    expect(row).toMatchObject({ key_name: "reader", backend: c.backend, model: c.model, status: 200, attempts: 1 });
    expect(row.outcome).toBe(c.complete === false ? "failed" : "served");
    expect(row.stream_complete).toBe(c.stream ? (c.complete ? 1 : 0) : null);
    expect(row.time_ms).toBeGreaterThanOrEqual(started - 1000);
    expect(row.time_ms).toBeLessThanOrEqual(Date.now());
    expect(row.latency_ms).toBeGreaterThanOrEqual(0);
    expect(row.first_byte_ms).not.toBeNull();
    expect(row.first_byte_ms!).toBeLessThanOrEqual(row.latency_ms + 1);
    const price = c.price ? { input: 10, output: 30 } : BACKEND_PRICE;
    expect(row.cost_usd).toBeCloseTo(costAt(c.tokens, price), 12);
  });

  test("a cut stream reaches the client as cut, not as complete", () => {
    expect(answers.get("pass-ant-cut")!.text).toContain("event: error");
    expect(answers.get("pass-ant-cut")!.text).not.toContain("message_stop");
    expect(answers.get("chat-to-ant-cut")!.text).not.toContain("[DONE]");
  });

  test("/usage totals are the sums of the rows: by alias for the key, by backend for the proxy key", async () => {
    const mine = (await (await fetch(`${proxy.url}/usage?by=alias&from=1h`, { headers: { authorization: `Bearer ${KEY}` } })).json()) as {
      rows: { alias: string; requests: number; input_tokens: number; cache_read_tokens: number; cache_write_tokens: number; output_tokens: number; cost_usd: number }[];
    };
    expect(mine.rows.length).toBe(CASES.length);
    for (const c of CASES) {
      const r = mine.rows.find((x) => x.alias === c.alias)!;
      expect([r.requests, r.input_tokens, r.cache_read_tokens, r.cache_write_tokens, r.output_tokens]).toEqual([1, c.tokens.input, c.tokens.cacheRead, c.tokens.cacheWrite, c.tokens.output]);
    }
    const everyone = (await (await fetch(`${proxy.url}/usage?by=backend`, { headers: { authorization: `Bearer ${ADMIN}` } })).json()) as { rows: { backend: string; requests: number; output_tokens: number; cost_usd: number }[] };
    for (const backend of ["pass", "oai", "ant", "resp"]) {
      const cases = CASES.filter((c) => c.backend === backend);
      const r = everyone.rows.find((x) => x.backend === backend)!;
      expect(r.requests).toBe(cases.length);
      expect(r.output_tokens).toBe(cases.reduce((sum, c) => sum + c.tokens.output, 0));
      expect(r.cost_usd).toBeCloseTo(cases.reduce((sum, c) => sum + costAt(c.tokens, c.price ? { input: 10, output: 30 } : BACKEND_PRICE), 0), 12);
    }
  });

  test("stream_usage: inject records usage the client did not ask for, and keeps the extra chunk from it", async () => {
    const res = await post(`${proxy.url}/v1/chat/completions`, { model: "inject-chat-stream", stream: true, messages: [{ role: "user", content: "hi" }] }, { authorization: `Bearer ${KEY}` });
    const text = await res.text();
    expect(text).toContain("data: [DONE]");
    expect(text).not.toContain('"usage"');
    const asked = up.received.find((r) => (JSON.parse(r.text) as { model: string }).model === "chat-4")!;
    expect(JSON.parse(asked.text).stream_options).toEqual({ include_usage: true });
    const [row] = await waitForRows(() => sqliteRows(join(proxy.dir, "data", "llm-proxy.db")), (r) => r.alias === "inject-chat-stream");
    expect([row!.input_tokens, row!.cache_read_tokens, row!.output_tokens]).toEqual([LEDGER.chat.input, LEDGER.chat.cacheRead, LEDGER.chat.output]);
  });
});
