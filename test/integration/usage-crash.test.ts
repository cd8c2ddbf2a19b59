import { Database } from "bun:sqlite";
import { afterAll, describe, expect, test } from "bun:test";
import { rmSync } from "node:fs";
import { join } from "node:path";
import { FakeProvider, waitFor } from "../helpers/fake-provider.ts";
import { post } from "../helpers/http.ts";
import { sqliteRows } from "../helpers/ledger-file.ts";
import { killAllProxies, ProxyProcess, tempDir } from "../helpers/proxy-process.ts";
import { usageAnswer } from "../helpers/usage-provider.ts";

afterAll(killAllProxies);

const ADMIN = "admin-crash-key-0123456789abcdef";
const KEY = "load-crash-key-0123456789abcdef";
/** The ledger's batch: a flush at least every second, or as soon as 100 rows wait. */
const BATCH_ROWS = 100;
const FLUSH_MS = 1000;
/** Timers on a loaded 2-core machine run late; this much more than a flush period is allowed for it. */
const SLACK_MS = 1000;
const CLIENTS = 4;

function usageCount(path: string): number {
  const db = new Database(path, { readonly: true });
  try {
    return (db.query("SELECT COUNT(*) AS n FROM llm_proxy_usage").get() as { n: number }).n;
  } finally {
    db.close();
  }
}

const config = (url: string, database: string) => `listen: "127.0.0.1:0"
proxy_api_key: ${ADMIN}
usage: { database: "${database}" }
fallback: { cooldown_seconds: 600 }
backends:
  - { name: a, url: "${url}/v1" }
  - { name: b, url: "${url}/v1" }
models:
  load: { routes: [{ backend: b, model: chat-load }] }
  cool:
    routes:
      - { backend: a, model: limited, priority: 1 }
      - { backend: b, model: chat-ok, priority: 2 }
keys:
  - { name: loader, key: ${KEY} }
`;

describe("kill -9 of the proxy under load", () => {
  const dir = tempDir("llm-proxy-crash-e2e-");
  const database = join(dir, "ledger.db");
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  test("leaves an intact ledger missing at most the last batch, and the cooldowns come back at restart", async () => {
    await using up = new FakeProvider((r) => ((JSON.parse(r.text) as { model: string }).model === "limited" ? Response.json({ error: { message: "slow down" } }, { status: 429 }) : usageAnswer(r)));
    const limited = () => up.received.filter((r) => r.text.includes('"limited"')).length;
    const first = await ProxyProcess.start(config(up.url, database));

    // A pair cools down (429, then the next route serves), and the cooldown is saved.
    const cooled = await post(`${first.url}/v1/chat/completions`, { model: "cool", messages: [] }, { authorization: `Bearer ${KEY}` });
    expect(cooled.status).toBe(200);
    expect(cooled.headers.get("x-llm-proxy-attempts")).toBe("2");
    expect(limited()).toBe(1);
    await waitFor(() => {
      const db = new Database(database, { readonly: true });
      try {
        return (db.query("SELECT COUNT(*) AS n FROM llm_proxy_cooldowns").get() as { n: number }).n === 1;
      } finally {
        db.close();
      }
    }, "the cooldown saved in the ledger");

    // Load: clients in a loop, each answer's arrival time kept.
    const answered: number[] = [];
    let stop = false;
    const client = async () => {
      while (!stop) {
        try {
          const res = await post(`${first.url}/v1/chat/completions`, { model: "load", messages: [{ role: "user", content: "hi" }] }, { authorization: `Bearer ${KEY}` });
          const text = await res.text();
          if (res.status === 200 && text.includes("chat.completion")) answered.push(Date.now());
        } catch {
          // The proxy is gone: this client is done.
          return;
        }
      }
    };
    const loadStarted = Date.now();
    const clients = Array.from({ length: CLIENTS }, client);
    // Long enough for several flushes and batch triggers, and for the last flush period to be a part of it only.
    await waitFor(() => Date.now() - loadStarted >= 2 * (FLUSH_MS + SLACK_MS) && answered.length >= 3 * BATCH_ROWS && usageCount(database) > BATCH_ROWS, "load, and rows written", 30_000);
    const killedAt = Date.now();
    process.kill(first.pid(), "SIGKILL");
    await first.exited;
    stop = true;
    await Promise.all(clients);
    await first[Symbol.asyncDispose]();

    // The file is intact (SQLite recovers its WAL on open), and every row in it is whole.
    const db = new Database(database);
    expect((db.query("PRAGMA integrity_check").all() as { integrity_check: string }[]).map((r) => r.integrity_check)).toEqual(["ok"]);
    const rows = db.query("SELECT * FROM llm_proxy_usage WHERE alias = 'load'").all() as { key_name: string; status: number; input_tokens: number; output_tokens: number }[];
    db.close();
    expect(rows.every((r) => r.key_name === "loader" && r.status === 200 && r.input_tokens === 70 && r.output_tokens === 20)).toBe(true);
    // Missing: at most the last batch. A flush runs when 100 rows wait or a second has passed, whichever
    // comes first: so no more than 100 rows (and the few recorded while the flush was being scheduled),
    // and none older than the last flush period.
    const answeredBefore = answered.filter((t) => t <= killedAt).length;
    const lately = answered.filter((t) => t > killedAt - FLUSH_MS - SLACK_MS).length;
    const missing = answeredBefore - rows.length;
    expect(lately).toBeLessThan(answeredBefore);
    expect(missing).toBeLessThanOrEqual(Math.min(lately, BATCH_ROWS + 50));
    // A row is recorded as its answer is handed over: a few may be there whose client never read them.
    expect(rows.length).toBeLessThanOrEqual(answered.length + CLIENTS);

    // Restart on the same file: the pair is still cooling, and the next request skips it.
    await using second = await ProxyProcess.start(config(up.url, database));
    expect(second.stdout).toContain("(1 cooldowns restored)");
    const status = (await (await fetch(`${second.url}/status`, { headers: { authorization: `Bearer ${ADMIN}` } })).json()) as { cooldowns: { backend: string; model: string }[] };
    expect(status.cooldowns).toEqual([expect.objectContaining({ backend: "a", model: "limited" })]);
    const next = await post(`${second.url}/v1/chat/completions`, { model: "cool", messages: [] }, { authorization: `Bearer ${KEY}` });
    expect(next.status).toBe(200);
    expect(next.headers.get("x-llm-proxy-attempts")).toBe("1");
    expect(next.headers.get("x-llm-proxy-backend")).toBe("b");
    expect(limited()).toBe(1);
    // And the ledger goes on in the same file.
    await waitFor(() => sqliteRows(database).filter((r) => r.alias === "cool").length === 2, "the new row after the old ones");
  }, 60_000);
});
