/**
 * Readers for parsed JSON used by the Responses translators. Provider and client
 * bodies are untrusted, so every field is read through one of these instead of a
 * cast: a wrong type reads as absent.
 */
import type { JsonObject } from "./types.ts";

export function isObject(value: unknown): value is JsonObject {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

export function str(value: unknown): string | undefined {
  return typeof value === "string" ? value : undefined;
}

export function num(value: unknown): number | undefined {
  return typeof value === "number" && Number.isFinite(value) ? value : undefined;
}

export function bool(value: unknown): boolean | undefined {
  return typeof value === "boolean" ? value : undefined;
}

export function list(value: unknown): unknown[] {
  return Array.isArray(value) ? value : [];
}

export function objects(value: unknown): JsonObject[] {
  return list(value).filter(isObject);
}

export function obj(value: unknown): JsonObject {
  return isObject(value) ? value : {};
}

/**
 * Joins text parts the way a reader expects: parts that already end a line are
 * concatenated, others get a newline between them, so neither words run together
 * nor blank lines appear that the sender never wrote.
 */
export function joinTexts(texts: readonly string[]): string {
  let out = "";
  for (const text of texts) {
    if (out !== "" && !out.endsWith("\n")) out += "\n";
    out += text;
  }
  return out;
}
