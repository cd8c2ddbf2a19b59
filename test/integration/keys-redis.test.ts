import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { waitFor, type Received } from "../helpers/fake-provider.ts";
import { post } from "../helpers/http.ts";
import { killAllProxies, ProxyProcess } from "../helpers/proxy-process.ts";
import { redisServerPath, TestRedis } from "../helpers/redis.ts";
import { UsageProvider } from "../helpers/usage-provider.ts";

afterAll(killAllProxies);

if (!redisServerPath && process.env.CI !== "true") {
  console.warn("key limits through Redis skipped: redis-server is not installed (Debian: apt-get install redis-server); .ci/run installs it");
}
// Under CI a missing redis-server fails (TestRedis.start says what to install) instead of skipping.
const maybe = redisServerPath || process.env.CI === "true" ? describe : describe.skip;

const ADMIN = "admin-redis-limits-0123456789abcdef";
const RPM = "rpm-redis-key-0123456789abcdef";
const CONC = "conc-redis-key-0123456789abcdef";

const config = (url: string, redis: string) => `listen: "127.0.0.1:0"
proxy_api_key: ${ADMIN}
cluster:
  redis_url: "${redis}"
  key_prefix: "keys-test-${process.pid}:"
backends:
  - { name: up, url: "${url}/v1" }
models:
  rpm: { routes: [{ backend: up, model: chat-rpm }] }
  conc: { routes: [{ backend: up, model: chat-hold-conc }] }
keys:
  - { name: shared-rpm, key: ${RPM}, limits: { rpm: 10 } }
  - { name: shared-conc, key: ${CONC}, limits: { concurrent: 3 } }
`;

maybe("key limits shared by two instances through Redis", () => {
  let redis: TestRedis;
  let up: UsageProvider;
  let a: ProxyProcess;
  let b: ProxyProcess;
  const upstream = (model: string) => up.received.filter((r: Received) => (JSON.parse(r.text) as { model: string }).model === model).length;
  const ask = (p: ProxyProcess, alias: string, key: string) =>
    post(`${p.url}/v1/chat/completions`, { model: alias, messages: [{ role: "user", content: "hi" }] }, { authorization: `Bearer ${key}` }).then(async (r) => ({ status: r.status, body: await r.text() }));

  beforeAll(async () => {
    redis = await TestRedis.start();
    up = new UsageProvider();
    [a, b] = await Promise.all([ProxyProcess.start(config(up.url, redis.url)), ProxyProcess.start(config(up.url, redis.url))]);
    // Each instance decides alone until its link is up: wait for both.
    await Promise.all([a, b].map((p) => p.waitForOutput("sharing key limits through Redis", "the Redis limits link")));
  }, 60_000);
  afterAll(async () => {
    await a?.[Symbol.asyncDispose]();
    await b?.[Symbol.asyncDispose]();
    await up?.[Symbol.asyncDispose]();
    await redis?.[Symbol.asyncDispose]();
  });

  test("rpm 10 over two instances under a burst of 50: exactly 10 served in all", async () => {
    const burst = Array.from({ length: 50 }, (_, i) => ask(i % 2 === 0 ? a : b, "rpm", RPM));
    const answers = await Promise.all(burst);
    expect(answers.filter((x) => x.status === 200).length).toBe(10);
    expect(answers.filter((x) => x.status === 429).length).toBe(40);
    expect(upstream("chat-rpm")).toBe(10);
    for (const x of answers.filter((y) => y.status === 429)) expect(JSON.parse(x.body).error.message).toContain("rpm: 10 requests per minute");
    // Neither instance fell back to its own counters.
    for (const p of [a, b]) expect(p.output).not.toContain("deciding locally");
  });

  test("concurrent 3 over two instances: exactly 3 in flight in all, and the slots free when they end", async () => {
    up.hold();
    const burst = Array.from({ length: 20 }, (_, i) => ask(i % 2 === 0 ? a : b, "conc", CONC));
    await waitFor(() => up.waiting === 3, "three requests held at the provider");
    const settled: number[] = [];
    for (const p of burst) void p.then((x) => settled.push(x.status));
    await waitFor(() => settled.length === 17, "17 refusals");
    expect(settled.every((s) => s === 429)).toBe(true);
    expect(upstream("chat-hold-conc")).toBe(3);
    up.release();
    expect((await Promise.all(burst)).filter((x) => x.status === 200).length).toBe(3);
    // Released on both instances: three more fit at once, wherever they arrive.
    up.hold();
    const again = [ask(a, "conc", CONC), ask(b, "conc", CONC), ask(b, "conc", CONC)];
    await waitFor(() => up.waiting === 3, "three new requests held");
    up.release();
    expect((await Promise.all(again)).map((x) => x.status)).toEqual([200, 200, 200]);
  });
});
