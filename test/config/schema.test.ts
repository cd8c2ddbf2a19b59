import { describe, expect, test } from "bun:test";
import { parseConfig } from "../../src/config/load.ts";
import type { Config } from "../../src/config/types.ts";

/** Loads YAML that must be valid; fails the test with every problem otherwise. */
function load(yaml: string): Config {
  const { config, problems } = parseConfig(yaml, "test.yaml", {});
  if (!config) throw new Error(`unexpected errors:\n${problems.map(String).join("\n")}`);
  return config;
}

const statusesOf = (table: Uint8Array) => [...table.keys()].filter((s) => table[s] === 1);
const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => from + i);
const DEFAULT_STATUSES = [401, 402, 403, 404, 408, 429, ...range(500, 599)];

const ONE_ROUTE = `
backends:
  - name: b
    url: http://127.0.0.1:9/v1
models:
  m:
    routes:
      - backend: b
        model: real
`;

describe("defaults for absent keys", () => {
  for (const [what, yaml] of [
    ["an empty file", ""],
    ["a file of comments", "# nothing here\n"],
    ["an empty mapping", "{}\n"],
    ["keys present but empty", "listen:\nproxy_api_key:\nbackends:\nmodels:\nfallback:\ndetection:\nlogging:\n"],
  ] as const) {
    test(`${what} gets every top-level default`, () => {
      const config = load(yaml);
      expect(config.listen).toEqual({ hostname: "127.0.0.1", port: 8080, allInterfaces: false, text: "127.0.0.1:8080" });
      expect(config.proxyKey).toBe("");
      expect(config.backends.size).toBe(0);
      expect(config.aliases.size).toBe(0);
      expect(config.cooldownMs).toBe(60_000);
      expect(config.maxRetries).toBe(0);
      expect(statusesOf(config.errorStatus)).toEqual(DEFAULT_STATUSES);
      expect(config.errorPatterns).toEqual([]);
      expect(config.secrets).toEqual([]);
      expect(config.warnings).toEqual([]);
    });
  }

  test("logging gets its defaults: info, console only, masking on", () => {
    expect(load("").logging).toEqual({
      level: "info",
      generalFile: "",
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
  });

  test("empty fallback and detection sections keep the defaults of their keys", () => {
    const config = load("fallback: {}\ndetection: {}\nlogging: {}\n");
    expect(config.cooldownMs).toBe(60_000);
    expect(config.maxRetries).toBe(0);
    expect(statusesOf(config.errorStatus)).toEqual(DEFAULT_STATUSES);
    expect(config.logging.level).toBe("info");
  });

  test("a backend defaults to bearer auth, enabled, no headers", () => {
    const backend = load(ONE_ROUTE).backends.get("b")!;
    expect(backend).toMatchObject({ auth: "bearer", enabled: true, apiKey: "", headers: [] });
  });

  test("an alias defaults to enabled and a route to priority 0, weight 1, enabled", () => {
    const alias = load(ONE_ROUTE).aliases.get("m")!;
    expect(alias.groups).toHaveLength(1);
    const group = alias.groups[0]!;
    expect(group.priority).toBe(0);
    expect(group.weighted).toBe(false);
    expect(group.routes.map((r) => [r.backend.name, r.model, r.priority, r.weight])).toEqual([["b", "real", 0, 1]]);
  });

  test("fractions of a second are kept in cooldownMs", () => {
    expect(load("fallback:\n  cooldown_seconds: 0.2\n").cooldownMs).toBe(200);
  });
});

describe("YAML 1.1 scalars, as the original reads them", () => {
  test("yes/no/on/off are booleans where a boolean is expected", () => {
    const config = load(`
backends:
  - {name: a, url: "http://127.0.0.1:9/v1", enabled: yes}
  - {name: b, url: "http://127.0.0.1:9/v1", enabled: off}
models:
  on-alias: {enabled: on, routes: [{backend: a, model: x, enabled: yes}]}
  off-alias: {enabled: no, routes: [{backend: a, model: x}]}
logging:
  mask_sensitive: off
  separate_files: on
  enable_metrics: Yes
`);
    expect(config.backends.get("a")!.enabled).toBe(true);
    expect(config.backends.get("b")!.enabled).toBe(false);
    expect([...config.aliases.keys()]).toEqual(["on-alias"]);
    expect(config.logging).toMatchObject({ maskSensitive: false, separateFiles: true, enableMetrics: true });
  });

  test('a quoted "yes" or "off" for a boolean field is read as a boolean too', () => {
    const config = load(`
backends:
  - {name: a, url: "http://127.0.0.1:9/v1", enabled: "off"}
  - {name: b, url: "http://127.0.0.1:9/v1", enabled: "yes"}
logging:
  mask_sensitive: "no"
`);
    expect(config.backends.get("a")!.enabled).toBe(false);
    expect(config.backends.get("b")!.enabled).toBe(true);
    expect(config.logging.maskSensitive).toBe(false);
  });

  test("a word that is not a boolean is refused for a boolean field", () => {
    const { config, problems } = parseConfig(`logging:\n  mask_sensitive: "maybe"\n`, "test.yaml", {});
    expect(config).toBeUndefined();
    expect(problems.map((p) => `${p.severity}: ${p}`)).toEqual(['error: logging.mask_sensitive: expected true or false, got "maybe"']);
  });

  test("a text field given 0777, 123, 1.50, yes or 0x1F unquoted keeps the text as written", () => {
    const config = load(`
proxy_api_key: 0777
backends:
  - name: b
    url: http://127.0.0.1:9/v1
    api_key: 123
models:
  m:
    routes:
      - {backend: b, model: 1.50}
      - {backend: b, model: yes, priority: 1}
      - {backend: b, model: 0x1F, priority: 2}
detection:
  error_patterns: [0777, off]
`);
    expect(config.proxyKey).toBe("0777");
    expect(config.backends.get("b")!.apiKey).toBe("123");
    expect(config.aliases.get("m")!.groups.map((g) => g.routes[0]!.model)).toEqual(["1.50", "yes", "0x1F"]);
    expect(config.errorPatterns).toEqual(["0777", "off"]);
  });

  test("a text field given an unquoted date keeps the text as written", () => {
    // YAML 1.1 reads 2023-06-01 as a timestamp; the original (yaml.v3) puts its text into a string field.
    const config = load(`
backends:
  - name: anthropic
    url: http://127.0.0.1:9/v1
    headers:
      anthropic-version: 2023-06-01
models:
  dated:
    routes:
      - {backend: anthropic, model: 2024-05-13}
`);
    expect(config.backends.get("anthropic")!.headers).toEqual([["anthropic-version", "2023-06-01"]]);
    expect(config.aliases.get("dated")!.groups[0]!.routes[0]!.model).toBe("2024-05-13");
  });

  test("alias names are names even when YAML 1.1 would read them as booleans or numbers", () => {
    const config = load(`
backends: [{name: b, url: "http://127.0.0.1:9/v1"}]
models:
  on: {routes: [{backend: b, model: x}]}
  y: {routes: [{backend: b, model: x}]}
  0777: {routes: [{backend: b, model: x}]}
fallback:
  alias_fallback:
    on: [y, 0777]
`);
    expect([...config.aliases.keys()]).toEqual(["on", "y", "0777"]);
    expect(config.aliases.get("on")!.chain).toEqual(["y", "0777"]);
  });

  test("anchors and merge keys work, as in the original", () => {
    const config = load(`
backends:
  - &base {name: a, url: "http://127.0.0.1:9/v1", api_key: sk-shared-0000000000000000}
  - <<: *base
    name: b
`);
    expect(config.backends.get("b")).toMatchObject({ url: "http://127.0.0.1:9/v1", apiKey: "sk-shared-0000000000000000" });
  });
});

describe("detection.error_codes", () => {
  test('numbers and strings both work: [429, "5xx"]', () => {
    expect(statusesOf(load(`detection:\n  error_codes: [429, "5xx"]\n`).errorStatus)).toEqual([429, ...range(500, 599)]);
  });

  test("wildcards match per digit, in either case: 4xx, 50X", () => {
    expect(statusesOf(load(`detection:\n  error_codes: ["4xx", "50X"]\n`).errorStatus)).toEqual([...range(400, 499), ...range(500, 509)]);
  });

  test("an empty list means no status is a failure", () => {
    expect(statusesOf(load(`detection:\n  error_codes: []\n`).errorStatus)).toEqual([]);
  });

  test("a scalar instead of a list is refused", () => {
    const { config, problems } = parseConfig(`detection:\n  error_codes: 429\n`, "test.yaml", {});
    expect(config).toBeUndefined();
    expect(problems.map((p) => `${p.severity}: ${p}`)).toEqual(["error: detection.error_codes: expected a list of status codes, got 429"]);
  });
});

describe("listen", () => {
  test('":8080" is every interface, "127.0.0.1:0" a free port on loopback, "[::1]:9000" IPv6', () => {
    const key = "proxy_api_key: sk-proxy-key-000000000000\n";
    expect(load(`${key}listen: ":8080"\n`).listen).toEqual({ hostname: "0.0.0.0", port: 8080, allInterfaces: true, text: ":8080" });
    expect(load(`listen: "127.0.0.1:0"\n`).listen).toEqual({ hostname: "127.0.0.1", port: 0, allInterfaces: false, text: "127.0.0.1:0" });
    expect(load(`listen: "[::1]:9000"\n`).listen).toEqual({ hostname: "::1", port: 9000, allInterfaces: false, text: "[::1]:9000" });
  });
});
