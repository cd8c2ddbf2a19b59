/**
 * Type guards and readers for parsed JSON. Translators read bodies they do not
 * control: every field is checked before use, and a field of the wrong type reads
 * as absent rather than throwing.
 */

import type { JsonObject } from "./types.ts";

export function isObject(value: unknown): value is JsonObject {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** The field as a string, or undefined when absent or of another type. */
export function str(obj: JsonObject, key: string): string | undefined {
  const value = obj[key];
  return typeof value === "string" ? value : undefined;
}

/** The field as a finite number, or undefined. */
export function num(obj: JsonObject, key: string): number | undefined {
  const value = obj[key];
  return typeof value === "number" && Number.isFinite(value) ? value : undefined;
}

/** The field as an object, or undefined. */
export function obj(parent: JsonObject, key: string): JsonObject | undefined {
  const value = parent[key];
  return isObject(value) ? value : undefined;
}

/** The field as an array (elements unchecked), or undefined. */
export function arr(parent: JsonObject, key: string): readonly unknown[] | undefined {
  const value = parent[key];
  return Array.isArray(value) ? value : undefined;
}

/** The object elements of an array field; other elements are skipped. */
export function objects(parent: JsonObject, key: string): JsonObject[] {
  return (arr(parent, key) ?? []).filter(isObject);
}

/** Parses JSON text without throwing: undefined when it is not JSON. */
export function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    // Not JSON is an expected outcome here, reported as undefined.
    return undefined;
  }
}

/** A non-negative integer count, for token fields that providers sometimes send as null or negative. */
export function count(obj: JsonObject | undefined, key: string): number {
  if (!obj) return 0;
  const value = num(obj, key);
  return value !== undefined && value > 0 ? Math.floor(value) : 0;
}
