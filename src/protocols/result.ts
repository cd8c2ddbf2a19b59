/** A step of a request translation: a value, or why the request cannot be translated. */
export type Step<T> = { readonly ok: true; readonly value: T } | { readonly ok: false; readonly message: string };

export function done<T>(value: T): Step<T> {
  return { ok: true, value };
}

export function refuse(message: string): { readonly ok: false; readonly message: string } {
  return { ok: false, message };
}
