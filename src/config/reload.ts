import { type FSWatcher, readFileSync, realpathSync, type Stats, statSync, watch } from "node:fs";
import { dirname, resolve } from "node:path";
import { parseConfig } from "./load.ts";
import { ConfigError, Problem } from "./problems.ts";
import { sameListen, summarizeChanges } from "./changes.ts";
import type { Config, Listen } from "./types.ts";

/**
 * Hot reload: a change to the config file applies without a restart.
 *
 * Three triggers, one check. Watchers on the file and its folder (debounced) cover
 * editors that replace the file by rename and Kubernetes, which re-points a `..data`
 * symlink in the folder; an event is only a hint to compare the file's identity
 * (`statSync` follows symlinks: device, inode, size, mtime, ctime) with the last one
 * seen. `maybeReload(now)` on the request path stats at most every 100 ms, so "write
 * the file, then send a request" works wherever watching does not. `SIGHUP` forces it.
 *
 * A changed file is hashed (identical bytes: nothing to do), then parsed and validated
 * by `parseConfig` as at start-up; only a valid one replaces the current one. A file
 * missing or empty for a moment (a save in progress) is retried, never rejected.
 *
 *   const reloader = new ConfigReloader({ path, current, text, onReload, onRejected });
 *   reloader.start();            // watchers + SIGHUP; stop() removes them
 *   reloader.maybeReload();      // on each request
 *
 * Callbacks run synchronously inside the check (for `maybeReload`, before the request
 * is served) and must not throw.
 */

export type ReloadReason = "watch" | "poll" | "signal" | "manual";

export interface ConfigReloaderOptions {
  /** The config file, as given on the command line. */
  path: string;
  /** The configuration being served. */
  current: Config;
  /** The text `current` was parsed from. Without it the file is read once at construction, taken to be what `current` came from. */
  text?: string | Uint8Array;
  /** Environment for `${NAME}`; `process.env` at each reload when absent. */
  env?: Record<string, string | undefined>;
  /** A new, valid configuration replaced the old one; `summary` is one line (`config reloaded: ...`); `next.warnings` has its warnings. */
  onReload: (next: Config, summary: string, reason: ReloadReason) => void;
  /** The file changed but is invalid (or unreadable); the old configuration keeps serving. `describeRejection` renders it. */
  onRejected: (problems: Problem[], reason: ReloadReason) => void;
  /** A reload changed `listen`: the old listener keeps serving until a restart. `from` is the address in use. */
  onListenChanged?: (from: string, to: string) => void;
  /** The file has been missing for a second or more (once per disappearance); the old configuration keeps serving. */
  onMissing?: (path: string, detail: string) => void;
  /** Clock for the poll interval and the missing-file grace; `Date.now` by default. */
  now?: () => number;
}

/** The request path stats the file at most this often. */
export const POLL_INTERVAL_MS = 100;
/** Watch events closer together than this are one burst (one save), checked once it is quiet... */
const DEBOUNCE_MS = 50;
/** ...or at the latest this long after the burst began, so constant noise in the folder cannot starve a check. */
const MAX_DEBOUNCE_MS = 500;
/** A file missing for less than this is a save in progress, not worth a word. */
const MISSING_GRACE_MS = 1000;

interface Identity {
  readonly dev: number;
  readonly ino: number;
  readonly size: number;
  readonly mtimeMs: number;
  readonly ctimeMs: number;
}

const identityOf = (s: Stats): Identity => ({ dev: s.dev, ino: s.ino, size: s.size, mtimeMs: s.mtimeMs, ctimeMs: s.ctimeMs });
const sameIdentity = (a: Identity, b: Identity) =>
  a.ino === b.ino && a.dev === b.dev && a.size === b.size && a.mtimeMs === b.mtimeMs && a.ctimeMs === b.ctimeMs;
/** A hash of the content: a UTF-8 byte order mark is no change (start-up's reader drops it too). */
function contentHash(content: string | Uint8Array): number | bigint {
  const bytes = typeof content === "string" ? new TextEncoder().encode(content) : content;
  const bom = bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf;
  return Bun.hash(bom ? bytes.subarray(3) : bytes);
}

const errorCode = (error: unknown) => (error as { code?: string }).code ?? (error as Error).message;

export class ConfigReloader {
  #current: Config;
  readonly #options: ConfigReloaderOptions;
  readonly #path: string;
  readonly #now: () => number;
  /** Identity of the file when last read; undefined: read it on the next check. */
  #identity: Identity | undefined;
  #loadedHash: number | bigint | undefined;
  #rejectedHash: number | bigint | undefined;
  #lastPollAt = -Infinity;
  #missingSince: number | undefined;
  #missingReported = false;
  #busy = false;
  /** The address the server listens on: the listen of the configuration at construction. */
  readonly #listening: Listen;

  #started = false;
  #dirWatcher: FSWatcher | undefined;
  #fileWatcher: FSWatcher | undefined;
  /** The file the file watcher follows: a watcher stays on the inode it was opened on. */
  #watched: { ino: number; dev: number; realPath: string } | undefined;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #burstStart: number | undefined;

  constructor(options: ConfigReloaderOptions) {
    this.#options = options;
    this.#current = options.current;
    this.#listening = options.current.listen;
    this.#path = options.path;
    this.#now = options.now ?? Date.now;
    if (options.text !== undefined) {
      // Identity unknown: the first check reads the file, and reloads only if its bytes differ from `text`.
      this.#loadedHash = contentHash(options.text);
    } else {
      try {
        const stats = statSync(this.#path);
        this.#loadedHash = contentHash(readFileSync(this.#path));
        this.#identity = identityOf(stats);
      } catch {
        // Unreadable now: the first check that can read it parses it.
      }
    }
  }

  /** The configuration in effect. */
  get config(): Config {
    return this.#current;
  }

  /** True while watch events wait for the burst to end before the check (for tests and status). */
  get pending(): boolean {
    return this.#timer !== undefined;
  }

  /** Cheap enough for every request: one clock compare, and at most one `statSync` per 100 ms; reloads synchronously when that shows a change. */
  maybeReload(now?: number): void {
    const t = now ?? this.#now();
    const elapsed = t - this.#lastPollAt;
    // A clock that went backwards (elapsed < 0) must not stop the checks until it catches up.
    if (elapsed < POLL_INTERVAL_MS && elapsed >= 0) return;
    this.#lastPollAt = t;
    this.#check("poll", false);
  }

  /**
   * Checks the file now. "watch" and "poll" reload only when its bytes changed; "signal"
   * and "manual" force a re-read and re-parse. True when a new configuration was applied.
   */
  reload(reason: ReloadReason): boolean {
    return this.#check(reason, reason === "signal" || reason === "manual");
  }

  /**
   * Watches the file and its folder and installs the SIGHUP handler (not on Windows).
   * Then checks once, for a change made since the load: `onReload` may run before it returns.
   */
  start(): void {
    if (this.#started) return;
    this.#started = true;
    this.#armDirWatcher();
    if (process.platform !== "win32") process.on("SIGHUP", this.#onSignal);
    // The check opens the file watcher, once there is a file.
    this.#check("watch", false);
  }

  /** Removes the watchers, the pending check and the SIGHUP handler. `maybeReload` keeps working. */
  stop(): void {
    this.#started = false;
    process.off("SIGHUP", this.#onSignal);
    clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#burstStart = undefined;
    this.#dirWatcher?.close();
    this.#fileWatcher?.close();
    this.#dirWatcher = this.#fileWatcher = this.#watched = undefined;
  }

  [Symbol.dispose](): void {
    this.stop();
  }

  readonly #onSignal = () => {
    this.reload("signal");
  };

  readonly #onEvent = () => {
    if (!this.#started) return;
    const now = performance.now();
    this.#burstStart ??= now;
    clearTimeout(this.#timer);
    this.#timer = setTimeout(this.#onSettled, Math.max(0, Math.min(DEBOUNCE_MS, this.#burstStart + MAX_DEBOUNCE_MS - now)));
    this.#timer.unref();
  };

  readonly #onSettled = () => {
    this.#timer = this.#burstStart = undefined;
    if (this.#started) this.#check("watch", false);
  };

  #check(reason: ReloadReason, force: boolean): boolean {
    if (this.#busy) return false;
    this.#busy = true;
    try {
      return this.#checkNow(reason, force);
    } finally {
      this.#busy = false;
    }
  }

  #checkNow(reason: ReloadReason, force: boolean): boolean {
    if (this.#started && !this.#dirWatcher) this.#armDirWatcher();
    let stats: Stats | undefined;
    try {
      stats = statSync(this.#path, { throwIfNoEntry: false });
    } catch (error) {
      return this.#missing(reason, force, errorCode(error));
    }
    if (!stats) return this.#missing(reason, force, "not found");
    this.#missingSince = undefined;
    this.#missingReported = false;
    const identity = identityOf(stats);
    if (this.#started) this.#rearm(identity, reason === "watch");
    if (!force && this.#identity && sameIdentity(identity, this.#identity)) return false;

    let bytes: Uint8Array;
    try {
      bytes = readFileSync(this.#path);
    } catch (error) {
      // Gone between the stat and the read: a rename-replace in progress.
      if (errorCode(error) === "ENOENT") return this.#missing(reason, force, "not found");
      this.#identity = identity;
      const why = errorCode(error) === "EISDIR" ? "it is a folder, not a file" : (error as Error).message;
      this.#options.onRejected([new Problem("error", "", `cannot read the config file ${resolve(this.#path)}: ${why}`)], reason);
      return false;
    }
    // Truncated and not yet rewritten (`>` in a shell, an in-place save): the content follows. Only a forced reload takes an empty file.
    if (bytes.length === 0 && !force) return false;
    this.#identity = identity;
    const hash = contentHash(bytes);
    if (!force && (hash === this.#loadedHash || hash === this.#rejectedHash)) return false;

    const { config, problems } = parseConfig(new TextDecoder().decode(bytes), this.#path, this.#options.env ?? process.env);
    if (!config) {
      this.#rejectedHash = hash;
      this.#options.onRejected(problems, reason);
      return false;
    }
    const prev = this.#current;
    this.#current = config;
    this.#loadedHash = hash;
    this.#rejectedHash = undefined;
    this.#options.onReload(config, summarizeChanges(prev, config, this.#listening), reason);
    if (!sameListen(prev.listen, config.listen) && !sameListen(this.#listening, config.listen)) {
      this.#options.onListenChanged?.(this.#listening.text, config.listen.text);
    }
    return true;
  }

  /** The file is not there (or its folder cannot be searched): retried on the next check, reported once if it stays that way. */
  #missing(reason: ReloadReason, force: boolean, detail: string): boolean {
    if (force) {
      this.#options.onRejected([new Problem("error", "", `cannot read the config file ${resolve(this.#path)}: ${detail}`)], reason);
      return false;
    }
    const now = this.#now();
    if (this.#missingSince === undefined) this.#missingSince = now;
    else if (!this.#missingReported && now - this.#missingSince >= MISSING_GRACE_MS) {
      this.#missingReported = true;
      this.#options.onMissing?.(this.#path, detail);
    }
    return false;
  }

  /** A file watcher follows the inode it was opened on: after a replace (or a re-pointed symlink) it watches the old file, so open it again. */
  #rearm(identity: Identity, checkRealPath: boolean): void {
    const watched = this.#watched;
    if (!watched || watched.ino !== identity.ino || watched.dev !== identity.dev || (checkRealPath && watched.realPath !== realPathOf(this.#path))) {
      this.#armFileWatcher(identity);
    }
  }

  #armDirWatcher(): void {
    this.#dirWatcher = this.#watch(dirname(resolve(this.#path)), (failed) => {
      if (this.#dirWatcher === failed) this.#dirWatcher = undefined;
    });
  }

  #armFileWatcher(identity: Identity): void {
    this.#fileWatcher?.close();
    this.#fileWatcher = this.#watched = undefined;
    const realPath = realPathOf(this.#path);
    if (realPath === undefined) return;
    this.#fileWatcher = this.#watch(this.#path, (failed) => {
      if (this.#fileWatcher === failed) this.#fileWatcher = this.#watched = undefined;
    });
    if (this.#fileWatcher) this.#watched = { ino: identity.ino, dev: identity.dev, realPath };
  }

  /** A watcher that does not keep the process alive; on error it is dropped and the next check opens it again. */
  #watch(path: string, onError: (failed: FSWatcher) => void): FSWatcher | undefined {
    let watcher: FSWatcher;
    try {
      watcher = watch(path, { persistent: false }, this.#onEvent);
    } catch {
      // Gone or not watchable right now (a replace in progress, a platform limit): the next check retries, and the poll covers the gap.
      return undefined;
    }
    watcher.on("error", () => {
      watcher.close();
      onError(watcher);
    });
    return watcher;
  }
}

function realPathOf(path: string): string | undefined {
  try {
    return realpathSync(path);
  } catch {
    // Missing for the moment: the caller treats undefined as "not watchable now".
    return undefined;
  }
}

/** The message for a rejected reload, in the same words as at start-up. */
export function describeRejection(problems: readonly Problem[], file: string): string {
  return `${file} not reloaded (the previous configuration keeps serving): ${new ConfigError(problems).message}`;
}
