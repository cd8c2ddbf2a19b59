import type { Subprocess } from "bun";
import { mkdtempSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const MAIN = join(import.meta.dir, "..", "..", "src", "main.ts");
const live = new Set<ProxyProcess>();

/** A fresh temporary folder; the caller removes it (ProxyProcess does, for its own). */
export function tempDir(prefix = "llm-proxy-ops-"): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

/** Runs `bun run src/main.ts ...args` to its end (for `--check`), with a bound. */
export async function runMain(args: string[], cwd: string, timeoutMs = 20_000): Promise<{ code: number; out: string; err: string }> {
  const proc = Bun.spawn([process.execPath, "run", MAIN, ...args], { cwd, stdout: "pipe", stderr: "pipe", stdin: "ignore" });
  const timer = setTimeout(() => proc.kill("SIGKILL"), timeoutMs);
  try {
    const [out, err, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
    return { code, out, err };
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Reads a started proxy's stdout up to its "listening on" line (bounded): its URL, and
 * the reader, for the caller to keep draining or release.
 */
export async function waitForListening(proc: Subprocess<"ignore" | "pipe" | "inherit", "pipe", "pipe">, what = "the executable", timeoutMs = 20_000): Promise<{ url: string; reader: { read(): Promise<{ done: boolean; value?: Uint8Array }>; releaseLock(): void } }> {
  const reader = (proc.stdout as ReadableStream<Uint8Array>).getReader();
  let out = "";
  const deadline = Date.now() + timeoutMs;
  while (!/listening on (http:\/\/\S+)/.test(out)) {
    if (Date.now() > deadline) throw new Error(`${what} did not start:\n${out}`);
    const { value, done } = await reader.read();
    if (done) throw new Error(`${what} exited:\n${out}${await new Response(proc.stderr).text()}`);
    out += new TextDecoder().decode(value);
  }
  return { url: /listening on (http:\/\/\S+)/.exec(out)![1]!, reader };
}

export interface ProxyProcessOptions {
  /** Runs on the new working directory (a temp folder, removed at dispose) before the proxy starts. */
  readonly prepare?: (dir: string) => void;
  /** Do not wait for the "listening on" line (e.g. with `logging.console: false`). */
  readonly noWait?: boolean;
  /** Added to the proxy's environment (NODE_EXTRA_CA_CERTS, HTTP_PROXY, ...). */
  readonly env?: Record<string, string>;
}

/**
 * The real proxy: `bun run src/main.ts -config <dir>/config.yaml` with `cwd` in a
 * temp folder, stdout and stderr collected as they come. The YAML should say
 * `listen: "127.0.0.1:0"`; `url` is read from the "listening on" line.
 * Dispose with `await using`: it kills the process if still running.
 */
export class ProxyProcess implements AsyncDisposable {
  stdout = "";
  stderr = "";
  url = "";
  exitCode: number | undefined;
  readonly exited: Promise<number>;
  readonly configPath: string;
  private readonly proc: Subprocess<"ignore", "pipe", "pipe">;
  private readonly drained: Promise<void>;

  private constructor(
    readonly dir: string,
    yaml: string,
    env: Record<string, string> = {},
  ) {
    this.configPath = join(dir, "config.yaml");
    writeFileSync(this.configPath, yaml);
    this.proc = Bun.spawn([process.execPath, "run", MAIN, "-config", this.configPath], { cwd: dir, stdout: "pipe", stderr: "pipe", stdin: "ignore", env: { ...process.env, ...env } });
    live.add(this);
    this.exited = this.proc.exited.then((code) => {
      this.exitCode = code;
      live.delete(this);
      return code;
    });
    this.drained = Promise.all([this.collect(this.proc.stdout, "stdout"), this.collect(this.proc.stderr, "stderr")]).then(() => undefined);
  }

  static async start(yaml: string, options: ProxyProcessOptions = {}): Promise<ProxyProcess> {
    const dir = tempDir();
    options.prepare?.(dir);
    const p = new ProxyProcess(dir, yaml, options.env);
    if (!options.noWait) {
      try {
        const match = await p.waitForOutput(/listening on (http:\/\/127\.0\.0\.1:\d+)/, "the listening line");
        p.url = match[1]!;
      } catch (error) {
        await p[Symbol.asyncDispose]();
        throw error;
      }
    }
    return p;
  }

  private async collect(stream: ReadableStream<Uint8Array>, into: "stdout" | "stderr"): Promise<void> {
    const decoder = new TextDecoder();
    for await (const chunk of stream) this[into] += decoder.decode(chunk, { stream: true });
  }

  pid(): number {
    return this.proc.pid;
  }

  /** The port it listens on (from the listening line). */
  get port(): number {
    return Number(new URL(this.url).port);
  }

  /** Both outputs, for assertions and failure messages. */
  get output(): string {
    return `${this.stdout}${this.stderr}`;
  }

  /** Waits until stdout (from character `from` on) matches; fails after `timeoutMs`, showing the output. */
  async waitForOutput(pattern: RegExp | string, what: string, from = 0, timeoutMs = 15_000): Promise<RegExpExecArray> {
    const re = typeof pattern === "string" ? new RegExp(pattern.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")) : pattern;
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const match = re.exec(this.stdout.slice(from));
      if (match) return match;
      if (this.exitCode !== undefined || Date.now() > deadline) {
        throw new Error(`no ${what} in the proxy's output (${this.exitCode === undefined ? "timed out" : `exited ${this.exitCode}`}):\n--- stdout\n${this.stdout}--- stderr\n${this.stderr}`);
      }
      await Bun.sleep(10);
    }
  }

  /** Writes the config file in place. */
  writeConfig(yaml: string): void {
    writeFileSync(this.configPath, yaml);
  }

  /** Replaces the config file as editors do: a temp file renamed over it. */
  replaceConfig(yaml: string): void {
    const temp = join(this.dir, `.config.yaml.${process.pid}.tmp`);
    writeFileSync(temp, yaml);
    renameSync(temp, this.configPath);
  }

  signal(signal: NodeJS.Signals): void {
    this.proc.kill(signal);
  }

  /** The exit code, or a failure if the process is still running after `timeoutMs`. */
  async exit(timeoutMs = 15_000): Promise<number> {
    let timer: Timer | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`the proxy did not exit within ${timeoutMs} ms; stdout:\n${this.stdout}`)), timeoutMs);
    });
    try {
      const code = await Promise.race([this.exited, timeout]);
      await this.drained;
      return code;
    } finally {
      clearTimeout(timer);
    }
  }

  async [Symbol.asyncDispose](): Promise<void> {
    if (this.exitCode === undefined) this.proc.kill("SIGKILL");
    await this.exited;
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** For afterAll: kills any proxy a failed test left running. */
export async function killAllProxies(): Promise<void> {
  await Promise.all([...live].map((p) => p[Symbol.asyncDispose]()));
}

/** The value of one sample in a Prometheus text exposition; undefined when the series is absent. */
export function sample(text: string, name: string, labels: Record<string, string> = {}): number | undefined {
  for (const line of text.split("\n")) {
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!m || m[1] !== name) continue;
    const got = Object.fromEntries([...(m[2] ?? "").matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)].map((l) => [l[1]!, l[2]!]));
    if (Object.keys(got).length === Object.keys(labels).length && Object.entries(labels).every(([k, v]) => got[k] === v)) return Number(m[3]);
  }
  return undefined;
}
