import { RedisClient } from "bun";
import * as v from "valibot";
import { decodePair, encodePair } from "../config/pair.ts";
import type { Cooldown, CooldownChange, CooldownTable } from "../proxy/cooldown.ts";
import type { Logger } from "../log/logger.ts";

/**
 * Shares cooldowns between llm-proxy instances through Redis.
 *
 * The request path never waits on Redis: it reads and writes the local table as
 * always; this link writes every change through in the background and mirrors the
 * other instances' changes as they are published (plus a periodic resync). Each
 * cooldown is a key holding its deadline, expiring with it, so it ends at the same
 * moment everywhere. When a shared cooldown ends, the instances race for a probe
 * lock (SET NX): only the winner lets a request probe the pair. Redis away: every
 * instance goes on with its own table, logs the outage once, and reconnects by
 * itself however long it takes.
 */

export interface ClusterOptions {
  readonly url: string;
  readonly prefix: string;
  readonly table: CooldownTable;
  readonly log: Logger;
  /** Full resync from Redis this often (pub/sub carries changes in between). */
  readonly resyncMs?: number;
  /** How long the probe winner holds a pair before the others may try. */
  readonly probeLockMs?: number;
}

/** A cooldown as another instance wrote it: checked, since anyone who can reach Redis can write there. */
const cooldownSchema = v.pipe(
  v.object({
    until: v.number(),
    since: v.number(),
    reason: v.string(),
    // JSON leaves an undefined status out.
    status: v.optional(v.number()),
    failures: v.number(),
    probing: v.optional(v.boolean(), false),
    gated: v.optional(v.boolean()),
  }),
  v.transform((c): Cooldown => ({ ...c, status: c.status })),
);

const messageSchema = v.variant("type", [
  v.object({ from: v.string(), type: v.literal("enter"), key: v.string(), entry: cooldownSchema }),
  v.object({ from: v.string(), type: v.literal("succeeded"), key: v.string() }),
  v.object({ from: v.string(), type: v.literal("clear"), key: v.optional(v.string()) }),
]);

type Message = v.InferOutput<typeof messageSchema>;

/** A JSON text as a valid value of `schema`, or undefined (not ours, or from another version). */
function parsed<S extends v.GenericSchema>(schema: S, text: string): v.InferOutput<S> | undefined {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    // Not JSON: not one of ours.
    return undefined;
  }
  const result = v.safeParse(schema, value);
  return result.success ? result.output : undefined;
}

const RECONNECT_MIN_MS = 250;
const RECONNECT_MAX_MS = 5000;

export interface ClusterStatus {
  readonly connected: boolean;
  readonly url: string;
  readonly instance: string;
  readonly outages: number;
}

/** `redis://user:secret@host` → `redis://user:****@host`, for logs and /status. */
export const safeRedisUrl = (url: string) => url.replace(/^(rediss?:\/\/[^:@/]*:)[^@/]+@/, "$1****@");

export class ClusterLink {
  readonly instance = `${process.pid}-${Math.random().toString(36).slice(2, 8)}`;
  private readonly channel: string;
  private readonly resyncMs: number;
  private readonly probeLockMs: number;
  private commands: RedisClient | undefined;
  private subscriber: RedisClient | undefined;
  private up = false;
  private stopped = false;
  private outages = 0;
  private reconnectDelay = RECONNECT_MIN_MS;
  private reconnectTimer: Timer | undefined;
  /** Each connection attempt gets a number; events of an older one are ignored. */
  private generation = 0;
  private resyncTimer: Timer | undefined;
  private readonly expiryTimers = new Map<string, Timer>();
  /** Keys whose local entry came from another instance. */
  private readonly mirrored = new Set<string>();
  private readonly unlisten: () => void;

  constructor(private readonly o: ClusterOptions) {
    this.channel = `${o.prefix}events`;
    this.resyncMs = o.resyncMs ?? 5000;
    this.probeLockMs = o.probeLockMs ?? 30_000;
    this.unlisten = o.table.listen((change) => this.local(change));
  }

  get connected(): boolean {
    return this.up;
  }

  status(): ClusterStatus {
    return { connected: this.up, url: safeRedisUrl(this.o.url), instance: this.instance, outages: this.outages };
  }

  /** Connects in the background; resolves after the first attempt, connected or not. */
  async start(): Promise<void> {
    await this.connect();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.unlisten();
    clearTimeout(this.reconnectTimer);
    clearInterval(this.resyncTimer);
    for (const timer of this.expiryTimers.values()) clearTimeout(timer);
    this.expiryTimers.clear();
    this.close();
  }

  private cooldownKey = (key: string) => `${this.o.prefix}cooldown:${encodePair(key)}`;
  private probeKey = (key: string) => `${this.o.prefix}probe:${encodePair(key)}`;

  private async connect(): Promise<void> {
    if (this.stopped) return;
    const generation = ++this.generation;
    const options = { autoReconnect: false, enableOfflineQueue: false, connectionTimeout: 2000 };
    const commands = new RedisClient(this.o.url, options);
    const subscriber = new RedisClient(this.o.url, options);
    this.commands = commands;
    this.subscriber = subscriber;
    const lost = (error?: Error) => this.lost(generation, error);
    commands.onclose = lost;
    subscriber.onclose = lost;
    try {
      await Promise.all([commands.connect(), subscriber.connect()]);
      await subscriber.subscribe(this.channel, (message) => this.heard(message));
      await this.resync();
    } catch (error) {
      this.lost(generation, error as Error);
      return;
    }
    if (generation !== this.generation || this.stopped) return;
    this.up = true;
    this.reconnectDelay = RECONNECT_MIN_MS;
    this.o.table.gateShared = true;
    this.o.log.info(
      this.outages === 0
        ? `cluster: sharing cooldowns through Redis at ${safeRedisUrl(this.o.url)} as instance ${this.instance}`
        : `cluster: Redis at ${safeRedisUrl(this.o.url)} is back; cooldowns are shared again`,
    );
    clearInterval(this.resyncTimer);
    this.resyncTimer = setInterval(() => void this.resync().catch((error: Error) => this.lost(generation, error)), this.resyncMs);
    this.resyncTimer.unref?.();
  }

  private close(): void {
    const { commands, subscriber } = this;
    this.commands = undefined;
    this.subscriber = undefined;
    for (const client of [commands, subscriber]) {
      if (!client) continue;
      client.onclose = null;
      try {
        client.close();
      } catch {
        // Already closed: nothing left to release.
      }
    }
  }

  /** Redis went away (or never came): carry on locally, log once per outage, keep trying. */
  private lost(generation: number, error?: Error): void {
    if (this.stopped || generation !== this.generation) return;
    // Later events of this attempt (the other client closing too) are not news.
    this.generation++;
    const wasUp = this.up;
    this.up = false;
    this.close();
    clearInterval(this.resyncTimer);
    if (wasUp || this.outages === 0) {
      this.outages++;
      this.o.log.warn(`cluster: Redis at ${safeRedisUrl(this.o.url)} is unreachable (${error?.message ?? "connection closed"}); serving with this instance's cooldowns only, and reconnecting`);
    }
    // Without the cluster, nobody else can grant a probe: this instance decides alone again.
    this.o.table.gateShared = false;
    this.o.table.ungate();
    clearTimeout(this.reconnectTimer);
    this.reconnectTimer = setTimeout(() => void this.connect(), this.reconnectDelay);
    this.reconnectDelay = Math.min(this.reconnectDelay * 2, RECONNECT_MAX_MS);
  }

  /** A change made by this instance: write it through, in the background. */
  private local(change: CooldownChange): void {
    if (change.type === "enter") {
      this.mirrored.delete(change.key);
      this.scheduleExpiry(change.key, change.entry.until);
    } else this.dropExpiry(change.key);
    if (!this.up || !this.commands) return;
    const redis = this.commands;
    const publish = (message: Message) => redis.publish(this.channel, JSON.stringify(message));
    const run = async () => {
      if (change.type === "enter") {
        const ttl = Math.max(1, Math.ceil(change.entry.until - Date.now()));
        await redis.send("SET", [this.cooldownKey(change.key), JSON.stringify(change.entry), "PX", String(ttl)]);
        await redis.del(this.probeKey(change.key));
        await publish({ from: this.instance, type: "enter", key: change.key, entry: change.entry });
      } else if (change.type === "succeeded") {
        await redis.del(this.cooldownKey(change.key), this.probeKey(change.key));
        await publish({ from: this.instance, type: "succeeded", key: change.key });
      } else {
        const keys = change.key === undefined ? await this.scan(`${this.o.prefix}*`) : [this.cooldownKey(change.key), this.probeKey(change.key)];
        const ours = keys.filter((k) => k.startsWith(`${this.o.prefix}cooldown:`) || k.startsWith(`${this.o.prefix}probe:`));
        if (ours.length > 0) await redis.del(...ours);
        await publish(change.key === undefined ? { from: this.instance, type: "clear" } : { from: this.instance, type: "clear", key: change.key });
      }
    };
    const generation = this.generation;
    run().catch((error: Error) => this.lost(generation, error));
  }

  /** A change another instance published. */
  private heard(raw: string): void {
    // Not one of ours (someone else publishing on the channel, another version): ignored.
    const message = parsed(messageSchema, raw);
    if (message === undefined || message.from === this.instance) return;
    const { table } = this.o;
    if (message.type === "enter") {
      table.mirror(message.key, message.entry, Date.now());
      this.mirrored.add(message.key);
      this.scheduleExpiry(message.key, table.get(message.key)?.until ?? message.entry.until);
    } else if (message.type === "succeeded") {
      table.forget(message.key);
      this.dropExpiry(message.key);
    } else {
      table.forget(message.key);
      if (message.key === undefined) for (const key of [...this.expiryTimers.keys()]) this.dropExpiry(key);
      else this.dropExpiry(message.key);
    }
  }

  private scheduleExpiry(key: string, until: number): void {
    this.dropExpiry(key);
    const timer = setTimeout(() => void this.expired(key), Math.max(0, until - Date.now()));
    timer.unref?.();
    this.expiryTimers.set(key, timer);
  }

  private dropExpiry(key: string | undefined): void {
    if (key === undefined) return;
    clearTimeout(this.expiryTimers.get(key));
    this.expiryTimers.delete(key);
  }

  /** A shared cooldown ended: whoever wins the probe lock may probe the pair. */
  private async expired(key: string): Promise<void> {
    this.expiryTimers.delete(key);
    const { table } = this.o;
    const entry = table.get(key);
    if (!entry || entry.until > Date.now()) return;
    const redis = this.commands;
    if (!this.up || !redis) return table.ungate(key);
    const generation = this.generation;
    try {
      const won = await redis.send("SET", [this.probeKey(key), this.instance, "NX", "PX", String(this.probeLockMs)]);
      if (won === "OK") return table.ungate(key);
    } catch (error) {
      this.lost(generation, error as Error);
      return;
    }
    // Another instance is probing: look again soon (its verdict usually arrives by pub/sub first).
    const timer = setTimeout(() => void this.recheck(key), 1000);
    timer.unref?.();
    this.expiryTimers.set(key, timer);
  }

  private async recheck(key: string): Promise<void> {
    this.expiryTimers.delete(key);
    const redis = this.commands;
    if (!this.up || !redis) return this.o.table.ungate(key);
    const generation = this.generation;
    try {
      const value = (await redis.get(this.cooldownKey(key))) as string | null;
      const entry = value === null ? undefined : parsed(cooldownSchema, value);
      if (entry !== undefined) {
        this.o.table.mirror(key, entry, Date.now());
        this.mirrored.add(key);
        return this.scheduleExpiry(key, entry.until);
      }
    } catch (error) {
      this.lost(generation, error as Error);
      return;
    }
    await this.expired(key);
  }

  private async scan(pattern: string): Promise<string[]> {
    const redis = this.commands;
    if (!redis) return [];
    const keys: string[] = [];
    let cursor = "0";
    do {
      const [next, batch] = (await redis.send("SCAN", [cursor, "MATCH", pattern, "COUNT", "500"])) as [string, string[]];
      cursor = next;
      keys.push(...batch);
    } while (cursor !== "0");
    return keys;
  }

  /**
   * Brings the local table in line with Redis: mirrors cooldowns this instance has
   * not heard of, forgets mirrored ones that ended or were cleared elsewhere, and
   * writes its own active ones (entered while Redis was away) back.
   */
  private async resync(): Promise<void> {
    const redis = this.commands;
    if (!redis) return;
    const now = Date.now();
    const prefix = `${this.o.prefix}cooldown:`;
    const names = await this.scan(`${prefix}*`);
    const values = names.length > 0 ? ((await redis.send("MGET", names)) as (string | null)[]) : [];
    const remote = new Map<string, Cooldown>();
    names.forEach((name, i) => {
      const value = values[i];
      const entry = value ? parsed(cooldownSchema, value) : undefined;
      if (entry) remote.set(decodePair(name.slice(prefix.length)), entry);
    });
    const { table } = this.o;
    for (const [key, entry] of remote) {
      const mine = table.get(key);
      if (mine !== undefined && !this.mirrored.has(key) && mine.until >= entry.until) continue;
      table.mirror(key, entry, now);
      this.mirrored.add(key);
      this.scheduleExpiry(key, entry.until);
    }
    for (const [key, entry] of table.active(now)) {
      if (remote.has(key) || entry.until <= now) continue;
      if (this.mirrored.has(key)) {
        table.forget(key);
        this.mirrored.delete(key);
        this.dropExpiry(key);
      } else {
        // Entered here while Redis was away: the others hear of it now.
        await redis.send("SET", [this.cooldownKey(key), JSON.stringify(entry), "PX", String(Math.max(1, Math.ceil(entry.until - now)))]);
        await redis.publish(this.channel, JSON.stringify({ from: this.instance, type: "enter", key, entry } satisfies Message));
      }
    }
  }
}

