import { SQL } from "bun";
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { post } from "../helpers/http.ts";
import { type LedgerRow, waitForRows } from "../helpers/ledger-file.ts";
import { postgresBin, TestPostgres } from "../helpers/postgres.ts";
import { killAllProxies, ProxyProcess, runMain } from "../helpers/proxy-process.ts";
import { UsageProvider } from "../helpers/usage-provider.ts";

afterAll(killAllProxies);

if (!postgresBin && process.env.CI !== "true") {
  console.warn("shared Postgres ledger tests skipped: postgres is not installed (Debian: apt-get install postgresql)");
}
// Under CI a missing postgres fails (TestPostgres.start says what to install) instead of skipping.
const maybe = postgresBin || process.env.CI === "true" ? describe : describe.skip;

const ADMIN = "admin-pg-ledger-key-0123456789abcdef";
const ALICE = "alice-pg-ledger-key-0123456789";
const BOB = "bob-pg-ledger-key-0123456789ab";

// A chat answer costs (70 + 30) × $100/M + 20 × $100/M = $0.012; alice may spend $0.03 a month.
const config = (url: string, database: string) => `listen: "127.0.0.1:0"
proxy_api_key: ${ADMIN}
usage:
  database: "${database}"
backends:
  - { name: up, url: "${url}/v1", price: { input: 100, output: 100 } }
models:
  gpt: { routes: [{ backend: up, model: chat-pg }] }
  claude: { routes: [{ backend: up, model: ant-pg }] }
keys:
  - { name: alice, key: ${ALICE}, budget: { usd: 0.03, per: month } }
  - { name: bob, key: ${BOB}, models: [gpt] }
`;

maybe("two proxy instances sharing one Postgres ledger", () => {
  let pg: TestPostgres;
  let sql: SQL;
  let up: UsageProvider;
  let a: ProxyProcess;
  let b: ProxyProcess;
  const rows = async () => (await sql`SELECT * FROM llm_proxy_usage ORDER BY id`) as LedgerRow[];
  const chat = (p: ProxyProcess, key: string, model = "gpt") =>
    post(`${p.url}/v1/chat/completions`, { model, messages: [{ role: "user", content: "hi" }] }, { authorization: `Bearer ${key}` }).then((r) => r.status);

  beforeAll(async () => {
    pg = await TestPostgres.start();
    sql = new SQL({ url: pg.url, max: 1 });
    up = new UsageProvider();
    [a, b] = await Promise.all([ProxyProcess.start(config(up.url, pg.url)), ProxyProcess.start(config(up.url, pg.url))]);
  }, 60_000);
  afterAll(async () => {
    await a?.[Symbol.asyncDispose]();
    await b?.[Symbol.asyncDispose]();
    await up?.[Symbol.asyncDispose]();
    await sql?.close({ timeout: 0 });
    await pg?.[Symbol.asyncDispose]();
  });

  test("both instances write their rows to one table, and /usage on either counts them all", async () => {
    expect(a.stdout).toContain(`usage: postgres://test@127.0.0.1:${pg.port}/postgres`);
    const statuses = await Promise.all([chat(a, BOB), chat(a, BOB), chat(b, BOB), chat(b, BOB, "claude"), chat(a, ADMIN, "claude")]);
    expect(statuses).toEqual([200, 200, 200, 403, 200]);
    const all = await waitForRows(rows, () => true, 5);
    expect(all.map((r) => [r.key_name, r.alias, Number(r.status), r.outcome]).sort()).toEqual([
      ["", "claude", 200, "served"],
      ["bob", "claude", 403, "forbidden"],
      ["bob", "gpt", 200, "served"],
      ["bob", "gpt", 200, "served"],
      ["bob", "gpt", 200, "served"],
    ]);
    // Postgres's own booleans for a stream's end; null for JSON answers.
    expect(all.every((r) => r.stream_complete === null)).toBe(true);
    for (const p of [a, b]) {
      const usage = (await (await fetch(`${p.url}/usage?by=key`, { headers: { authorization: `Bearer ${ADMIN}` } })).json()) as { rows: { key: string; requests: number; input_tokens: number }[] };
      expect(Object.fromEntries(usage.rows.map((r) => [r.key, [r.requests, r.input_tokens]]))).toEqual({ bob: [4, 210], "": [1, 70] });
    }
    const report = await runMain(["usage", "-config", "config.yaml", "--since", "1d", "--by", "key"], b.dir);
    expect(report.err).toBe("");
    expect(report.code).toBe(0);
    expect(report.out).toContain(`(postgres://test@127.0.0.1:${pg.port}/postgres)`);
    expect(report.out).toMatch(/\nbob\s+4\s+210\s+90\s+0\s+60\s/);
  });

  test("a budget spent through one instance is read back by an instance that starts later", async () => {
    // $0, $0.012 and $0.024 spent before each: all three admitted, $0.036 spent.
    for (const p of [a, b, a]) expect(await chat(p, ALICE)).toBe(200);
    await waitForRows(rows, (r) => r.key_name === "alice", 3);
    await using c = await ProxyProcess.start(config(up.url, pg.url));
    const res = await post(`${c.url}/v1/chat/completions`, { model: "gpt", messages: [] }, { authorization: `Bearer ${ALICE}` });
    expect(res.status).toBe(429);
    expect(((await res.json()) as { error: { message: string } }).error.message).toContain("monthly budget (budget: $0.03, $0.04 spent");
    const mine = (await (await fetch(`${c.url}/usage`, { headers: { authorization: `Bearer ${ALICE}` } })).json()) as { budget: { spent_usd: number; remaining_usd: number } };
    expect(mine.budget.spent_usd).toBeCloseTo(0.036, 9);
    expect(mine.budget.remaining_usd).toBe(0);
  }, 60_000);
});
