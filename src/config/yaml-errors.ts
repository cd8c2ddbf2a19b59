import type { YAMLError } from "yaml";

/**
 * YAML syntax errors as a person can act on them: one per mistake, at the place
 * the mistake is, with that line shown and a caret under the column.
 *
 * The `yaml` package reports one mistake several times (a tab used for indentation
 * gives four or five errors down the rest of its section), and often not where the
 * mistake is: an unclosed quote or bracket where the parser gave up, an
 * over-indented line at the end of the line above it. So each error is first moved
 * to its likely cause, then only one is kept per top-level section (the lines from
 * one unindented key to the next): a mistake rarely confuses the parser beyond its
 * own section, and two mistakes in different sections are both reported.
 */

interface Spot {
  /** 0-based line and column (in characters). */
  line: number;
  col: number;
}

interface Mistake extends Spot {
  message: string;
  /** Unclosed quotes and brackets swallow what follows: they are the cause of the rest of their section. */
  rootCause: boolean;
}

const leading = (line: string) => line.length - line.trimStart().length;
const isBlank = (line: string) => line.trim() === "" || line.trimStart().startsWith("#");

function spotOf(lines: readonly string[], offset: number): Spot {
  let rest = offset;
  for (let line = 0; line < lines.length; line++) {
    // Every line but the last ended with "\n" (a "\r" before it stays in the line).
    if (rest <= lines[line]!.length) return { line, col: rest };
    rest -= lines[line]!.length + 1;
  }
  return { line: Math.max(0, lines.length - 1), col: 0 };
}

/** The nearest spot at or before `from` where `quote` opens and is not closed on its line. */
function openQuote(lines: readonly string[], from: Spot, quote: string): Spot | undefined {
  for (let line = from.line; line >= 0; line--) {
    const text = lines[line]!;
    const count = text.split(quote).length - 1;
    if (count % 2 === 1) return { line, col: text.lastIndexOf(quote) };
  }
  return undefined;
}

/** The nearest `[` or `{` before `from` that is not closed after it. */
function openBracket(lines: readonly string[], from: Spot, open: string, close: string): Spot | undefined {
  let depth = 0;
  for (let line = from.line; line >= 0; line--) {
    const text = lines[line]!;
    const end = line === from.line ? Math.min(from.col, text.length) : text.length;
    for (let col = end - 1; col >= 0; col--) {
      if (text[col] === close) depth++;
      else if (text[col] === open) {
        if (depth === 0) return { line, col };
        depth--;
      }
    }
  }
  return undefined;
}

/** The first character of the next line with content, from `line` on. */
function nextContent(lines: readonly string[], line: number): Spot | undefined {
  for (let l = line; l < lines.length; l++) if (!isBlank(lines[l]!)) return { line: l, col: leading(lines[l]!) };
  return undefined;
}

/** The first character of the line with content before `line`. */
function previousContent(lines: readonly string[], line: number): Spot | undefined {
  for (let l = line - 1; l >= 0; l--) if (!isBlank(lines[l]!)) return { line: l, col: leading(lines[l]!) };
  return undefined;
}

/** A line that is neither `key: value`, `key:`, a list item nor a flow collection: text where a key was expected. */
const isBareText = (line: string) => {
  const t = line.replace(/\s#.*$/, "").trim();
  return t !== "" && !/:(\s|$)/.test(t) && !/^[-[{]/.test(t) && !/^["'].*["']\s*:/.test(t);
};

/** yaml's own text, without the position and excerpt `prettyErrors` appends. */
const yamlText = (e: YAMLError) => e.message.replace(/ at line \d+, column \d+:[\s\S]*$/, "").trim();

function locate(lines: readonly string[], e: YAMLError): Mistake {
  const at = spotOf(lines, e.pos[0]);
  const text = yamlText(e);
  const quote = /^Missing closing (["'])quote/.exec(text)?.[1];
  if (quote) {
    const open = openQuote(lines, at, quote);
    if (open) return { ...open, message: `${text}: the quote opened here is not closed`, rootCause: true };
  }
  const flow = /end with a ([\]}])$/.exec(text)?.[1];
  if (flow) {
    const open = openBracket(lines, at, flow === "]" ? "[" : "{", flow);
    if (open) return { ...open, message: `${text}: the ${flow === "]" ? "[" : "{"} opened here is not closed`, rootCause: true };
  }
  const line = lines[at.line] ?? "";
  const tab = line.slice(0, leading(line)).indexOf("\t");
  if (e.code === "TAB_AS_INDENT" || tab >= 0) {
    return { line: at.line, col: tab >= 0 ? tab : at.col, message: "Tabs are not allowed as indentation: indent with spaces", rootCause: false };
  }
  if (e.code === "BLOCK_AS_IMPLICIT_KEY") {
    // Reported at the value of a `key: value` line: the line after it is indented as if it belonged to that value.
    const next = nextContent(lines, at.line + 1);
    const keyColumn = leading(line) + (/^\s*- /.test(line) ? 2 : 0);
    if (next && next.col > keyColumn) return { ...next, message: `${text}: this line is indented more than the key above it, which already has a value`, rootCause: false };
  }
  if (e.code === "BAD_INDENT") {
    // A key without its colon is a plain text line; the parser only stumbles on the line after it.
    const before = previousContent(lines, at.line);
    if (before && isBareText(lines[before.line]!)) return { ...before, message: `${text}: is a ":" missing after the key on this line?`, rootCause: false };
  }
  if (e.code === "MULTILINE_IMPLICIT_KEY" || text.startsWith("Implicit map keys need to be followed by map values")) {
    return { ...at, message: `${text}: is a ":" (colon and space) missing after the key?`, rootCause: false };
  }
  if (e.code === "BAD_INDENT" || e.code === "MISSING_CHAR") {
    // Reported at the start of the line (or on a blank line before it): point at what is misplaced.
    if (isBlank(line)) {
      const next = nextContent(lines, at.line);
      if (next) return { ...next, message: text, rootCause: false };
    } else if (at.col < leading(line)) return { line: at.line, col: leading(line), message: text, rootCause: false };
  }
  return { ...at, message: text, rootCause: false };
}

/** Line → index of the top-level section it belongs to (a new one at each line starting in column 1). */
function sections(lines: readonly string[]): number[] {
  let section = 0;
  return lines.map((line, i) => (i > 0 && line !== "" && !/^[\s#]/.test(line) ? ++section : section));
}

const CREDENTIAL_KEY = /^(\s*(?:-\s+)?["']?[\w.-]*(?:key|token|secret|password|passwd|authorization|cookie)[\w.-]*["']?\s*:\s*)(.+)$/i;
const stars = (s: string) => s.replace(/[^\s"']/g, "*");

/** The line as shown: a credential's value starred out, keeping every column where it is. */
function masked(line: string): string {
  const key = CREDENTIAL_KEY.exec(line);
  let out = line;
  if (key && !/^["']?\$\{/.test(key[2]!)) out = key[1]! + key[2]!.slice(0, 4) + stars(key[2]!.slice(4));
  return out.replace(/\b(sk-[A-Za-z0-9_-]{2})([A-Za-z0-9_-]+)/g, (_, head: string, tail: string) => head + stars(tail));
}

const WIDTH = 100;

/** `  61 | the line` and a caret under the column; tabs kept in the padding, so the caret lines up. */
function excerpt(lines: readonly string[], spot: Spot): string {
  let text = masked((lines[spot.line] ?? "").replace(/\r$/, ""));
  let col = Math.min(spot.col, text.length);
  if (text.length > WIDTH) {
    const start = Math.max(0, Math.min(col - WIDTH / 2, text.length - WIDTH));
    text = `${start > 0 ? "…" : ""}${text.slice(start, start + WIDTH)}${start + WIDTH < text.length ? "…" : ""}`;
    col = col - start + (start > 0 ? 1 : 0);
  }
  const number = String(spot.line + 1);
  const pad = [...text.slice(0, col)].map((c) => (c === "\t" ? "\t" : " ")).join("");
  return `  ${number} | ${text}\n  ${" ".repeat(number.length)} | ${pad}^`;
}

/** One text per mistake: `YAML syntax error at line 3, column 1: …`, then the line and a caret. */
export function describeYamlErrors(text: string, errors: readonly YAMLError[]): string[] {
  const lines = text.split("\n");
  const sectionOf = sections(lines);
  const kept = new Map<number, Mistake>();
  for (const e of errors) {
    const m = locate(lines, e);
    const section = sectionOf[m.line] ?? 0;
    const first = kept.get(section);
    if (!first || (m.rootCause && !first.rootCause)) kept.set(section, m);
  }
  return [...kept.values()]
    .sort((a, b) => a.line - b.line || a.col - b.col)
    .map((m) => `YAML syntax error at line ${m.line + 1}, column ${m.col + 1}: ${m.message}\n${excerpt(lines, m)}`);
}
