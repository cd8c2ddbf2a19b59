import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { cooldownKey } from "../../src/config/pair.ts";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ClusterLink } from "../../src/ops/cluster.ts";
import { Logger } from "../../src/log/logger.ts";
import { chatCompletion, FakeProvider, waitFor } from "../helpers/fake-provider.ts";
import { CapturedLog, startProxy, type TestProxy } from "../helpers/proxy.ts";
import { freePort, redisTool, TestRedis } from "../helpers/redis.ts";

const KEY = "sk-cluster-test-key-0000";
const PAIR = cooldownKey("limited", "real-a");

const maybe = redisTool.describe;

const config = (limited: string, healthy: string) => `
proxy_api_key: ${KEY}
backends:
  - { name: limited, url: "${limited}/v1" }
  - { name: healthy, url: "${healthy}/v1" }
models:
  m:
    routes:
      - { backend: limited, model: real-a, priority: 1 }
      - { backend: healthy, model: real-b, priority: 2 }
fallback:
  cooldown_seconds: 2
`;

interface Instance {
  proxy: TestProxy;
  link: ClusterLink;
  log: CapturedLog;
}

maybe("cooldowns shared through Redis", () => {
  let redis: TestRedis;
  let limited: FakeProvider;
  let healthy: FakeProvider;
  let a: Instance;
  let b: Instance;
  const prefix = `test-${process.pid}:`;

  const instance = async (): Promise<Instance> => {
    const proxy = startProxy(config(limited.url, healthy.url));
    const log = new CapturedLog();
    const logger = new Logger(log);
    const link = new ClusterLink({ url: redis.url, prefix, table: proxy.proxy.cooldowns, log: logger, resyncMs: 500 });
    await link.start();
    return { proxy, link, log };
  };
  const ask = (i: Instance) =>
    fetch(`${i.proxy.url}/v1/chat/completions`, { method: "POST", headers: { authorization: `Bearer ${KEY}` }, body: JSON.stringify({ model: "m" }) });
  const until = async (i: Instance) => {
    const status = (await (await fetch(`${i.proxy.url}/status`, { headers: { authorization: `Bearer ${KEY}` } })).json()) as { cooldowns: { until: string }[] };
    return status.cooldowns.map((c) => Date.parse(c.until));
  };

  beforeAll(async () => {
    redis = await TestRedis.start();
    limited = new FakeProvider(() => Response.json({ error: { message: "slow down" } }, { status: 429 }));
    healthy = new FakeProvider(() => Response.json(chatCompletion("fine")));
    a = await instance();
    b = await instance();
    await waitFor(() => a.link.connected && b.link.connected, "both links to connect");
  });

  afterAll(async () => {
    for (const i of [a, b]) {
      await i?.link.stop();
      await i?.proxy[Symbol.asyncDispose]();
    }
    await limited?.[Symbol.asyncDispose]();
    await healthy?.[Symbol.asyncDispose]();
    await redis?.[Symbol.asyncDispose]();
  });

  test("a failure seen by instance A cools the pair on instance B within a second, with the same deadline", async () => {
    const before = limited.received.length;
    expect((await ask(a)).status).toBe(200);
    expect(limited.received.length).toBe(before + 1);
    const seen = Date.now();
    await waitFor(() => b.proxy.proxy.cooldowns.remaining(PAIR, Date.now()) > 0, "B to hear of the cooldown", 1000);
    console.log(`cluster: cooldown propagated from A to B in ${Date.now() - seen} ms`);
    expect((await ask(b)).status).toBe(200);
    expect(limited.received.length).toBe(before + 1);
    const [untilA, untilB] = [await until(a), await until(b)];
    expect(untilA).toHaveLength(1);
    expect(untilB).toHaveLength(1);
    expect(Math.abs(untilA[0]! - untilB[0]!)).toBeLessThanOrEqual(50);
  });

  test("when the cooldown ends, exactly one instance may probe the pair", async () => {
    const deadline = b.proxy.proxy.cooldowns.get(PAIR)!.until;
    await waitFor(() => Date.now() > deadline + 50, "the cooldown to end", 5000);
    await waitFor(() => a.proxy.proxy.cooldowns.get(PAIR)?.gated === false || b.proxy.proxy.cooldowns.get(PAIR)?.gated === false, "one instance to win the probe", 3000);
    const claims = [a, b].map((i) => i.proxy.proxy.cooldowns.claim(PAIR, Date.now()));
    expect(claims.sort()).toEqual(["cooling", "probe"]);
    // The probe fails again (429): both see the new cooldown.
    const prober = claims[0] === "probe" ? a : b;
    prober.proxy.proxy.cooldowns.enter(PAIR, Date.now(), 2000, "status 429", 429);
    const other = prober === a ? b : a;
    await waitFor(() => other.proxy.proxy.cooldowns.remaining(PAIR, Date.now()) > 1000, "the new cooldown to reach the other", 1000);
  });

  test("DELETE /status/cooldowns on one instance clears every instance", async () => {
    expect(a.proxy.proxy.cooldowns.remaining(PAIR, Date.now())).toBeGreaterThan(0);
    const res = await fetch(`${b.proxy.url}/status/cooldowns`, { method: "DELETE", headers: { authorization: `Bearer ${KEY}` } });
    expect(res.status).toBe(200);
    await waitFor(() => a.proxy.proxy.cooldowns.remaining(PAIR, Date.now()) === 0, "A to hear of the clearing", 1000);
  });

  test("with Redis stopped both keep serving, log the outage once, and share again when it returns", async () => {
    await redis.pause();
    await waitFor(() => !a.link.connected && !b.link.connected, "both links to notice");
    // Several reconnection attempts happen in this time (250 ms, 500 ms, 1 s apart).
    for (let i = 0; i < 6; i++) {
      expect((await ask(a)).status).toBe(200);
      expect((await ask(b)).status).toBe(200);
      await Bun.sleep(300);
    }
    for (const i of [a, b]) expect(i.log.lines.filter((l) => l.includes("is unreachable"))).toHaveLength(1);
    await redis.resume();
    await waitFor(() => a.link.connected && b.link.connected, "both links to reconnect", 15_000);
    for (const i of [a, b]) expect(i.log.lines.filter((l) => l.includes("is back"))).toHaveLength(1);
    a.proxy.proxy.cooldowns.clear();
    await waitFor(() => b.proxy.proxy.cooldowns.remaining(PAIR, Date.now()) === 0, "B to be clear");
    expect((await ask(a)).status).toBe(200);
    await waitFor(() => b.proxy.proxy.cooldowns.remaining(PAIR, Date.now()) > 0, "a new cooldown to be shared again", 1000);
  }, 40_000);
});

maybe("workers: 2", () => {
  test("the workers of one instance share cooldowns through Redis", async () => {
    await using redis = await TestRedis.start();
    await using limited = new FakeProvider(() => Response.json({ error: { message: "slow down" } }, { status: 429, headers: { "retry-after": "60" } }));
    await using healthy = new FakeProvider(() => Response.json(chatCompletion("fine")));
    const dir = mkdtempSync(join(tmpdir(), "llm-proxy-workers-"));
    const port = await freePort();
    writeFileSync(
      join(dir, "config.yaml"),
      `listen: "127.0.0.1:${port}"\nworkers: 2\ncluster: { redis_url: "${redis.url}", key_prefix: "workers-${process.pid}:" }\n${config(limited.url, healthy.url)}`,
    );
    const proc = Bun.spawn([process.execPath, join(import.meta.dir, "../../src/main.ts"), "-config", "config.yaml"], { cwd: dir, stdout: "pipe", stderr: "pipe" });
    try {
      let out = "";
      const reader = (proc.stdout as ReadableStream<Uint8Array>).getReader();
      const deadline = Date.now() + 20_000;
      while (!(out.includes("worker 1 listening") && (out.match(/cluster: sharing cooldowns/g) ?? []).length >= 2)) {
        if (Date.now() > deadline) throw new Error(`workers did not start:\n${out}`);
        const { value, done } = await reader.read();
        if (done) throw new Error(`llm-proxy exited:\n${out}`);
        out += new TextDecoder().decode(value);
      }
      reader.releaseLock();
      // New connections each time, so the kernel spreads them over both workers.
      for (let i = 0; i < 30; i++) {
        const res = await fetch(`http://127.0.0.1:${port}/v1/chat/completions`, {
          method: "POST",
          headers: { authorization: `Bearer ${KEY}`, connection: "close" },
          body: JSON.stringify({ model: "m" }),
          keepalive: false,
        });
        expect(res.status).toBe(200);
        if (i === 0) {
          // Until ten fresh connections in a row (so both workers, almost surely) report the cooldown.
          let streak = 0;
          await waitFor(async () => {
            const status = await fetch(`http://127.0.0.1:${port}/status`, { headers: { authorization: `Bearer ${KEY}`, connection: "close" }, keepalive: false });
            const body = (await status.json()) as { cooldowns: unknown[] };
            streak = body.cooldowns.length === 1 ? streak + 1 : 0;
            return streak >= 10;
          }, "both workers to know the cooldown");
        }
      }
      expect(limited.received.length).toBe(1);
    } finally {
      proc.kill();
      await proc.exited;
      rmSync(dir, { recursive: true, force: true });
    }
  }, 60_000);
});
