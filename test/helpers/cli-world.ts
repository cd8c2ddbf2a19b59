import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Recorded, Scenario } from "./cli-fake-provider.ts";
import { Netns, type Child } from "./netns.ts";

/**
 * Everything a CLI test needs, inside one network namespace: a Chat-only fake provider
 * and the proxy (`bun src/main.ts`) as child processes, a temporary folder with the
 * CLI's own HOME and a work folder, and a way to run the CLI there. Nothing of the
 * machine's user is read: HOME and the CLIs' config folders point into the folder.
 */

const ROOT = join(import.meta.dir, "..", "..");
const MAIN = join(ROOT, "src", "main.ts");
const FAKE = join(import.meta.dir, "cli-fake-provider.ts");

export const PROXY_KEY = "sk-proxy-cli-test-0123456789abcdef";

/** A native binary shipped in an npm package's platform part (Linux: the namespaces are Linux only), or why it is not there. */
export function nativeBinary(what: "codex" | "claude"): { path: string } | { missing: string } {
  const arch = process.arch === "arm64" ? "arm64" : "x64";
  const triple = process.arch === "arm64" ? "aarch64-unknown-linux-musl" : "x86_64-unknown-linux-musl";
  const path =
    what === "codex" ? `@openai/codex-linux-${arch}/vendor/${triple}/bin/codex` : `@anthropic-ai/claude-code-linux-${arch}/claude`;
  const full = join(ROOT, "node_modules", path);
  if (process.platform !== "linux") return { missing: `the ${what} test runs on Linux only` };
  if (!existsSync(full)) return { missing: `${what} is not installed (bun install puts it at ${full})` };
  return { path: full };
}

/** The environment every child starts from: PATH and locale, nothing of the user's. */
function baseEnv(home: string): Record<string, string> {
  return { PATH: process.env.PATH ?? "/usr/local/bin:/usr/bin:/bin", HOME: home, LANG: "C.UTF-8", TMPDIR: join(home, "tmp") };
}

export class CliWorld implements AsyncDisposable {
  readonly home: string;
  readonly work: string;
  private constructor(
    readonly ns: Netns,
    readonly dir: string,
    readonly provider: Child,
    readonly proxy: Child,
    readonly proxyUrl: string,
    private readonly recordFile: string,
  ) {
    this.home = join(dir, "home");
    this.work = join(dir, "work");
  }

  /** Starts the fake provider and the proxy in a new namespace; `routeExtra` is added to the alias's route (e.g. max_tokens). */
  static async start(scenario: Omit<Scenario, "record">, routeExtra = "", alias = "coder"): Promise<CliWorld> {
    const ns = Netns.create();
    const dir = mkdtempSync(join(tmpdir(), "llm-proxy-cli-"));
    try {
      for (const sub of ["home", "home/tmp", "work"]) mkdirSync(join(dir, sub), { recursive: true });
      const recordFile = join(dir, "provider-requests.jsonl");
      writeFileSync(recordFile, "");
      writeFileSync(join(dir, "scenario.json"), JSON.stringify({ ...scenario, record: recordFile } satisfies Scenario));
      const env = baseEnv(join(dir, "home"));
      const provider = ns.spawn("fake provider", [process.execPath, FAKE, join(dir, "scenario.json")], { env, cwd: dir });
      const providerUrl = (await provider.waitFor(/listening on (http:\/\/127\.0\.0\.1:\d+)/, "listening line from the fake provider"))[1]!;
      writeFileSync(
        join(dir, "config.yaml"),
        `
listen: "127.0.0.1:0"
proxy_api_key: ${PROXY_KEY}
backends:
  - { name: chat-only, url: "${providerUrl}/v1", api_key: sk-fake-provider-key-000000, protocol: openai }
models:
  "${alias}": { routes: [{ backend: chat-only, model: fake-chat-model${routeExtra ? `, ${routeExtra}` : ""} }] }
logging: { level: debug, separate_files: true, request_dir: ./requests, error_dir: ./errors }
`,
      );
      const proxy = ns.spawn("proxy", [process.execPath, MAIN, "-config", join(dir, "config.yaml")], { env, cwd: dir });
      const proxyUrl = (await proxy.waitFor(/listening on (http:\/\/127\.0\.0\.1:\d+)/, "listening line from the proxy"))[1]!;
      return new CliWorld(ns, dir, provider, proxy, proxyUrl, recordFile);
    } catch (error) {
      await ns[Symbol.asyncDispose]();
      rmSync(dir, { recursive: true, force: true });
      throw error;
    }
  }

  /** What the provider received, in order. */
  records(): Recorded[] {
    return readFileSync(this.recordFile, "utf8")
      .split("\n")
      .filter((line) => line !== "")
      .map((line) => JSON.parse(line) as Recorded);
  }

  /** The proxy's per-request files (`separate_files`), each the whole story of one request; read once the requests are over. */
  requestFiles(): string[] {
    const folder = join(this.dir, "requests");
    if (!existsSync(folder)) return [];
    return readdirSync(folder)
      .sort()
      .map((name) => readFileSync(join(folder, name), "utf8"));
  }

  /** Waits until the proxy has written `n` per-request files (each is written once its request is over). */
  async waitForRequestFiles(n: number, timeoutMs = 10_000): Promise<string[]> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const files = this.requestFiles();
      if (files.length >= n) return files;
      if (Date.now() > deadline) throw new Error(`expected ${n} request files from the proxy, found ${files.length}:\n${this.output}`);
      await Bun.sleep(10);
    }
  }

  /** Runs a CLI in the namespace, in the work folder, with HOME in the temp folder and `env` added. */
  run(name: string, cmd: readonly string[], env: Record<string, string>): Child {
    return this.ns.spawn(name, cmd, { env: { ...baseEnv(this.home), ...env }, cwd: this.work });
  }

  /** Everything every child printed, for a failure message. */
  get output(): string {
    return this.ns.output;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.ns[Symbol.asyncDispose]();
    rmSync(this.dir, { recursive: true, force: true });
  }
}
