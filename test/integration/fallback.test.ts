import { describe, expect, test } from "bun:test";
import { chatCompletion, echo, FakeProvider, modelOf } from "../helpers/fake-provider.ts";
import { post } from "../helpers/http.ts";
import { startProxy } from "../helpers/proxy.ts";

const servedBy = async (res: Response) => ((await res.json()) as { model: string }).model;
/** Answers as the model it was asked for, so a test can see who served. */
const failing = (status: number) => () => Response.json({ error: { message: `failed with ${status}` } }, { status });

describe("L1: routes of one alias", () => {
  test("falls back to the next priority on 429", async () => {
    await using first = new FakeProvider(failing(429));
    await using second = new FakeProvider(echo);
    await using proxy = startProxy(`
backends:
  - { name: a, url: "${first.url}/v1", api_key: sk-a-000000000000000 }
  - { name: b, url: "${second.url}/v1", api_key: sk-b-000000000000000 }
models:
  m:
    routes:
      - { backend: b, model: model-b, priority: 2 }
      - { backend: a, model: model-a, priority: 1 }
`);
    const res = await post(`${proxy.url}/v1/chat/completions`, { model: "m", messages: [] });
    expect(res.status).toBe(200);
    expect(await servedBy(res)).toBe("model-b");
    expect(first.received.map(modelOf)).toEqual(["model-a"]);
    expect(second.received.map(modelOf)).toEqual(["model-b"]);
    expect(second.received[0]!.headers.get("authorization")).toBe("Bearer sk-b-000000000000000");
  });

  test("uniform random order between equal priorities reaches both routes", async () => {
    await using provider = new FakeProvider(echo);
    await using proxy = startProxy(`
backends:
  - { name: p, url: "${provider.url}/v1" }
models:
  m:
    routes:
      - { backend: p, model: x, priority: 1 }
      - { backend: p, model: y, priority: 1 }
`);
    const seen = new Set<string>();
    // Each request picks x or y with probability 1/2: 200 tries all landing on one is 2^-199.
    for (let i = 0; i < 200 && seen.size < 2; i++) {
      const res = await post(`${proxy.url}/v1/chat/completions`, { model: "m" });
      seen.add(await servedBy(res));
    }
    expect([...seen].sort()).toEqual(["x", "y"]);
  });

  test("weights 3:1 give the heavier route about three quarters of the requests", async () => {
    await using provider = new FakeProvider(echo);
    await using proxy = startProxy(`
backends:
  - { name: p, url: "${provider.url}/v1" }
models:
  m:
    routes:
      - { backend: p, model: heavy, priority: 1, weight: 3 }
      - { backend: p, model: light, priority: 1, weight: 1 }
`);
    const total = 1000;
    let next = 0;
    const worker = async () => {
      while (next++ < total) {
        const res = await post(`${proxy.url}/v1/chat/completions`, { model: "m" });
        expect(res.status).toBe(200);
        await res.arrayBuffer();
      }
    };
    await Promise.all(Array.from({ length: 16 }, worker));
    const heavy = provider.received.filter((r) => modelOf(r) === "heavy").length;
    expect(provider.received.length).toBe(total);
    // Expected 750, standard deviation about 14: the bounds are over 7 sigma away.
    expect(heavy / total).toBeGreaterThan(0.65);
    expect(heavy / total).toBeLessThan(0.85);
  });
});

describe("L2: alias_fallback", () => {
  test("falls back to the fallback alias's routes when the alias's own routes fail", async () => {
    await using first = new FakeProvider(failing(503));
    await using second = new FakeProvider(echo);
    await using proxy = startProxy(`
backends:
  - { name: a, url: "${first.url}/v1" }
  - { name: b, url: "${second.url}/v1" }
models:
  big:
    routes:
      - { backend: a, model: big-1, priority: 1 }
      - { backend: a, model: big-2, priority: 2 }
  small:
    routes:
      - { backend: b, model: small-1 }
  unused:
    routes:
      - { backend: b, model: unused-1 }
fallback:
  alias_fallback:
    big: [small, unused]
`);
    const res = await post(`${proxy.url}/v1/chat/completions`, { model: "big" });
    expect(res.status).toBe(200);
    expect(await servedBy(res)).toBe("small-1");
    expect(first.received.map(modelOf)).toEqual(["big-1", "big-2"]);
    expect(second.received.map(modelOf)).toEqual(["small-1"]);
  });

  test("a disabled fallback alias contributes nothing, and an undefined one is skipped", async () => {
    await using first = new FakeProvider(failing(500));
    await using second = new FakeProvider(echo);
    await using proxy = startProxy(`
backends:
  - { name: a, url: "${first.url}/v1" }
  - { name: b, url: "${second.url}/v1" }
models:
  m:
    routes: [{ backend: a, model: m-1 }]
  off:
    enabled: false
    routes: [{ backend: b, model: off-1 }]
  last:
    routes: [{ backend: b, model: last-1 }]
fallback:
  alias_fallback:
    m: [off, ghost, last]
`);
    const res = await post(`${proxy.url}/v1/chat/completions`, { model: "m" });
    expect(res.status).toBe(200);
    expect(await servedBy(res)).toBe("last-1");
    expect(second.received.map(modelOf)).toEqual(["last-1"]);
  });

  test("a cycle in alias_fallback does not loop: every route is tried once", async () => {
    await using provider = new FakeProvider(failing(500));
    await using proxy = startProxy(`
backends:
  - { name: p, url: "${provider.url}/v1" }
models:
  a: { routes: [{ backend: p, model: a-1 }] }
  b: { routes: [{ backend: p, model: b-1 }] }
  c: { routes: [{ backend: p, model: c-1 }] }
fallback:
  cooldown_seconds: 0
  alias_fallback:
    a: [b]
    b: [c, a]
    c: [a, b]
`);
    const res = await post(`${proxy.url}/v1/chat/completions`, { model: "b" });
    expect(res.status).toBe(500);
    expect(provider.received.map(modelOf)).toEqual(["b-1", "c-1", "a-1"]);
  });

  test("a backend+model pair shared by an alias and its fallback is tried once", async () => {
    await using first = new FakeProvider(failing(500));
    await using second = new FakeProvider(echo);
    await using proxy = startProxy(`
backends:
  - { name: a, url: "${first.url}/v1" }
  - { name: b, url: "${second.url}/v1" }
models:
  m:
    routes:
      - { backend: a, model: shared, priority: 1 }
  n:
    routes:
      - { backend: a, model: shared, priority: 1 }
      - { backend: b, model: other, priority: 2 }
fallback:
  cooldown_seconds: 0
  alias_fallback:
    m: [n]
`);
    const res = await post(`${proxy.url}/v1/chat/completions`, { model: "m" });
    expect(res.status).toBe(200);
    expect(await servedBy(res)).toBe("other");
    expect(first.received.length).toBe(1);
  });
});

test("the same backend+model listed twice in one alias is tried once", async () => {
  await using provider = new FakeProvider((r) => (modelOf(r) === "x" ? failing(500)() : echo(r)));
  await using proxy = startProxy(`
backends:
  - { name: p, url: "${provider.url}/v1" }
models:
  m:
    routes:
      - { backend: p, model: x, priority: 1 }
      - { backend: p, model: x, priority: 2 }
      - { backend: p, model: y, priority: 3 }
fallback:
  cooldown_seconds: 0
`);
  const res = await post(`${proxy.url}/v1/chat/completions`, { model: "m" });
  expect(await servedBy(res)).toBe("y");
  expect(provider.received.map(modelOf)).toEqual(["x", "y"]);
});

describe("max_retries", () => {
  test("max_retries: 2 with three failing routes makes exactly two attempts and returns the second answer", async () => {
    const providers = [new FakeProvider(failing(500)), new FakeProvider(failing(502)), new FakeProvider(failing(503))];
    await using proxy = startProxy(`
backends:
${providers.map((p, i) => `  - { name: p${i}, url: "${p.url}/v1" }`).join("\n")}
models:
  m:
    routes:
${providers.map((_, i) => `      - { backend: p${i}, model: m${i}, priority: ${i} }`).join("\n")}
fallback:
  max_retries: 2
`);
    try {
      const res = await post(`${proxy.url}/v1/chat/completions`, { model: "m" });
      expect(res.status).toBe(502);
      expect(await res.text()).toContain("failed with 502");
      expect(providers.map((p) => p.received.length)).toEqual([1, 1, 0]);
    } finally {
      for (const p of providers) await p[Symbol.asyncDispose]();
    }
  });

  test("routes skipped because they are cooling down do not count as attempts", async () => {
    let failX = true;
    await using provider = new FakeProvider((r) => (modelOf(r) === "x" && failX ? failing(500)() : echo(r)));
    await using proxy = startProxy(`
backends:
  - { name: p, url: "${provider.url}/v1" }
models:
  m:
    routes:
      - { backend: p, model: x, priority: 1 }
      - { backend: p, model: y, priority: 2 }
fallback:
  max_retries: 1
  cooldown_seconds: 60
`);
    const first = await post(`${proxy.url}/v1/chat/completions`, { model: "m" });
    expect(first.status).toBe(500);
    expect(provider.received.map(modelOf)).toEqual(["x"]);
    failX = false;
    const second = await post(`${proxy.url}/v1/chat/completions`, { model: "m" });
    expect(second.status).toBe(200);
    expect(await servedBy(second)).toBe("y");
    expect(provider.received.map(modelOf)).toEqual(["x", "y"]);
  });

  test("max_retries: 0 tries every route once", async () => {
    await using provider = new FakeProvider((r) => (modelOf(r) === "m3" ? echo(r) : failing(500)()));
    await using proxy = startProxy(`
backends:
  - { name: p, url: "${provider.url}/v1" }
models:
  m:
    routes:
${[0, 1, 2, 3].map((i) => `      - { backend: p, model: m${i}, priority: ${i} }`).join("\n")}
fallback:
  max_retries: 0
`);
    const res = await post(`${proxy.url}/v1/chat/completions`, { model: "m" });
    expect(res.status).toBe(200);
    expect(provider.received.map(modelOf)).toEqual(["m0", "m1", "m2", "m3"]);
  });
});
