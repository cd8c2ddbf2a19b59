import { describe, expect, test } from "bun:test";
import { cooldownKey } from "../../src/config/pair.ts";
import { CooldownTable } from "../../src/proxy/cooldown.ts";

const T0 = 1_700_000_000_000;

describe("CooldownTable", () => {
  test("a pair that never failed is free", () => {
    expect(new CooldownTable().remaining(cooldownKey("p", "m"), T0)).toBe(0);
  });

  test("a failed pair cools for the given time and is free when it is over", () => {
    const table = new CooldownTable();
    const entry = table.enter(cooldownKey("p", "m"), T0, 200, "status 500", 500);
    expect(entry).toEqual({ until: T0 + 200, since: T0, reason: "status 500", status: 500, failures: 1, probing: false, gated: false });
    expect(table.remaining(cooldownKey("p", "m"), T0)).toBe(200);
    expect(table.remaining(cooldownKey("p", "m"), T0 + 150)).toBe(50);
    expect(table.remaining(cooldownKey("p", "m"), T0 + 200)).toBe(0);
    expect(table.remaining(cooldownKey("p", "m"), T0 + 10_000)).toBe(0);
  });

  test("pairs are keyed by backend and model: one cooling pair leaves the others free", () => {
    const table = new CooldownTable();
    table.enter(cooldownKey("p", "m"), T0, 1000, "x");
    expect(table.remaining(cooldownKey("p", "n"), T0)).toBe(0);
    expect(table.remaining(cooldownKey("q", "m"), T0)).toBe(0);
  });

  test("a shorter cooldown never cuts a longer one that is running", () => {
    const table = new CooldownTable();
    table.enter("k", T0, 60_000, "first");
    const again = table.enter("k", T0 + 1000, 100, "second");
    expect(again.until).toBe(T0 + 60_000);
    expect(again.failures).toBe(2);
    expect(table.remaining("k", T0 + 1000)).toBe(59_000);
  });

  test("a longer cooldown extends a shorter one", () => {
    const table = new CooldownTable();
    table.enter("k", T0, 100, "first");
    table.enter("k", T0 + 50, 1000, "second");
    expect(table.remaining("k", T0 + 50)).toBe(1000);
  });

  test("failures in a row are counted across expired cooldowns and reset by a success", () => {
    const table = new CooldownTable();
    table.enter("k", T0, 10, "a");
    table.enter("k", T0 + 100, 10, "b");
    expect(table.enter("k", T0 + 200, 10, "c").failures).toBe(3);
    table.succeeded("k");
    expect(table.remaining("k", T0 + 200)).toBe(0);
    expect(table.enter("k", T0 + 300, 10, "d").failures).toBe(1);
  });

  test("active lists only the pairs still cooling", () => {
    const table = new CooldownTable();
    table.enter("a", T0, 100, "x");
    table.enter("b", T0, 1000, "y", 429);
    expect(table.active(T0 + 500).map(([key]) => key)).toEqual(["b"]);
    expect(table.active(T0 + 500)[0]![1].status).toBe(429);
    expect(table.active(T0 + 2000)).toEqual([]);
  });

  test("clear frees one pair or all of them and says how many", () => {
    const table = new CooldownTable();
    table.enter("a", T0, 100, "x");
    table.enter("b", T0, 100, "y");
    expect(table.clear("a")).toBe(1);
    expect(table.clear("a")).toBe(0);
    expect(table.remaining("a", T0)).toBe(0);
    expect(table.remaining("b", T0)).toBe(100);
    expect(table.clear()).toBe(1);
    expect(table.remaining("b", T0)).toBe(0);
  });
});
