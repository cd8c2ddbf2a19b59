#!/usr/bin/env bun
/**
 * `bun run release`: builds every target, then packs each as
 * dist/release/llm-proxy-<os>-<arch>.zip holding a folder llm-proxy/ with the
 * executable, config.example.yaml, README.md and LICENSE (so the original's
 * quick start works as written), plus dist/release/SHA256SUMS.
 */
import { copyFileSync, mkdirSync, rmSync } from "node:fs";
import { join } from "node:path";
import { build, DIST, fileName, ROOT, TARGETS } from "./build.ts";

const RELEASE = join(DIST, "release");
const SHIPPED = ["config.example.yaml", "README.md", "LICENSE"];

function run(cmd: string[], cwd: string): void {
  const result = Bun.spawnSync(cmd, { cwd, stdout: "ignore", stderr: "pipe" });
  if (!result.success) throw new Error(`${cmd.join(" ")} failed: ${result.stderr.toString()}`);
}

if (!Bun.which("zip")) {
  console.error("release: the zip command is needed (Debian: apt-get install zip)");
  process.exit(1);
}

rmSync(RELEASE, { recursive: true, force: true });
mkdirSync(RELEASE, { recursive: true });
const sums: string[] = [];
for (const target of TARGETS) {
  const exe = await build(target);
  const stage = join(RELEASE, `stage-${target.os}-${target.arch}`);
  const folder = join(stage, "llm-proxy");
  mkdirSync(folder, { recursive: true });
  copyFileSync(exe, join(folder, fileName(target)));
  for (const file of SHIPPED) copyFileSync(join(ROOT, file), join(folder, file));
  const zip = `llm-proxy-${target.os}-${target.arch}.zip`;
  // -X: no extra file attributes, so the same input gives the same archive.
  run(["zip", "-q", "-r", "-X", join(RELEASE, zip), "llm-proxy"], stage);
  rmSync(stage, { recursive: true, force: true });
  const hash = new Bun.CryptoHasher("sha256").update(await Bun.file(join(RELEASE, zip)).arrayBuffer()).digest("hex");
  sums.push(`${hash}  ${zip}`);
  console.log(`packed ${zip}`);
}
await Bun.write(join(RELEASE, "SHA256SUMS"), `${sums.join("\n")}\n`);
console.log(`wrote ${join(RELEASE, "SHA256SUMS")}`);
