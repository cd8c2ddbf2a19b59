#!/usr/bin/env bun
/**
 * `bun run build`: single executables in dist/, one per target, named as the
 * original's releases. `--single` builds only this machine's.
 * Cross-compiling fetches each target's Bun runtime from the npm registry.
 */
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import pkg from "../package.json" with { type: "json" };

export interface Target {
  readonly os: "linux" | "darwin" | "windows";
  readonly arch: "amd64" | "arm64";
  /** Bun's name for it. */
  readonly bun: `bun-${"linux" | "darwin" | "windows"}-${"x64" | "arm64"}`;
}

export const TARGETS: readonly Target[] = [
  { os: "windows", arch: "amd64", bun: "bun-windows-x64" },
  { os: "windows", arch: "arm64", bun: "bun-windows-arm64" },
  { os: "linux", arch: "amd64", bun: "bun-linux-x64" },
  { os: "linux", arch: "arm64", bun: "bun-linux-arm64" },
  { os: "darwin", arch: "amd64", bun: "bun-darwin-x64" },
  { os: "darwin", arch: "arm64", bun: "bun-darwin-arm64" },
];

export const ROOT = join(import.meta.dir, "..");
export const DIST = join(ROOT, "dist");

export const fileName = (t: Target) => `llm-proxy-${t.os}-${t.arch}${t.os === "windows" ? ".exe" : ""}`;

export function hostTarget(): Target {
  const os = process.platform === "win32" ? "windows" : process.platform;
  const arch = process.arch === "x64" ? "amd64" : process.arch;
  const target = TARGETS.find((t) => t.os === os && t.arch === arch);
  if (!target) throw new Error(`no build target for this machine (${process.platform}/${process.arch})`);
  return target;
}

function gitCommit(): string {
  const result = Bun.spawnSync(["git", "rev-parse", "--short=12", "HEAD"], { cwd: ROOT, stderr: "ignore" });
  return result.success ? result.stdout.toString().trim() : "unknown";
}

export async function build(target: Target, options: { bytecode?: boolean; outfile?: string } = {}): Promise<string> {
  const outfile = options.outfile ?? join(DIST, fileName(target));
  const result = await Bun.build({
    entrypoints: [join(ROOT, "src/main.ts")],
    minify: true,
    // Bytecode starts the binary faster (measured in docs/release.md); the build also works without it.
    bytecode: options.bytecode ?? true,
    define: {
      LLM_PROXY_VERSION: JSON.stringify(pkg.version),
      LLM_PROXY_COMMIT: JSON.stringify(gitCommit()),
    },
    compile: {
      target: target.bun,
      outfile,
      // A binary started in someone's folder must not pick up their .env or bunfig.toml.
      autoloadDotenv: false,
      autoloadBunfig: false,
    },
  });
  if (!result.success) {
    throw new Error(`build of ${fileName(target)} failed:\n${result.logs.map(String).join("\n")}`);
  }
  return outfile;
}

if (import.meta.main) {
  const argv = process.argv.slice(2);
  const targets = argv.includes("--single") ? [hostTarget()] : TARGETS;
  const bytecode = !argv.includes("--no-bytecode");
  mkdirSync(DIST, { recursive: true });
  for (const target of targets) {
    const started = performance.now();
    const outfile = await build(target, { bytecode });
    const size = Bun.file(outfile).size;
    console.log(`built ${fileName(target)}: ${(size / 1024 / 1024).toFixed(1)} MiB in ${((performance.now() - started) / 1000).toFixed(1)} s`);
  }
}
