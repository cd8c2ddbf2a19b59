import { afterAll, describe, expect, test } from "bun:test";
import { rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { runMain, tempDir } from "../helpers/proxy-process.ts";

const dir = tempDir("llm-proxy-check-");
afterAll(() => rmSync(dir, { recursive: true, force: true }));

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
        "warnings.yaml: 0 errors, 5 warnings; 2 models served",
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
});
