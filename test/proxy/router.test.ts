import { describe, expect, test } from "bun:test";
import { cooldownKey } from "../../src/config/pair.ts";
import { testBackend } from "../helpers/backend.ts";
import type { Backend, PriorityGroup, Route } from "../../src/config/types.ts";
import { orderGroup, plan } from "../../src/proxy/router.ts";
import { configFrom } from "../helpers/proxy.ts";

/** Mulberry32: a small seeded generator, so shares are the same on every run. */
function seeded(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const backend: Backend = testBackend("http://127.0.0.1:1/v1");
const route = (model: string, weight = 1, priority = 1): Route => ({ alias: "m", backend, model, priority, weight, maxTokens: undefined, price: undefined, key: cooldownKey("p", model) });
const group = (routes: Route[], priority = 1): PriorityGroup => ({ alias: "m", priority, routes, weighted: routes.some((r) => r.weight !== routes[0]!.weight), depth: 0 });

function firstShares(g: PriorityGroup, n: number, random: () => number): Map<string, number> {
  const counts = new Map<string, number>();
  for (let i = 0; i < n; i++) {
    const first = orderGroup(g, random)[0]!.model;
    counts.set(first, (counts.get(first) ?? 0) + 1);
  }
  return new Map([...counts].map(([k, v]) => [k, v / n]));
}

describe("orderGroup", () => {
  test("weights 3:1 put the heavier route first about three times in four", () => {
    const shares = firstShares(group([route("heavy", 3), route("light", 1)]), 20_000, seeded(1));
    expect(shares.get("heavy")!).toBeGreaterThan(0.73);
    expect(shares.get("heavy")!).toBeLessThan(0.77);
  });

  test("weights 1:2:7 give first places in proportion", () => {
    const shares = firstShares(group([route("a", 1), route("b", 2), route("c", 7)]), 30_000, seeded(2));
    expect(shares.get("a")!).toBeCloseTo(0.1, 1);
    expect(shares.get("b")!).toBeCloseTo(0.2, 1);
    expect(shares.get("c")!).toBeCloseTo(0.7, 1);
  });

  test("equal weights shuffle uniformly", () => {
    const shares = firstShares(group([route("a"), route("b"), route("c"), route("d")]), 40_000, seeded(3));
    for (const m of ["a", "b", "c", "d"]) {
      expect(shares.get(m)!).toBeGreaterThan(0.23);
      expect(shares.get(m)!).toBeLessThan(0.27);
    }
  });

  test("every order is a permutation of the group and the group itself is not changed", () => {
    const routes = [route("a", 5), route("b", 1), route("c", 2)];
    const g = group(routes);
    const random = seeded(4);
    for (let i = 0; i < 100; i++) {
      expect(orderGroup(g, random).map((r) => r.model).sort()).toEqual(["a", "b", "c"]);
    }
    expect(g.routes.map((r) => r.model)).toEqual(["a", "b", "c"]);
  });

  test("works with a random source that returns 0", () => {
    expect(orderGroup(group([route("a", 3), route("b", 1)]), () => 0).map((r) => r.model).sort()).toEqual(["a", "b"]);
    expect(orderGroup(group([route("a"), route("b")]), () => 0).map((r) => r.model).sort()).toEqual(["a", "b"]);
  });
});

describe("plan", () => {
  const alias = { name: "m", chain: [], groups: [group([route("x", 1, 1)], 1), group([route("y", 1, 2), route("z", 1, 2)], 2)] };

  test("tries lower priorities first", () => {
    const p = plan(alias, () => 0, seeded(5));
    expect(p.routes[0]!.model).toBe("x");
    expect(p.routes.slice(1).map((r) => r.model).sort()).toEqual(["y", "z"]);
    expect(p.cooling).toBe(0);
    expect(p.firstFreeMs).toBe(0);
  });

  test("leaves cooling pairs out and says when the first is free", () => {
    const remaining = (key: string) => ({ [cooldownKey("p", "x")]: 5000, [cooldownKey("p", "z")]: 1200 })[key] ?? 0;
    const p = plan(alias, remaining, seeded(6));
    expect(p.routes.map((r) => r.model)).toEqual(["y"]);
    expect(p.cooling).toBe(2);
    expect(p.firstFreeMs).toBe(1200);
  });

  test("every pair cooling leaves no route", () => {
    const p = plan(alias, () => 300, seeded(7));
    expect(p.routes).toEqual([]);
    expect(p.cooling).toBe(3);
    expect(p.firstFreeMs).toBe(300);
  });
});

describe("plans built from a config", () => {
  const config = configFrom(`
backends:
  - { name: a, url: "http://127.0.0.1:1/v1" }
  - { name: b, url: "http://127.0.0.1:2/v1" }
  - { name: off, url: "http://127.0.0.1:3/v1", enabled: false }
models:
  one:
    routes:
      - { backend: a, model: shared, priority: 5 }
      - { backend: off, model: never, priority: 1 }
      - { backend: b, model: b1, priority: 1, enabled: false }
      - { backend: b, model: b2, priority: 9 }
  two:
    routes:
      - { backend: a, model: shared }
      - { backend: b, model: two-b }
  three:
    routes:
      - { backend: a, model: three-a }
  dark:
    enabled: false
    routes:
      - { backend: a, model: dark-a }
fallback:
  alias_fallback:
    one: [two, dark]
    two: [three, one]
    three: [one, two]
`);
  const order = (name: string) => plan(config.aliases.get(name)!, () => 0, seeded(8)).routes.map((r) => `${r.backend.name}/${r.model}`);

  test("an alias's own routes by priority, then its fallbacks' in order, each pair once and cycles cut", () => {
    expect(order("one")).toEqual(["a/shared", "b/b2", "b/two-b", "a/three-a"]);
  });

  test("a cycle reached from the other side is cut the same way", () => {
    const routes = order("three");
    expect(routes[0]).toBe("a/three-a");
    expect(routes.slice(1, 3)).toEqual(["a/shared", "b/b2"]);
    expect(routes.slice(3)).toEqual(["b/two-b"]);
  });

  test("a disabled alias is not planned and contributes nothing as a fallback", () => {
    expect(config.aliases.has("dark")).toBe(false);
    expect(order("one")).not.toContain("a/dark-a");
  });
});
