import { describe, expect, test } from "bun:test";
import { interpolate } from "../../src/config/interpolate.ts";
import { parseConfig } from "../../src/config/load.ts";
import type { Config } from "../../src/config/types.ts";

type Env = Record<string, string | undefined>;

function load(yaml: string, env: Env): Config {
  const { config, problems } = parseConfig(yaml, "test.yaml", env);
  if (!config) throw new Error(`unexpected errors:\n${problems.map(String).join("\n")}`);
  return config;
}

const problemsOf = (yaml: string, env: Env) => parseConfig(yaml, "test.yaml", env).problems.map((p) => `${p.severity}: ${p}`);

/** One backend whose api_key (and optionally url) is the given YAML value. */
const backend = (apiKey: string, url = "http://127.0.0.1:9/v1") => `backends:\n  - name: b\n    url: ${url}\n    api_key: ${apiKey}\n`;
const keyOf = (config: Config) => config.backends.get("b")!.apiKey;

describe("${NAME} in values", () => {
  test("a set variable replaces the reference, quoted or not", () => {
    expect(keyOf(load(backend("${KEY}"), { KEY: "sk-from-env-0000000000" }))).toBe("sk-from-env-0000000000");
    expect(keyOf(load(backend('"${KEY}"'), { KEY: "sk-from-env-0000000000" }))).toBe("sk-from-env-0000000000");
  });

  test("several references and surrounding text are all kept in place", () => {
    const config = load(backend("k", "http://${HOST}:${PORT}/v1"), { HOST: "127.0.0.1", PORT: "4321" });
    expect(config.backends.get("b")!.url).toBe("http://127.0.0.1:4321/v1");
  });

  test("works in nested values: routes, alias_fallback lists, headers, logging", () => {
    const env = { MODEL: "gpt-4o-2024", FB: "other", TOKEN: "t0ken-value", DIR: "/var/log/proxy" };
    const config = load(
      `${backend("k")}    headers:\n      X-Token: \${TOKEN}\nmodels:\n  m: {routes: [{backend: b, model: "\${MODEL}"}]}\n  other: {routes: [{backend: b, model: x}]}\nfallback:\n  alias_fallback:\n    m: ["\${FB}"]\nlogging:\n  general_file: \${DIR}/proxy.log\n`,
      env,
    );
    expect(config.aliases.get("m")!.groups[0]!.routes[0]!.model).toBe("gpt-4o-2024");
    expect(config.aliases.get("m")!.chain).toEqual(["other"]);
    expect(config.backends.get("b")!.headers).toEqual([["x-token", "t0ken-value"]]);
    expect(config.logging.generalFile).toBe("/var/log/proxy/proxy.log");
  });

  test("an unset variable is an error naming the variable and the path", () => {
    expect(problemsOf(backend("${MISSING_KEY}"), {})).toEqual([
      "error: backends[0].api_key: environment variable MISSING_KEY is not set; set it, or write $${MISSING_KEY} for a literal ${MISSING_KEY}",
    ]);
    expect(parseConfig(backend("${MISSING_KEY}"), "test.yaml", {}).config).toBeUndefined();
  });

  test("every unset variable is reported at once", () => {
    const problems = problemsOf(`proxy_api_key: \${A_UNSET}\n${backend("${B_UNSET}", "${C_UNSET}")}`, {});
    expect(problems.sort()).toEqual([
      "error: backends[0].api_key: environment variable B_UNSET is not set; set it, or write $${B_UNSET} for a literal ${B_UNSET}",
      "error: backends[0].url: environment variable C_UNSET is not set; set it, or write $${C_UNSET} for a literal ${C_UNSET}",
      "error: proxy_api_key: environment variable A_UNSET is not set; set it, or write $${A_UNSET} for a literal ${A_UNSET}",
    ]);
  });

  test("a variable set to the empty string is allowed in an ordinary value", () => {
    const { config, problems } = parseConfig(backend("${EMPTY}"), "test.yaml", { EMPTY: "" });
    expect(problems).toEqual([]);
    expect(keyOf(config!)).toBe("");
  });

  test("proxy_api_key left empty by a variable is an error, so the proxy never runs open by accident", () => {
    for (const value of ["", "   "]) {
      expect(problemsOf("proxy_api_key: ${PROXY_KEY}\n", { PROXY_KEY: value })).toEqual([
        "error: proxy_api_key: is empty after substituting environment variables; set the variable, or remove proxy_api_key to run without a key",
      ]);
    }
  });

  test("proxy_api_key written empty, without a variable, means no key, as in the original", () => {
    const config = load('proxy_api_key: ""\n', {});
    expect(config.proxyKey).toBe("");
  });

  test("$${ is a literal ${, whether or not the variable is set", () => {
    expect(keyOf(load(backend('"$${LITERAL}"'), {}))).toBe("${LITERAL}");
    expect(keyOf(load(backend('"$${LITERAL}"'), { LITERAL: "expanded" }))).toBe("${LITERAL}");
    expect(keyOf(load(backend('"a$${X}b${Y}"'), { X: "no", Y: "yes" }))).toBe("a${X}byes");
  });

  test("a variable's value is not expanded again: ${X} inside it stays literal", () => {
    const { config, problems } = parseConfig(backend("${OUTER}"), "test.yaml", { OUTER: "pre-${INNER}-post" });
    expect(problems).toEqual([]);
    expect(keyOf(config!)).toBe("pre-${INNER}-post");
    expect(keyOf(load(backend("${OUTER}"), { OUTER: "${INNER}", INNER: "expanded" }))).toBe("${INNER}");
    expect(keyOf(load(backend('"${DOLLAR}{INNER}"'), { DOLLAR: "$", INNER: "expanded" }))).toBe("${INNER}");
  });

  test("interpolation happens after YAML parsing: a value with ': ', '#' or a newline is not parsed as YAML", () => {
    const tricky = 'a: b # not a comment\nlisten: "0.0.0.0:1"\n- [x, y]';
    const config = load(`proxy_api_key: \${TRICKY}\n${backend("${TRICKY}")}`, { TRICKY: tricky });
    expect(keyOf(config)).toBe(tricky);
    expect(config.proxyKey).toBe(tricky);
    expect(config.listen.text).toBe("127.0.0.1:8080");
  });

  test("a reference that is not a variable name is an error with a hint", () => {
    expect(problemsOf(backend('"${1ST}"'), { "1ST": "x" })).toEqual([
      'error: backends[0].api_key: "${1ST}" is not a valid variable reference; use ${NAME} with letters, digits and _ (write $${ for a literal ${)',
    ]);
    expect(problemsOf(backend('"${}"'), {})).toHaveLength(1);
  });

  test("a $ not followed by { is left alone", () => {
    expect(keyOf(load(backend('"pa$$word$NAME{x}"'), { NAME: "no" }))).toBe("pa$$word$NAME{x}");
  });

  test("the process environment is used when no environment is given", () => {
    const name = `LLM_PROXY_TEST_${process.pid}_KEY`;
    process.env[name] = "sk-process-env-0000000000";
    try {
      const { config } = parseConfig(backend(`\${${name}}`), "test.yaml");
      expect(keyOf(config!)).toBe("sk-process-env-0000000000");
    } finally {
      delete process.env[name];
    }
  });
});

describe("interpolate()", () => {
  test("walks mappings and lists, leaves non-text values alone, and records which paths used a variable", () => {
    const input = { a: "${X}", list: ["plain", "${Y}!"], n: 5, flag: true, none: null, "odd key": { deep: "${X}" } };
    const out = interpolate(input, { X: "x-value", Y: "y" });
    expect(out.problems).toEqual([]);
    expect(out.value).toEqual({ a: "x-value", list: ["plain", "y!"], n: 5, flag: true, none: null, "odd key": { deep: "x-value" } });
    expect([...out.fromEnv].sort()).toEqual(['"odd key".deep', "a", "list[1]"]);
  });

  test("does not modify its input", () => {
    const input = { a: "${X}" };
    interpolate(input, { X: "changed" });
    expect(input).toEqual({ a: "${X}" });
  });
});
