import { RedisClient } from "bun";
import { type Admission, type Admitted, hasBudget, hasLimits, type KeyLimits, type Limiter, LocalLimiter, UNLIMITED } from "./limits.ts";
import { refusal, type Seen, type Spend } from "./limits-refusal.ts";
import { ADMIT, RELEASE, SEED } from "./limits-redis-scripts.ts";
import { periodEnd, periodStart, type Period } from "./periods.ts";

export type LimitsLog = (level: "info" | "warn" | "error", message: string) => void;

export interface RedisLimiterOptions {
  readonly url: string;
  /** Before every key this limiter writes, e.g. the cluster's `key_prefix` + "limits:". */
  readonly prefix: string;
  readonly log: LimitsLog;
  /** The counters used while Redis is away (and kept warm while it is not). */
  readonly local?: LocalLimiter;
  /** An admission that Redis does not answer within this is decided locally, and Redis counts as away (default 250). */
  readonly timeoutMs?: number;
  /** A concurrency slot lapses this long after its instance stopped renewing it (default 30 000). */
  readonly leaseMs?: number;
}

const RECONNECT_MIN_MS = 250;
const RECONNECT_MAX_MS = 5000;
/** A spend counter outlives its period by a day, for requests that end just after the boundary. */
const SPEND_GRACE_MS = 86_400_000;

const reason = (error: unknown) => (error instanceof Error ? error.message : String(error));
const limit = (n: number | undefined) => (n === undefined ? "-1" : String(n));

/** `redis://user:secret@host` → `redis://user:****@host`, for logs. */
const safeUrl = (url: string) => url.replace(/^(rediss?:\/\/[^:@/]*:)[^@/]+@/, "$1****@");

class NoAnswer extends Error {
  override name = "NoAnswer";
}

/** Redis answered with an error (a script it refuses, a key of another type): the link is fine, the command is not. */
const isRefusal = (error: unknown) => (error as { code?: unknown } | undefined)?.code === "ERR_REDIS_SERVER_ERROR";

/**
 * Key limits shared by every instance through Redis: each admission is one atomic
 * script (exact rpm and concurrent across the fleet), each release one more, sent
 * without waiting. Every admission Redis grants is also counted locally, so when
 * Redis is away (refused, closed, or silent past `timeoutMs`) this instance goes on
 * with warm counters of its own, logs the outage once, and reconnects by itself.
 */
export class RedisLimiter implements Limiter {
  readonly local: LocalLimiter;
  private readonly instance = `${process.pid}-${Math.random().toString(36).slice(2, 8)}`;
  private readonly timeoutMs: number;
  private readonly leaseMs: number;
  private client: RedisClient | undefined;
  private up = false;
  private stopped = false;
  private outages = 0;
  private generation = 0;
  private reconnectDelay = RECONNECT_MIN_MS;
  private reconnectTimer: Timer | undefined;
  private renewTimer: Timer | undefined;
  private sequence = 0;
  /** Said once until a command succeeds again, so a broken script cannot flood the log. */
  private refusalSaid = false;
  /** Concurrency leases of requests in flight here, per Redis key, for renewal. */
  private readonly leases = new Map<string, Set<string>>();

  constructor(private readonly o: RedisLimiterOptions) {
    this.local = o.local ?? new LocalLimiter();
    this.timeoutMs = o.timeoutMs ?? 250;
    this.leaseMs = o.leaseMs ?? 30_000;
  }

  get connected(): boolean {
    return this.up;
  }

  /** Connects; resolves after the first attempt, connected or not (the proxy serves either way). */
  async start(): Promise<void> {
    this.renewTimer = setInterval(() => this.renew(), Math.max(50, Math.floor(this.leaseMs / 3)));
    this.renewTimer.unref?.();
    await this.connect();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.reconnectTimer);
    clearInterval(this.renewTimer);
    this.close();
  }

  admit(keyName: string, limits: KeyLimits, now: number): Admission | Promise<Admission> {
    if (!hasLimits(limits)) return UNLIMITED;
    const redis = this.client;
    if (!this.up || !redis) return this.local.admit(keyName, limits, now);
    const keys = this.keys(keyName, limits.budget?.per, now);
    const member = `${this.instance}:${++this.sequence}`;
    const { budget } = limits;
    const args = [
      String(now),
      limit(limits.rpm),
      limit(limits.concurrent),
      limit(limits.tpm),
      limit(budget?.usd),
      limit(budget?.tokens),
      String(budget ? periodEnd(budget.per, now) : 0),
      member,
      String(this.leaseMs),
    ];
    const generation = this.generation;
    return this.answer(redis.send("EVAL", [ADMIT, "4", keys.rpm, keys.conc, keys.tpm, keys.spend, ...args])).then(
      (reply) => this.decided(keyName, limits, now, reply, member, keys),
      (error: unknown) => {
        this.failed(generation, error);
        return this.local.admit(keyName, limits, now);
      },
    );
  }

  /** Adds ledger spend to the local counters and to Redis, unless Redis already counts this period. */
  seedSpend(keyName: string, per: Period, spend: Spend, now: number): void {
    this.local.seedSpend(keyName, per, spend, now);
    if (this.up) this.pushSpend(keyName, per, now);
  }

  private async answer(command: Promise<unknown>): Promise<unknown> {
    let timer: Timer | undefined;
    const silent = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new NoAnswer(`no answer within ${this.timeoutMs} ms`)), this.timeoutMs);
    });
    try {
      return await Promise.race([command, silent]);
    } finally {
      clearTimeout(timer);
    }
  }

  private decided(keyName: string, limits: KeyLimits, now: number, reply: unknown, member: string, keys: Keys): Admission {
    if (!Array.isArray(reply) || typeof reply[0] !== "string") {
      this.o.log("error", `limits: Redis answered the admission script with ${JSON.stringify(reply)}; deciding locally`);
      return this.local.admit(keyName, limits, now);
    }
    this.refusalSaid = false;
    const [verdict, a, b, c] = reply.map(String);
    if (verdict !== "ok") {
      const seen = this.seen(verdict!, limits, Number(a), Number(b), Number(c));
      if (seen) return refusal(keyName, seen, now);
      this.o.log("error", `limits: Redis answered the admission script with ${JSON.stringify(reply)}; deciding locally`);
      return this.local.admit(keyName, limits, now);
    }
    const shadow = this.local.track(keyName, limits, now);
    const leased = limits.concurrent !== undefined;
    if (leased) this.leaseSet(keys.conc).add(member);
    const countTokens = limits.tpm !== undefined;
    const budgetPer = hasBudget(limits.budget) ? limits.budget.per : undefined;
    let open = true;
    const admitted: Admitted = {
      ok: true,
      release: (spend: Spend, at: number) => {
        if (!open) return;
        open = false;
        shadow.release(spend, at);
        if (leased) this.dropLease(keys.conc, member);
        if (!leased && !countTokens && budgetPer === undefined) return;
        // The spend belongs to the period the request ended in.
        const spendKey = budgetPer === undefined ? keys.spend : this.keys(keyName, budgetPer, at).spend;
        const expires = budgetPer === undefined ? "0" : String(periodEnd(budgetPer, at) + SPEND_GRACE_MS);
        const redis = this.client;
        if (!this.up || !redis) return; // the lease lapses by itself
        const generation = this.generation;
        const args = [member, String(at), String(Math.max(0, Math.round(spend.tokens))), String(spend.usd), countTokens ? "1" : "0", expires];
        redis.send("EVAL", [RELEASE, "3", keys.conc, keys.tpm, spendKey, ...args]).catch((error: unknown) => this.failed(generation, error));
      },
    };
    return admitted;
  }

  private seen(verdict: string, limits: KeyLimits, a: number, b: number, c: number): Seen | undefined {
    const { budget } = limits;
    if (verdict === "concurrent" && limits.concurrent !== undefined) return { limit: "concurrent", concurrent: limits.concurrent };
    if (verdict === "rpm" && limits.rpm !== undefined) return { limit: "rpm", rpm: limits.rpm, waitMs: a };
    if (verdict === "tpm" && limits.tpm !== undefined) return { limit: "tpm", tpm: limits.tpm, used: b, waitMs: a };
    if (verdict === "budget" && budget !== undefined) return { limit: "budget", per: budget.per, usd: budget.usd, tokens: budget.tokens, spent: { usd: b, tokens: c }, waitMs: a };
    return undefined;
  }

  private keys(keyName: string, per: Period | undefined, now: number): Keys {
    // The key name in braces: a Redis Cluster hash tag, so one key's counters share a slot (multi-key scripts need that).
    const base = `${this.o.prefix}{${encodeURIComponent(keyName)}}:`;
    return {
      rpm: `${base}rpm`,
      conc: `${base}conc`,
      tpm: `${base}tpm`,
      spend: per === undefined ? `${base}spend` : `${base}spend:${per}:${periodStart(per, now)}`,
    };
  }

  private leaseSet(key: string): Set<string> {
    let set = this.leases.get(key);
    if (!set) {
      set = new Set();
      this.leases.set(key, set);
    }
    return set;
  }

  private dropLease(key: string, member: string): void {
    const set = this.leases.get(key);
    set?.delete(member);
    if (set?.size === 0) this.leases.delete(key);
  }

  /** Extends the leases of requests still running here; a lease this instance forgot lapses. */
  private renew(): void {
    const redis = this.client;
    if (!this.up || !redis || this.leases.size === 0) return;
    const until = String(Date.now() + this.leaseMs);
    const generation = this.generation;
    for (const [key, members] of this.leases) {
      const args = [key, "XX"];
      for (const m of members) args.push(until, m);
      redis.send("ZADD", args).catch((error: unknown) => this.failed(generation, error));
      redis.send("PEXPIRE", [key, String(this.leaseMs)]).catch((error: unknown) => this.failed(generation, error));
    }
  }

  private pushSpend(keyName: string, per: Period, now: number): void {
    const redis = this.client;
    if (!redis) return;
    const spent = this.local.snapshot(keyName, { budget: { per, usd: 0 } }, now).spent;
    const generation = this.generation;
    const args = [String(spent.usd), String(Math.round(spent.tokens)), String(periodEnd(per, now) + SPEND_GRACE_MS)];
    redis.send("EVAL", [SEED, "1", this.keys(keyName, per, now).spend, ...args]).catch((error: unknown) => this.failed(generation, error));
  }

  private async connect(): Promise<void> {
    if (this.stopped) return;
    const generation = ++this.generation;
    const client = new RedisClient(this.o.url, { autoReconnect: false, enableOfflineQueue: false, connectionTimeout: 2000 });
    this.client = client;
    client.onclose = (error) => this.lost(generation, error);
    try {
      await client.connect();
    } catch (error) {
      this.lost(generation, error);
      return;
    }
    if (generation !== this.generation || this.stopped) return;
    this.up = true;
    this.reconnectDelay = RECONNECT_MIN_MS;
    this.o.log(
      "info",
      this.outages === 0
        ? `limits: sharing key limits through Redis at ${safeUrl(this.o.url)}`
        : `limits: Redis at ${safeUrl(this.o.url)} is back; key limits are shared again`,
    );
    // A Redis that restarted forgot this period's spend: what this instance knows fills the gap.
    const now = Date.now();
    for (const { keyName, per } of this.local.budgets()) this.pushSpend(keyName, per, now);
  }

  private close(): void {
    const client = this.client;
    this.client = undefined;
    this.up = false;
    if (!client) return;
    client.onclose = null;
    try {
      client.close();
    } catch {
      // Already closed: nothing left to release.
    }
  }

  private failed(generation: number, error: unknown): void {
    if (!isRefusal(error)) return this.lost(generation, error);
    if (this.refusalSaid) return;
    this.refusalSaid = true;
    this.o.log("error", `limits: Redis at ${safeUrl(this.o.url)} refused a limits command (${reason(error)}); deciding locally`);
  }

  /** Redis went away (or never came): decide locally, say so once per outage, keep trying. */
  private lost(generation: number, error: unknown): void {
    if (this.stopped || generation !== this.generation) return;
    this.generation++;
    const wasUp = this.up;
    this.close();
    if (wasUp || this.outages === 0) {
      this.outages++;
      this.o.log("warn", `limits: Redis at ${safeUrl(this.o.url)} is unreachable (${reason(error)}); each instance enforces key limits with its own counters until it is back, reconnecting`);
    }
    clearTimeout(this.reconnectTimer);
    this.reconnectTimer = setTimeout(() => void this.connect(), this.reconnectDelay);
    this.reconnectTimer.unref?.();
    this.reconnectDelay = Math.min(this.reconnectDelay * 2, RECONNECT_MAX_MS);
  }
}

interface Keys {
  readonly rpm: string;
  readonly conc: string;
  readonly tpm: string;
  readonly spend: string;
}
