import { mkdir, open, readdir, unlink, type FileHandle } from "node:fs/promises";
import { basename, dirname, extname, join } from "node:path";
import { escapeRegExp } from "./text.ts";

/** Log files kept per log; 0 in either field means no limit. */
export interface Retention {
  readonly maxFiles: number;
  readonly maxAgeDays: number;
}

export interface RollingFileOptions extends Retention {
  /** MiB, as lumberjack counts the original's megabytes; 0 = no limit. */
  readonly maxFileSizeMb: number;
  /** Called once per outage (until a write succeeds again); the default prints to stderr. */
  readonly onError?: (message: string) => void;
}

/** A log file found on disk: `day` is its local date, `key` sorts files oldest to newest. */
export interface LogFileEntry {
  readonly name: string;
  readonly day: string;
  readonly key: string;
}

export const pad = (n: number) => (n < 10 ? `0${n}` : String(n));
export const localDate = (d: Date) => `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}`;
export const errorMessage = (err: unknown) => (err instanceof Error ? err.message : String(err));
export const isNotFound = (err: unknown) => err instanceof Error && (err as NodeJS.ErrnoException).code === "ENOENT";
const toStderr = (message: string) => void process.stderr.write(`${message}\n`);

/** A throwing callback must not break the write chain: every later flush would reject. */
export function safeReporter(onError: ((message: string) => void) | undefined): (message: string) => void {
  const report = onError ?? toStderr;
  return (message) => {
    try {
      report(message);
    } catch {
      // Nowhere left to report to; logging carries on.
    }
  };
}

/**
 * The files to delete: everything beyond the `maxFiles` newest, and everything whose day
 * is before `today − maxAgeDays`. So `maxAgeDays: 1` keeps today's and yesterday's files,
 * since yesterday's may hold lines only minutes old. `keep` (the file being written) is
 * never returned.
 */
export function expiredLogFiles(entries: readonly LogFileEntry[], today: Date, retention: Retention, keep = ""): string[] {
  const { maxFiles, maxAgeDays } = retention;
  const cutoff =
    maxAgeDays > 0 ? localDate(new Date(today.getFullYear(), today.getMonth(), today.getDate() - maxAgeDays)) : "";
  const newestFirst = [...entries].sort((a, b) => (a.key < b.key ? 1 : a.key > b.key ? -1 : 0));
  return newestFirst
    .filter((e, i) => e.name !== keep && ((maxFiles > 0 && i >= maxFiles) || e.day < cutoff))
    .map((e) => e.name);
}

/**
 * The names one `general_file` produces: `./logs/proxy.log` → `proxy_2026-11-26.log`
 * (exactly `datedFileName` in log.ts), then `proxy_2026-11-26.1.log`, `.2.log`, ... once
 * a day's file is full. Anything else in the folder is not this log's.
 */
export class RollingNames {
  readonly dir: string;
  private readonly base: string;
  private readonly ext: string;
  private readonly pattern: RegExp;

  constructor(generalFile: string) {
    const ext = extname(generalFile);
    this.dir = dirname(generalFile);
    this.base = basename(generalFile, ext);
    this.ext = ext || ".log";
    this.pattern = new RegExp(`^${escapeRegExp(this.base)}_(\\d{4}-\\d{2}-\\d{2})(?:\\.([1-9]\\d*))?${escapeRegExp(this.ext)}$`);
  }

  name(day: string, index: number): string {
    return `${this.base}_${day}${index > 0 ? `.${index}` : ""}${this.ext}`;
  }

  parse(name: string): (LogFileEntry & { readonly index: number }) | undefined {
    const m = this.pattern.exec(name);
    if (!m) return undefined;
    const index = m[2] ? Number(m[2]) : 0;
    // Zero-padded so that `.10` sorts after `.9`.
    return { name, day: m[1]!, index, key: `${m[1]}.${String(index).padStart(9, "0")}` };
  }
}

interface Segment {
  readonly day: string;
  readonly parts: string[];
}

/** Characters buffered before a write is started without waiting for the next turn of the event loop. */
const HIGH_WATER = 64 * 1024;
/**
 * Lines wait this long (or until 64 KiB) to share one write: one append per request at
 * low load cost the proxy more CPU than the request itself (measured with wrk at c=1).
 */
export const FLUSH_EVERY_MS = 25;

/**
 * Appends log lines to `<base>_<local date>[.N]<ext>`, rolling by day and by size and
 * pruning old files after each roll.
 *
 * `write` only buffers: lines go to disk in one append per turn of the event loop (or
 * per 64 KiB), in order, one batch at a time, so the request path never waits on the
 * disk and never makes a synchronous fs call. The current size is tracked in memory;
 * the folder is listed only when a file is opened. Lines whose append fails are dropped
 * (keeping them would grow memory for as long as the disk is broken); the next batch
 * tries to reopen the file.
 */
export class RollingFile {
  private readonly names: RollingNames;
  private readonly limit: number;
  private readonly retention: Retention;
  private readonly report: (message: string) => void;

  private pending: Segment[] = [];
  private last: Segment | undefined;
  private pendingChars = 0;
  private timer: ReturnType<typeof setTimeout> | undefined;
  /** A step is on `tail` and has not yet taken `pending`. */
  private queued = false;
  private tail: Promise<void> = Promise.resolve();

  /** The local day of the clock, cached until it leaves [dayStart, dayEnd). */
  private day = "";
  private dayStart = 0;
  private dayEnd = 0;

  private handle: FileHandle | undefined;
  private path = "";
  private fileDay = "";
  private index = 0;
  private size = 0;
  private failing = false;
  private pruneFailing = false;

  constructor(
    generalFile: string,
    options: RollingFileOptions,
    private readonly now: () => Date = () => new Date(),
  ) {
    this.names = new RollingNames(generalFile);
    this.limit = Math.max(0, Math.floor(options.maxFileSizeMb * 1024 * 1024));
    this.retention = { maxFiles: options.maxFiles, maxAgeDays: options.maxAgeDays };
    this.report = safeReporter(options.onError);
  }

  /**
   * Queues complete lines. `at` picks the day's file; pass the time stamped in the lines
   * so a line of 23:59:59 lands in that day's file even if it is written after midnight.
   */
  write(text: string, at: Date = this.now()): void {
    const t = at.getTime();
    if (!(t >= this.dayStart && t < this.dayEnd)) this.setDay(at);
    let segment = this.last;
    if (segment === undefined || segment.day !== this.day) {
      segment = { day: this.day, parts: [] };
      this.pending.push(segment);
      this.last = segment;
    }
    segment.parts.push(text);
    this.pendingChars += text.length;
    if (this.queued) return;
    if (this.pendingChars >= HIGH_WATER) this.kick();
    else if (this.timer === undefined) this.timer = setTimeout(this.kick, FLUSH_EVERY_MS);
  }

  /** Resolves once every line written before the call has been handed to the OS. */
  flush(): Promise<void> {
    if (this.pending.length > 0) this.kick();
    return this.tail;
  }

  /** Flushes and closes the file; a later `write` opens it again. */
  close(): Promise<void> {
    if (this.pending.length > 0) this.kick();
    this.tail = this.tail.then(() => this.closeHandle());
    return this.tail;
  }

  private setDay(at: Date): void {
    this.day = localDate(at);
    // Local midnights, so days of 23 or 25 hours (DST) are still one file each.
    this.dayStart = new Date(at.getFullYear(), at.getMonth(), at.getDate()).getTime();
    this.dayEnd = new Date(at.getFullYear(), at.getMonth(), at.getDate() + 1).getTime();
  }

  private readonly kick = (): void => {
    if (this.timer !== undefined) {
      clearTimeout(this.timer);
      this.timer = undefined;
    }
    if (this.queued) return;
    this.queued = true;
    this.tail = this.tail.then(this.step);
  };

  /** Takes everything buffered when it starts, so lines that arrive while the disk is busy share one append. */
  private readonly step = async (): Promise<void> => {
    this.queued = false;
    const segments = this.pending;
    this.pending = [];
    this.last = undefined;
    this.pendingChars = 0;
    for (const segment of segments) await this.writeSegment(segment);
  };

  private async writeSegment(segment: Segment): Promise<void> {
    try {
      if (this.handle === undefined || this.fileDay !== segment.day) await this.openForDay(segment.day);
      if (this.limit === 0) {
        await this.append(segment.parts.join(""), 0);
      } else {
        const text = segment.parts.join("");
        const bytes = Buffer.byteLength(text);
        if (this.size + bytes <= this.limit) await this.append(text, bytes);
        else await this.writeSplit(segment.parts);
      }
      this.failing = false;
    } catch (err) {
      if (!this.failing) this.report(`cannot write log file ${this.path}: ${errorMessage(err)}`);
      this.failing = true;
      await this.closeHandle();
    }
  }

  /** Splits on the boundaries of `write` calls, so no line is cut in two; a single oversized write gets a file of its own. */
  private async writeSplit(parts: readonly string[]): Promise<void> {
    let chunk: string[] = [];
    let chunkBytes = 0;
    for (const part of parts) {
      const bytes = Buffer.byteLength(part);
      while (this.size + chunkBytes + bytes > this.limit && this.size + chunkBytes > 0) {
        if (chunk.length > 0) await this.append(chunk.join(""), chunkBytes);
        chunk = [];
        chunkBytes = 0;
        await this.openIndex(this.fileDay, this.index + 1);
      }
      chunk.push(part);
      chunkBytes += bytes;
    }
    if (chunk.length > 0) await this.append(chunk.join(""), chunkBytes);
  }

  private async append(text: string, bytes: number): Promise<void> {
    await this.handle!.appendFile(text);
    this.size += bytes;
  }

  /** Continues the highest-numbered file of the day, as after a restart. */
  private async openForDay(day: string): Promise<void> {
    await this.closeHandle();
    this.path = join(this.names.dir, this.names.name(day, 0));
    await mkdir(this.names.dir, { recursive: true });
    let index = 0;
    for (const name of await readdir(this.names.dir)) {
      const entry = this.names.parse(name);
      if (entry && entry.day === day && entry.index > index) index = entry.index;
    }
    await this.openIndex(day, index);
  }

  /** Opens file `index` of `day`, or the first after it with room, then prunes. */
  private async openIndex(day: string, index: number): Promise<void> {
    await this.closeHandle();
    for (;;) {
      this.path = join(this.names.dir, this.names.name(day, index));
      const handle = await open(this.path, "a");
      let size = 0;
      try {
        if (this.limit > 0) size = (await handle.stat()).size;
      } catch (err) {
        await handle.close();
        throw err;
      }
      if (this.limit > 0 && size >= this.limit) {
        await handle.close();
        index += 1;
        continue;
      }
      this.handle = handle;
      this.fileDay = day;
      this.index = index;
      this.size = size;
      break;
    }
    await this.prune();
  }

  private async prune(): Promise<void> {
    if (this.retention.maxFiles <= 0 && this.retention.maxAgeDays <= 0) return;
    try {
      const entries = (await readdir(this.names.dir)).flatMap((name) => this.names.parse(name) ?? []);
      const doomed = expiredLogFiles(entries, this.now(), this.retention, basename(this.path));
      await Promise.all(doomed.map((name) => unlinkIfPresent(join(this.names.dir, name))));
      this.pruneFailing = false;
    } catch (err) {
      // Pruning failing must not stop logging; it is tried again at the next roll.
      if (!this.pruneFailing) this.report(`cannot prune old log files in ${this.names.dir}: ${errorMessage(err)}`);
      this.pruneFailing = true;
    }
  }

  private async closeHandle(): Promise<void> {
    const handle = this.handle;
    this.handle = undefined;
    this.fileDay = "";
    if (handle === undefined) return;
    try {
      await handle.close();
    } catch {
      // The data was already appended; a failing close leaves nothing to retry.
    }
  }
}

export async function unlinkIfPresent(path: string): Promise<void> {
  try {
    await unlink(path);
  } catch (err) {
    // Someone else (another instance, an operator) removed it first: the goal is met.
    if (!isNotFound(err)) throw err;
  }
}
