import { describe, expect, test } from "bun:test";
import { parseConfig } from "../../src/config/load.ts";

/** Why the configuration serves nothing (undefined: something is served); the file must load. */
function why(yaml: string): string | undefined {
  const { config, problems } = parseConfig(yaml, "test.yaml", {});
  if (!config) throw new Error(`does not load:\n${problems.join("\n")}`);
  return config.nothingServed;
}

const A = `backends:\n  - { name: a, url: "http://127.0.0.1:9/v1" }\n`;
const M = `models:\n  m: { routes: [{ backend: a, model: x }] }\n`;

describe("a configuration that serves nothing names the likely cause", () => {
  test("nothing is said when one alias has a usable route, even if another has none", () => {
    expect(why(`${A}${M}  lonely: { routes: [{ backend: ghost, model: y }] }\n`)).toBeUndefined();
  });

  test("an empty file, or one of comments only", () => {
    expect(why("")).toBe("the file is empty: it defines no backends and no models");
    expect(why("# nothing\n")).toBe("the file is empty: it defines no backends and no models");
  });

  test("a top-level key close to backends or models, misspelt or capitalised", () => {
    expect(why(`backend:\n  - { name: a, url: "http://127.0.0.1:9/v1" }\n${M}`)).toBe('no backends are defined ("backend:" is an unknown key: did you mean "backends:"?)');
    expect(why(`${A}Models:\n  m: { routes: [{ backend: a, model: x }] }\n`)).toBe('no model aliases are defined ("Models:" is an unknown key: did you mean "models:"?)');
    expect(why("backend: []\nmodel: {}\n")).toBe(
      'no model aliases are defined ("model:" is an unknown key: did you mean "models:"?); no backends are defined ("backend:" is an unknown key: did you mean "backends:"?)',
    );
  });

  test("no backends, or no models, at all", () => {
    expect(why(M)).toBe("no backends are defined (the backends: section is missing or empty)");
    expect(why(`${A}models: {}\n`)).toBe("no model aliases are defined (the models: section is missing or empty)");
  });

  test("every alias disabled", () => {
    expect(why(`${A}models:\n  m: { enabled: false, routes: [{ backend: a, model: x }] }\n`)).toBe('every model alias is disabled (enabled: false): "m"');
  });

  test("no usable backend: a url without a scheme, a disabled one", () => {
    const yaml = `backends:\n  - { name: a, url: "api.example.com/v1" }\n  - { name: b, url: "http://127.0.0.1:9/v1", enabled: false }\n${M}`;
    expect(why(yaml)).toBe('no backend is usable ("a": its url "api.example.com/v1" is not an http:// or https:// URL; "b": disabled (enabled: false))');
  });

  test("every route to an unknown or disabled backend, or every route disabled", () => {
    const b = `${A}  - { name: off, url: "http://127.0.0.1:9/v1", enabled: false }\n`;
    expect(why(`${b}models:\n  m: { routes: [{ backend: ghost, model: x }, { backend: off, model: y }] }\n`)).toBe(
      'every route names an unknown, disabled or unusable backend (routes name "ghost", "off"; usable backends: "a")',
    );
    expect(why(`${A}models:\n  m: { routes: [{ backend: a, model: x, enabled: false }] }\n`)).toBe('no enabled alias has an enabled route (aliases: "m")');
  });
});
