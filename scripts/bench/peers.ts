#!/usr/bin/env bun
/**
 * Installs the npm peers of `bun run bench --fleet --peer …` into a scratch folder
 * outside the project: they are never dependencies of llm-proxy.
 *
 *   bun run scripts/bench/peers.ts install [DIR]   npm install into DIR (default ~/.cache/llm-proxy-bench-peers)
 *   bun run scripts/bench/peers.ts where [DIR]     what is installed there, and how --peer runs it
 *
 * nginx comes from Debian (apt-get install nginx); the original Go llm-proxy is a binary the user gives.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { DEFAULT_PEERS_DIR } from "./peer-run.ts";

/** Pinned, so that runs on different days measure the same peers. */
export const NPM_PEERS: Record<string, { pkg: string; version: string; peer: string }> = {
  portkey: { pkg: "@portkey-ai/gateway", version: "1.15.2", peer: "portkey" },
  ccr: { pkg: "@musistudio/claude-code-router", version: "2.0.0", peer: "ccr" },
};

function usage(): never {
  process.stderr.write("usage: bun run scripts/bench/peers.ts install|where [DIR]\n");
  process.exit(2);
}

const [command, dirArg] = process.argv.slice(2);
const dir = resolve(dirArg ?? DEFAULT_PEERS_DIR);

if (command === "install") {
  if (!Bun.which("npm")) {
    process.stderr.write("peers: npm is needed to install the npm peers: apt-get install npm\n");
    process.exit(2);
  }
  if (!Bun.which("node")) process.stderr.write("peers: note: the peers run under node (apt-get install nodejs)\n");
  mkdirSync(dir, { recursive: true });
  const manifest = join(dir, "package.json");
  if (!existsSync(manifest)) writeFileSync(manifest, `${JSON.stringify({ name: "llm-proxy-bench-peers", private: true, description: "Peers of bun run bench --fleet; not part of llm-proxy" }, null, 2)}\n`);
  const specs = Object.values(NPM_PEERS).map((p) => `${p.pkg}@${p.version}`);
  process.stderr.write(`peers: npm install ${specs.join(" ")} in ${dir}\n`);
  // --ignore-scripts: nothing of theirs runs at install time.
  const r = Bun.spawnSync(["npm", "install", "--no-audit", "--no-fund", "--ignore-scripts", "--save-exact", ...specs], { cwd: dir, stdout: "inherit", stderr: "inherit" });
  if (!r.success) process.exit(1);
}

if (command !== "install" && command !== "where") usage();

for (const p of Object.values(NPM_PEERS)) {
  const pj = join(dir, "node_modules", p.pkg, "package.json");
  const version = existsSync(pj) ? (JSON.parse(readFileSync(pj, "utf8")) as { version?: string }).version : undefined;
  process.stdout.write(`${p.pkg.padEnd(32)} ${version ? `${version} installed` : "not installed"}; run with --peer ${p.peer}${dir === DEFAULT_PEERS_DIR ? "" : ` --peers-dir ${dir}`}\n`);
}
