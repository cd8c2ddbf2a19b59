import { describe, expect, test } from "bun:test";
import { join } from "node:path";
import { parseConfig } from "../../src/config/load.ts";

/** The original's example config, which loads cleanly: each test puts one mistake into it. */
const EXAMPLE = await Bun.file(join(import.meta.dir, "..", "fixtures", "original-config.example.yaml")).text();

/** The example with line `n` (1-based) edited. */
function withLine(n: number, edit: (line: string) => string): string {
  const lines = EXAMPLE.split("\n");
  lines[n - 1] = edit(lines[n - 1]!);
  return lines.join("\n");
}

const errorsOf = (yaml: string) => {
  const { config, problems } = parseConfig(yaml, "config.yaml", {});
  expect(config).toBeUndefined();
  for (const p of problems) expect(p.severity).toBe("error");
  return problems.map(String);
};

describe("a YAML syntax error", () => {
  test("is one error per mistake, showing the line and a caret under the column: a tab used for indentation", () => {
    // yaml reports this one mistake five times, down to line 9.
    expect(errorsOf(withLine(6, (l) => l.replace(/^ {4}/, "\t")))).toEqual([
      [
        "config.yaml: YAML syntax error at line 6, column 1: Tabs are not allowed as indentation: indent with spaces",
        '  6 | \turl: "https://api.primary-provider.com/v1"',
        "    | ^",
      ].join("\n"),
    ]);
  });

  test("the README's example is what a tab in the original's example file gives", async () => {
    const readme = await Bun.file(join(import.meta.dir, "..", "..", "README.md")).text();
    const [error] = errorsOf(withLine(6, (l) => l.replace(/^ {4}/, "\t")));
    expect(readme).toContain(`\`\`\`\nerror: ${error}\n\`\`\``);
  });

  test("a tab after spaces is named as a tab, and the caret, padded with the same tab, stands under it", () => {
    expect(errorsOf(withLine(18, (l) => l.replace(/^ {8}/, "  \t")))).toEqual([
      [
        "config.yaml: YAML syntax error at line 18, column 3: Tabs are not allowed as indentation: indent with spaces",
        '  18 |   \tmodel: "claude-sonnet-4"',
        "     |   ^",
      ].join("\n"),
    ]);
  });

  test("a missing colon is one error at the key that lacks it", () => {
    expect(errorsOf(withLine(6, (l) => l.replace("url:", "url")))).toEqual([
      [
        'config.yaml: YAML syntax error at line 6, column 5: Implicit keys need to be on a single line: is a ":" (colon and space) missing after the key?',
        '  6 |     url "https://api.primary-provider.com/v1"',
        "    |     ^",
      ].join("\n"),
    ]);
    // A top-level key without its colon confuses yaml for the whole section: still one error.
    expect(errorsOf(withLine(4, () => "backends"))).toEqual([
      [
        'config.yaml: YAML syntax error at line 4, column 1: Implicit keys need to be on a single line: is a ":" (colon and space) missing after the key?',
        "  4 | backends",
        "    | ^",
      ].join("\n"),
    ]);
    // An alias name without its colon: yaml stumbles on the next line; the error points at the name.
    expect(errorsOf(withLine(15, (l) => l.replace(":", "")))).toEqual([
      [
        'config.yaml: YAML syntax error at line 15, column 3: All mapping items must start at the same column: is a ":" missing after the key on this line?',
        '  15 |   "anthropic/claude-sonnet-4"',
        "     |   ^",
      ].join("\n"),
    ]);
  });

  test("an unclosed quote is reported where it opens, not where yaml gave up, and a key on that line is starred out", () => {
    // yaml gives up at line 57, the end of the file.
    expect(errorsOf(withLine(30, (l) => l.replace("1", "'1")))).toEqual([
      ["config.yaml: YAML syntax error at line 30, column 19: Missing closing 'quote: the quote opened here is not closed", "  30 |         priority: '1", "     |                   ^"].join("\n"),
    ]);
    expect(errorsOf(withLine(7, (l) => l.replace(/"$/, "")))).toEqual([
      ['config.yaml: YAML syntax error at line 7, column 14: Missing closing "quote: the quote opened here is not closed', '  7 |     api_key: "sk-***********', "    |              ^"].join("\n"),
    ]);
  });

  test("an unclosed bracket is reported at the bracket", () => {
    expect(errorsOf(withLine(40, (l) => l.replace("]", "")))).toEqual([
      [
        "config.yaml: YAML syntax error at line 40, column 16: Flow sequence in block collection must be sufficiently indented and end with a ]: the [ opened here is not closed",
        '  40 |   error_codes: ["4xx", "5xx"',
        "     |                ^",
      ].join("\n"),
    ]);
    const flowMap = EXAMPLE.replace("fallback:\n  cooldown_seconds: 300", "fallback: { cooldown_seconds: 300");
    expect(errorsOf(flowMap)).toEqual([
      [
        "config.yaml: YAML syntax error at line 32, column 11: Flow map in block collection must be sufficiently indented and end with a }: the { opened here is not closed",
        "  32 | fallback: { cooldown_seconds: 300",
        "     |           ^",
      ].join("\n"),
    ]);
  });

  test("bad indentation is one error at the misplaced key", () => {
    expect(errorsOf(withLine(19, (l) => l.slice(2)))).toEqual([
      ["config.yaml: YAML syntax error at line 19, column 7: All mapping items must start at the same column", "  19 |       priority: 1", "     |       ^"].join("\n"),
    ]);
    // yaml reports this at the value on the line above; the mistake is the line below it.
    expect(errorsOf(withLine(34, (l) => ` ${l}`))).toEqual([
      [
        "config.yaml: YAML syntax error at line 34, column 4: Nested mappings are not allowed in compact mappings: this line is indented more than the key above it, which already has a value",
        "  34 |    max_retries: 3",
        "     |    ^",
      ].join("\n"),
    ]);
    expect(errorsOf(withLine(14, (l) => ` ${l}`))).toEqual([
      ["config.yaml: YAML syntax error at line 14, column 2: All mapping items must start at the same column", "  14 |  models:", "     |  ^"].join("\n"),
    ]);
  });

  test("two mistakes in different sections are two errors, in file order", () => {
    const yaml = withLine(40, (l) => l.replace("]", "")).replace('url: "https://api.primary-provider.com/v1"', 'url "https://api.primary-provider.com/v1"');
    expect(errorsOf(yaml).map((e) => e.split("\n")[0])).toEqual([
      'config.yaml: YAML syntax error at line 6, column 5: Implicit keys need to be on a single line: is a ":" (colon and space) missing after the key?',
      "config.yaml: YAML syntax error at line 40, column 16: Flow sequence in block collection must be sufficiently indented and end with a ]: the [ opened here is not closed",
    ]);
  });

  test("a very long line is shown around the column, and the caret still stands under it", () => {
    const long = `models: {a: 1, ${Array.from({ length: 40 }, (_, i) => `k${i}: ${i}`).join(", ")}, "open: x}\n`;
    const [error] = errorsOf(long);
    const [, shown, caret] = error!.split("\n");
    expect(shown!.length).toBeLessThan(120);
    expect(shown![caret!.indexOf("^")]).toBe('"');
  });

  test("CRLF line ends do not end up in the shown line", () => {
    const [error] = errorsOf("listen: \"127.0.0.1:8080\"\r\nbackends: [\r\n");
    expect(error).toBe(
      "config.yaml: YAML syntax error at line 2, column 11: Flow sequence in block collection must be sufficiently indented and end with a ]: the [ opened here is not closed\n  2 | backends: [\n    |           ^",
    );
  });
});
