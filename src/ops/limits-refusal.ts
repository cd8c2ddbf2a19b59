import { periodAdjective, periodStart, type Period } from "./periods.ts";

/** Which limit turned a request away; the name the config uses for it. */
export type LimitName = "rpm" | "tpm" | "concurrent" | "budget";

/** Tokens and dollars a request used, debited when it is over. */
export interface Spend {
  readonly tokens: number;
  readonly usd: number;
}

/** A request turned away: answered 429 with `Retry-After: retryAfterSeconds`, nothing sent upstream. */
export interface Refused {
  readonly ok: false;
  readonly limit: LimitName;
  /** Whole seconds, at least 1: what `Retry-After` says. */
  readonly retryAfterSeconds: number;
  /** Epoch ms when the limit frees; undefined for `concurrent` (it frees when a request ends). */
  readonly freesAt: number | undefined;
  /** For the client: names the key, the limit and when it frees. Never contains the key's value. */
  readonly message: string;
}

/** What the counters saw when they refused, for the message. */
export type Seen =
  | { readonly limit: "rpm"; readonly rpm: number; readonly waitMs: number }
  | { readonly limit: "tpm"; readonly tpm: number; readonly used: number; readonly waitMs: number }
  | { readonly limit: "concurrent"; readonly concurrent: number }
  | { readonly limit: "budget"; readonly per: Period; readonly usd?: number; readonly tokens?: number; readonly spent: Spend; readonly waitMs: number };

/** A request the `concurrent` limit turns away may try again as soon as one ends; a second is a fair guess. */
const CONCURRENT_RETRY_SECONDS = 1;

const iso = (ms: number) => new Date(ms).toISOString().replace(/\.\d{3}Z$/, "Z");
const count = (n: number) => Math.round(n).toLocaleString("en-US");
const usd = (n: number) => `$${n.toFixed(2)}`;

/** `12 s`, `4 min 5 s`, `5 h 12 min`, `3 d 4 h`: the two largest units. */
export function humanDuration(ms: number): string {
  const s = Math.max(1, Math.ceil(ms / 1000));
  if (s < 60) return `${s} s`;
  const units: [number, string][] = [
    [86_400, "d"],
    [3_600, "h"],
    [60, "min"],
    [1, "s"],
  ];
  const i = units.findIndex(([size]) => s >= size);
  const [big, bigName] = units[i]!;
  const [small, smallName] = units[i + 1]!;
  const first = Math.floor(s / big);
  const second = Math.floor((s - first * big) / small);
  return second === 0 ? `${first} ${bigName}` : `${first} ${bigName} ${second} ${smallName}`;
}

/** A limit set to 0 never frees: the message says so, and which setting lets the key in. */
function shutOut(who: string, seen: Seen): string | undefined {
  const never = (what: string, setting: string) => `${who} has ${what}, which refuses every request; raise keys[].${setting} in the config to let it in`;
  if (seen.limit === "rpm" && seen.rpm === 0) return never("rpm: 0", "limits.rpm");
  if (seen.limit === "tpm" && seen.tpm === 0) return never("tpm: 0", "limits.tpm");
  if (seen.limit === "concurrent" && seen.concurrent === 0) return never("concurrent: 0", "limits.concurrent");
  if (seen.limit === "budget" && (seen.usd === 0 || seen.tokens === 0)) {
    return seen.usd === 0 ? never(`a budget of ${usd(0)}`, "budget.usd") : never("a budget of 0 tokens", "budget.tokens");
  }
  return undefined;
}

export function refusal(keyName: string, seen: Seen, now: number): Refused {
  const who = `key ${JSON.stringify(keyName)}`;
  const never = shutOut(who, seen);
  if (seen.limit === "concurrent") {
    return {
      ok: false,
      limit: "concurrent",
      retryAfterSeconds: CONCURRENT_RETRY_SECONDS,
      freesAt: undefined,
      message: never ?? `${who} is at its concurrency limit (concurrent: ${seen.concurrent} request${seen.concurrent === 1 ? "" : "s"} in flight); it frees when one of them finishes`,
    };
  }
  const waitMs = Math.max(0, seen.waitMs);
  const freesAt = now + waitMs;
  const when = `in ${humanDuration(waitMs)}, at ${iso(freesAt)}`;
  let message: string;
  if (seen.limit === "rpm") {
    message = `${who} is over its request rate limit (rpm: ${count(seen.rpm)} requests per minute); it frees ${when}`;
  } else if (seen.limit === "tpm") {
    message = `${who} is over its token rate limit (tpm: ${count(seen.tpm)} tokens per minute, ${count(seen.used)} used in the last minute); it frees ${when}`;
  } else {
    const caps: string[] = [];
    if (seen.usd !== undefined) caps.push(`${usd(seen.usd)}, ${usd(seen.spent.usd)} spent`);
    if (seen.tokens !== undefined) caps.push(`${count(seen.tokens)} tokens, ${count(seen.spent.tokens)} used`);
    message = `${who} has used up its ${periodAdjective(seen.per)} budget (budget: ${caps.join("; ")} since ${iso(periodStart(seen.per, now))}); it frees ${when}`;
  }
  return { ok: false, limit: seen.limit, retryAfterSeconds: Math.max(1, Math.ceil(waitMs / 1000)), freesAt, message: never ?? message };
}
