import type { Config } from "../config/types.ts";
import type { Logger } from "../log/logger.ts";
import type { CooldownTable } from "../proxy/cooldown.ts";
import type { RequestRecord } from "../proxy/forward.ts";
import { persistCooldowns, restoreCooldowns } from "./ledger-cooldowns.ts";
import { type Ledger, openLedger } from "./ledger.ts";
import { safeDatabaseUrl } from "./ledger-schema.ts";
import { LocalLimiter, type Limiter } from "./limits.ts";
import { RedisLimiter } from "./limits-redis.ts";
import { restoreBudgets } from "./limits-seed.ts";
import { usageRowOf } from "./usage-record.ts";

/** What keys need beyond the config: the limit counters, and the ledger usage is written to. */
export interface KeyServices {
  readonly limiter: Limiter;
  readonly ledger: Ledger | undefined;
}

/** The ledger and the limit counters of one instance, started together. */
export interface UsageServices {
  readonly services: KeyServices;
  /** One line for the start-up block: where usage goes. */
  readonly summary: string;
  /** Once per proxied request that is over: its row in the ledger. */
  record(record: RequestRecord): void;
  close(): Promise<void>;
}

/**
 * Opens the usage ledger (unless `usage.enabled: false`), puts the cooldowns it saved
 * back into the table and saves every change from now on, and starts the limit
 * counters: shared through Redis with `cluster.redis_url`, else this process's own,
 * with this period's budget spend read back from the ledger. A ledger that cannot be
 * opened is logged and left out: the proxy serves without one.
 */
export async function startUsage(config: Config, cooldowns: CooldownTable, log: Logger): Promise<UsageServices> {
  const logAt = (level: "info" | "warn" | "error", message: string) => log[level](`usage: ${message}`);
  let ledger: Ledger | undefined;
  let unpersist = () => {};
  let summary = "off (usage.enabled: false)";
  if (config.usage.enabled) {
    try {
      ledger = await openLedger(config.usage.database, { retentionDays: config.usage.retentionDays, log: logAt });
      const restored = restoreCooldowns(cooldowns, await ledger.cooldowns.load(Date.now()), Date.now());
      summary = `${safeDatabaseUrl(config.usage.database)}${restored > 0 ? ` (${restored} cooldowns restored)` : ""}`;
      const store = ledger.cooldowns;
      const stop = persistCooldowns(cooldowns, store);
      unpersist = () => void stop();
    } catch (error) {
      log.error(`usage: cannot open the ledger ${safeDatabaseUrl(config.usage.database)} (${error instanceof Error ? error.message : String(error)}); serving without it: no usage is recorded, no cooldown kept across restarts, budgets start from zero`);
      ledger = undefined;
      summary = "not recorded (the ledger could not be opened, see above)";
    }
  }
  const local = new LocalLimiter();
  let redis: RedisLimiter | undefined;
  if (config.cluster.redisUrl && config.keys.size > 0) {
    redis = new RedisLimiter({ url: config.cluster.redisUrl, prefix: `${config.cluster.keyPrefix}limits:`, log: logAt, local });
    void redis.start();
  }
  const limiter: Limiter = redis ?? local;
  if (ledger && config.keys.size > 0) {
    await restoreBudgets(ledger, config.keys.values(), limiter, Date.now()).catch((error: unknown) => {
      log.warn(`usage: budgets could not be read back from the ledger (${error instanceof Error ? error.message : String(error)}); they count from zero`);
    });
  }
  return {
    services: { limiter, ledger },
    summary,
    record(r) {
      ledger?.record(usageRowOf(r));
    },
    async close() {
      unpersist();
      await redis?.stop();
      await ledger?.close();
    },
  };
}
