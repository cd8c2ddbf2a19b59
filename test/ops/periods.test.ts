import { describe, expect, test } from "bun:test";
import { dayStart, periodEnd, periodStart, utcDay } from "../../src/ops/periods.ts";

const at = (iso: string) => Date.parse(iso);
const show = (ms: number) => new Date(ms).toISOString();

describe("UTC budget periods", () => {
  test("a day runs from 00:00 UTC to the next 00:00 UTC", () => {
    expect(show(dayStart(at("2026-12-02T23:59:59.999Z")))).toBe("2026-12-02T00:00:00.000Z");
    expect(show(periodStart("day", at("2026-12-02T00:00:00.000Z")))).toBe("2026-12-02T00:00:00.000Z");
    expect(show(periodEnd("day", at("2026-12-02T00:00:00.000Z")))).toBe("2026-12-03T00:00:00.000Z");
    expect(show(periodEnd("day", at("2026-12-31T12:00:00Z")))).toBe("2027-01-01T00:00:00.000Z");
  });

  test("a week starts on Monday 00:00 UTC, also seen from Sunday night and from Monday itself", () => {
    // 2026-11-30 is a Monday.
    for (const inside of ["2026-11-30T00:00:00Z", "2026-12-02T10:00:00Z", "2026-12-06T23:59:59.999Z"]) {
      expect(show(periodStart("week", at(inside)))).toBe("2026-11-30T00:00:00.000Z");
      expect(show(periodEnd("week", at(inside)))).toBe("2026-12-07T00:00:00.000Z");
    }
    expect(show(periodStart("week", at("2026-11-29T23:59:59Z")))).toBe("2026-11-23T00:00:00.000Z");
  });

  test("a week across the turn of the year belongs to the Monday before it", () => {
    // 2026-12-28 is a Monday; 2027-01-03 the Sunday after.
    expect(show(periodStart("week", at("2027-01-03T08:00:00Z")))).toBe("2026-12-28T00:00:00.000Z");
    expect(show(periodEnd("week", at("2027-01-01T00:00:00Z")))).toBe("2027-01-04T00:00:00.000Z");
  });

  test("a month ends on the first of the next month, whatever its length", () => {
    const ends: [string, string][] = [
      ["2026-01-31T23:00:00Z", "2026-02-01"],
      ["2026-02-15T00:00:00Z", "2026-03-01"],
      ["2026-04-30T23:59:59.999Z", "2026-05-01"],
      ["2026-12-31T23:59:59.999Z", "2027-01-01"],
    ];
    for (const [inside, next] of ends) {
      expect(utcDay(periodEnd("month", at(inside)))).toBe(next);
      expect(utcDay(periodStart("month", at(inside)))).toBe(inside.slice(0, 8) + "01");
    }
  });

  test("February has 29 days in a leap year and 28 otherwise (2000 leaps, 2100 does not)", () => {
    const days = (year: number) => (periodEnd("month", Date.UTC(year, 1, 10)) - periodStart("month", Date.UTC(year, 1, 10))) / 86_400_000;
    expect(days(2028)).toBe(29);
    expect(days(2026)).toBe(28);
    expect(days(2000)).toBe(29);
    expect(days(2100)).toBe(28);
    expect(show(periodStart("month", at("2028-02-29T23:59:59Z")))).toBe("2028-02-01T00:00:00.000Z");
    expect(show(periodEnd("day", at("2028-02-28T12:00:00Z")))).toBe("2028-02-29T00:00:00.000Z");
  });

  test("the period an instant belongs to never depends on the machine's time zone", () => {
    const instant = at("2026-03-29T01:30:00Z"); // the night Europe moves its clocks
    const before = process.env.TZ;
    try {
      for (const zone of ["UTC", "Pacific/Kiritimati", "America/St_Johns"]) {
        process.env.TZ = zone;
        expect(show(periodStart("day", instant))).toBe("2026-03-29T00:00:00.000Z");
        expect(show(periodStart("week", instant))).toBe("2026-03-23T00:00:00.000Z");
        expect(show(periodStart("month", instant))).toBe("2026-03-01T00:00:00.000Z");
      }
    } finally {
      if (before === undefined) delete process.env.TZ;
      else process.env.TZ = before;
    }
  });
});
