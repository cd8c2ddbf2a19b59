import { afterAll, describe, expect, test } from "bun:test";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { dropFileName, FileDrop } from "../../src/log/request-files.ts";
import { expiredLogFiles, RollingFile, RollingNames } from "../../src/log/rolling-file.ts";

const root = mkdtempSync(join(tmpdir(), "llm-proxy-log-file-"));
afterAll(() => rmSync(root, { recursive: true, force: true }));
let dirs = 0;
const freshDir = () => mkdtempSync(join(root, `d${++dirs}-`));

/** A clock the test moves by hand; months are 1-based here. */
function clock(year: number, month: number, day: number, hour = 10) {
  let now = new Date(year, month - 1, day, hour, 0, 0);
  return {
    now: () => now,
    set: (y: number, m: number, d: number, h = 10) => void (now = new Date(y, m - 1, d, h, 0, 0)),
    advance: (ms: number) => void (now = new Date(now.getTime() + ms)),
  };
}

const NO_LIMITS = { maxFileSizeMb: 0, maxFiles: 0, maxAgeDays: 0 };
/** 0.001 MiB = 1048 bytes: ten 100-byte lines fit, the eleventh does not. */
const SMALL = { ...NO_LIMITS, maxFileSizeMb: 0.001 };
const LIMIT = Math.floor(0.001 * 1024 * 1024);

/** A 100-byte line numbered `i`. */
const line = (i: number) => `line ${String(i).padStart(5, "0")} `.padEnd(99, "x") + "\n";
const lines = (from: number, to: number) => Array.from({ length: to - from }, (_, k) => line(from + k)).join("");

const read = (dir: string, name: string) => readFileSync(join(dir, name), "utf8");
const files = (dir: string) => readdirSync(dir).sort();

describe("RollingFile names", () => {
  test("the first file of a day puts the local date before the extension, as the original names it", () => {
    const first = (generalFile: string, day: string) => {
      const names = new RollingNames(generalFile);
      return join(names.dir, names.name(day, 0));
    };
    expect(first("./logs/proxy.log", "2026-11-26")).toBe(join("logs", "proxy_2026-11-26.log"));
    expect(first("/var/log/llm/proxy.txt", "2026-01-05")).toBe("/var/log/llm/proxy_2026-01-05.txt");
    expect(first("/var/log/llm/proxy", "2026-11-26")).toBe("/var/log/llm/proxy_2026-11-26.log");
    expect(first("logs/a.b.txt", "2026-11-26")).toBe(join("logs", "a.b_2026-11-26.txt"));
  });

  test("later files of a day get .1, .2, ... before the extension", () => {
    const names = new RollingNames("./logs/proxy.log");
    expect(names.name("2026-11-26", 1)).toBe("proxy_2026-11-26.1.log");
    expect(names.name("2026-11-26", 12)).toBe("proxy_2026-11-26.12.log");
  });

  test("only this log's own names parse", () => {
    const names = new RollingNames("./logs/proxy.log");
    expect(names.parse("proxy_2026-11-26.log")?.index).toBe(0);
    expect(names.parse("proxy_2026-11-26.3.log")?.index).toBe(3);
    for (const other of ["proxy.log", "proxy_2026-11-26.log.gz", "proxy_2026-11-26.txt", "other_2026-11-26.log", "proxy_2026-11-26.0.log", "xproxy_2026-11-26.log", "proxy_26-11-2026.log"]) {
      expect(names.parse(other)).toBeUndefined();
    }
  });
});

describe("RollingFile", () => {
  test("writes to <base>_<local date><ext> in a folder it creates, and starts a new file at local midnight", async () => {
    const dir = join(freshDir(), "nested", "logs");
    const c = clock(2026, 11, 26, 23);
    const file = new RollingFile(join(dir, "proxy.log"), NO_LIMITS, c.now);
    file.write("a\n");
    file.write("b\n");
    c.set(2026, 11, 27, 0);
    file.write("c\n");
    file.write("d\n", new Date(2026, 10, 26, 23, 59, 59));
    await file.close();
    expect(files(dir)).toEqual(["proxy_2026-11-26.log", "proxy_2026-11-27.log"]);
    expect(read(dir, "proxy_2026-11-26.log")).toBe("a\nb\nd\n");
    expect(read(dir, "proxy_2026-11-27.log")).toBe("c\n");
  });

  test("rolls to .1 and .2 when the next write would pass max_file_size_mb, never cutting a line", async () => {
    const dir = freshDir();
    const file = new RollingFile(join(dir, "proxy.log"), SMALL, clock(2026, 11, 26).now);
    for (let i = 0; i < 25; i++) file.write(line(i));
    await file.close();
    expect(files(dir)).toEqual(["proxy_2026-11-26.1.log", "proxy_2026-11-26.2.log", "proxy_2026-11-26.log"]);
    expect(read(dir, "proxy_2026-11-26.log")).toBe(lines(0, 10));
    expect(read(dir, "proxy_2026-11-26.1.log")).toBe(lines(10, 20));
    expect(read(dir, "proxy_2026-11-26.2.log")).toBe(lines(20, 25));
  });

  test("keeps counting the size across flushes without asking the disk", async () => {
    const dir = freshDir();
    const file = new RollingFile(join(dir, "proxy.log"), SMALL, clock(2026, 11, 26).now);
    for (let i = 0; i < 25; i++) {
      file.write(line(i));
      await file.flush();
    }
    await file.close();
    expect(read(dir, "proxy_2026-11-26.log")).toBe(lines(0, 10));
    expect(read(dir, "proxy_2026-11-26.1.log")).toBe(lines(10, 20));
    expect(read(dir, "proxy_2026-11-26.2.log")).toBe(lines(20, 25));
    for (const name of files(dir)) expect(statSync(join(dir, name)).size).toBeLessThanOrEqual(LIMIT);
  });

  test("a single write larger than the limit gets a file of its own", async () => {
    const dir = freshDir();
    const file = new RollingFile(join(dir, "proxy.log"), SMALL, clock(2026, 11, 26).now);
    file.write(line(0));
    file.write(lines(1, 20));
    file.write(line(20));
    await file.close();
    expect(read(dir, "proxy_2026-11-26.log")).toBe(line(0));
    expect(read(dir, "proxy_2026-11-26.1.log")).toBe(lines(1, 20));
    expect(read(dir, "proxy_2026-11-26.2.log")).toBe(line(20));
  });

  test("after a restart, appends to the highest-numbered file of the day that still has room", async () => {
    const dir = freshDir();
    writeFileSync(join(dir, "proxy_2026-11-26.log"), lines(0, 10));
    writeFileSync(join(dir, "proxy_2026-11-26.1.log"), lines(10, 13));
    writeFileSync(join(dir, "proxy_2026-11-25.4.log"), "yesterday\n");
    const file = new RollingFile(join(dir, "proxy.log"), SMALL, clock(2026, 11, 26).now);
    for (let i = 13; i < 22; i++) file.write(line(i));
    await file.close();
    expect(read(dir, "proxy_2026-11-26.log")).toBe(lines(0, 10));
    expect(read(dir, "proxy_2026-11-26.1.log")).toBe(lines(10, 20));
    expect(read(dir, "proxy_2026-11-26.2.log")).toBe(lines(20, 22));
    expect(read(dir, "proxy_2026-11-25.4.log")).toBe("yesterday\n");
  });

  test("after a restart, an earlier file with room (the limit was raised) is not reopened", async () => {
    const dir = freshDir();
    writeFileSync(join(dir, "proxy_2026-11-26.log"), lines(0, 5));
    writeFileSync(join(dir, "proxy_2026-11-26.1.log"), lines(5, 7));
    const file = new RollingFile(join(dir, "proxy.log"), SMALL, clock(2026, 11, 26).now);
    file.write(line(7));
    await file.close();
    expect(read(dir, "proxy_2026-11-26.log")).toBe(lines(0, 5));
    expect(read(dir, "proxy_2026-11-26.1.log")).toBe(lines(5, 8));
  });

  test("after a restart, a full last file is left alone and the next number is started", async () => {
    const dir = freshDir();
    writeFileSync(join(dir, "proxy_2026-11-26.log"), "x".repeat(LIMIT - 1) + "\n");
    writeFileSync(join(dir, "proxy_2026-11-26.1.log"), "y".repeat(LIMIT + 10) + "\n");
    const file = new RollingFile(join(dir, "proxy.log"), SMALL, clock(2026, 11, 26).now);
    file.write(line(0));
    await file.close();
    expect(read(dir, "proxy_2026-11-26.1.log")).toBe("y".repeat(LIMIT + 10) + "\n");
    expect(read(dir, "proxy_2026-11-26.2.log")).toBe(line(0));
  });

  test("close() writes every line in order, including lines written while a batch is on its way", async () => {
    const dir = freshDir();
    const file = new RollingFile(join(dir, "proxy.log"), NO_LIMITS, clock(2026, 11, 26).now);
    const expected: string[] = [];
    for (let i = 0; i < 20_000; i++) {
      const text = `${i}\n`;
      expected.push(text);
      file.write(text);
      if (i % 5000 === 0) void file.flush();
    }
    await file.close();
    expect(read(dir, "proxy_2026-11-26.log")).toBe(expected.join(""));
  });

  test("a write after close() opens the file again and appends", async () => {
    const dir = freshDir();
    const file = new RollingFile(join(dir, "proxy.log"), NO_LIMITS, clock(2026, 11, 26).now);
    file.write("one\n");
    await file.close();
    file.write("two\n");
    await file.close();
    expect(read(dir, "proxy_2026-11-26.log")).toBe("one\ntwo\n");
  });

  test("a failing write is reported once, never thrown, and logging resumes when the path is usable again", async () => {
    const dir = freshDir();
    const blocker = join(dir, "proxy_2026-11-26.log");
    mkdirSync(blocker);
    const errors: string[] = [];
    const failing = new RollingFile(join(dir, "proxy.log"), { ...NO_LIMITS, onError: (m) => errors.push(m) }, clock(2026, 11, 26).now);
    for (let i = 0; i < 3; i++) {
      expect(() => failing.write(`lost ${i}\n`)).not.toThrow();
      await failing.flush();
    }
    expect(errors).toHaveLength(1);
    expect(errors[0]).toContain(blocker);
    expect(errors[0]).toContain("EISDIR");
    rmSync(blocker, { recursive: true });
    failing.write("kept\n");
    await failing.close();
    expect(read(dir, "proxy_2026-11-26.log")).toBe("kept\n");
    expect(errors).toHaveLength(1);
  });

  test("a folder that cannot be created is reported once", async () => {
    const dir = freshDir();
    writeFileSync(join(dir, "not-a-folder"), "");
    const errors: string[] = [];
    const file = new RollingFile(join(dir, "not-a-folder", "proxy.log"), { ...NO_LIMITS, onError: (m) => errors.push(m) }, clock(2026, 11, 26).now);
    file.write("a\n");
    await file.flush();
    file.write("b\n");
    await file.close();
    expect(errors).toHaveLength(1);
  });
});

describe("RollingFile retention", () => {
  const unrelated = ["proxy.log", "notes.txt", "other_2020-01-01.log", "proxy_2020-01-01.log.gz", "proxy_2020-01-01.txt"];
  function seeded(names: readonly string[]) {
    const dir = freshDir();
    for (const name of [...names, ...unrelated]) writeFileSync(join(dir, name), `${name}\n`);
    return dir;
  }

  test("keeps the max_files newest of its own files, counting the new one, and nothing else is touched", async () => {
    const dir = seeded(["proxy_2026-11-20.log", "proxy_2026-11-24.log", "proxy_2026-11-25.log", "proxy_2026-11-25.1.log"]);
    const file = new RollingFile(join(dir, "proxy.log"), { ...NO_LIMITS, maxFiles: 3 }, clock(2026, 11, 26).now);
    file.write("a\n");
    await file.close();
    expect(files(dir)).toEqual(
      ["proxy_2026-11-25.log", "proxy_2026-11-25.1.log", "proxy_2026-11-26.log", ...unrelated].sort(),
    );
  });

  test("prunes again at each roll by size", async () => {
    const dir = seeded([]);
    const file = new RollingFile(join(dir, "proxy.log"), { ...SMALL, maxFiles: 2 }, clock(2026, 11, 26).now);
    for (let i = 0; i < 45; i++) file.write(line(i));
    await file.close();
    expect(files(dir)).toEqual(["proxy_2026-11-26.3.log", "proxy_2026-11-26.4.log", ...unrelated].sort());
    expect(read(dir, "proxy_2026-11-26.4.log")).toBe(lines(40, 45));
  });

  test("deletes its files dated before today minus max_age_days, and only those", async () => {
    const dir = seeded(["proxy_2026-11-18.log", "proxy_2026-11-18.2.log", "proxy_2026-11-19.log", "proxy_2026-11-25.log"]);
    const file = new RollingFile(join(dir, "proxy.log"), { ...NO_LIMITS, maxAgeDays: 7 }, clock(2026, 11, 26).now);
    file.write("a\n");
    await file.close();
    expect(files(dir)).toEqual(["proxy_2026-11-19.log", "proxy_2026-11-25.log", "proxy_2026-11-26.log", ...unrelated].sort());
  });

  test("runs when a file is opened, not on every write", async () => {
    const dir = seeded([]);
    const file = new RollingFile(join(dir, "proxy.log"), { ...NO_LIMITS, maxFiles: 1 }, clock(2026, 11, 26).now);
    file.write("a\n");
    await file.flush();
    writeFileSync(join(dir, "proxy_2026-11-01.log"), "old\n");
    file.write("b\n");
    await file.close();
    expect(existsSync(join(dir, "proxy_2026-11-01.log"))).toBe(true);
  });
});

describe("expiredLogFiles", () => {
  const entry = (day: string, n = 0) => ({ name: `${day}.${n}`, day, key: `${day}.${n}` });
  const today = new Date(2026, 2, 1, 12);

  test("with no limits deletes nothing", () => {
    expect(expiredLogFiles([entry("2000-01-01"), entry("2026-03-01")], today, { maxFiles: 0, maxAgeDays: 0 })).toEqual([]);
  });

  test("counts days by the calendar, across month ends", () => {
    const entries = [entry("2026-02-26"), entry("2026-02-27"), entry("2026-02-28"), entry("2026-03-01")];
    expect(expiredLogFiles(entries, today, { maxFiles: 0, maxAgeDays: 2 })).toEqual(["2026-02-26.0"]);
  });

  test("never deletes the file being written, even if it is not the newest", () => {
    const entries = [entry("2026-03-01"), entry("2026-03-02"), entry("2026-03-03")];
    expect(expiredLogFiles(entries, today, { maxFiles: 1, maxAgeDays: 0 }, "2026-03-01.0")).toEqual(["2026-03-02.0"]);
  });
});

describe("FileDrop", () => {
  test("writes one whole file per request, named by local time and id, in a folder it creates", async () => {
    const dir = join(freshDir(), "requests");
    const c = clock(2026, 11, 26);
    c.advance(5_000);
    const drop = new FileDrop(dir, { maxFiles: 0, maxAgeDays: 0 }, c.now);
    const path = drop.write("req-1", "request\nresponse\n");
    await drop.close();
    expect(path).toBe(join(dir, "2026-11-26_10-00-05_req-1.log"));
    expect(files(dir)).toEqual(["2026-11-26_10-00-05_req-1.log"]);
    expect(read(dir, "2026-11-26_10-00-05_req-1.log")).toBe("request\nresponse\n");
  });

  test("an id cannot name a file outside the folder", () => {
    expect(dropFileName(new Date(2026, 10, 26, 9, 8, 7), "../../etc/passwd")).toBe("2026-11-26_09-08-07_.._.._etc_passwd.log");
    expect(dropFileName(new Date(2026, 10, 26, 9, 8, 7), "")).toBe("2026-11-26_09-08-07_request.log");
  });

  test("keeps the max_files newest of its own files, checking again once a minute has passed", async () => {
    const dir = freshDir();
    const unrelated = ["notes.txt", "2026-11-01_10-00-00_x.txt", "proxy_2026-11-01.log"];
    for (const name of unrelated) writeFileSync(join(dir, name), "keep\n");
    const c = clock(2026, 11, 26);
    const drop = new FileDrop(dir, { maxFiles: 2, maxAgeDays: 0 }, c.now);
    for (let i = 0; i < 4; i++) {
      drop.write(`r${i}`, `${i}\n`);
      await drop.flush();
      c.advance(1_000);
    }
    // The check ran on the first write only: less than a minute has passed since.
    expect(files(dir).filter((n) => n.endsWith(".log") && n.startsWith("2026-11-26"))).toHaveLength(4);
    c.advance(60_000);
    drop.write("r4", "4\n");
    await drop.close();
    expect(files(dir)).toEqual(["2026-11-26_10-00-03_r3.log", "2026-11-26_10-01-04_r4.log", ...unrelated].sort());
  });

  test("checks retention after 100 writes even within a minute", async () => {
    const dir = freshDir();
    const drop = new FileDrop(dir, { maxFiles: 10, maxAgeDays: 0 }, clock(2026, 11, 26).now);
    // The first write checks at once; let that check finish before the next 99.
    drop.write("r000", "x\n");
    await drop.flush();
    for (let i = 1; i < 100; i++) drop.write(`r${String(i).padStart(3, "0")}`, "x\n");
    await drop.flush();
    expect(files(dir).length).toBeGreaterThan(10);
    drop.write("r100", "x\n");
    await drop.close();
    expect(files(dir)).toHaveLength(10);
    expect(files(dir).at(-1)).toBe("2026-11-26_10-00-00_r100.log");
  });

  test("deletes its files dated before today minus max_age_days", async () => {
    const dir = freshDir();
    const old = ["2026-11-18_23-59-59_a.log", "2026-11-19_00-00-00_b.log", "2026-11-01_10-00-00_c.log.bak"];
    for (const name of old) writeFileSync(join(dir, name), "old\n");
    const drop = new FileDrop(dir, { maxFiles: 0, maxAgeDays: 7 }, clock(2026, 11, 26).now);
    drop.write("new", "x\n");
    await drop.close();
    expect(files(dir)).toEqual(["2026-11-01_10-00-00_c.log.bak", "2026-11-19_00-00-00_b.log", "2026-11-26_10-00-00_new.log"]);
  });

  test("a failing write is reported once and never thrown", async () => {
    const dir = freshDir();
    writeFileSync(join(dir, "not-a-folder"), "");
    const errors: string[] = [];
    const drop = new FileDrop(join(dir, "not-a-folder"), { maxFiles: 5, maxAgeDays: 0, onError: (m) => errors.push(m) }, clock(2026, 11, 26).now);
    for (let i = 0; i < 3; i++) expect(() => drop.write(`r${i}`, "x\n")).not.toThrow();
    await drop.close();
    expect(errors).toHaveLength(1);
  });
});
