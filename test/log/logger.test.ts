import { afterAll, describe, expect, test } from "bun:test";
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { LoggingConfig } from "../../src/config/types.ts";
import { Logger } from "../../src/log/logger.ts";
import { CapturedLog, configFrom } from "../helpers/proxy.ts";

const root = mkdtempSync(join(tmpdir(), "llm-proxy-log-"));
afterAll(() => rmSync(root, { recursive: true, force: true }));
let dirs = 0;
const freshDir = () => mkdtempSync(join(root, `d${++dirs}-`));

const LOGGING: LoggingConfig = {
  level: "info",
  generalFile: "",
  separateFiles: false,
  requestDir: "./logs/requests",
  errorDir: "./logs/errors",
  maskSensitive: true,
  enableMetrics: false,
  maxFileSizeMb: 100,
  format: "text",
  maxFiles: 30,
  maxAgeDays: 30,
  console: true,
};

const pad = (n: number) => String(n).padStart(2, "0");
const ymd = (d: Date) => `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}`;
const LINE = /^\[(\d{4}-\d{2}-\d{2}) \d{2}:\d{2}:\d{2}\] \[(DEBUG|INFO|WARN|ERROR)\] (.*)\n$/;

function logger(logging: Partial<LoggingConfig> = {}, secrets: string[] = []) {
  const sink = new CapturedLog();
  const log = new Logger(sink);
  log.configure({ ...LOGGING, ...logging }, secrets);
  return { log, sink, messages: () => sink.lines.map((l) => l.replace(/^\[[^\]]*\] /, "").trimEnd()) };
}

const PROVIDER_KEY = "sk-ant-api03-Zq8x7LmNoPqRsTuVwXyZ0123456789abcdef-ZyXw";
const GOOGLE_KEY = "AIzaSyA1b2C3d4E5f6G7h8I9j0KlMnOpQrStUv";
const PROXY_KEY = "k3y-12-chars";

describe("log lines", () => {
  test("are [YYYY-MM-DD HH:MM:SS] [LEVEL] message, one per line, with today's local date", () => {
    const { log, sink } = logger({ level: "debug" });
    const before = ymd(new Date());
    log.debug("d");
    log.info("i");
    log.warn("w");
    log.error("e");
    const after = ymd(new Date());
    expect(sink.lines).toHaveLength(4);
    const parsed = sink.lines.map((l) => LINE.exec(l));
    expect(parsed.map((m) => [m?.[2], m?.[3]])).toEqual([["DEBUG", "d"], ["INFO", "i"], ["WARN", "w"], ["ERROR", "e"]]);
    for (const m of parsed) expect([before, after]).toContain(m![1]!);
  });

  test("below the configured level are dropped; errors are always written", () => {
    const { log, messages } = logger({ level: "warn" });
    log.debug("d");
    log.info("i");
    log.warn("w");
    log.error("e");
    expect(messages()).toEqual(["[WARN] w", "[ERROR] e"]);
    expect(log.enabled("info")).toBe(false);
    expect(log.enabled("warn")).toBe(true);
    const quiet = logger({ level: "error" });
    quiet.log.warn("w");
    quiet.log.error("e");
    expect(quiet.messages()).toEqual(["[ERROR] e"]);
  });
});

describe("masking in log lines", () => {
  test("masks configured keys at every level: sk-ant-api03 and AIza keys partly, a 12-character key whole", () => {
    const { log, messages } = logger({ level: "debug" }, [PROVIDER_KEY, GOOGLE_KEY, PROXY_KEY]);
    log.debug(`sending with x-api-key ${PROVIDER_KEY}`);
    log.info(`GET /v1beta/models?key=${GOOGLE_KEY}`);
    log.warn(`client sent Bearer ${PROXY_KEY}`);
    log.error(`upstream said: invalid key ${PROVIDER_KEY}`);
    expect(messages()).toEqual([
      "[DEBUG] sending with x-api-key sk-an****ZyXw",
      "[INFO] GET /v1beta/models?key=AIzaS****StUv",
      "[WARN] client sent Bearer ****",
      "[ERROR] upstream said: invalid key sk-an****ZyXw",
    ]);
  });

  test("masks configured keys in URL-encoded and JSON-escaped form", () => {
    const key = 'wJalrXUtnFEMI/K7MDENG+bPx"RfiCY==';
    const { log, sink } = logger({}, [key]);
    log.info(`url ?api_key=${encodeURIComponent(key)}`);
    log.info(`body {"key":${JSON.stringify(key)}}`);
    expect(sink.text).not.toContain(encodeURIComponent(key));
    expect(sink.text).not.toContain(JSON.stringify(key).slice(1, -1));
    expect(sink.text).not.toContain("MDENG");
    expect(sink.text.match(/wJalr\*\*\*\*CY==/g)).toHaveLength(2);
  });

  test("masks unknown sk- keys and Bearer tokens by their shape", () => {
    const { log, messages } = logger();
    log.info("upstream echoed sk-proj-abcdefghijklmnop1234");
    log.info("Authorization: Bearer abcdefghijklmnopqrstuvwxyz");
    expect(messages()).toEqual(["[INFO] upstream echoed sk-pr****1234", "[INFO] Authorization: Bearer abcde****wxyz"]);
  });

  test("masks the keys a configuration names: backend api_key, proxy_api_key and credential headers", () => {
    const config = configFrom(`
proxy_api_key: ${PROXY_KEY}
backends:
  - name: g
    url: http://127.0.0.1:9/v1beta
    api_key: ${PROVIDER_KEY}
    auth: none
    headers:
      x-goog-api-key: ${GOOGLE_KEY}
      x-region: eu-west-1-region-name
`);
    const sink = new CapturedLog();
    const log = new Logger(sink);
    log.configure(config.logging, config.secrets);
    log.info(`keys: ${PROXY_KEY} ${PROVIDER_KEY} ${GOOGLE_KEY}; region eu-west-1-region-name`);
    expect(sink.lines).toHaveLength(1);
    expect(LINE.exec(sink.lines[0]!)?.[3]).toBe("keys: **** sk-an****ZyXw AIzaS****StUv; region eu-west-1-region-name");
  });

  test("mask_sensitive: false leaves keys as they are, known or not", () => {
    const { log, messages } = logger({ maskSensitive: false }, [PROVIDER_KEY, PROXY_KEY]);
    log.info(`${PROVIDER_KEY} ${PROXY_KEY} sk-proj-abcdefghijklmnop1234 Bearer abcdefghijklmnopqrstuvwxyz`);
    expect(messages()).toEqual([`[INFO] ${PROVIDER_KEY} ${PROXY_KEY} sk-proj-abcdefghijklmnop1234 Bearer abcdefghijklmnopqrstuvwxyz`]);
  });

  test("redact masks text the way log lines are masked", () => {
    const { log } = logger({}, [PROVIDER_KEY]);
    expect(log.redact(`{"error":"bad key ${PROVIDER_KEY}"}`)).toBe('{"error":"bad key sk-an****ZyXw"}');
  });

  test("a reconfiguration with new keys masks the new keys", () => {
    const { log, messages } = logger({}, [PROVIDER_KEY]);
    const next = "sk-rotated-key-000000000000000-next";
    log.configure(LOGGING, [next]);
    log.info(`now ${next}`);
    expect(messages()).toEqual(["[INFO] now sk-ro****next"]);
  });
});

describe("the general log file", () => {
  test("is written as <dir>/proxy_YYYY-MM-DD.log with the same masked lines as the console", async () => {
    const dir = freshDir();
    const { log, sink } = logger({ generalFile: join(dir, "proxy.log") }, [PROVIDER_KEY]);
    const before = ymd(new Date());
    log.info("first message");
    log.warn(`key ${PROVIDER_KEY}`);
    log.debug("not at info");
    await log.close();
    const after = ymd(new Date());
    const files = readdirSync(dir);
    expect(files).toHaveLength(1);
    expect([`proxy_${before}.log`, `proxy_${after}.log`]).toContain(files[0]!);
    const text = readFileSync(join(dir, files[0]!), "utf8");
    expect(text).toBe(sink.text);
    const lines = text.split(/(?<=\n)/);
    expect(lines.map((l) => LINE.exec(l)?.slice(2))).toEqual([["INFO", "first message"], ["WARN", "key sk-an****ZyXw"]]);
    expect(text).not.toContain(PROVIDER_KEY);
  });

  test("creates missing directories and appends to an existing file of the day", async () => {
    const dir = join(freshDir(), "nested", "logs");
    const first = logger({ generalFile: join(dir, "proxy.log") });
    first.log.info("one");
    await first.log.close();
    const second = logger({ generalFile: join(dir, "proxy.log") });
    second.log.info("two");
    await second.log.close();
    const [file] = readdirSync(dir);
    const messages = readFileSync(join(dir, file!), "utf8").split(/(?<=\n)/).map((l) => LINE.exec(l)?.[3]);
    expect(messages).toEqual(["one", "two"]);
  });

  test("a log file that cannot be opened is reported on the console and logging goes on there", async () => {
    const dir = freshDir();
    writeFileSync(join(dir, "not-a-dir"), "");
    const path = join(dir, "not-a-dir", "proxy.log");
    const { log, messages } = logger({ generalFile: path });
    log.info("still logged");
    log.info("and again");
    await log.close();
    const lines = messages();
    const dated = join(dir, "not-a-dir", `proxy_${ymd(new Date())}.log`);
    expect(lines.filter((l) => l.startsWith(`[ERROR] cannot write log file ${dated}: `))).toHaveLength(1);
    expect(lines.filter((l) => l.startsWith("[INFO] "))).toEqual(["[INFO] still logged", "[INFO] and again"]);
  });
});
