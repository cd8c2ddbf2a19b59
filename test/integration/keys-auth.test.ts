import Anthropic from "@anthropic-ai/sdk";
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import OpenAI from "openai";
import { waitFor } from "../helpers/fake-provider.ts";
import { anthropicError, openaiError, post } from "../helpers/http.ts";
import { sha256Hex, sqliteRows, waitForRows } from "../helpers/ledger-file.ts";
import { killAllProxies, ProxyProcess, sample } from "../helpers/proxy-process.ts";
import { UsageProvider } from "../helpers/usage-provider.ts";

afterAll(killAllProxies);

// None of these look like an `sk-` key: masking must come from knowing them, not from their shape.
const ADMIN = "admin-proxy-key-0123456789abcdef";
const ALICE = "alice-literal-key-0123456789";
const BOB = "bob-env-key-0123456789abcdef";
const CAROL = "carol-hashed-key-0123456789";
const DAVE = "dave-expired-key-0123456789";
const ERIN = "erin-globbed-key-0123456789";
const FRANK = "frank-disabled-key-012345678";
const GINA = "gina-budget-key-0123456789ab";
const WRONG = "nobody-knows-this-key-98765";
const UPSTREAM = "upstream-provider-key-55555555";
const VALUES = [ADMIN, ALICE, BOB, CAROL, DAVE, ERIN, FRANK, GINA, WRONG, UPSTREAM];

const config = (url: string) => `listen: "127.0.0.1:0"
proxy_api_key: ${ADMIN}
logging:
  level: debug
  general_file: ./logs/proxy.log
  separate_files: true
metrics:
  public: false
backends:
  - { name: up, url: "${url}/v1", api_key: ${UPSTREAM}, price: { input: 1, output: 2 } }
models:
  gpt-4o: { routes: [{ backend: up, model: chat-a }] }
  gpt-mini: { routes: [{ backend: up, model: chat-b }] }
  claude: { routes: [{ backend: up, model: ant-c }] }
  retired: { enabled: false, routes: [{ backend: up, model: chat-x }] }
keys:
  - { name: alice, key: ${ALICE} }
  - { name: bob, key: "\${BOB_KEY}" }
  - { name: carol, key: "sha256:${sha256Hex(CAROL)}" }
  - { name: dave, key: ${DAVE}, expires: "2020-01-31" }
  - { name: erin, key: ${ERIN}, models: ["gpt-*"] }
  - { name: frank, key: ${FRANK}, enabled: false }
  - { name: gina, key: ${GINA}, models: [claude, gpt-4o], budget: { usd: 5, per: month } }
`;

const bearer = (key: string) => ({ authorization: `Bearer ${key}` });
const xApiKey = (key: string) => ({ "x-api-key": key });
const chatBody = (model: string) => ({ model, messages: [{ role: "user", content: "hi" }] });
const messagesBody = (model: string) => ({ model, max_tokens: 16, messages: [{ role: "user", content: "hi" }] });

describe("keys: who may ask, for what", () => {
  let up: UsageProvider;
  let proxy: ProxyProcess;
  /** Every body the proxy answered with, for the leak check at the end. */
  const bodies: string[] = [];
  const chat = async (model: string, headers: Record<string, string>) => {
    const res = await post(`${proxy.url}/v1/chat/completions`, chatBody(model), headers);
    const text = await res.text();
    bodies.push(text);
    return { res, text };
  };
  const messages = async (model: string, headers: Record<string, string>) => {
    const res = await post(`${proxy.url}/v1/messages`, messagesBody(model), { "anthropic-version": "2023-06-01", ...headers });
    const text = await res.text();
    bodies.push(text);
    return { res, text };
  };
  const get = async (path: string, headers: Record<string, string> = {}, method = "GET") => {
    const res = await fetch(`${proxy.url}${path}`, { method, headers });
    const text = await res.text();
    bodies.push(text);
    return { res, text };
  };
  const db = () => join(proxy.dir, "data", "llm-proxy.db");

  beforeAll(async () => {
    up = new UsageProvider();
    proxy = await ProxyProcess.start(config(up.url), { env: { BOB_KEY: BOB } });
  }, 60_000);
  afterAll(async () => {
    await proxy?.[Symbol.asyncDispose]();
    await up?.[Symbol.asyncDispose]();
  });

  test("a key given as a value, as ${ENV} and as sha256:<hex> each authenticate, as Authorization: Bearer and as x-api-key", async () => {
    for (const key of [ALICE, BOB, CAROL]) {
      // The scheme's case does not matter (RFC 9110, 11.1); some clients send "bearer".
      for (const headers of [bearer(key), xApiKey(key), { authorization: `bearer ${key}` }]) {
        const { res, text } = await chat("gpt-4o", headers);
        expect(res.status, text).toBe(200);
        const answer = await messages("claude", headers);
        expect(answer.res.status, answer.text).toBe(200);
        expect(JSON.parse(answer.text).type).toBe("message");
      }
    }
    // The provider gets its own key, never the client's.
    for (const r of up.received) {
      expect(r.headers.get("authorization")).toBe(`Bearer ${UPSTREAM}`);
      expect(r.headers.get("x-api-key")).toBeNull();
    }
    // The ledger names each request's key by its name.
    const rows = await waitForRows(() => sqliteRows(db()), (r) => ["alice", "bob", "carol"].includes(r.key_name), 18);
    for (const name of ["alice", "bob", "carol"]) expect(rows.filter((r) => r.key_name === name).length).toBe(6);
  });

  test("a wrong, disabled or missing key gets 401 in the caller's protocol, and nothing goes upstream", async () => {
    const before = up.received.length;
    for (const headers of [bearer(WRONG), xApiKey(WRONG), bearer(FRANK), {}]) {
      const openai = await chat("gpt-4o", headers);
      expect(openai.res.status).toBe(401);
      expect(JSON.parse(openai.text).error).toMatchObject({ type: "authentication_error", code: "invalid_api_key" });
      const anthropic = await messages("claude", headers);
      expect(anthropic.res.status).toBe(401);
      expect(JSON.parse(anthropic.text)).toMatchObject({ type: "error", error: { type: "authentication_error" } });
    }
    expect(up.received.length).toBe(before);
  });

  test("an expired key gets 401 naming when it expired", async () => {
    const before = up.received.length;
    const openai = await chat("gpt-4o", bearer(DAVE));
    expect(openai.res.status).toBe(401);
    const error = JSON.parse(openai.text).error;
    expect(error.type).toBe("authentication_error");
    // `expires: 2020-01-31` is the end of that day, UTC.
    expect(error.message).toContain('key "dave" expired at 2020-02-01T00:00:00');
    const anthropic = await messages("claude", xApiKey(DAVE));
    expect(anthropic.res.status).toBe(401);
    expect(JSON.parse(anthropic.text).error.message).toContain("expired at 2020-02-01");
    expect(up.received.length).toBe(before);
  });

  test("an alias outside a key's models gets 403 permission_error naming it, in OpenAI's shape or Anthropic's by path", async () => {
    const before = up.received.length;
    // gpt-* matches both gpt aliases.
    expect((await chat("gpt-mini", bearer(ERIN))).res.status).toBe(200);
    expect((await chat("gpt-4o", bearer(ERIN))).res.status).toBe(200);
    const openai = await chat("claude", bearer(ERIN));
    expect(openai.res.status).toBe(403);
    const body = JSON.parse(openai.text);
    expect(body.error).toMatchObject({ type: "permission_error", code: "model_not_allowed" });
    expect(body.error.message).toContain('"claude"');
    expect(body.error.message).toContain('"erin"');
    const anthropic = await messages("claude", xApiKey(ERIN));
    expect(anthropic.res.status).toBe(403);
    const shaped = JSON.parse(anthropic.text);
    expect(shaped).toMatchObject({ type: "error", error: { type: "permission_error" } });
    expect(shaped.error.message).toContain('"claude"');
    // Names in the list are exact: gina may use gpt-4o but not gpt-mini.
    expect((await chat("gpt-4o", bearer(GINA))).res.status).toBe(200);
    expect((await chat("gpt-mini", bearer(GINA))).res.status).toBe(403);
    expect(up.received.length).toBe(before + 3);
    // Each refusal is in the ledger with its outcome and no tokens.
    const refused = await waitForRows(() => sqliteRows(db()), (r) => r.status === 403, 3);
    expect(refused.map((r) => [r.key_name, r.alias, r.outcome]).sort()).toEqual([
      ["erin", "claude", "forbidden"],
      ["erin", "claude", "forbidden"],
      ["gina", "gpt-mini", "forbidden"],
    ]);
    for (const r of refused) expect([r.input_tokens, r.output_tokens, r.cost_usd, r.attempts, r.backend]).toEqual([0, 0, 0, 0, ""]);
  });

  test("/v1/models with a key lists only its aliases; without a key, or with the proxy key, every enabled alias", async () => {
    const ids = async (headers: Record<string, string>, path = "/v1/models") => {
      const { res, text } = await get(path, headers);
      expect(res.status).toBe(200);
      return (JSON.parse(text).data as { id: string }[]).map((m) => m.id).sort();
    };
    const every = ["claude", "gpt-4o", "gpt-mini"];
    expect(await ids({})).toEqual(every);
    expect(await ids(bearer(ADMIN))).toEqual(every);
    expect(await ids(bearer(ALICE))).toEqual(every);
    expect(await ids(bearer(ERIN))).toEqual(["gpt-4o", "gpt-mini"]);
    expect(await ids(xApiKey(ERIN), "/models")).toEqual(["gpt-4o", "gpt-mini"]);
    expect(await ids({ ...xApiKey(GINA), "anthropic-version": "2023-06-01" })).toEqual(["claude", "gpt-4o"]);
  });

  test("the proxy key uses every alias, without limits, and is the only key for /status, cooldown clearing, /metrics and everyone's /usage", async () => {
    for (const model of ["gpt-4o", "gpt-mini"]) expect((await chat(model, bearer(ADMIN))).res.status).toBe(200);
    expect((await messages("claude", xApiKey(ADMIN))).res.status).toBe(200);

    expect((await get("/status", bearer(ADMIN))).res.status).toBe(200);
    expect((await get("/status/cooldowns", bearer(ADMIN), "DELETE")).res.status).toBe(200);
    expect((await get("/metrics", bearer(ADMIN))).res.status).toBe(200);
    for (const [path, method] of [
      ["/status", "GET"],
      ["/status/cooldowns", "DELETE"],
      ["/metrics", "GET"],
    ] as const) {
      const { res, text } = await get(path, bearer(ALICE), method);
      expect(res.status).toBe(403);
      const error = JSON.parse(text).error;
      expect(error.type).toBe("permission_error");
      expect(error.message).toContain("proxy_api_key");
      expect((await get(path, {}, method)).res.status).toBe(401);
    }

    // Everyone's usage, by key, for the proxy key.
    await waitForRows(() => sqliteRows(db()), (r) => r.key_name === "" && r.status === 200, 3);
    const all = JSON.parse((await get("/usage?by=key", bearer(ADMIN))).text) as { rows: { key: string; requests: number }[] };
    const byKey = new Map(all.rows.map((r) => [r.key, r.requests]));
    for (const name of ["alice", "bob", "carol", "erin", "gina"]) expect(byKey.get(name)).toBeGreaterThan(0);
    const onlyBob = JSON.parse((await get("/usage?key=bob", bearer(ADMIN))).text) as { rows: { key: string }[] };
    expect(onlyBob.rows.map((r) => r.key)).toEqual(["bob"]);

    // A key of keys: may not read another key's usage…
    const others = await get("/usage?key=bob", bearer(ALICE));
    expect(others.res.status).toBe(403);
    const refusal = JSON.parse(others.text).error;
    expect(refusal.type).toBe("permission_error");
    expect(refusal.message).toContain("proxy_api_key");
    // …nor can an expired key read anything.
    const expired = await get("/usage", bearer(DAVE));
    expect(expired.res.status).toBe(401);
    expect(JSON.parse(expired.text).error.message).toContain("expired at 2020-02-01");
    // It sees its own totals (naming itself is fine).
    const mine = JSON.parse((await get("/usage?key=alice&by=key", bearer(ALICE))).text) as { key: string; rows: { key: string; requests: number; input_tokens: number }[] };
    expect(mine.key).toBe("alice");
    expect(mine.rows).toEqual([expect.objectContaining({ key: "alice", requests: 6, input_tokens: 3 * 70 + 3 * 50 })]);
    // …and what is left of its budget.
    const budgeted = JSON.parse((await get("/usage", xApiKey(GINA))).text) as { key: string; budget: { per: string; usd: number; spent_usd: number; remaining_usd: number; resets_at: string } };
    expect(budgeted.key).toBe("gina");
    // gina's one answered request: 70 input at $1/M and 20 output at $2/M, 30 cache reads at the input price.
    const spent = (70 * 1 + 20 * 2 + 30 * 1) / 1e6;
    expect(budgeted.budget).toMatchObject({ per: "month", usd: 5 });
    expect(budgeted.budget.spent_usd).toBeCloseTo(spent, 12);
    expect(budgeted.budget.remaining_usd).toBeCloseTo(5 - spent, 12);
    expect(new Date(budgeted.budget.resets_at).getUTCDate()).toBe(1);
  });

  test("the real SDKs authenticate with keys of keys:, and see a refused alias as a permission error", async () => {
    const openai = new OpenAI({ baseURL: `${proxy.url}/v1`, apiKey: BOB, maxRetries: 0 });
    const completion = await openai.chat.completions.create({ model: "gpt-4o", messages: [{ role: "user", content: "hi" }] });
    expect(completion.choices[0]?.message.content).toBe("hi");
    const models = await openai.models.list();
    expect(models.data.map((m) => m.id).sort()).toEqual(["claude", "gpt-4o", "gpt-mini"]);
    const anthropic = new Anthropic({ baseURL: proxy.url, apiKey: CAROL, maxRetries: 0 });
    const message = await anthropic.messages.create({ model: "claude", max_tokens: 16, messages: [{ role: "user", content: "hi" }] });
    expect(message.usage.input_tokens).toBe(50);
    const refused = new Anthropic({ baseURL: proxy.url, apiKey: ERIN, maxRetries: 0 });
    const error = await refused.messages.create({ model: "claude", max_tokens: 16, messages: [{ role: "user", content: "hi" }] }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(Anthropic.PermissionDeniedError);
    const expired = new OpenAI({ baseURL: `${proxy.url}/v1`, apiKey: DAVE, maxRetries: 0 });
    expect(await expired.chat.completions.create({ model: "gpt-4o", messages: [] }).catch((e: unknown) => e)).toBeInstanceOf(OpenAI.AuthenticationError);
  });

  test("keys appear nowhere by value, in output, log files, request files, error bodies or metrics; by name where a key is named", async () => {
    const metrics = (await get("/metrics", bearer(ADMIN))).text;
    expect(sample(metrics, "llm_proxy_tokens_total", { key: "alice", alias: "gpt-4o", backend: "up", model: "chat-a", kind: "input" })).toBe(210);
    expect(sample(metrics, "llm_proxy_tokens_total", { key: "carol", alias: "claude", backend: "up", model: "ant-c", kind: "cache_write" })).toBeGreaterThan(0);
    // Every log line is written before the process is asked to stop; stopping flushes the files.
    proxy.signal("SIGTERM");
    expect(await proxy.exit()).toBe(0);
    const files: string[] = [];
    const walk = (dir: string) => {
      for (const name of readdirSync(dir)) {
        const path = join(dir, name);
        if (statSync(path).isDirectory()) walk(path);
        else files.push(path);
      }
    };
    walk(join(proxy.dir, "logs"));
    expect(files.some((f) => f.includes("proxy_"))).toBe(true);
    expect(files.length).toBeGreaterThan(3);
    const texts: [string, string][] = [
      ["stdout", proxy.stdout],
      ["stderr", proxy.stderr],
      ["metrics", metrics],
      ...bodies.map((b, i): [string, string] => [`answer ${i}`, b]),
      ...files.map((f): [string, string] => [f, readFileSync(f, "utf8")]),
    ];
    const leaks = texts.flatMap(([where, text]) => VALUES.filter((v) => text.includes(v)).map((v) => `${where}: ${v}`));
    expect(leaks).toEqual([]);
    // The names are there instead.
    expect(proxy.stdout).toContain("key=alice");
    expect(proxy.stdout).toContain("key=carol");
  });
});

describe("a config without keys:", () => {
  test("an open proxy (no proxy_api_key) serves every alias, lists them, and keeps /status and /usage open, as before", async () => {
    await using up = new UsageProvider();
    await using proxy = await ProxyProcess.start(`listen: "127.0.0.1:0"
backends:
  - { name: up, url: "${up.url}/v1" }
models:
  gpt-4o: { routes: [{ backend: up, model: chat-a }] }
  claude: { routes: [{ backend: up, model: ant-c }] }
`);
    expect((await post(`${proxy.url}/v1/chat/completions`, chatBody("gpt-4o"))).status).toBe(200);
    // Any key at all is ignored by an open proxy, as by the original.
    expect((await post(`${proxy.url}/v1/messages`, messagesBody("claude"), { "x-api-key": "whatever-the-client-sends", "anthropic-version": "2023-06-01" })).status).toBe(200);
    const models = (await (await fetch(`${proxy.url}/v1/models`)).json()) as { data: { id: string }[] };
    expect(models.data.map((m) => m.id).sort()).toEqual(["claude", "gpt-4o"]);
    expect((await fetch(`${proxy.url}/status`)).status).toBe(200);
    await waitForRows(() => sqliteRows(join(proxy.dir, "data", "llm-proxy.db")), (r) => r.status === 200, 2);
    const usage = (await (await fetch(`${proxy.url}/usage`)).json()) as { rows: { key: string; requests: number }[] };
    expect(usage.rows).toEqual([expect.objectContaining({ key: "", requests: 2 })]);
  });

  test("with proxy_api_key only, the proxy key is needed and the answer to a wrong one is unchanged", async () => {
    await using up = new UsageProvider();
    await using proxy = await ProxyProcess.start(`listen: "127.0.0.1:0"
proxy_api_key: ${ADMIN}
backends:
  - { name: up, url: "${up.url}/v1" }
models:
  gpt-4o: { routes: [{ backend: up, model: chat-a }] }
`);
    expect((await post(`${proxy.url}/v1/chat/completions`, chatBody("gpt-4o"), bearer(ADMIN))).status).toBe(200);
    const wrong = await post(`${proxy.url}/v1/chat/completions`, chatBody("gpt-4o"), bearer(ALICE));
    expect(wrong.status).toBe(401);
    expect((await openaiError(wrong)).error.code).toBe("invalid_api_key");
    const anthropic = await post(`${proxy.url}/v1/messages`, messagesBody("gpt-4o"), {});
    expect((await anthropicError(anthropic)).error.type).toBe("authentication_error");
    expect((await fetch(`${proxy.url}/v1/models`)).status).toBe(200);
    expect(up.received.length).toBe(1);
  });
});
