#!/usr/bin/env bun
/**
 * `bun run startup`: how fast llm-proxy starts and how much memory it holds idle,
 * from source and as executables built with and without bytecode. Measures the
 * time from exec to the first 200 on /health, and RSS after one idle second
 * (from /proc on Linux). Builds into a temporary folder; touches nothing else.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { build, fileName, hostTarget, ROOT } from "./build.ts";

const RUNS = Number(process.env.RUNS ?? 15);
const work = mkdtempSync(join(tmpdir(), "llm-proxy-startup-"));

async function freePort(): Promise<number> {
  const s = Bun.serve({ hostname: "127.0.0.1", port: 0, fetch: () => new Response() });
  const port = s.port!;
  await s.stop(true);
  return port;
}

function rssMiB(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  return Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? NaN) / 1024;
}

async function once(cmd: string[]): Promise<{ ms: number; rss: number }> {
  const port = await freePort();
  const config = join(work, `config-${port}.yaml`);
  writeFileSync(config, `listen: "127.0.0.1:${port}"\nmodels: {}\n`);
  const started = performance.now();
  const proc = Bun.spawn([...cmd, "-config", config], { cwd: work, stdout: "ignore", stderr: "inherit" });
  try {
    for (;;) {
      try {
        const res = await fetch(`http://127.0.0.1:${port}/health`);
        if (res.status === 200) break;
      } catch {
        // Not listening yet: poll again.
      }
      if (performance.now() - started > 20_000) throw new Error(`${cmd.join(" ")} did not answer /health within 20 s`);
      await Bun.sleep(1);
    }
    const ms = performance.now() - started;
    await Bun.sleep(1000);
    return { ms, rss: process.platform === "linux" ? rssMiB(proc.pid) : NaN };
  } finally {
    proc.kill();
    await proc.exited;
  }
}

const median = (xs: number[]) => xs.slice().sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

const withBytecode = join(work, fileName(hostTarget()));
const withoutBytecode = join(work, `nobytecode-${fileName(hostTarget())}`);
await build(hostTarget(), { outfile: withBytecode, bytecode: true });
await build(hostTarget(), { outfile: withoutBytecode, bytecode: false });

const variants: [string, string[], string][] = [
  ["executable, bytecode (shipped)", [withBytecode], withBytecode],
  ["executable, no bytecode", [withoutBytecode], withoutBytecode],
  ["bun run src/main.ts", [process.execPath, "run", join(ROOT, "src/main.ts")], ""],
];

console.log(`| how | size | start to first /health 200 (median of ${RUNS}) | idle RSS |`);
console.log("|---|---|---|---|");
for (const [name, cmd, file] of variants) {
  const results = [];
  for (let i = 0; i < RUNS; i++) results.push(await once(cmd));
  const size = file ? `${(Bun.file(file).size / 1024 / 1024).toFixed(1)} MiB` : "—";
  console.log(`| ${name} | ${size} | ${median(results.map((r) => r.ms)).toFixed(1)} ms | ${median(results.map((r) => r.rss)).toFixed(1)} MiB |`);
}
rmSync(work, { recursive: true, force: true });
