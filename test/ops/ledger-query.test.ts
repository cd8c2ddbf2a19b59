import { describe, expect, test } from "bun:test";
import { formatUsageTable, parseGroupBy, parseInstant, parseUsageQuery, parseUsageRange } from "../../src/ops/ledger-query.ts";

const NOW = Date.parse("2026-12-02T10:30:00Z");
const value = <T>(p: { ok: true; value: T } | { ok: false; message: string }) => (p.ok ? p.value : p.message);

describe("reading the ledger's query input", () => {
  test("a range defaults to this UTC month so far", () => {
    expect(value(parseUsageRange(undefined, undefined, NOW))).toEqual({ from: Date.parse("2026-12-01T00:00:00Z"), to: NOW });
    expect(value(parseUsageRange("", "", NOW))).toEqual({ from: Date.parse("2026-12-01T00:00:00Z"), to: NOW });
  });

  test("spans count back from now: minutes, hours, days, weeks", () => {
    expect(value(parseInstant("from", "30m", NOW))).toBe(NOW - 30 * 60_000);
    expect(value(parseInstant("from", "24h", NOW))).toBe(NOW - 86_400_000);
    expect(value(parseInstant("from", "7d", NOW))).toBe(NOW - 7 * 86_400_000);
    expect(value(parseInstant("from", "2w", NOW))).toBe(NOW - 14 * 86_400_000);
    expect(value(parseInstant("from", "1.5h", NOW))).toBe(NOW - 5_400_000);
    expect(value(parseInstant("to", "now", NOW))).toBe(NOW);
  });

  test("ISO 8601 dates and times are read as UTC unless they carry an offset", () => {
    expect(value(parseInstant("from", "2026-11-01", NOW))).toBe(Date.parse("2026-11-01T00:00:00Z"));
    expect(value(parseInstant("from", "2026-11-01T08:15", NOW))).toBe(Date.parse("2026-11-01T08:15:00Z"));
    expect(value(parseInstant("from", "2026-11-01T08:15:30.250Z", NOW))).toBe(Date.parse("2026-11-01T08:15:30.250Z"));
    expect(value(parseInstant("from", "2026-11-01T08:15:00+02:00", NOW))).toBe(Date.parse("2026-11-01T06:15:00Z"));
    expect(value(parseInstant("from", "2026-11-01T08:15:00-0530", NOW))).toBe(Date.parse("2026-11-01T13:45:00Z"));
    expect(value(parseInstant("from", "2028-02-29", NOW))).toBe(Date.parse("2028-02-29T00:00:00Z"));
  });

  test("bad input gets a message naming the parameter and what would work", () => {
    const hint = "use ISO 8601 (2026-12-01, 2026-12-01T10:00:00Z) or a span back from now (30m, 24h, 7d, 2w)";
    expect(value(parseInstant("from", "yesterday", NOW))).toBe(`from: "yesterday" is not a time; ${hint}`);
    expect(value(parseInstant("to", "2026-02-30", NOW))).toBe(`to: "2026-02-30" is not a time; ${hint}`);
    expect(value(parseInstant("to", "2027-02-29", NOW))).toBe(`to: "2027-02-29" is not a time; ${hint}`);
    expect(value(parseInstant("from", "2026-12-01T25:00", NOW))).toBe(`from: "2026-12-01T25:00" is not a time; ${hint}`);
    expect(value(parseInstant("from", "7 days", NOW))).toBe(`from: "7 days" is not a time; ${hint}`);
    expect(value(parseInstant("from", "-7d", NOW))).toBe(`from: "-7d" is not a time; ${hint}`);
    expect(value(parseUsageRange("2026-12-02", "2026-12-01", NOW))).toBe("from (2026-12-02T00:00:00Z) must be before to (2026-12-01T00:00:00Z)");
    expect(value(parseGroupBy("user"))).toBe('by: "user" is not one of key, alias, backend, model, day');
  });

  test("GET /usage parameters become one summary query, by key unless told", () => {
    expect(value(parseUsageQuery(new URLSearchParams("from=7d&by=model&key=alice"), NOW))).toEqual({ from: NOW - 7 * 86_400_000, to: NOW, by: "model", key: "alice" });
    expect(value(parseUsageQuery(new URLSearchParams(""), NOW))).toEqual({ from: Date.parse("2026-12-01T00:00:00Z"), to: NOW, by: "key" });
    expect(value(parseUsageQuery(new URLSearchParams("by=week"), NOW))).toBe('by: "week" is not one of key, alias, backend, model, day');
  });
});

describe("the usage table", () => {
  const row = (day: string, requests: number, cost: number) => ({ day, requests, input_tokens: requests * 1000, cache_read_tokens: 0, cache_write_tokens: 12, output_tokens: requests * 250, cost_usd: cost });

  test("lines up the numbers and adds a total", () => {
    expect(formatUsageTable([row("2026-12-01", 1200, 12.5), row("2026-12-02", 3, 0.004)], "day")).toBe(
      [
        "day         requests      input  cache read  cache write   output  cost (USD)",
        "2026-12-01     1,200  1,200,000           0           12  300,000     12.5000",
        "2026-12-02         3      3,000           0           12      750    0.004000",
        "----------  --------  ---------  ----------  -----------  -------  ----------",
        "total          1,203  1,203,000           0           24  300,750     12.5040",
        "",
      ].join("\n"),
    );
  });

  test("one row needs no total, and no rows say so", () => {
    expect(formatUsageTable([row("2026-12-01", 1, 0)], "day").split("\n")).toHaveLength(3);
    expect(formatUsageTable([], "key")).toBe("key  requests  input  cache read  cache write  output  cost (USD)\n(no requests in this period)\n");
  });
});
