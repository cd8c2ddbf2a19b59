import { afterAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { ConfigNotFoundError, loadConfig } from "../../src/config/load.ts";
import { ConfigError, Problem, renderPath } from "../../src/config/problems.ts";

const dir = mkdtempSync(join(tmpdir(), "llm-proxy-load-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

let files = 0;
function file(text: string | Uint8Array): string {
  const path = join(dir, `config-${++files}.yaml`);
  writeFileSync(path, text);
  return path;
}

/** Runs `load` and returns what it threw; fails the test when it does not throw. */
async function thrown(load: () => Promise<unknown>): Promise<unknown> {
  try {
    await load();
  } catch (error) {
    return error;
  }
  throw new Error("expected loadConfig to throw");
}

describe("loadConfig", () => {
  test("returns the configuration and its warnings for a valid file", async () => {
    const path = file(`listen: "127.0.0.1:0"\ncolour: blue\n`);
    const { config, problems } = await loadConfig(path, {});
    expect(config.file).toBe(path);
    expect(config.listen.port).toBe(0);
    expect(problems.map(String)).toEqual(["colour: unknown key, ignored"]);
    expect(config.warnings.map(String)).toEqual(["colour: unknown key, ignored"]);
  });

  test("uses the environment it is given", async () => {
    const path = file(`proxy_api_key: \${THE_KEY}\n`);
    const { config } = await loadConfig(path, { THE_KEY: "sk-given-env-000000000" });
    expect(config.proxyKey).toBe("sk-given-env-000000000");
  });

  test("a missing file throws ConfigNotFoundError, one line naming the absolute path and config.example.yaml", async () => {
    const path = join(dir, "nowhere", "config.yaml");
    const error = await thrown(() => loadConfig(path, {}));
    expect(error).toBeInstanceOf(ConfigNotFoundError);
    const e = error as ConfigNotFoundError;
    expect(e.path).toBe(path);
    expect(e.message).toBe(`config file not found: ${path} (start from the example: cp config.example.yaml ${path}, then edit it)`);
    expect(e.message).not.toContain("\n");
  });

  test("a missing relative path is named resolved against the working directory", async () => {
    const error = (await thrown(() => loadConfig("no-such-dir-for-tests/config.yaml", {}))) as ConfigNotFoundError;
    expect(error).toBeInstanceOf(ConfigNotFoundError);
    expect(error.message).toStartWith(`config file not found: ${resolve("no-such-dir-for-tests/config.yaml")} `);
    expect(error.message).toContain("cp config.example.yaml no-such-dir-for-tests/config.yaml");
  });

  test("a file with errors throws ConfigError carrying every error and warning", async () => {
    const path = file(`colour: blue\nlisten: nowhere\nfallback:\n  max_retries: lots\n`);
    const error = (await thrown(() => loadConfig(path, {}))) as ConfigError;
    expect(error).toBeInstanceOf(ConfigError);
    expect(error.problems.map((p) => `${p.severity}: ${p}`).sort()).toEqual([
      'error: fallback.max_retries: expected a whole number, got "lots"',
      'error: listen: "nowhere" is not host:port; write ":8080" for every interface or "127.0.0.1:8080" for this machine only',
      "warning: colour: unknown key, ignored",
    ]);
  });

  test("a file with a YAML syntax error throws ConfigError naming the file", async () => {
    const path = file(`models:\n  m: [\n`);
    const error = (await thrown(() => loadConfig(path, {}))) as ConfigError;
    expect(error).toBeInstanceOf(ConfigError);
    expect(error.problems[0]!.message).toStartWith(`${path}: YAML syntax error at line 2, column 6: `);
  });

  test("a file saved on Windows, with a byte-order mark and CRLF line ends, loads", async () => {
    const path = file(`\uFEFFlisten: "127.0.0.1:1234"\r\nproxy_api_key: sk-windows-0000000000\r\n`);
    const { config, problems } = await loadConfig(path, {});
    expect(problems).toEqual([]);
    expect(config.listen.port).toBe(1234);
    expect(config.proxyKey).toBe("sk-windows-0000000000");
  });
});

describe("ConfigError and Problem", () => {
  test("ConfigError's message counts the errors and lists them, without the warnings", () => {
    const error = new ConfigError([
      new Problem("error", "listen", "bad"),
      new Problem("warning", "colour", "unknown key, ignored"),
      new Problem("error", "", "test.yaml: YAML syntax error: oops"),
    ]);
    expect(error.message).toBe("configuration has 2 errors:\n  listen: bad\n  test.yaml: YAML syntax error: oops");
    expect(new ConfigError([new Problem("error", "a", "b")]).message).toBe("configuration has 1 error:\n  a: b");
  });

  test("a path is rendered as a person writes it", () => {
    expect(renderPath(["models", "gpt-4o", "routes", 1, "backend"])).toBe('models."gpt-4o".routes[1].backend');
    expect(renderPath(["backends", 0, "headers", "X-Api-Key"])).toBe('backends[0].headers."X-Api-Key"');
    expect(renderPath(["fallback", "alias_fallback", "anthropic/claude-opus-4-5", 0])).toBe('fallback.alias_fallback."anthropic/claude-opus-4-5"[0]');
    expect(renderPath([])).toBe("");
  });
});
