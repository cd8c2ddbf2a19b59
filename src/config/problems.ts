export type Severity = "error" | "warning";

/** One thing wrong with a configuration, with the path of the value it is about. */
export class Problem {
  constructor(
    readonly severity: Severity,
    readonly path: string,
    readonly message: string,
  ) {}

  toString(): string {
    return this.path ? `${this.path}: ${this.message}` : this.message;
  }
}

/** Thrown when a configuration has errors; carries every problem found, warnings included. */
export class ConfigError extends Error {
  constructor(
    readonly problems: readonly Problem[],
    options?: ErrorOptions,
  ) {
    const errors = problems.filter((p) => p.severity === "error");
    super(`configuration has ${errors.length} error${errors.length === 1 ? "" : "s"}:\n${errors.map((p) => `  ${String(p).replaceAll("\n", "\n  ")}`).join("\n")}`, options);
    this.name = "ConfigError";
  }
}

const IDENT = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** Renders a path the way a person would write it: `models."gpt-4o".routes[1].backend`. */
export function renderPath(keys: readonly (string | number)[]): string {
  let out = "";
  for (const key of keys) {
    if (typeof key === "number") out += `[${key}]`;
    else {
      const part = IDENT.test(key) ? key : JSON.stringify(key);
      out += out ? `.${part}` : part;
    }
  }
  return out;
}
