import { Database } from "bun:sqlite";
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import { configFrom } from "../helpers/proxy.ts";
import { FakeProvider } from "../helpers/fake-provider.ts";
import { post } from "../helpers/http.ts";
import { type LedgerRow, sqliteRows, waitForRows } from "../helpers/ledger-file.ts";
import { killAllProxies, ProxyProcess, runMain, sample, tempDir } from "../helpers/proxy-process.ts";
import { LEDGER, usageAnswer } from "../helpers/usage-provider.ts";
import { Logger } from "../../src/log/logger.ts";
import { CooldownTable } from "../../src/proxy/cooldown.ts";
import { startUsage } from "../../src/ops/usage-services.ts";
import { CapturedLog } from "../helpers/proxy.ts";
import { usageRow } from "../helpers/ledger-rows.ts";

afterAll(killAllProxies);

const ADMIN = "admin-ledger-key-0123456789abcdef";
const ALICE = "alice-ledger-key-0123456789";
const BOB = "bob-ledger-key-0123456789abc";

/** `down…` models answer 500; the rest as the usage provider does. */
const provider = () => new FakeProvider((r) => ((JSON.parse(r.text) as { model: string }).model.startsWith("down") ? Response.json({ error: { message: "down" } }, { status: 500 }) : usageAnswer(r)));

const config = (url: string, usage = "") => `listen: "127.0.0.1:0"
proxy_api_key: ${ADMIN}
backends:
  - { name: a, url: "${url}/v1", price: { input: 2, output: 8 } }
  - { name: b, url: "${url}/v1", price: { input: 1, output: 4, cache_read: 0.5 } }
models:
  ok: { routes: [{ backend: a, model: chat-ok }] }
  fallback:
    routes:
      - { backend: a, model: down-first, priority: 1 }
      - { backend: b, model: chat-second, priority: 2 }
  down:
    routes:
      - { backend: a, model: down-1, priority: 1 }
      - { backend: b, model: down-2, priority: 2 }
keys:
  - { name: alice, key: ${ALICE}, limits: { rpm: 3 } }
  - { name: bob, key: ${BOB}, models: [ok] }
${usage}`;

const chat = (url: string, model: string, key?: string, stream = false) =>
  post(`${url}/v1/chat/completions`, { model, stream, messages: [{ role: "user", content: "hi" }] }, key === undefined ? {} : { authorization: `Bearer ${key}` }).then(async (r) => ({ status: r.status, text: await r.text() }));

describe("the usage ledger of a running proxy", () => {
  let up: FakeProvider;
  let proxy: ProxyProcess;
  let rows: LedgerRow[];
  const db = () => join(proxy.dir, "data", "llm-proxy.db");
  const started = Date.now();

  beforeAll(async () => {
    up = provider();
    proxy = await ProxyProcess.start(config(up.url));
    const statuses = [
      (await chat(proxy.url, "ok", ALICE)).status,
      (await chat(proxy.url, "fallback", ALICE)).status,
      (await chat(proxy.url, "down", ALICE)).status,
      (await chat(proxy.url, "ok", ALICE)).status,
      (await chat(proxy.url, "fallback", BOB)).status,
      (await chat(proxy.url, "ok", BOB, true)).status,
      (await chat(proxy.url, "ok", ADMIN)).status,
      // Not rows: an unknown key, no key, and an alias nobody has.
      (await chat(proxy.url, "ok", "someone-else-key-0123456789")).status,
      (await chat(proxy.url, "ok")).status,
      (await chat(proxy.url, "nope", BOB)).status,
    ];
    expect(statuses).toEqual([200, 200, 500, 429, 403, 200, 200, 401, 401, 404]);
    rows = await waitForRows(() => sqliteRows(db()), () => true, 7);
  }, 60_000);
  afterAll(async () => {
    await proxy?.[Symbol.asyncDispose]();
    await up?.[Symbol.asyncDispose]();
  });

  test("the SQLite file is ./data/llm-proxy.db in the working directory, created by the proxy", () => {
    expect(existsSync(db())).toBe(true);
    expect(proxy.stdout).toContain("usage: ./data/llm-proxy.db");
  });

  test("one row per request of a known key, refusals (403, 429) included with no tokens; unknown keys and aliases have none", async () => {
    // A moment later, still seven: nothing else was counted.
    await proxy.waitForOutput(/key=bob/, "bob's requests in the log");
    expect(sqliteRows(db()).length).toBe(7);
    const summary = rows.map((r) => [r.key_name, r.alias, r.status, r.outcome, r.attempts, r.backend, r.model]);
    expect(summary).toEqual([
      ["alice", "ok", 200, "served", 1, "a", "chat-ok"],
      ["alice", "fallback", 200, "served", 2, "b", "chat-second"],
      // Failed: the backend and model whose answer the client got.
      ["alice", "down", 500, "failed", 2, "b", "down-2"],
      ["alice", "ok", 429, "limited", 0, "", ""],
      ["bob", "fallback", 403, "forbidden", 0, "", ""],
      ["bob", "ok", 200, "served", 1, "a", "chat-ok"],
      ["", "ok", 200, "served", 1, "a", "chat-ok"],
    ]);
    for (const r of rows) {
      expect(r.time_ms).toBeGreaterThanOrEqual(started - 1000);
      expect(r.time_ms).toBeLessThanOrEqual(Date.now());
      if (r.status !== 200) expect([r.input_tokens, r.output_tokens, r.cache_read_tokens, r.cache_write_tokens, r.cost_usd]).toEqual([0, 0, 0, 0, 0]);
      if (r.status === 200) expect(r.first_byte_ms).not.toBeNull();
      if (r.attempts === 0) expect([r.latency_ms, r.first_byte_ms, r.stream_complete]).toEqual([0, null, null]);
    }
    // Tokens and cost at the price of the backend that served.
    const [okRow, fallbackRow] = rows;
    expect([okRow!.input_tokens, okRow!.cache_read_tokens, okRow!.output_tokens]).toEqual([LEDGER.chat.input, LEDGER.chat.cacheRead, LEDGER.chat.output]);
    expect(okRow!.cost_usd).toBeCloseTo((70 * 2 + 30 * 2 + 20 * 8) / 1e6, 12);
    expect(fallbackRow!.cost_usd).toBeCloseTo((70 * 1 + 30 * 0.5 + 20 * 4) / 1e6, 12);
    // bob's stream did not ask for usage: none to count, but it ended complete.
    expect(rows[5]!.stream_complete).toBe(1);
    expect(okRow!.stream_complete).toBeNull();
  });

  test("/usage totals: every key for the proxy key, by day too; one key's own for that key", async () => {
    const all = (await (await fetch(`${proxy.url}/usage?by=key&from=1d`, { headers: { authorization: `Bearer ${ADMIN}` } })).json()) as { by: string; rows: { key: string; requests: number; input_tokens: number }[] };
    expect(all.by).toBe("key");
    expect(Object.fromEntries(all.rows.map((r) => [r.key, r.requests]))).toEqual({ alice: 4, bob: 2, "": 1 });
    const days = (await (await fetch(`${proxy.url}/usage?by=day`, { headers: { authorization: `Bearer ${ADMIN}` } })).json()) as { rows: { day: string; requests: number }[] };
    expect(days.rows).toEqual([expect.objectContaining({ day: new Date().toISOString().slice(0, 10), requests: 7 })]);
    const bob = (await (await fetch(`${proxy.url}/usage`, { headers: { authorization: `Bearer ${BOB}` } })).json()) as { key: string; rows: { key: string; requests: number }[]; budget?: unknown };
    expect(bob).toMatchObject({ key: "bob", rows: [{ key: "bob", requests: 2 }] });
    expect(bob.budget).toBeUndefined();
    const bad = await fetch(`${proxy.url}/usage?by=colour`, { headers: { authorization: `Bearer ${ADMIN}` } });
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as { error: { message: string } }).error.message).toContain("key, alias, backend, model, day");
  });

  test("llm-proxy usage -config config.yaml --since 7d --by key prints a table, beside the running proxy", async () => {
    const { code, out, err } = await runMain(["usage", "-config", "config.yaml", "--since", "7d", "--by", "key"], proxy.dir);
    expect(err).toBe("");
    expect(code).toBe(0);
    const lines = out.split("\n");
    expect(lines[0]).toMatch(/^usage from \S+ to \S+, by key \(\.\/data\/llm-proxy\.db\)$/);
    expect(lines[2]).toMatch(/^key\s+requests\s+input\s+cache read\s+cache write\s+output\s+cost \(USD\)$/);
    const cells = (name: string) => lines.find((l) => l.startsWith(`${name} `))?.trim().split(/\s{2,}/);
    expect(cells("alice")?.slice(0, 2)).toEqual(["alice", "4"]);
    expect(cells("bob")?.slice(0, 2)).toEqual(["bob", "2"]);
    expect(cells("total")?.slice(0, 2)).toEqual(["total", "7"]);
    const byAlias = await runMain(["usage", "-config", "config.yaml", "--by", "alias", "--key", "alice"], proxy.dir);
    expect(byAlias.code).toBe(0);
    expect(byAlias.out).toContain('for key "alice"');
    expect(byAlias.out).toMatch(/\nfallback\s+1\s/);
    const wrong = await runMain(["usage", "-config", "config.yaml", "--by", "colour"], proxy.dir);
    expect(wrong.code).toBe(1);
    expect(wrong.err).toContain("key, alias, backend, model, day");
  });

  test("tokens and cost on /metrics are labelled with the key's name, and pass promtool check metrics", async () => {
    const text = await (await fetch(`${proxy.url}/metrics`, { headers: { authorization: `Bearer ${ADMIN}` } })).text();
    expect(sample(text, "llm_proxy_tokens_total", { key: "alice", alias: "ok", backend: "a", model: "chat-ok", kind: "input" })).toBe(70);
    expect(sample(text, "llm_proxy_tokens_total", { key: "alice", alias: "ok", backend: "a", model: "chat-ok", kind: "cache_read" })).toBe(30);
    expect(sample(text, "llm_proxy_tokens_total", { key: "alice", alias: "fallback", backend: "b", model: "chat-second", kind: "output" })).toBe(20);
    expect(sample(text, "llm_proxy_tokens_total", { key: "", alias: "ok", backend: "a", model: "chat-ok", kind: "output" })).toBe(20);
    expect(sample(text, "llm_proxy_cost_usd_total", { key: "alice", alias: "fallback", backend: "b", model: "chat-second" })).toBeCloseTo((70 + 15 + 80) / 1e6, 12);
    for (const value of [ALICE, BOB, ADMIN]) expect(text).not.toContain(value);
    if (!Bun.which("promtool")) {
      if (process.env.CI === "true") throw new Error("promtool is not installed (Debian: apt-get install prometheus)");
      console.warn("promtool check skipped: promtool is not installed");
      return;
    }
    const proc = Bun.spawn(["promtool", "check", "metrics"], { stdin: new TextEncoder().encode(text), stdout: "pipe", stderr: "pipe" });
    const [out, err, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
    expect(out + err).toBe("");
    expect(code).toBe(0);
  });
});

describe("where the ledger goes", () => {
  test("usage.database names another file (its folder created); usage.enabled: false writes none and /usage says why", async () => {
    await using up = provider();
    await using elsewhere = await ProxyProcess.start(config(up.url, "usage: { database: ./state/usage/ledger.db }"));
    expect((await chat(elsewhere.url, "ok", ALICE)).status).toBe(200);
    await waitForRows(() => sqliteRows(join(elsewhere.dir, "state", "usage", "ledger.db")), (r) => r.key_name === "alice");
    expect(existsSync(join(elsewhere.dir, "data"))).toBe(false);

    await using off = await ProxyProcess.start(config(up.url, "usage: { enabled: false }"));
    expect((await chat(off.url, "ok", ALICE)).status).toBe(200);
    const usage = await fetch(`${off.url}/usage`, { headers: { authorization: `Bearer ${ADMIN}` } });
    expect(usage.status).toBe(404);
    expect(((await usage.json()) as { error: { message: string } }).error.message).toContain("usage.enabled: false");
    expect(off.stdout).toContain("usage: off (usage.enabled: false)");
    expect(existsSync(join(off.dir, "data"))).toBe(false);
  });

  test("usage.retention_days reaches the ledger: older rows are pruned, 0 keeps them all", async () => {
    const dir = tempDir("llm-proxy-retention-");
    const path = join(dir, "ledger.db");
    mkdirSync(dir, { recursive: true });
    const day = 86_400_000;
    const now = Date.now();
    for (const [days, expected] of [
      [30, 1],
      [0, 2],
    ] as const) {
      const config = configFrom(`backends: []\nmodels: {}\nusage: { database: "${path}", retention_days: ${days} }\n`);
      const usage = await startUsage(config, new CooldownTable(), new Logger(new CapturedLog()));
      const ledger = usage.services.ledger!;
      ledger.record(usageRow({ time: now - 40 * day, key: "old" }));
      ledger.record(usageRow({ time: now - day, key: "recent" }));
      await ledger.flush();
      await ledger.prune(now);
      const db = new Database(path, { readonly: true });
      const keys = db.query("SELECT key_name FROM llm_proxy_usage ORDER BY time_ms").all() as { key_name: string }[];
      db.close();
      expect(keys.length).toBe(expected);
      expect(keys.at(-1)?.key_name).toBe("recent");
      await usage.close();
      new Database(path).run("DELETE FROM llm_proxy_usage");
    }
  });
});
