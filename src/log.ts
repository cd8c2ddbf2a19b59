import { mkdirSync, createWriteStream, type WriteStream } from "node:fs";
import { dirname, extname, basename, join } from "node:path";
import type { LogLevel, LoggingConfig } from "./config/types.ts";
import { createMask, noMask, type Mask } from "./mask.ts";

const RANK: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };
const LABEL: Record<LogLevel, string> = { debug: "DEBUG", info: "INFO", warn: "WARN", error: "ERROR" };

const pad = (n: number) => (n < 10 ? `0${n}` : String(n));
export const localDate = (d: Date) => `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}`;
const localTime = (d: Date) => `${localDate(d)} ${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;

/** `./logs/proxy.log` on 2026-11-26 → `./logs/proxy_2026-11-26.log`, as the original names it. */
export function datedFileName(generalFile: string, date: Date): string {
  const ext = extname(generalFile);
  return join(dirname(generalFile), `${basename(generalFile, ext)}_${localDate(date)}${ext || ".log"}`);
}

export interface LogSink {
  write(line: string): void;
}

const stdoutSink: LogSink = { write: (line) => process.stdout.write(line) };

/**
 * Levelled log lines in the original's format, `[2026-11-26 10:00:00] [INFO] message`,
 * to the console and to `general_file` (one file per day). Every line is masked
 * when `mask_sensitive` is on, so no caller can forget to.
 */
export class Logger {
  private threshold = RANK.info;
  private format: "text" | "json" = "text";
  private toConsole = true;
  private mask: Mask = noMask;
  private generalFile = "";
  private fileDate = "";
  private file: WriteStream | undefined;

  constructor(private readonly console: LogSink = stdoutSink) {}

  configure(logging: LoggingConfig, secrets: readonly string[]): void {
    this.threshold = RANK[logging.level];
    this.format = logging.format;
    // Without a file the console is the only place left: it stays on.
    this.toConsole = logging.console || !logging.generalFile;
    this.mask = logging.maskSensitive ? createMask(secrets) : noMask;
    if (logging.generalFile !== this.generalFile) {
      this.closeFile();
      this.generalFile = logging.generalFile;
    }
  }

  enabled(level: LogLevel): boolean {
    return RANK[level] >= this.threshold;
  }

  /** `id` is the request id: every line of one request carries it. */
  debug(message: string, id?: string): void {
    if (RANK.debug >= this.threshold) this.write("debug", message, id);
  }
  info(message: string, id?: string): void {
    if (RANK.info >= this.threshold) this.write("info", message, id);
  }
  warn(message: string, id?: string): void {
    if (RANK.warn >= this.threshold) this.write("warn", message, id);
  }
  error(message: string, id?: string): void {
    this.write("error", message, id);
  }

  /** Masks text the way log lines are masked (for error bodies sent to clients). */
  redact(text: string): string {
    return this.mask(text);
  }

  private write(level: LogLevel, message: string, id: string | undefined): void {
    const now = new Date();
    const text = this.mask(message);
    const line =
      this.format === "json"
        ? `${JSON.stringify(id === undefined ? { time: now.toISOString(), level, msg: text } : { time: now.toISOString(), level, request_id: id, msg: text })}\n`
        : `[${localTime(now)}] [${LABEL[level]}] ${id === undefined ? "" : `[${id}] `}${text}\n`;
    if (this.toConsole) this.console.write(line);
    if (this.generalFile) this.fileFor(now)?.write(line);
  }

  private fileFor(now: Date): WriteStream | undefined {
    const date = localDate(now);
    if (this.file && date === this.fileDate) return this.file;
    this.closeFile();
    const path = datedFileName(this.generalFile, now);
    try {
      mkdirSync(dirname(path), { recursive: true });
      this.file = createWriteStream(path, { flags: "a" });
      this.file.on("error", (err) => {
        this.console.write(`[${localTime(new Date())}] [ERROR] cannot write log file ${path}: ${err.message}\n`);
        this.file = undefined;
        this.generalFile = "";
      });
      this.fileDate = date;
    } catch (err) {
      this.console.write(`[${localTime(now)}] [ERROR] cannot open log file ${path}: ${(err as Error).message}; logging to the console only\n`);
      this.generalFile = "";
    }
    return this.file;
  }

  private closeFile(): void {
    this.file?.end();
    this.file = undefined;
    this.fileDate = "";
  }

  /** Flushes and closes the log file (at shutdown). */
  async close(): Promise<void> {
    const file = this.file;
    this.file = undefined;
    if (file) await new Promise<void>((resolve) => file.end(resolve));
  }
}
