import type { Subprocess } from "bun";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const MAIN = join(import.meta.dir, "..", "..", "src", "main.ts");

/**
 * The real proxy in its own process (`bun src/main.ts -config <tmp>/config.yaml`),
 * for what only a separate process shows: its own fetch budget, its own memory and
 * descriptors. The YAML must say `listen: "127.0.0.1:0"`; the port is read from the
 * start-up line. Dispose with `await using`.
 */
export class SpawnedProxy implements AsyncDisposable {
  output = "";
  private constructor(
    private readonly proc: Subprocess<"ignore", "pipe", "pipe">,
    private readonly dir: string,
    public url = "",
  ) {}

  get pid(): number {
    return this.proc.pid;
  }

  static async start(yaml: string, env: Record<string, string> = {}, timeoutMs = 15_000): Promise<SpawnedProxy> {
    const dir = mkdtempSync(join(tmpdir(), "llm-proxy-faults-"));
    writeFileSync(join(dir, "config.yaml"), yaml);
    const proc = Bun.spawn([process.execPath, MAIN, "-config", join(dir, "config.yaml")], {
      cwd: dir,
      env: { ...process.env, ...env },
      stdin: "ignore",
      stdout: "pipe",
      stderr: "pipe",
    });
    const spawned = new SpawnedProxy(proc, dir);
    const decoder = new TextDecoder();
    const collect = async (stream: ReadableStream<Uint8Array>) => {
      for await (const chunk of stream) spawned.output += decoder.decode(chunk, { stream: true });
    };
    void collect(proc.stdout);
    void collect(proc.stderr);
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const match = /listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(spawned.output);
      if (match) {
        spawned.url = match[1]!;
        return spawned;
      }
      if (proc.exitCode !== null || Date.now() > deadline) {
        await spawned[Symbol.asyncDispose]();
        throw new Error(`the proxy did not start:\n${spawned.output}`);
      }
      await Bun.sleep(10);
    }
  }

  get port(): number {
    return Number(new URL(this.url).port);
  }

  async [Symbol.asyncDispose](): Promise<void> {
    if (this.proc.exitCode === null) this.proc.kill("SIGKILL");
    await this.proc.exited;
    rmSync(this.dir, { recursive: true, force: true });
  }
}
