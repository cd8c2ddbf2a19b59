#!/usr/bin/env bun
/**
 * `bun scripts/bench/keys-path.ts`: what keys and the usage ledger cost per request,
 * measured alone, without HTTP. Runs the request path's own functions on a config
 * of 10 keys with limits and a budget (the one `bun run bench --keys 10` serves):
 * finding the key (`identify`), admitting and releasing it (`admit`, the limits),
 * and the ledger row, written to a SQLite file in a temporary folder by the ledger's
 * own timers, in batches as in the proxy. Prints the CPU per request of each step
 * added to the ones before, so each line's difference is that step's cost. The
 * end-to-end figure (`bun run bench --baseline . --keys 10`) carries the same work
 * inside a request costing tens of times more, with a spread between rounds larger
 * than this whole path: this is the figure to compare changes to the path with.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseConfig } from "../../src/config/load.ts";
import type { Config } from "../../src/config/types.ts";
import { Logger } from "../../src/log/logger.ts";
import type { BufferedLedger } from "../../src/ops/ledger-buffer.ts";
import { spendOf } from "../../src/ops/usage-record.ts";
import { startUsage, type UsageServices } from "../../src/ops/usage-services.ts";
import type { RequestRecord } from "../../src/proxy/forward.ts";
import { CooldownTable } from "../../src/proxy/cooldown.ts";
import { admit } from "../../src/server/admission.ts";
import { identify } from "../../src/server/keys.ts";
import { proxyConfig } from "./setup.ts";
import { ALIAS, PROXY_KEY } from "./workload.ts";

/** Requests between two turns of the event loop: about what one turn of a proxy at c=64 carries. */
const PER_TURN = 64;
/** A whole number of turns, so that exactly this many requests run. */
const REQUESTS = Math.max(1, Math.ceil(Number(process.env.REQUESTS ?? 200_000) / PER_TURN)) * PER_TURN;
const WARM_UP = 20_032;
const STEPS = ["identify", "admit + release", "ledger row"] as const;
type Step = (typeof STEPS)[number];

/** The config `bun run bench --keys 10` serves (its ledger in `dir`); no provider is called. */
function config(dir: string): Config {
  const text = proxyConfig(9, "error", join(dir, "logs"), { kind: "keys", count: 10 });
  const { config, problems } = parseConfig(text, "keys-path.yaml");
  if (!config) throw new Error(`the measuring config is invalid: ${problems.map(String).join("; ")}`);
  return config;
}

const cpuUs = () => {
  const u = process.cpuUsage();
  return u.user + u.system;
};

async function run(step: Step, cfg: Config, usage: UsageServices, n: number): Promise<void> {
  const headers = new Headers({ authorization: `Bearer ${PROXY_KEY}`, "content-type": "application/json" });
  const alias = cfg.aliases.get(ALIAS)!;
  const route = alias.groups[0]!.routes[0]!;
  const last = STEPS.indexOf(step);
  for (let done = 0; done < n; done += PER_TURN) {
    for (let i = 0; i < PER_TURN; i++) {
      const now = Date.now();
      const principal = identify(cfg, headers);
      if (principal?.kind !== "key") throw new Error("the bench key was not found");
      if (last < 1) continue;
      const admission = await admit(principal, ALIAS, "openai", usage.services, now);
      if (admission instanceof Response) throw new Error(`refused: ${admission.status}`);
      const record = {
        id: "r",
        request: { arrived: now, key: principal.key.name, alias },
        attempts: [{ route: "primary/fake-model", key: route.key, ms: 1, status: 200, result: "ok" }],
        status: 200,
        outcome: "ok",
        totalMs: 1.2,
        route,
        firstByteMs: 1,
        usage: { input: 24, output: 12, cacheRead: 0, cacheWrite: 0, reasoning: 0 },
      } as unknown as RequestRecord;
      admission.release(spendOf(record.usage, record.route), Date.now());
      if (last < 2) continue;
      usage.record(record);
    }
    // A timer turn, as between a proxy's batches of requests: the ledger's own flush timers run here.
    await Bun.sleep(0);
  }
}

async function idleLoop(n: number): Promise<number> {
  const before = cpuUs();
  for (let done = 0; done < n; done += PER_TURN) await Bun.sleep(0);
  return cpuUs() - before;
}

const dir = mkdtempSync(join(tmpdir(), "llm-proxy-keys-path-"));
try {
  const cfg = config(dir);
  const usage = await startUsage(cfg, new CooldownTable(), new Logger({ write() {} }));
  const ledger = usage.services.ledger as BufferedLedger | undefined;
  if (!ledger) throw new Error("the ledger did not open");
  const idle = (await idleLoop(REQUESTS)) / REQUESTS;
  process.stdout.write(`keys and the usage ledger alone: ${REQUESTS.toLocaleString("en-US")} requests per step, Bun ${Bun.version}; CPU per request, each step with the ones above (the loop's own ${idle.toFixed(2)} µs taken off)\n`);
  for (const step of STEPS) {
    await run(step, cfg, usage, WARM_UP);
    await ledger.flush();
    const written = ledger.stats().written;
    const batches = ledger.stats().batches;
    const before = cpuUs();
    await run(step, cfg, usage, REQUESTS);
    await ledger.flush();
    const us = (cpuUs() - before) / REQUESTS - idle;
    const stats = ledger.stats();
    const rows = stats.written - written;
    const extra = rows > 0 ? `  (${rows.toLocaleString("en-US")} rows in ${stats.batches - batches} batches)` : "";
    process.stdout.write(`  ${`+ ${step}`.padEnd(20)} ${us.toFixed(2).padStart(6)} µs${extra}\n`);
  }
  await usage.close();
} finally {
  rmSync(dir, { recursive: true, force: true });
}
