/**
 * Budget periods as UTC calendar boundaries: a day starts at 00:00 UTC, a week on
 * Monday 00:00 UTC (ISO 8601), a month on its first day. Pure: every function takes
 * `now` (epoch ms), so the tests need no clock.
 */

export type Period = "day" | "week" | "month";

export const PERIODS: readonly Period[] = ["day", "week", "month"];

const DAY_MS = 86_400_000;

export function isPeriod(value: unknown): value is Period {
  return value === "day" || value === "week" || value === "month";
}

/** Epoch ms of 00:00 UTC on the day that contains `now`. */
export function dayStart(now: number): number {
  return Math.floor(now / DAY_MS) * DAY_MS;
}

/** The start of the period that contains `now`. */
export function periodStart(per: Period, now: number): number {
  const day = dayStart(now);
  if (per === "day") return day;
  if (per === "week") {
    // getUTCDay: Sunday 0 … Saturday 6; Monday-based offset is (day + 6) % 7.
    const back = (new Date(day).getUTCDay() + 6) % 7;
    return day - back * DAY_MS;
  }
  const d = new Date(day);
  return Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), 1);
}

/** The start of the next period: when a budget that is used up frees again. */
export function periodEnd(per: Period, now: number): number {
  const start = periodStart(per, now);
  if (per === "day") return start + DAY_MS;
  if (per === "week") return start + 7 * DAY_MS;
  const d = new Date(start);
  // Date.UTC rolls month 12 over into January of the next year.
  return Date.UTC(d.getUTCFullYear(), d.getUTCMonth() + 1, 1);
}

/** "daily", "weekly", "monthly", for messages. */
export function periodAdjective(per: Period): string {
  return per === "day" ? "daily" : `${per}ly`;
}

/** `2026-12-02`, the UTC day of an epoch-ms instant. */
export function utcDay(ms: number): string {
  return new Date(ms).toISOString().slice(0, 10);
}
