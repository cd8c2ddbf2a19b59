import { readdirSync, readFileSync, statSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";

/**
 * The layers of src/, top to bottom (../shared/DESIGN.md, "Layers"): a file may import
 * from its own layer and those below it, never from one above; a type-only import
 * counts like any other. Files directly in src/ (main, serve, …) are the top.
 */
export const LAYERS = ["", "server", "ops", "proxy", "protocols", "upstream", "log", "config"] as const;

/**
 * Pure modules do no I/O: they import only other pure modules (a type-only import of
 * anything below is allowed: it is erased) and no runtime module that does I/O.
 */
export const PURE = [
  "protocols/*",
  "proxy/router.ts",
  "proxy/cooldown.ts",
  "proxy/cooldown-policy.ts",
  "proxy/detect.ts",
  "proxy/route-mode.ts",
  "proxy/decorations.ts",
  "upstream/sse.ts",
  "upstream/url.ts",
  "upstream/json-scan.ts",
  "upstream/headers.ts",
  "log/mask.ts",
  "log/text.ts",
  "config/pair.ts",
  "config/types.ts",
  "config/problems.ts",
  "ops/periods.ts",
  "ops/limits.ts",
  "ops/limits-refusal.ts",
  "ops/ledger-cost.ts",
];

/** Runtime modules a pure module may use: none that reaches a socket, a file or a process. */
const PURE_RUNTIME = new Set<string>([]);

export interface Violation {
  readonly file: string;
  readonly import: string;
  readonly why: string;
}

const IMPORT = /^\s*(import|export)\s+(type\s+)?(?:[^"';]*?\sfrom\s+)?["']([^"']+)["']/gm;

function files(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? files(path) : path.endsWith(".ts") ? [path] : [];
  });
}

const layerOf = (rel: string) => {
  const top = rel.includes("/") ? rel.slice(0, rel.indexOf("/")) : "";
  return LAYERS.indexOf(top as (typeof LAYERS)[number]);
};

const isPure = (rel: string) => PURE.some((p) => (p.endsWith("/*") ? rel.startsWith(p.slice(0, -1)) : rel === p));

/** Every import under `src` that runs upward, or from a pure module into one that does I/O. */
export function layerViolations(src: string): Violation[] {
  const out: Violation[] = [];
  for (const path of files(src)) {
    const rel = relative(src, path);
    const layer = layerOf(rel);
    if (layer === -1) {
      out.push({ file: rel, import: "", why: `is in no layer (folders: ${LAYERS.filter(Boolean).join(", ")})` });
      continue;
    }
    for (const m of readFileSync(path, "utf8").matchAll(IMPORT)) {
      const typeOnly = m[2] !== undefined;
      const spec = m[3]!;
      if (!spec.startsWith(".")) {
        if (isPure(rel) && !typeOnly && !PURE_RUNTIME.has(spec)) out.push({ file: rel, import: spec, why: "a pure module imports a runtime module" });
        continue;
      }
      const target = relative(src, resolve(dirname(path), spec));
      if (target.startsWith("..")) continue; // package.json and the like, outside src
      const to = layerOf(target);
      if (to !== -1 && to < layer) out.push({ file: rel, import: spec, why: `imports upward, from ${LAYERS[layer] || "the top"} into ${LAYERS[to] || "the top"}` });
      if (isPure(rel) && !typeOnly && !isPure(target)) out.push({ file: rel, import: spec, why: "a pure module imports one that is not pure" });
    }
  }
  return out;
}
