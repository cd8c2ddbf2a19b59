import { Problem, renderPath } from "./problems.ts";
import { RawScalar } from "./yaml.ts";

const NUMBER = /^-?(?:\d+(?:\.\d*)?|\.\d+)$/;
const BOOLEAN: Record<string, boolean> = { true: true, false: false };

const REFERENCE = /\$\$\{|\$\{([^}]*)\}/g;
const NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

export interface Interpolated {
  value: unknown;
  problems: Problem[];
  /** Paths (rendered) of values that referenced at least one variable. */
  fromEnv: Set<string>;
}

/**
 * Replaces `${NAME}` in every string value with the environment variable NAME.
 * Runs after YAML parsing, so a variable's value is never itself parsed as YAML,
 * and not recursively: `${A}` whose value contains `${B}` stays as written.
 * `$${` is a literal `${`.
 */
export function interpolate(root: unknown, env: Record<string, string | undefined>): Interpolated {
  const problems: Problem[] = [];
  const fromEnv = new Set<string>();

  const replace = (input: string, path: (string | number)[]): string | RawScalar => {
    if (!input.includes("${")) return input;
    let used = false;
    const out = input.replace(REFERENCE, (match, name: string | undefined) => {
      if (match === "$${") return "${";
      used = true;
      if (name === undefined || !NAME.test(name)) {
        problems.push(new Problem("error", renderPath(path), `"${match}" is not a valid variable reference; use \${NAME} with letters, digits and _ (write $\${ for a literal \${)`));
        return match;
      }
      const value = env[name];
      if (value === undefined) {
        problems.push(new Problem("error", renderPath(path), `environment variable ${name} is not set; set it, or write $\${${name}} for a literal \${${name}}`));
        return match;
      }
      return value;
    });
    if (!used) return out;
    fromEnv.add(renderPath(path));
    // `cooldown_seconds: ${COOLDOWN}` must work: a value from the environment that
    // looks like a number or boolean may fill such a field, and stays text elsewhere.
    const trimmed = out.trim();
    if (NUMBER.test(trimmed)) return new RawScalar(Number(trimmed), out);
    if (trimmed in BOOLEAN) return new RawScalar(BOOLEAN[trimmed]!, out);
    return out;
  };

  const walk = (node: unknown, path: (string | number)[]): unknown => {
    if (typeof node === "string") return replace(node, path);
    if (Array.isArray(node)) return node.map((item, i) => walk(item, [...path, i]));
    if (node !== null && typeof node === "object" && Object.getPrototypeOf(node) === Object.prototype) {
      const out: Record<string, unknown> = {};
      for (const [key, value] of Object.entries(node)) out[key] = walk(value, [...path, key]);
      return out;
    }
    return node;
  };

  return { value: walk(root, []), problems, fromEnv };
}
