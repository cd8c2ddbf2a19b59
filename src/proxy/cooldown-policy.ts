import type { Config } from "../config/types.ts";

/** A provider's word longer than this is not a rate-limit reset but garbage: use the default instead. */
const ABSURD_MS = 7 * 24 * 3600 * 1000;

/** `6m0s`, `1.5s`, `20ms`, `1h2m3s`: the durations in OpenAI's x-ratelimit-reset-* headers. */
export function parseDuration(text: string): number | undefined {
  const trimmed = text.trim();
  if (!/^(?:\d+(?:\.\d+)?(?:h|m|s|ms))+$/.test(trimmed)) {
    // A bare number is seconds, as some OpenAI-compatible providers send it.
    return /^\d+(?:\.\d+)?$/.test(trimmed) ? Number(trimmed) * 1000 : undefined;
  }
  let ms = 0;
  for (const [, value, unit] of trimmed.matchAll(/(\d+(?:\.\d+)?)(ms|h|m|s)/g)) {
    ms += Number(value) * (unit === "h" ? 3_600_000 : unit === "m" ? 60_000 : unit === "s" ? 1000 : 1);
  }
  return ms;
}

/** Retry-After: delay-seconds or an HTTP-date. https://www.rfc-editor.org/rfc/rfc9110#section-10.2.3 */
export function parseRetryAfter(value: string, now: number): number | undefined {
  const trimmed = value.trim();
  if (/^\d+(?:\.\d+)?$/.test(trimmed)) return Number(trimmed) * 1000;
  if (!/[a-z]/i.test(trimmed)) return undefined;
  const date = Date.parse(trimmed);
  return Number.isNaN(date) ? undefined : date - now;
}

/** An RFC 3339 time (Anthropic's anthropic-ratelimit-*-reset), as milliseconds from now. https://docs.anthropic.com/en/api/rate-limits#response-headers */
function untilTime(value: string, now: number): number | undefined {
  if (!/^\d{4}-\d{2}-\d{2}T/.test(value.trim())) return undefined;
  const date = Date.parse(value);
  return Number.isNaN(date) ? undefined : date - now;
}

const sane = (ms: number | undefined): ms is number => ms !== undefined && Number.isFinite(ms) && ms >= 0 && ms <= ABSURD_MS;

/**
 * How long the provider says to wait, from every header it may say it in; the
 * largest wins. A reset of a limit that is not exhausted (its `-remaining` is
 * above 0) does not count: Anthropic and OpenAI send resets on every answer.
 * https://platform.openai.com/docs/guides/rate-limits#rate-limits-in-headers
 */
export function providerWaitMs(headers: Headers, now: number): number | undefined {
  const waits: number[] = [];
  const retryAfterMs = headers.get("retry-after-ms");
  if (retryAfterMs !== null && /^\d+(?:\.\d+)?$/.test(retryAfterMs.trim())) waits.push(Number(retryAfterMs));
  const retryAfter = headers.get("retry-after");
  if (retryAfter !== null) {
    const ms = parseRetryAfter(retryAfter, now);
    if (ms !== undefined) waits.push(ms);
  }
  for (const [name, value] of headers) {
    let ms: number | undefined;
    let remaining: string | null = null;
    if (name.startsWith("anthropic-ratelimit-") && name.endsWith("-reset")) {
      ms = untilTime(value, now);
      remaining = headers.get(`${name.slice(0, -"-reset".length)}-remaining`);
    } else if (name.startsWith("x-ratelimit-reset-")) {
      ms = parseDuration(value);
      remaining = headers.get(`x-ratelimit-remaining-${name.slice("x-ratelimit-reset-".length)}`);
    } else continue;
    if (remaining !== null && Number(remaining) > 0) continue;
    if (ms !== undefined) waits.push(ms);
  }
  const valid = waits.filter(sane);
  return valid.length > 0 ? Math.max(...valid) : undefined;
}

export interface CooldownDecision {
  readonly ms: number;
  /** Why this length: for logs and /status. */
  readonly basis: "provider" | "auth" | "default" | "backoff";
}

/** Statuses that mean the key itself is refused or unpaid: retrying every minute helps nobody. */
const DEAD_KEY = new Set([401, 402, 403]);

/**
 * The cooldown for a failed pair: the provider's word when it gives one (at least
 * 1 s, at most max_cooldown_seconds); else max_cooldown_seconds for a dead key;
 * else cooldown_seconds, doubled per earlier failure in a row with backoff.
 */
export function decideCooldown(config: Config, status: number | undefined, headers: Headers | undefined, failuresBefore: number, now: number): CooldownDecision {
  const said = headers ? providerWaitMs(headers, now) : undefined;
  if (said !== undefined) return { ms: Math.min(Math.max(said, 1000), config.maxCooldownMs), basis: "provider" };
  if (status !== undefined && DEAD_KEY.has(status)) return { ms: config.maxCooldownMs, basis: "auth" };
  if (config.backoff === "exponential" && failuresBefore > 0) {
    return { ms: Math.min(config.cooldownMs * 2 ** Math.min(failuresBefore, 30), config.maxCooldownMs), basis: "backoff" };
  }
  return { ms: config.cooldownMs, basis: "default" };
}
