import { afterAll, describe, expect, test } from "bun:test";
import { rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { killAllProxies, ProxyProcess, runMain, tempDir } from "../helpers/proxy-process.ts";

const dir = tempDir("llm-proxy-check-");
afterAll(() => rmSync(dir, { recursive: true, force: true }));
afterAll(killAllProxies);

const BACKENDS = `backends:
  - { name: a, url: "http://127.0.0.1:9/v1" }
  - { name: b, url: "http://127.0.0.1:9/v1" }
  - { name: c, url: "http://127.0.0.1:9/v1" }
  - { name: off, url: "http://127.0.0.1:9/v1", enabled: false }
`;

function check(name: string, yaml: string) {
  writeFileSync(join(dir, name), yaml);
  return runMain(["--check", "-config", name], dir);
}

const MISSPELT = `backend:
  - { name: a, url: "http://127.0.0.1:9/v1" }
models:
  m:
    routes:
      - { backend: a, model: x }
`;
const MISSPELT_CAUSE = 'nothing to serve: no backends are defined ("backend:" is an unknown key: did you mean "backends:"?). llm-proxy starts, but answers 503 to every request for a model';

describe("--check, as a real process", () => {
  test("a good config prints each alias's route order: priority groups, weights with shares, fallback aliases", async () => {
    const { code, out, err } = await check(
      "good.yaml",
      `${BACKENDS}models:
  big:
    routes:
      - { backend: a, model: big-a, priority: 1 }
      - { backend: b, model: big-b, priority: 2, weight: 3 }
      - { backend: c, model: big-c, priority: 2, weight: 1 }
  small:
    routes:
      - { backend: a, model: s1, priority: 1 }
      - { backend: b, model: s2, priority: 1 }
  last:
    routes:
      - { backend: c, model: z }
fallback:
  alias_fallback:
    big: [small, last]
    small: [big]
`,
    );
    expect(err).toBe("");
    expect(out).toBe(
      [
        "Routes, in the order they are tried:",
        '"big":',
        "  priority 1: a → big-a",
        "  priority 2: b → big-b (weight 3, first 75%), c → big-c (weight 1, first 25%) (weighted random order)",
        '  then fallback alias "small":',
        "    priority 1: a → s1, b → s2 (random order, equal shares)",
        '  then fallback alias "last":',
        "    priority 0: c → z",
        '"small":',
        "  priority 1: a → s1, b → s2 (random order, equal shares)",
        '  then fallback alias "big":',
        "    priority 1: a → big-a",
        "    priority 2: b → big-b (weight 3, first 75%), c → big-c (weight 1, first 25%) (weighted random order)",
        '  then fallback alias "last":',
        "    priority 0: c → z",
        '"last":',
        "  priority 0: c → z",
        "",
        "good.yaml: 0 errors, 0 warnings; 3 models served",
        "",
      ].join("\n"),
    );
    expect(code).toBe(0);
  });

  const MISTAKES = `${BACKENDS}models:
  "gpt-4o":
    routes:
      - { backend: a, model: x, priority: 1 }
      - { backend: off, model: y, priority: 2 }
  lonely:
    routes:
      - { backend: off, model: z }
fallback:
  cooldown_secnds: 5
  alias_fallback: { "gpt-4o": [ghost] }
`;

  test("mistakes that still start are warnings with their paths and hints, and --check exits 0", async () => {
    const { code, out, err } = await check("warnings.yaml", MISTAKES);
    expect(err).toBe("");
    expect(out).toBe(
      [
        "Routes, in the order they are tried:",
        '"gpt-4o":',
        "  priority 1: a → x",
        '"lonely":',
        "  no usable route: requests get 503",
        "",
        "warning: fallback.cooldown_secnds: unknown key; did you mean cooldown_seconds?",
        'warning: models."gpt-4o".routes[1].backend: backend "off" is disabled; this route is skipped',
        'warning: models.lonely.routes[0].backend: backend "off" is disabled; this route is skipped',
        'warning: fallback.alias_fallback."gpt-4o"[0]: unknown alias "ghost"; skipped',
        "warning: models.lonely: this alias has no usable route (enabled route to an enabled backend), here or in its fallback aliases; requests for it get 503",
        "warnings.yaml: 0 errors, 5 warnings; 1 model served (1 more without a usable route)",
        "",
      ].join("\n"),
    );
    expect(code).toBe(0);
  });

  test("a type error among the same mistakes is an error: every problem is listed, no route order, exit 1", async () => {
    const yaml = MISTAKES.replace("{ backend: a, model: x, priority: 1 }", "{ backend: a, model: x, priority: high }");
    const { code, out, err } = await check("errors.yaml", yaml);
    expect(err).toBe("");
    const lines = out.trimEnd().split("\n");
    expect(lines).toContain('error: models."gpt-4o".routes[0].priority: expected a whole number, got "high"');
    expect(lines).toContain("warning: fallback.cooldown_secnds: unknown key; did you mean cooldown_seconds?");
    expect(lines).toContain('warning: models."gpt-4o".routes[1].backend: backend "off" is disabled; this route is skipped');
    expect(lines).toContain("warning: models.lonely: this alias has no usable route (enabled route to an enabled backend), here or in its fallback aliases; requests for it get 503");
    expect(out).not.toContain("Routes, in the order they are tried");
    expect(lines.at(-1)).toBe("errors.yaml: 1 error, 5 warnings");
    expect(code).toBe(1);
  });

  const TAB_MISTAKE = `${BACKENDS}models:\n  m:\n    routes:\n      - backend: a\n\tmodel: x\n      - { backend: b, model: y }\n`;
  const TAB_ERROR = ["error: syntax.yaml: YAML syntax error at line 10, column 1: Tabs are not allowed as indentation: indent with spaces", "  10 | \tmodel: x", "     | ^"];

  test("a YAML syntax error is one error, with its line and a caret under the column, and exits 1", async () => {
    const { code, out } = await check("syntax.yaml", TAB_MISTAKE);
    expect(out).toBe([...TAB_ERROR, "syntax.yaml: 1 error, 0 warnings", ""].join("\n"));
    expect(code).toBe(1);
  });

  test("start-up prints the same YAML syntax error as --check and does not start", async () => {
    writeFileSync(join(dir, "syntax.yaml"), TAB_MISTAKE);
    const { code, out, err } = await runMain(["-config", "syntax.yaml"], dir);
    expect(out).toBe("");
    expect(err).toBe([...TAB_ERROR, "llm-proxy: not started: the configuration has errors (see above)", ""].join("\n"));
    expect(code).toBe(1);
  });

  test("a misspelt backends: key serves nothing: --check says so, naming the likely cause, and exits 1", async () => {
    const { code, out } = await check("misspelt.yaml", MISSPELT);
    const lines = out.trimEnd().split("\n");
    expect(lines.slice(-5)).toEqual([
      "warning: backend: unknown key; did you mean backends?",
      'warning: models.m.routes[0].backend: unknown backend "a"; this route is skipped',
      "warning: models.m: this alias has no usable route (enabled route to an enabled backend), here or in its fallback aliases; requests for it get 503",
      MISSPELT_CAUSE,
      "misspelt.yaml: 0 errors, 3 warnings; nothing served",
    ]);
    expect(code).toBe(1);
    // docs/operations.md shows this very line.
    expect(await Bun.file(join(import.meta.dir, "..", "..", "docs", "operations.md")).text()).toContain(`\n${MISSPELT_CAUSE}\n`);
  });

  test("an empty file serves nothing: --check says so and exits 1", async () => {
    const { code, out } = await check("empty.yaml", "# nothing yet\n");
    expect(out).toBe(
      [
        "Routes, in the order they are tried: none",
        "",
        "nothing to serve: the file is empty: it defines no backends and no models. llm-proxy starts, but answers 503 to every request for a model",
        "empty.yaml: 0 errors, 0 warnings; nothing served",
        "",
      ].join("\n"),
    );
    expect(code).toBe(1);
  });

  test("routes only to unknown or disabled backends serve nothing: --check names the backends and exits 1", async () => {
    const { code, out } = await check("routes.yaml", `${BACKENDS}models:\n  m:\n    routes:\n      - { backend: ghost, model: x }\n      - { backend: off, model: y }\n`);
    expect(out).toContain(
      'nothing to serve: every route names an unknown, disabled or unusable backend (routes name "ghost", "off"; usable backends: "a", "b", "c"). llm-proxy starts, but answers 503 to every request for a model\n',
    );
    expect(code).toBe(1);
  });

  test("--help says which exit code --check gives for errors, for nothing served and for warnings only", async () => {
    const { code, out } = await runMain(["--help"], dir);
    expect(code).toBe(0);
    expect(out.replace(/\s+/g, " ")).toContain(
      "--check print warnings and errors, then exit 1 if the config has errors (it would not start) or no model has a usable route (it would start but answer 503 to everything); 0 otherwise, warnings included",
    );
  });
});

describe("a configuration that serves nothing, at start-up", () => {
  test("still starts, as the original does, and logs one error line naming the cause; requests get 503", async () => {
    await using proxy = await ProxyProcess.start(`listen: "127.0.0.1:0"\n${MISSPELT}`);
    await proxy.waitForOutput("nothing to serve", "the nothing-to-serve line");
    const errors = proxy.stdout.split("\n").filter((l) => l.includes("[ERROR]"));
    expect(errors).toHaveLength(1);
    expect(errors[0]).toEndWith(`[ERROR] ${MISSPELT_CAUSE}`);
    const res = await fetch(`${proxy.url}/v1/chat/completions`, { method: "POST", body: JSON.stringify({ model: "m", messages: [] }) });
    expect(res.status).toBe(503);
  });
});
