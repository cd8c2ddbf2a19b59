import { describe } from "bun:test";

/**
 * Tests that need a system tool (promtool, redis-server, postgres, chromium, a
 * container runtime). Run by hand without it, they are skipped with a message naming
 * the tool and how to install it, and the end of the run lists every tool that was
 * missing and what it would have checked. Under CI=true (.ci/run installs them all) a
 * missing tool is a failure, never a skip: the tests run and fail saying what is missing.
 */

const IN_CI = process.env.CI === "true";
const missing = new Map<string, string>();

export interface OptionalTool {
  /** Found (or under CI=true, where it must be). */
  readonly run: boolean;
  /** `describe`, or `describe.skip` when the tool is missing outside CI. */
  readonly describe: typeof describe | typeof describe.skip;
}

/**
 * `present`: whether the tool was found. `install`: how to get it (`apt-get install redis-server`).
 * `checks`: what its tests prove, for the summary at the end of the run.
 */
export function optionalTool(name: string, present: boolean, install: string, checks: string): OptionalTool {
  const run = present || IN_CI;
  if (!present && !IN_CI && !missing.has(name)) {
    missing.set(name, `${checks} (${install})`);
    console.warn(`${name} not found: the tests that need it are skipped; ${install}`);
  }
  return { run, describe: run ? describe : describe.skip };
}

/** The list printed at the end of a run by test/preload.ts. */
export function missingTools(): string {
  if (missing.size === 0) return "";
  const lines = [...missing].map(([name, what]) => `  ${name}: ${what}`);
  return `\nOptional tools missing, their tests skipped (.ci/run installs them all):\n${lines.join("\n")}\n`;
}
