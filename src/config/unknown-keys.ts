import type { GenericSchema } from "valibot";
import { Problem, renderPath } from "./problems.ts";

interface SchemaShape {
  type?: string;
  wrapped?: unknown;
  entries?: Record<string, unknown>;
  item?: unknown;
  value?: unknown;
}

function unwrap(schema: unknown): SchemaShape {
  let s = schema as SchemaShape;
  while ((s.type === "nullish" || s.type === "optional" || s.type === "nullable") && s.wrapped) s = s.wrapped as SchemaShape;
  return s;
}

/** Edit distance, for "did you mean" hints on misspelt keys. */
export function distance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    let diagonal = row[0]!;
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const above = row[j]!;
      row[j] = Math.min(row[j]! + 1, row[j - 1]! + 1, diagonal + (a[i - 1] === b[j - 1] ? 0 : 1));
      diagonal = above;
    }
  }
  return row[b.length]!;
}

export function nearest(word: string, candidates: Iterable<string>): string | undefined {
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const candidate of candidates) {
    const d = distance(word.toLowerCase(), candidate.toLowerCase());
    if (d < bestDistance) [best, bestDistance] = [candidate, d];
  }
  return best !== undefined && bestDistance <= Math.max(2, Math.floor(word.length / 3)) ? best : undefined;
}

/**
 * Keys the schema does not know. The original ignores them; we warn, naming the
 * nearest valid key, because a misspelt key silently keeps its default.
 */
export function findUnknownKeys(schema: GenericSchema, data: unknown): Problem[] {
  const problems: Problem[] = [];
  const walk = (schemaNode: unknown, node: unknown, path: (string | number)[]): void => {
    const s = unwrap(schemaNode);
    if (node === null || typeof node !== "object") return;
    if (s.type === "object" && s.entries && !Array.isArray(node)) {
      for (const [key, value] of Object.entries(node)) {
        const entry = s.entries[key];
        if (entry) walk(entry, value, [...path, key]);
        else {
          const hint = nearest(key, Object.keys(s.entries));
          problems.push(new Problem("warning", renderPath([...path, key]), `unknown key${hint ? `; did you mean ${hint}?` : ", ignored"}`));
        }
      }
    } else if (s.type === "array" && s.item && Array.isArray(node)) {
      node.forEach((item, i) => walk(s.item, item, [...path, i]));
    } else if (s.type === "record" && s.value && !Array.isArray(node)) {
      for (const [key, value] of Object.entries(node)) walk(s.value, value, [...path, key]);
    }
  };
  walk(schema, data, []);
  return problems;
}

/**
 * Every key path the schema knows, as the README writes them:
 * `backends[].url`, `models.<alias>.routes[].weight`, `fallback.alias_fallback.<alias>`.
 */
export function schemaKeyPaths(schema: GenericSchema): string[] {
  const paths: string[] = [];
  const walk = (schemaNode: unknown, path: string): void => {
    const s = unwrap(schemaNode);
    if (s.type === "object" && s.entries) {
      for (const [key, entry] of Object.entries(s.entries)) {
        const child = path ? `${path}.${key}` : key;
        const inner = unwrap(entry);
        const isContainer = inner.type === "object" || (inner.type === "array" && unwrap(inner.item).type === "object") || (inner.type === "record" && unwrap(inner.value).type === "object");
        if (!isContainer) paths.push(child);
        walk(entry, child);
      }
    } else if (s.type === "array" && s.item) {
      walk(s.item, `${path}[]`);
    } else if (s.type === "record" && s.value && unwrap(s.value).type === "object") {
      // The only mapping of mappings is models, keyed by alias.
      walk(s.value, `${path}.<alias>`);
    }
  };
  walk(schema, "");
  return paths;
}
