import { appendFile, mkdir, readdir } from "node:fs/promises";
import { join } from "node:path";
import { errorMessage, expiredLogFiles, isNotFound, localDate, pad, safeReporter, unlinkIfPresent, type LogFileEntry, type Retention } from "./rolling-file.ts";

export interface FileDropOptions extends Retention {
  readonly onError?: (message: string) => void;
}

const DROP_PATTERN = /^(\d{4}-\d{2}-\d{2})_\d{2}-\d{2}-\d{2}_[A-Za-z0-9._-]+\.log$/;

/**
 * `2026-11-26_10-00-00_<id>.log` in local time: sorts by time, and `id` is reduced to
 * `[A-Za-z0-9._-]` (at most 100 characters) so a request id cannot leave the folder.
 */
export function dropFileName(at: Date, id: string): string {
  const safe = id.replace(/[^A-Za-z0-9._-]/g, "_").slice(0, 100) || "request";
  const time = `${pad(at.getHours())}-${pad(at.getMinutes())}-${pad(at.getSeconds())}`;
  return `${localDate(at)}_${time}_${safe}.log`;
}

export function parseDropFileName(name: string): LogFileEntry | undefined {
  const m = DROP_PATTERN.exec(name);
  return m ? { name, day: m[1]!, key: name } : undefined;
}

/** Retention is checked after a write once this many writes or this much time passed since the last check. */
const PRUNE_EVERY_WRITES = 100;
const PRUNE_EVERY_MS = 60_000;

/**
 * One whole file per request (the original's `separate_files`), named by `dropFileName`.
 * Writes run concurrently in the background; a second write under the same name (same
 * second, same id) appends rather than replaces. Retention only ever touches files named
 * like `dropFileName`'s, and runs at most every 100 writes or every minute, so the
 * folder may briefly hold that many files more than `maxFiles`.
 */
export class FileDrop {
  private readonly retention: Retention;
  private readonly report: (message: string) => void;
  private readonly inFlight = new Set<Promise<void>>();
  private dirReady: Promise<unknown> | undefined;
  private writesSincePrune = 0;
  private lastPrune = Number.NEGATIVE_INFINITY;
  private pruning = false;
  private failing = false;
  private pruneFailing = false;

  constructor(
    private readonly dir: string,
    options: FileDropOptions,
    private readonly now: () => Date = () => new Date(),
  ) {
    this.retention = { maxFiles: options.maxFiles, maxAgeDays: options.maxAgeDays };
    this.report = safeReporter(options.onError);
  }

  /** Starts writing `content` to a new file for request `id`; returns the file's path. */
  write(id: string, content: string): string {
    const at = this.now();
    const path = join(this.dir, dropFileName(at, id));
    const prune = this.pruneDue(at.getTime());
    const done: Promise<void> = this.writeFile(path, content, prune).finally(() => this.inFlight.delete(done));
    this.inFlight.add(done);
    return path;
  }

  /** Resolves once every file started before the call is written (and any pruning it triggered is done). */
  async flush(): Promise<void> {
    await Promise.all(this.inFlight);
  }

  close(): Promise<void> {
    return this.flush();
  }

  private pruneDue(t: number): boolean {
    if (this.retention.maxFiles <= 0 && this.retention.maxAgeDays <= 0) return false;
    this.writesSincePrune += 1;
    if (this.pruning || (this.writesSincePrune < PRUNE_EVERY_WRITES && t - this.lastPrune < PRUNE_EVERY_MS)) return false;
    this.pruning = true;
    this.writesSincePrune = 0;
    this.lastPrune = t;
    return true;
  }

  private async writeFile(path: string, content: string, prune: boolean): Promise<void> {
    try {
      this.dirReady ??= mkdir(this.dir, { recursive: true });
      await this.dirReady;
      try {
        await appendFile(path, content);
      } catch (err) {
        // The folder was removed under us: make it again, once.
        if (!isNotFound(err)) throw err;
        await mkdir(this.dir, { recursive: true });
        await appendFile(path, content);
      }
      this.failing = false;
    } catch (err) {
      this.dirReady = undefined;
      if (!this.failing) this.report(`cannot write log file ${path}: ${errorMessage(err)}`);
      this.failing = true;
    }
    // A folder that cannot be written is not worth listing; the error was reported already.
    if (prune && !this.failing) await this.prune();
    else if (prune) this.pruning = false;
  }

  private async prune(): Promise<void> {
    try {
      const entries = (await readdir(this.dir)).flatMap((name) => parseDropFileName(name) ?? []);
      const doomed = expiredLogFiles(entries, this.now(), this.retention);
      await Promise.all(doomed.map((name) => unlinkIfPresent(join(this.dir, name))));
      this.pruneFailing = false;
    } catch (err) {
      // Not fatal: the next check tries again. A missing folder just means nothing to prune.
      if (!isNotFound(err) && !this.pruneFailing) this.report(`cannot prune old log files in ${this.dir}: ${errorMessage(err)}`);
      this.pruneFailing = true;
    } finally {
      this.pruning = false;
    }
  }
}
