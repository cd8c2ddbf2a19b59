import { describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { loadConfig, parseConfig } from "../../src/config/load.ts";

/**
 * The original Go project's own configurations must run unchanged. Byte-for-byte
 * copies live in test/fixtures (the seed's config.example.yaml, and the yaml block
 * under its README's Configuration heading) so the tests run from any clone.
 */
const ROOT = join(import.meta.dir, "..", "..");
const FIXTURES = join(ROOT, "test", "fixtures");
const EXAMPLE = join(FIXTURES, "original-config.example.yaml");
const README_BLOCK = join(FIXTURES, "seed-readme-config.yaml");

const problemsOf = (file: string) => parseConfig(readFileSync(file, "utf8"), file, {}).problems.map((p) => `${p.severity}: ${p}`);

const statusesOf = (table: Uint8Array) => [...table.keys()].filter((s) => table[s] === 1);
const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => from + i);

describe("the original's config.example.yaml", () => {
  test("loads with no error and no warning", async () => {
    expect(problemsOf(EXAMPLE)).toEqual([]);
    const { config, problems } = await loadConfig(EXAMPLE, {});
    expect(problems).toEqual([]);
    expect(config.warnings).toEqual([]);
  });

  test("keeps the original's meaning: listen, key, backends, aliases", async () => {
    const { config } = await loadConfig(EXAMPLE, {});
    expect(config.file).toBe(EXAMPLE);
    expect(config.listen).toEqual({ hostname: "0.0.0.0", port: 8080, allInterfaces: true, text: ":8080" });
    expect(config.proxyKey).toBe("sk-your-unified-api-key");
    expect([...config.backends.keys()]).toEqual(["primary", "secondary"]);
    const primary = config.backends.get("primary")!;
    expect(primary).toMatchObject({ url: "https://api.primary-provider.com/v1", origin: "https://api.primary-provider.com", basePath: "/v1", apiKey: "sk-primary-xxx", auth: "bearer", enabled: true });
    expect(config.backends.get("secondary")!.enabled).toBe(false);
    // openai/gpt-4o is disabled: unknown to clients, and not followed as a fallback.
    expect([...config.aliases.keys()]).toEqual(["anthropic/claude-sonnet-4"]);
    const sonnet = config.aliases.get("anthropic/claude-sonnet-4")!;
    expect(sonnet.chain).toEqual([]);
    expect(sonnet.groups.map((g) => [g.priority, g.depth, g.routes.map((r) => `${r.backend.name}/${r.model}`)])).toEqual([[1, 0, ["primary/claude-sonnet-4"]]]);
  });

  test("keeps the original's fallback, detection and logging settings", async () => {
    const { config } = await loadConfig(EXAMPLE, {});
    expect(config.cooldownMs).toBe(300_000);
    expect(config.maxRetries).toBe(3);
    expect(statusesOf(config.errorStatus)).toEqual(range(400, 599));
    expect(config.errorPatterns).toEqual(["insufficient_quota", "rate_limit", "exceeded", "billing", "quota"]);
    expect(config.logging).toEqual({
      level: "info",
      generalFile: "./logs/proxy.log",
      separateFiles: false,
      requestDir: "./logs/requests",
      errorDir: "./logs/errors",
      maskSensitive: true,
      enableMetrics: false,
      maxFileSizeMb: 100,
      format: "text",
      maxFiles: 30,
      maxAgeDays: 30,
      console: true,
    });
    expect([...config.secrets].sort()).toEqual(["sk-primary-xxx", "sk-secondary-yyy", "sk-your-unified-api-key"]);
  });
});

describe("the configuration block of the original's README", () => {
  test("loads with no error and exactly the expected warnings, fallback to the undefined gemini alias included", () => {
    expect(problemsOf(README_BLOCK)).toEqual([
      'warning: models."anthropic/claude-opus-4-5".routes[1].backend: backend "provider-b" is disabled; this route is skipped',
      'warning: fallback.alias_fallback."anthropic/claude-opus-4-5"[1]: unknown alias "google/gemini-3-pro-preview"; skipped',
      'warning: fallback.alias_fallback."anthropic/claude-sonnet-4-5"[0]: unknown alias "google/gemini-3-pro-preview"; skipped',
    ]);
  });

  test("loads from its file, carrying the warnings in config.warnings", async () => {
    const { config, problems } = await loadConfig(README_BLOCK, {});
    expect(problems.every((p) => p.severity === "warning")).toBe(true);
    expect(config.warnings.map(String)).toEqual(problems.map(String));
    expect(config.warnings).toHaveLength(3);
  });

  test("follows the L2 fallback to sonnet and skips the undefined gemini alias", async () => {
    const { config } = await loadConfig(README_BLOCK, {});
    expect([...config.aliases.keys()]).toEqual(["anthropic/claude-opus-4-5", "anthropic/claude-sonnet-4-5"]);
    const opus = config.aliases.get("anthropic/claude-opus-4-5")!;
    expect(opus.chain).toEqual(["anthropic/claude-sonnet-4-5"]);
    expect(opus.groups.map((g) => [g.alias, g.priority, g.depth, g.routes.map((r) => `${r.backend.name}/${r.model}`)])).toEqual([
      ["anthropic/claude-opus-4-5", 1, 0, ["provider-a/claude-opus-4-5"]],
      ["anthropic/claude-sonnet-4-5", 1, 1, ["provider-a/claude-sonnet-4-5"]],
    ]);
    expect(config.aliases.get("anthropic/claude-sonnet-4-5")!.chain).toEqual([]);
    expect(config.cooldownMs).toBe(300_000);
    expect(config.maxRetries).toBe(3);
    expect(statusesOf(config.errorStatus)).toEqual(range(400, 599));
  });
});
