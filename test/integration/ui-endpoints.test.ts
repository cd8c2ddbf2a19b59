import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { parseConfig } from "../../src/config/load.ts";
import type { Snapshot, Spend, Tick } from "../../src/server/live-model.ts";
import { chatCompletion, FakeProvider, modelOf, waitFor } from "../helpers/fake-provider.ts";
import { post } from "../helpers/http.ts";
import { killAllProxies, ProxyProcess } from "../helpers/proxy-process.ts";
import { startProxy } from "../helpers/proxy.ts";

afterAll(killAllProxies);

const ADMIN = "sk-ui-admin-key-0123456789abcdef";
const ALICE = "sk-ui-alice-key-0123456789abcdef";

/** Reads the event stream until `enough` says so; returns every event as [name, data]. */
async function readEvents(res: Response, enough: (events: [string, unknown][]) => boolean, ms = 15_000): Promise<{ events: [string, unknown][]; sizes: number[] }> {
  const reader = res.body!.getReader();
  const decoder = new TextDecoder();
  const events: [string, unknown][] = [];
  const sizes: number[] = [];
  let buffer = "";
  const deadline = Date.now() + ms;
  while (!enough(events)) {
    if (Date.now() > deadline) throw new Error(`the feed did not say enough in ${ms} ms; it sent ${events.map(([n]) => n).join(", ")}`);
    const { value, done } = await reader.read();
    if (done) break;
    buffer += decoder.decode(value, { stream: true });
    let end: number;
    while ((end = buffer.indexOf("\n\n")) !== -1) {
      const block = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      const name = /^event: (.+)$/m.exec(block)![1]!;
      const data = /^data: (.+)$/m.exec(block)![1]!;
      sizes.push(data.length);
      events.push([name, JSON.parse(data)]);
    }
  }
  await reader.cancel();
  return { events, sizes };
}

const yaml = (url: string, extra = "") => `listen: "127.0.0.1:0"
proxy_api_key: "${ADMIN}"
fallback: { cooldown_seconds: 60 }
backends:
  - { name: up, url: "${url}/v1", api_key: "sk-backend-secret-do-not-show-0000", price: { input: 1000, output: 2000 } }
models:
  chat:
    routes:
      - { backend: up, model: down-model, priority: 1 }
      - { backend: up, model: ok-model, priority: 2 }
  other: { routes: [{ backend: up, model: ok-2 }] }
keys:
  - { name: alice, key: "${ALICE}", budget: { usd: 1, per: day } }
${extra}`;

describe("ui settings", () => {
  const page = (proxyUrl: string, path = "/ui") => fetch(`${proxyUrl}${path}`);

  test("off by default on an open proxy: /ui and /status/events are not endpoints", async () => {
    await using proxy = startProxy(`backends: [{ name: a, url: "http://127.0.0.1:9/v1" }]\nmodels: { m: { routes: [{ backend: a, model: x }] } }\n`);
    expect(proxy.proxy.config().ui.enabled).toBe(false);
    expect((await page(proxy.url)).status).toBe(404);
    expect((await fetch(`${proxy.url}/status/events`)).status).toBe(404);
  });

  test("on by default with a proxy key; ui.enabled: false turns it off; ui.path moves it", async () => {
    const base = `proxy_api_key: "${ADMIN}"\nbackends: [{ name: a, url: "http://127.0.0.1:9/v1" }]\nmodels: { m: { routes: [{ backend: a, model: x }] } }\n`;
    {
      await using proxy = startProxy(base);
      const res = await page(proxy.url);
      expect(res.status).toBe(200);
      expect(res.headers.get("content-type")).toContain("text/html");
    }
    {
      await using proxy = startProxy(`${base}ui: { enabled: false }\n`);
      // Not an endpoint: a request there is a proxied path like any other, and needs the key.
      const res = await page(proxy.url);
      expect(res.status).toBe(401);
      expect(res.headers.get("content-type")).not.toContain("text/html");
    }
    {
      await using proxy = startProxy(`${base}ui: { path: /ops/dashboard }\n`);
      expect((await page(proxy.url, "/ops/dashboard")).status).toBe(200);
      expect((await page(proxy.url)).headers.get("content-type")).not.toContain("text/html");
    }
  });

  test("a path the proxy needs, or one that is not a path, is an error saying what to write", () => {
    for (const path of ["/v1/ui", "/status", "ui", "/a b", "/"]) {
      const { config, problems } = parseConfig(`ui: { path: "${path}" }\n`, "c.yaml");
      expect(config).toBeUndefined();
      expect(problems.map(String).join("\n")).toContain("ui.path");
      expect(problems.map(String).join("\n")).toContain("expected a path such as /ui");
    }
  });

  test("ui.enabled: true without a proxy key starts, with a warning that the page is open", () => {
    const { config, problems } = parseConfig(`ui: { enabled: true }\n`, "c.yaml");
    expect(config?.ui.enabled).toBe(true);
    expect(problems.map(String).join("\n")).toContain("the status page is on without proxy_api_key");
  });
});

describe("the page's feed and spend endpoints", () => {
  let up: FakeProvider;
  let proxy: ProxyProcess;
  const as = (key: string | undefined, path: string, init: RequestInit = {}) => fetch(`${proxy.url}${path}`, { ...init, headers: key ? { authorization: `Bearer ${key}` } : {} });
  const chat = (model: string, key = ADMIN) => post(`${proxy.url}/v1/chat/completions`, { model, messages: [{ role: "user", content: "hi" }] }, { authorization: `Bearer ${key}` });

  beforeAll(async () => {
    up = new FakeProvider((r) => (modelOf(r).startsWith("down") ? Response.json({ error: { message: "down for maintenance" } }, { status: 500 }) : Response.json(chatCompletion("ok", modelOf(r)))));
    proxy = await ProxyProcess.start(yaml(up.url));
  });

  afterAll(async () => {
    await up[Symbol.asyncDispose]();
  });

  test("the start-up block names the page", () => {
    expect(proxy.stdout).toContain(`status page: ${proxy.url}/ui`);
  });

  test("only the proxy key reads them: 401 without a key, 403 with a key of keys:, 405 for another method", async () => {
    for (const path of ["/status/events", "/status/spend"]) {
      expect((await as(undefined, path)).status).toBe(401);
      expect((await as(ALICE, path)).status).toBe(403);
      expect((await as(ADMIN, path, { method: "POST" })).status).toBe(405);
    }
  });

  test("a snapshot first, with the routes in plan order and no secret; then ticks that show a pair cooling with its failure", async () => {
    const res = await as(ADMIN, "/status/events");
    expect(res.headers.get("content-type")).toBe("text/event-stream");
    let served = false;
    const { events } = await readEvents(res, (events) => {
      if (events.length === 1 && !served) {
        served = true;
        void chat("chat");
      }
      return events.some(([name, data]) => name === "tick" && (data as Tick).cooling.length > 0 && (data as Tick).recent.length > 0);
    });
    const [name, data] = events[0]!;
    expect(name).toBe("snapshot");
    const snapshot = data as Snapshot;
    expect(JSON.stringify(snapshot)).not.toContain("sk-backend-secret");
    expect(JSON.stringify(snapshot)).not.toContain(ADMIN);
    expect(JSON.stringify(snapshot)).not.toContain(ALICE);
    const chatAlias = snapshot.aliases.find((a) => a.name === "chat")!;
    expect(chatAlias.routes.map((r) => snapshot.pairs[r.pair]!.model)).toEqual(["down-model", "ok-model"]);
    expect(snapshot.keys).toEqual([{ name: "alice", budget: { usd: 1, per: "day" } }]);
    const tick = events.map(([, d]) => d as Tick).find((t) => t.cooling?.length > 0)!;
    const cooling = tick.cooling[0]!;
    expect(snapshot.pairs[cooling[0]]!.model).toBe("down-model");
    expect(cooling[1]).toBeGreaterThan(Date.now() + 50_000);
    expect(cooling[3]).toBe(500);
    const failure = events.flatMap(([, d]) => (d as Tick).failures ?? []).find((f) => f[0] === cooling[0])!;
    expect(failure[2]).toBe(500);
    const recent = events.flatMap(([, d]) => (d as Tick).recent ?? []);
    expect(recent[0]).toMatchObject({ alias: "chat", route: "up/ok-model", attempts: 2, status: 200, outcome: "served" });
    await as(ADMIN, "/status/cooldowns", { method: "DELETE" });
  });

  test("under a flood every tick stays under 2 KiB, and the ticks say how many requests they left out", async () => {
    const res = await as(ADMIN, "/status/events");
    let flooded = false;
    const { events, sizes } = await readEvents(res, (events) => {
      if (events.length === 1) void Promise.all(Array.from({ length: 300 }, (_, i) => chat(i % 2 === 0 ? "other" : "chat"))).then(() => (flooded = true));
      // The flood is over and the 5-second step it fell in has closed.
      return flooded && events.some(([name, d]) => name === "tick" && "alias:other" in (d as Tick).points);
    }, 30_000);
    const ticks = events.filter(([name]) => name === "tick");
    expect(Math.max(...sizes.slice(1))).toBeLessThan(2048);
    // 300 requests, and at most 8 listed per tick: the rest are counted, not lost silently.
    const listed = ticks.reduce((n, [, d]) => n + (d as Tick).recent.length, 0);
    const left = ticks.reduce((n, [, d]) => n + (d as Tick).more, 0);
    expect(Math.max(...ticks.map(([, d]) => (d as Tick).recent.length))).toBeLessThanOrEqual(8);
    expect(left).toBeGreaterThan(0);
    expect(listed + left).toBe(300);
    const points = ticks.flatMap(([, d]) => Object.entries((d as Tick).points));
    expect(points.some(([series, p]) => series === "alias:other" && p[1] > 0)).toBe(true);
  });

  test("/status/spend: today and this month by key and alias, and what is left of a key's budget", async () => {
    expect((await chat("other", ALICE)).status).toBe(200);
    let spend: Spend | undefined;
    await waitFor(async () => {
      spend = (await (await as(ADMIN, "/status/spend")).json()) as Spend;
      return spend.day.byKey.some((r) => r.name === "alice");
    }, "alice's spend to reach the ledger");
    expect(spend!.enabled).toBe(true);
    const alice = spend!.day.byKey.find((r) => r.name === "alice")!;
    // 1 input token at $1000 per million and 1 output at $2000: $0.003.
    expect(alice).toMatchObject({ requests: 1, input: 1, output: 1 });
    expect(alice.usd).toBeCloseTo(0.003, 6);
    expect(spend!.month.byAlias.some((r) => r.name === "other")).toBe(true);
    const budget = spend!.budgets.find((b) => b.key === "alice")!;
    expect(budget).toMatchObject({ per: "day", usd: 1, tokens: null });
    expect(budget.spentUsd).toBeCloseTo(0.003, 6);
    expect(budget.resetsAt).toBeGreaterThan(Date.now());
  });
});
