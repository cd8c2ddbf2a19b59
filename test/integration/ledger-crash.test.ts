import { Database } from "bun:sqlite";
import { afterAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { openLedger } from "../../src/ops/ledger.ts";
import { LogLines } from "../helpers/ledger-rows.ts";

const WRITER = join(import.meta.dir, "ledger-writer.ts");
/** The ledger's defaults, which the child uses: a flush every second or every 100 rows. */
const BATCH_ROWS = 100;
/** The child records 10 rows between looks at its counters. */
const STEP = 10;

const dir = mkdtempSync(join(tmpdir(), "llm-proxy-crash-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

interface Report {
  flushed: number;
  recorded: number;
  cooldownSaved: boolean;
}

/** Runs the writer until it has reported `flushes` commits, then kills it with SIGKILL by its PID. */
async function runAndKill(database: string, first: number, flushes: number, padding: number): Promise<Report> {
  const child = Bun.spawn([process.execPath, WRITER, database, String(first), String(padding)], { stdout: "pipe", stderr: "pipe" });
  const report: Report = { flushed: 0, recorded: 0, cooldownSaved: false };
  const reader = (child.stdout as ReadableStream<Uint8Array>).getReader();
  const decoder = new TextDecoder();
  let pending = "";
  let seen = 0;
  const take = (text: string) => {
    pending += text;
    const lines = pending.split("\n");
    pending = lines.pop()!;
    for (const line of lines) {
      const m = /^flushed (\d+) recorded (\d+)$/.exec(line);
      if (m) {
        report.flushed = Number(m[1]);
        report.recorded = Number(m[2]);
        seen++;
      } else if (line === "cooldown saved") report.cooldownSaved = true;
    }
  };
  const deadline = Date.now() + 20_000;
  while (seen < flushes) {
    if (Date.now() > deadline) throw new Error(`the writer reported ${seen} flushes:\n${await new Response(child.stderr).text()}`);
    const { value, done } = await reader.read();
    if (done) throw new Error(`the writer exited (${child.exitCode}):\n${await new Response(child.stderr).text()}`);
    take(decoder.decode(value));
  }
  // Not a wait for anything: a random moment to die at, so some lives end in the middle of a write.
  await Bun.sleep(Math.random() * 50);
  process.kill(child.pid, "SIGKILL");
  await child.exited;
  expect(child.signalCode).toBe("SIGKILL");
  // Whatever it printed before dying is still in the pipe.
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    take(decoder.decode(value));
  }
  return report;
}

describe("crash safety", () => {
  test("kill -9 under load leaves an intact SQLite file holding every row reported flushed, missing at most the last batch", async () => {
    const database = join(dir, "crash.db");
    let expected = 0;
    // Lives killed at different points of their writing, all appending to the same file; the
    // later ones write rows padded to 8 KB, so a batch takes milliseconds to commit.
    const lives: [flushes: number, padding: number][] = [
      [5, 0],
      [12, 0],
      [6, 8192],
      [9, 8192],
      [14, 8192],
    ];
    for (const [flushes, padding] of lives) {
      const report = await runAndKill(database, expected, flushes, padding);
      const db = new Database(database);
      expect(db.query("PRAGMA integrity_check").all()).toEqual([{ integrity_check: "ok" }]);
      const rows = db.query("SELECT key_name, latency_ms, status, stream_complete, cost_usd FROM llm_proxy_usage ORDER BY id").all() as { key_name: string; latency_ms: number; status: number; stream_complete: number; cost_usd: number }[];
      const cooldowns = db.query("SELECT pair, until_ms FROM llm_proxy_cooldowns").all() as { pair: string; until_ms: number }[];
      db.close();
      const written = rows.length - expected;
      console.log(`crash: killed after ${report.flushed} rows reported flushed of ${report.recorded} recorded (rows of ${padding || "~200"} bytes); ${written} rows in the file`);
      // Every row the child was told is committed is there, and nothing else is torn or out of order.
      expect(written).toBeGreaterThanOrEqual(report.flushed);
      expect(rows.map((r) => r.latency_ms)).toEqual(Array.from({ length: rows.length }, (_, i) => i));
      for (const r of rows) expect(r).toMatchObject({ key_name: "crash", status: 200, stream_complete: 1, cost_usd: 0.0001 });
      // What it had recorded when it last reported, less the rows of one batch at most, reached the file.
      expect(report.recorded - written).toBeLessThanOrEqual(BATCH_ROWS + STEP);
      // The cooldown this life entered at its start survived its death.
      expect(report.cooldownSaved).toBe(true);
      expect(cooldowns.map((c) => c.pair)).toContain(`crash/seq-${expected}`);
      expected = rows.length;
    }
    // And the ledger opens the file again as usual.
    const ledger = await openLedger(database, { retentionDays: 0, log: new LogLines().log });
    const [summary] = await ledger.summary({ from: 0, to: Date.now() + 1000, by: "key" });
    expect(summary).toMatchObject({ key: "crash", requests: expected });
    expect((await ledger.cooldowns.load(Date.now())).length).toBe(lives.length);
    await ledger.close();
  }, 90_000);
});
