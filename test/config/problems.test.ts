import { describe, expect, test } from "bun:test";
import { parseConfig } from "../../src/config/load.ts";

/** Every problem as `severity: path: message`, sorted, and whether a config came out. */
function check(yaml: string, env: Record<string, string | undefined> = {}) {
  const { config, problems } = parseConfig(yaml, "test.yaml", env);
  return { loaded: config !== undefined, problems: problems.map((p) => `${p.severity}: ${p}`).sort() };
}

const BACKEND = `
backends:
  - name: openai
    url: http://127.0.0.1:9/v1
`;

describe("warnings: the original starts with these, and so do we", () => {
  test("an unknown key is a warning that suggests the nearest valid key", () => {
    expect(check(`fallback:\n  cooldown_secnds: 30\n`)).toEqual({
      loaded: true,
      problems: ["warning: fallback.cooldown_secnds: unknown key; did you mean cooldown_seconds?"],
    });
  });

  test("an unknown key with no near valid key is a warning that it is ignored", () => {
    expect(check(`colour: blue\n`)).toEqual({ loaded: true, problems: ["warning: colour: unknown key, ignored"] });
  });

  test("unknown keys are found inside lists and aliases too", () => {
    const yaml = `${BACKEND}    api_kye: k\nmodels:\n  "gpt-4o":\n    routes:\n      - {backend: openai, model: gpt-4o, prority: 1}\n`;
    expect(check(yaml).problems).toEqual([
      "warning: backends[0].api_kye: unknown key; did you mean api_key?",
      'warning: models."gpt-4o".routes[0].prority: unknown key; did you mean priority?',
    ]);
  });

  test("a route to an unknown backend is a warning with its path, and the route is skipped", () => {
    const { config, problems } = parseConfig(
      `${BACKEND}models:\n  "gpt-4o":\n    routes:\n      - {backend: openai, model: gpt-4o}\n      - {backend: openai-2, model: gpt-4o}\n`,
      "test.yaml",
      {},
    );
    expect(problems.map((p) => [p.severity, p.path, p.message])).toEqual([
      ["warning", 'models."gpt-4o".routes[1].backend', 'unknown backend "openai-2"; this route is skipped (backends: "openai")'],
    ]);
    expect(config!.aliases.get("gpt-4o")!.groups.flatMap((g) => g.routes.map((r) => r.backend.name))).toEqual(["openai"]);
  });

  test("an alias_fallback to an unknown alias is a warning, and from an unknown alias too", () => {
    const yaml = `${BACKEND}models:\n  a: {routes: [{backend: openai, model: x}]}\nfallback:\n  alias_fallback:\n    a: [ghost]\n    phantom: [a]\n`;
    expect(check(yaml)).toEqual({
      loaded: true,
      problems: [
        'warning: fallback.alias_fallback.a[0]: unknown alias "ghost"; skipped',
        'warning: fallback.alias_fallback.phantom: unknown alias "phantom"; its fallbacks are never used',
      ],
    });
  });

  test('listen ":8080" with no proxy_api_key is a warning; with a key it is not', () => {
    expect(check(`listen: ":8080"\n`)).toEqual({
      loaded: true,
      problems: ['warning: listen: ":8080" listens on every network interface and no proxy_api_key is set: anyone who can reach this machine can use your provider keys'],
    });
    expect(check(`listen: "0.0.0.0:8080"\n`).problems).toHaveLength(1);
    expect(check(`listen: ":8080"\nproxy_api_key: sk-proxy-000000000000\n`)).toEqual({ loaded: true, problems: [] });
  });

  test("max_cooldown_seconds below cooldown_seconds is a warning that cooldown_seconds wins, and it does", () => {
    const { config, problems } = parseConfig(`fallback: { cooldown_seconds: 60, max_cooldown_seconds: 30 }\n`, "test.yaml", {});
    expect(problems.map((p) => `${p.severity}: ${p}`)).toEqual([
      "warning: fallback.max_cooldown_seconds: 30 is less than cooldown_seconds (60), so cooldown_seconds wins: the longest cooldown is 60 s (a Retry-After is capped at it, a 401, 402 or 403 cools a pair for it, and backoff cannot grow past it)",
    ]);
    expect(config!.maxCooldownMs).toBe(60_000);
  });

  test("cooldown_seconds above the default maximum, with max_cooldown_seconds not written, is no warning", () => {
    const { config, problems } = parseConfig(`fallback: { cooldown_seconds: 7200 }\n`, "test.yaml", {});
    expect(problems).toEqual([]);
    expect(config!.maxCooldownMs).toBe(7_200_000);
    expect(parseConfig(`fallback: { cooldown_seconds: 0, max_cooldown_seconds: 30 }\n`, "test.yaml", {}).problems).toEqual([]);
  });

  test("a backend url without a scheme is a warning that every route to it is skipped, and each such route says why", () => {
    const { config, problems } = parseConfig(`backends:\n  - { name: openai, url: "api.openai.com/v1" }\nmodels:\n  m: { routes: [{ backend: openai, model: x }] }\n`, "test.yaml", {});
    expect(problems.map((p) => `${p.severity}: ${p}`)).toEqual([
      'warning: backends[0].url: "api.openai.com/v1" is not an http:// or https:// URL (did you mean "https://api.openai.com/v1"?); backend "openai" is unusable: every route to it is skipped',
      'warning: models.m.routes[0].backend: backend "openai" is unusable (its url "api.openai.com/v1" is not an http:// or https:// URL); this route is skipped',
      "warning: models.m: this alias has no usable route (enabled route to an enabled backend), here or in its fallback aliases; requests for it get 503",
    ]);
    expect([...config!.unusableBackends.keys()]).toEqual(["openai"]);
    expect(config!.backends.size).toBe(0);
  });

  test("an invalid error code pattern is a warning that it never matches", () => {
    expect(check(`detection:\n  error_codes: ["4xx", "42", "abc"]\n`)).toEqual({
      loaded: true,
      problems: [
        'warning: detection.error_codes[1]: "42" is not a status code or pattern like "429" or "5xx"; it never matches',
        'warning: detection.error_codes[2]: "abc" is not a status code or pattern like "429" or "5xx"; it never matches',
      ],
    });
  });

  test("an unknown logging level is a warning, and info is used", () => {
    const { config, problems } = parseConfig(`logging:\n  level: verbose\n`, "test.yaml", {});
    expect(problems.map(String)).toEqual(['logging.level: "verbose" is not a level; use debug, info, warn or error (using info)']);
    expect(config!.logging.level).toBe("info");
  });

  test("several warnings are all reported at once", () => {
    const yaml = `
listen: ":8080"
${BACKEND}
models:
  "gpt-4o":
    routes:
      - {backend: openai, model: gpt-4o}
      - {backend: openai-2, model: gpt-4o}
fallback:
  cooldown_secnds: 30
  alias_fallback:
    "gpt-4o": ["google/gemini-3-pro-preview"]
detection:
  error_codes: [429, "5x"]
`;
    expect(check(yaml)).toEqual({
      loaded: true,
      problems: [
        'warning: detection.error_codes[1]: "5x" is not a status code or pattern like "429" or "5xx"; it never matches',
        'warning: fallback.alias_fallback."gpt-4o"[0]: unknown alias "google/gemini-3-pro-preview"; skipped',
        "warning: fallback.cooldown_secnds: unknown key; did you mean cooldown_seconds?",
        'warning: listen: ":8080" listens on every network interface and no proxy_api_key is set: anyone who can reach this machine can use your provider keys',
        'warning: models."gpt-4o".routes[1].backend: unknown backend "openai-2"; this route is skipped (backends: "openai")',
      ],
    });
  });
});

describe("errors: the configuration is refused", () => {
  test('priority: "high" is an error, as the original refuses it', () => {
    expect(check(`${BACKEND}models:\n  "gpt-4o":\n    routes:\n      - {backend: openai, model: gpt-4o, priority: "high"}\n`)).toEqual({
      loaded: false,
      problems: ['error: models."gpt-4o".routes[0].priority: expected a whole number, got "high"'],
    });
  });

  test("a bad auth value is an error naming the allowed values", () => {
    expect(check(`${BACKEND}    auth: basic\n`)).toEqual({
      loaded: false,
      problems: ['error: backends[0].auth: expected one of bearer, x-api-key, none; got "basic"'],
    });
  });

  test("weight 0 is an error", () => {
    expect(check(`${BACKEND}models:\n  m:\n    routes:\n      - {backend: openai, model: x, weight: 0}\n`)).toEqual({
      loaded: false,
      problems: ["error: models.m.routes[0].weight: must be greater than 0"],
    });
  });

  test("an invalid header name is an error, and so is a line break in a header value", () => {
    expect(check(`${BACKEND}    headers:\n      "bad header": v\n      X-Ok: "a\\nb"\n`)).toEqual({
      loaded: false,
      problems: ['error: backends[0].headers."X-Ok": a header value cannot contain line breaks', 'error: backends[0].headers."bad header": "bad header" is not a valid header name'],
    });
  });

  test("a listen value that is not host:port is an error", () => {
    expect(check(`listen: "8080"\n`)).toEqual({
      loaded: false,
      problems: ['error: listen: "8080" is not host:port; write ":8080" for every interface or "127.0.0.1:8080" for this machine only'],
    });
  });

  test("a YAML syntax error is an error naming the file and the line", () => {
    const { config, problems } = parseConfig(`listen: "127.0.0.1:8080"\nbackends: [\n`, "conf/proxy.yaml", {});
    expect(config).toBeUndefined();
    expect(problems).toHaveLength(1);
    expect(problems[0]!.severity).toBe("error");
    expect(problems[0]!.path).toBe("");
    expect(problems[0]!.message).toStartWith("conf/proxy.yaml: YAML syntax error at line 2, column 11: ");
  });

  test("a file that is not a mapping is an error", () => {
    expect(check(`just a sentence\n`)).toEqual({ loaded: false, problems: ['error: expected a mapping of settings, got "just a sentence"'] });
  });

  test("several errors are all reported at once, with the warnings found beside them", () => {
    const yaml = `
backends:
  - name: openai
    url: http://127.0.0.1:9/v1
    auth: basic
    headers:
      "bad header": v
models:
  "gpt-4o":
    routes:
      - {backend: openai, model: gpt-4o, priority: "high"}
      - {backend: openai, model: gpt-4o-mini, weight: 0}
fallback:
  cooldown_secnds: 30
`;
    expect(check(yaml)).toEqual({
      loaded: false,
      problems: [
        'error: backends[0].auth: expected one of bearer, x-api-key, none; got "basic"',
        'error: backends[0].headers."bad header": "bad header" is not a valid header name',
        'error: models."gpt-4o".routes[0].priority: expected a whole number, got "high"',
        'error: models."gpt-4o".routes[1].weight: must be greater than 0',
        "warning: fallback.cooldown_secnds: unknown key; did you mean cooldown_seconds?",
      ],
    });
  });

  test("the README's example problem list comes out as printed there: a type error and the warnings of the same file", () => {
    // README: "A configuration with an error does not start: each problem is printed with the path".
    const yaml = `
backends:
  - name: openai
    url: http://127.0.0.1:9/v1
models:
  "gpt-4o":
    routes:
      - {backend: openai, model: gpt-4o, priority: "high"}
      - {backend: openai-2, model: gpt-4o}
fallback:
  cooldown_secnds: 30
`;
    expect(check(yaml)).toEqual({
      loaded: false,
      problems: [
        'error: models."gpt-4o".routes[0].priority: expected a whole number, got "high"',
        "warning: fallback.cooldown_secnds: unknown key; did you mean cooldown_seconds?",
        'warning: models."gpt-4o".routes[1].backend: unknown backend "openai-2"; this route is skipped (backends: "openai")',
      ],
    });
  });

  test("every error and warning of one file is reported at once: type errors, listen, unknown backend, unknown alias, error codes", () => {
    const yaml = `
listen: ":8080"
backends:
  - {name: openai, url: "http://127.0.0.1:9/v1"}
models:
  "gpt-4o":
    routes:
      - {backend: openai, model: gpt-4o, priority: "high"}
      - {backend: openai-2, model: gpt-4o}
      - {backend: openai, model: gpt-4o-mini, weight: 0}
fallback:
  alias_fallback:
    "gpt-4o": [ghost]
detection:
  error_codes: ["42"]
`;
    expect(check(yaml)).toEqual({
      loaded: false,
      problems: [
        'error: models."gpt-4o".routes[0].priority: expected a whole number, got "high"',
        'error: models."gpt-4o".routes[2].weight: must be greater than 0',
        'warning: detection.error_codes[0]: "42" is not a status code or pattern like "429" or "5xx"; it never matches',
        'warning: fallback.alias_fallback."gpt-4o"[0]: unknown alias "ghost"; skipped',
        'warning: listen: ":8080" listens on every network interface and no proxy_api_key is set: anyone who can reach this machine can use your provider keys',
        'warning: models."gpt-4o".routes[1].backend: unknown backend "openai-2"; this route is skipped (backends: "openai")',
      ],
    });
  });

  test("a bad listen is reported together with a type error elsewhere", () => {
    expect(check(`listen: "8080"\nfallback:\n  max_retries: "three"\n`)).toEqual({
      loaded: false,
      problems: [
        'error: fallback.max_retries: expected a whole number, got "three"',
        'error: listen: "8080" is not host:port; write ":8080" for every interface or "127.0.0.1:8080" for this machine only',
      ],
    });
  });
});
