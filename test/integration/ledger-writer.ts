/**
 * The child of the kill -9 test: writes usage rows through the ledger in a steady
 * loop (about 5000 a second) and reports on stdout what the ledger has committed:
 * `flushed <written> recorded <recorded>` each time the written count moves, and
 * `cooldown saved` once the cooldown it entered at start is in the file. Each row's
 * latency_ms carries its sequence number, starting at argv[3]; argv[4] pads each
 * row's outcome to that many characters, so a write takes long enough to be killed
 * in the middle of.
 *
 *   bun test/integration/ledger-writer.ts <database> <first sequence number> [padding]
 */
import { cooldownKey } from "../../src/config/pair.ts";
import { CooldownTable } from "../../src/proxy/cooldown.ts";
import { openLedger } from "../../src/ops/ledger.ts";
import { persistCooldowns } from "../../src/ops/ledger-cooldowns.ts";

const [database, first, padding = "0"] = process.argv.slice(2);
if (!database || first === undefined) throw new Error("usage: ledger-writer.ts <database> <first sequence number> [padding]");
const outcome = "ok".padEnd(Number(padding), ".");

const ledger = await openLedger(database, { retentionDays: 0, log: (level, message) => console.error(`${level}: ${message}`) });
const table = new CooldownTable();
persistCooldowns(table, ledger.cooldowns);
table.enter(cooldownKey("crash", `seq-${first}`), Date.now(), 600_000, "status 429", 429);

let seq = Number(first);
let recorded = 0;
let reported = 0;
let cooldownReported = false;
for (;;) {
  for (let i = 0; i < 10; i++) {
    ledger.record({
      time: Date.now(),
      key: "crash",
      alias: "alias",
      backend: "backend",
      model: "model",
      status: 200,
      outcome,
      attempts: 1,
      input: 10,
      output: 5,
      cacheRead: 0,
      cacheWrite: 0,
      costUsd: 0.0001,
      latencyMs: seq++,
      firstByteMs: 1,
      streamComplete: true,
    });
    recorded++;
  }
  const { written } = ledger.stats();
  if (written !== reported) {
    reported = written;
    process.stdout.write(`flushed ${written} recorded ${recorded}\n`);
  }
  if (!cooldownReported && written > 0 && !ledger.cooldowns.waiting) {
    cooldownReported = true;
    process.stdout.write("cooldown saved\n");
  }
  // The load's pace, not a wait for anything: 10 rows every 2 ms.
  await Bun.sleep(2);
}
