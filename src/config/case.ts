/**
 * The file's names are snake_case (`general_file`), the code's camelCase
 * (`generalFile`): one way between them, for values and for their types.
 */

type CamelOf<S extends string> = S extends `${infer Head}_${infer Tail}` ? `${Head}${Capitalize<CamelOf<Tail>>}` : S;

/** A mapping with its keys in camelCase, as `camelize` returns it. */
export type Camelized<T> = { readonly [K in keyof T as K extends string ? CamelOf<K> : K]: T[K] };

export const camel = (name: string) => name.replace(/_([a-z0-9])/g, (_, c: string) => c.toUpperCase());

/** The same values under camelCase keys. */
export function camelize<T extends Record<string, unknown>>(raw: T): Camelized<T> {
  return Object.fromEntries(Object.entries(raw).map(([k, value]) => [camel(k), value])) as Camelized<T>;
}
