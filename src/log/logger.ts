import type { LogLevel, LoggingConfig } from "../config/types.ts";
import { FileDrop } from "./request-files.ts";
import { FLUSH_EVERY_MS, localDate, pad, RollingFile } from "./rolling-file.ts";
import { createMask, noMask, type Mask } from "./mask.ts";

const RANK: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };
const LABEL: Record<LogLevel, string> = { debug: "DEBUG", info: "INFO", warn: "WARN", error: "ERROR" };

let cachedSecond = -1;
let cachedTime = "";
/** `2026-11-26 10:00:00`, formatted once per second: every log line needs it. */
const localTime = (d: Date) => {
  const second = Math.floor(d.getTime() / 1000);
  if (second !== cachedSecond) {
    cachedSecond = second;
    cachedTime = `${localDate(d)} ${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
  }
  return cachedTime;
};

export interface LogSink {
  write(line: string): void;
}

/**
 * The console, written at most every FLUSH_EVERY_MS (a write(2) per line cost a quarter of the
 * proxy's time at INFO under load). Lines keep their order; `flush()` at exit.
 */
class BatchedStdout implements LogSink {
  private pending: string[] = [];
  private scheduled = false;

  write(line: string): void {
    this.pending.push(line);
    if (this.scheduled) return;
    this.scheduled = true;
    setTimeout(() => this.flush(), FLUSH_EVERY_MS);
  }

  flush(): void {
    this.scheduled = false;
    if (this.pending.length === 0) return;
    const text = this.pending.join("");
    this.pending = [];
    process.stdout.write(text);
  }
}

const stdoutSink = new BatchedStdout();
// Whatever way the process ends, the last lines reach the console.
process.on("exit", () => stdoutSink.flush());

/**
 * Levelled log lines in the original's format, `[2026-11-26 10:00:00] [INFO] message`
 * (or one JSON object per line), to the console and to `general_file`, rolled by day
 * and size with retention. With `separate_files`, one file per request and one per
 * failed request. Every line and file is masked when `mask_sensitive` is on, so no
 * caller can forget to.
 */
export class Logger {
  private threshold = RANK.info;
  private format: "text" | "json" = "text";
  private toConsole = true;
  private mask: Mask = noMask;
  private file: RollingFile | undefined;
  private fileKey = "";
  private requests: FileDrop | undefined;
  private errors: FileDrop | undefined;
  private dropKey = "";
  /** In a worker of `workers: N`: file lines go to the primary, the one writer of the shared file. */
  private fileSink: ((line: string) => void) | undefined;
  private flushSink: (() => void) | undefined;

  constructor(private readonly console: LogSink = stdoutSink) {}

  configure(logging: LoggingConfig, secrets: readonly string[]): void {
    this.threshold = RANK[logging.level];
    this.format = logging.format;
    // Without a file the console is the only place left: it stays on.
    this.toConsole = logging.console || !logging.generalFile;
    this.mask = logging.maskSensitive ? createMask(secrets) : noMask;
    const retention = { maxFiles: logging.maxFiles, maxAgeDays: logging.maxAgeDays };
    const onError = (message: string) => this.console.write(this.render("error", message, undefined, new Date()));
    const fileKey = JSON.stringify([logging.generalFile, logging.maxFileSizeMb, retention]);
    if (fileKey !== this.fileKey && this.fileSink === undefined) {
      void this.file?.close();
      this.fileKey = fileKey;
      this.file = logging.generalFile ? new RollingFile(logging.generalFile, { maxFileSizeMb: logging.maxFileSizeMb, ...retention, onError }) : undefined;
    }
    const dropKey = JSON.stringify([logging.separateFiles, logging.requestDir, logging.errorDir, retention]);
    if (dropKey !== this.dropKey) {
      void this.requests?.close();
      void this.errors?.close();
      this.dropKey = dropKey;
      this.requests = logging.separateFiles ? new FileDrop(logging.requestDir, { ...retention, onError }) : undefined;
      this.errors = logging.separateFiles ? new FileDrop(logging.errorDir, { ...retention, onError }) : undefined;
    }
  }

  enabled(level: LogLevel): boolean {
    return RANK[level] >= this.threshold;
  }

  /** True when per-request files are written: callers skip building their text otherwise. */
  get separateFiles(): boolean {
    return this.requests !== undefined;
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

  /** `separate_files`: the whole story of one request in `request_dir`, and in `error_dir` too when it failed. */
  requestFile(id: string, content: string, failed: boolean): void {
    if (!this.requests) return;
    const masked = this.mask(content);
    this.requests.write(id, masked);
    if (failed) this.errors?.write(id, masked);
  }

  /** Masks text the way log lines are masked. */
  redact(text: string): string {
    return this.mask(text);
  }

  private render(level: LogLevel, text: string, id: string | undefined, now: Date): string {
    if (this.format === "json") {
      return `${JSON.stringify(id === undefined ? { time: now.toISOString(), level, msg: text } : { time: now.toISOString(), level, request_id: id, msg: text })}\n`;
    }
    return `[${localTime(now)}] [${LABEL[level]}] ${id === undefined ? "" : `[${id}] `}${text}\n`;
  }

  private write(level: LogLevel, message: string, id: string | undefined): void {
    const now = new Date();
    const line = this.render(level, this.mask(message), id, now);
    if (this.toConsole) this.console.write(line);
    if (this.fileSink) this.fileSink(line);
    else this.file?.write(line, now);
  }

  /**
   * `workers: N`: a worker hands its lines for the general file to `sink` (the primary),
   * since one writer alone can roll a shared file by its size.
   */
  sendFileLinesTo(sink: (line: string) => void, flush?: () => void): void {
    void this.file?.close();
    this.file = undefined;
    this.fileKey = "";
    this.fileSink = sink;
    this.flushSink = flush;
  }

  /** A line from a worker, for the general file (already rendered and masked). */
  writeFileLine(line: string): void {
    this.file?.write(line, new Date());
  }

  /** Flushes and closes the log files (at shutdown). */
  async close(): Promise<void> {
    if (this.console instanceof BatchedStdout) this.console.flush();
    this.flushSink?.();
    await Promise.all([this.file?.close(), this.requests?.close(), this.errors?.close()]);
  }
}
