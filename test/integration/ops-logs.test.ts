import { afterAll, describe, expect, test } from "bun:test";
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { chatCompletion, FakeProvider, modelOf, waitFor } from "../helpers/fake-provider.ts";
import { post } from "../helpers/http.ts";
import { killAllProxies, ProxyProcess } from "../helpers/proxy-process.ts";

afterAll(killAllProxies);

const KEY = "sk-proxy-logs-0123456789abcdef";
const AUTH = { authorization: `Bearer ${KEY}` };
/** Model "broken" fails with 500; anything else is answered. */
const provider = () => new FakeProvider((r) => (modelOf(r) === "broken" ? Response.json({ error: { message: "down" } }, { status: 500 }) : Response.json(chatCompletion("hi", modelOf(r)))));

const pad = (n: number) => String(n).padStart(2, "0");
const localDay = (d: Date) => `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}`;
/** Today's file name; a test running across midnight may see either day. */
const todays = (name: (day: string) => string, before: Date) => [...new Set([name(localDay(before)), name(localDay(new Date()))])];

function config(url: string, logging: string): string {
  return `listen: "127.0.0.1:0"
proxy_api_key: ${KEY}
backends:
  - { name: up, url: "${url}/v1" }
models:
  m: { routes: [{ backend: up, model: fine }] }
  bad: { routes: [{ backend: up, model: broken }] }
fallback: { cooldown_seconds: 0 }
logging:
  level: debug
  general_file: ./logs/proxy.log
${logging}`;
}

const ask = (proxy: ProxyProcess, model: string, id?: string) =>
  post(`${proxy.url}/v1/chat/completions`, { model, messages: [{ role: "user", content: "hello" }] }, { ...AUTH, ...(id ? { "x-request-id": id } : {}) });

const logFiles = (dir: string) => (existsSync(dir) ? readdirSync(dir).sort() : []);
const read = (path: string) => (existsSync(path) ? readFileSync(path, "utf8") : "");

describe("log files of the real process", () => {
  test("the general log is proxy_<local date>.log, with a metrics line for each request carrying its id", async () => {
    await using up = provider();
    const started = new Date();
    await using proxy = await ProxyProcess.start(config(up.url, "  enable_metrics: true\n"));
    expect((await ask(proxy, "m", "ok-1")).status).toBe(200);
    expect((await ask(proxy, "bad", "bad-1")).status).toBe(500);

    const logs = join(proxy.dir, "logs");
    const names = todays((day) => `proxy_${day}.log`, started);
    const file = () => read(join(logs, names.find((n) => existsSync(join(logs, n))) ?? names[0]!));
    await waitFor(() => file().includes("metrics alias=bad"), "both metrics lines in the log file");
    const files = logFiles(logs);
    expect(files.length).toBeGreaterThan(0);
    for (const name of files) expect(names).toContain(name);
    expect(file()).toMatch(/^\[\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}\] \[INFO\] llm-proxy \S+ listening on /);
    expect(file()).toMatch(/\[INFO\] \[ok-1\] metrics alias=m status=200 attempts=1 backends=up\/fine:\d+\.\dms\(200\) total=\d+\.\dms\n/);
    expect(file()).toMatch(/\[INFO\] \[bad-1\] metrics alias=bad status=500 attempts=1 backends=up\/broken:\d+\.\dms\(500\) total=\d+\.\dms\n/);
    // The console gets the same lines.
    await proxy.waitForOutput("[ok-1] metrics alias=m status=200 attempts=1", "the metrics line on the console");
  });

  test("with format json every line is one JSON object with time, level and msg, and request lines carry request_id", async () => {
    await using up = provider();
    const started = new Date();
    await using proxy = await ProxyProcess.start(config(up.url, "  format: json\n  enable_metrics: true\n"));
    expect((await ask(proxy, "m", "json-1")).status).toBe(200);
    const logs = join(proxy.dir, "logs");
    const names = todays((day) => `proxy_${day}.log`, started);
    const file = () => names.map((n) => read(join(logs, n))).join("");
    await waitFor(() => file().includes("metrics alias=m"), "the metrics line in the log file");

    const lines = file().trimEnd().split("\n");
    expect(lines.length).toBeGreaterThanOrEqual(8);
    const entries = lines.map((line) => JSON.parse(line) as { time: string; level: string; msg: string; request_id?: string });
    for (const e of entries) {
      expect(Object.keys(e).sort()).toEqual(e.request_id === undefined ? ["level", "msg", "time"] : ["level", "msg", "request_id", "time"]);
      expect(Number.isNaN(Date.parse(e.time))).toBe(false);
      expect(["debug", "info", "warn", "error"]).toContain(e.level);
    }
    expect(entries[0]!.msg).toMatch(/^llm-proxy \S+ listening on http:\/\/127\.0\.0\.1:\d+$/);
    const mine = entries.filter((e) => e.request_id === "json-1");
    expect(mine.map((e) => e.msg)).toEqual([
      "POST /v1/chat/completions model=m",
      expect.stringMatching(/^request headers: \{.*\}; body: \{"model":"m"/),
      expect.stringMatching(/^m → up\/fine: 200 after 1 attempt in /),
      expect.stringMatching(/^metrics alias=m status=200 attempts=1 /),
    ]);
    expect(mine.map((e) => e.level)).toEqual(["info", "debug", "info", "info"]);
    // The console speaks JSON too.
    await proxy.waitForOutput(/"msg":"metrics alias=m [^\n]*\n/, "the metrics line on the console");
    const consoleLines = proxy.stdout.slice(0, proxy.stdout.lastIndexOf("\n")).split("\n");
    for (const line of consoleLines) expect(() => JSON.parse(line)).not.toThrow();
  });

  test("the day's file rolls by size into .1.log, .2.log, … and only max_files of this log's files are kept", async () => {
    await using up = provider();
    const started = new Date();
    const OLD = ["proxy_2020-01-01.log", "proxy_2020-01-01.1.log", "proxy_2020-01-02.log", "proxy_2020-01-03.log", "proxy_2020-01-04.log"];
    const UNRELATED = ["notes.txt", "other_2020-01-01.log", "proxy_2020-01-01.txt", "proxy.log"];
    await using proxy = await ProxyProcess.start(config(up.url, "  max_file_size_mb: 0.002\n  max_files: 3\n  max_age_days: 0\n"), {
      prepare(dir) {
        mkdirSync(join(dir, "logs"));
        for (const name of [...OLD, ...UNRELATED]) writeFileSync(join(dir, "logs", name), `${name}\n`);
      },
    });
    const logs = join(proxy.dir, "logs");
    const ours = () => logFiles(logs).filter((n) => /^proxy_\d{4}-\d{2}-\d{2}(\.\d+)?\.log$/.test(n));

    // At start-up: today's file plus the two newest old ones.
    await waitFor(() => ours().length === 3, `3 files after the start-up prune; have ${ours().join(", ")}`);
    expect(ours().filter((n) => n.startsWith("proxy_2020"))).toEqual(["proxy_2020-01-03.log", "proxy_2020-01-04.log"]);

    const [day] = todays((d) => d, started);
    // Log lines are written in batches: keep sending requests until the fourth file of the day appears.
    await waitFor(async () => {
      expect((await ask(proxy, "m")).status).toBe(200);
      return existsSync(join(logs, `proxy_${day}.3.log`));
    }, "the day's .3.log");

    await waitFor(() => ours().length === 3 && !ours().some((n) => n.startsWith("proxy_2020")), `only 3 of today's files; have ${ours().join(", ")}`);
    const kept = ours();
    expect(kept.every((n) => n.startsWith(`proxy_${day}.`))).toBe(true);
    expect(kept).toContain(`proxy_${day}.3.log`);
    for (const name of UNRELATED) expect(existsSync(join(logs, name))).toBe(true);
    const limit = Math.floor(0.002 * 1024 * 1024);
    for (const name of kept.filter((n) => n !== kept.at(-1))) {
      const text = read(join(logs, name));
      expect(statSync(join(logs, name)).size).toBeLessThanOrEqual(limit);
      // Rolled on line boundaries: every line whole.
      expect(text.endsWith("\n")).toBe(true);
      for (const line of text.trimEnd().split("\n")) expect(line).toMatch(/^\[\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}\] \[[A-Z]+\] /);
    }
  });

  test("separate_files writes one file per request to request_dir, and one per failed request to error_dir", async () => {
    await using up = provider();
    await using proxy = await ProxyProcess.start(config(up.url, "  separate_files: true\n  request_dir: ./logs/requests\n  error_dir: ./logs/errors\n"));
    expect((await ask(proxy, "m", "good-req")).status).toBe(200);
    expect((await ask(proxy, "bad", "failed-req")).status).toBe(500);
    const requests = join(proxy.dir, "logs", "requests");
    const errors = join(proxy.dir, "logs", "errors");
    const named = (dir: string, id: string) => logFiles(dir).filter((n) => n.endsWith(`_${id}.log`));
    // Files appear when their writing starts: wait until each holds its last line.
    const written = (dir: string, id: string) => named(dir, id).length === 1 && read(join(dir, named(dir, id)[0]!)).includes("\nresult: ");
    await waitFor(() => written(requests, "good-req") && written(requests, "failed-req") && written(errors, "failed-req"), "the request files");

    for (const name of logFiles(requests)) expect(name).toMatch(/^\d{4}-\d{2}-\d{2}_\d{2}-\d{2}-\d{2}_(good-req|failed-req)\.log$/);
    expect(logFiles(requests)).toHaveLength(2);
    expect(logFiles(errors)).toEqual(named(errors, "failed-req"));

    const good = read(join(requests, named(requests, "good-req")[0]!));
    expect(good).toStartWith("request good-req at ");
    expect(good).toContain("POST /v1/chat/completions model=m\n");
    expect(good).toContain(`request body:\n{"model":"m","messages":[{"role":"user","content":"hello"}]}\n`);
    expect(good).toMatch(/attempts:\n {2}1\. up\/fine: ok \(status 200\) in \d+\.\dms\n/);
    expect(good).toMatch(/result: served, status 200, /);
    const failed = read(join(errors, named(errors, "failed-req")[0]!));
    expect(failed).toMatch(/ {2}1\. up\/broken: status 500 \(status 500\) in /);
    expect(failed).toMatch(/result: failed, status 500, /);
    expect(read(join(requests, named(requests, "failed-req")[0]!))).toBe(failed);
    // The proxy key in the request headers is masked there too.
    expect(good).toContain("authorization: Bearer sk-pr****cdef");
    expect(good).not.toContain(KEY);
  });
});
