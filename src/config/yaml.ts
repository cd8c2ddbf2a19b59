import { parseDocument, visit } from "yaml";
import { Problem } from "./problems.ts";
import { describeYamlErrors } from "./yaml-errors.ts";

/**
 * A plain YAML scalar that is not a string (number, boolean), kept with the text
 * it was written as. The original (Go, yaml.v3) reads any scalar into a text field
 * as written — `api_key: 0123` is the text "0123", not the octal number 83 — and
 * the schema decides per field which of the two it wants.
 */
export class RawScalar {
  constructor(
    readonly value: number | boolean | bigint,
    readonly source: string,
  ) {}
}

/** Parses YAML as the original reads it: YAML 1.1 scalars, anchors and merge keys. */
export function parseYaml(text: string, file: string): { value: unknown; problems: Problem[] } {
  const doc = parseDocument(text, { version: "1.1", merge: true, prettyErrors: true, uniqueKeys: false });
  if (doc.errors.length > 0) {
    return {
      value: undefined,
      problems: describeYamlErrors(text, doc.errors).map((message) => new Problem("error", "", `${file}: ${message}`)),
    };
  }
  visit(doc, {
    Scalar(key, node) {
      if (typeof node.value === "string" || node.value === null || node.value === undefined) return;
      const source = node.source ?? String(node.value);
      // Map keys are names (aliases, header names): YAML 1.1 would read `y:` as `true:`.
      // No setting is a timestamp: `anthropic-version: 2023-06-01` is text, as yaml.v3 reads it.
      if (key === "key" || node.value instanceof Date) node.value = source;
      else if (typeof node.value === "number" || typeof node.value === "boolean" || typeof node.value === "bigint") {
        node.value = new RawScalar(node.value, source);
      }
    },
  });
  return { value: doc.toJS({ maxAliasCount: 1000 }), problems: [] };
}
