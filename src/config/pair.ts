/**
 * A backend+model pair: what a cooldown is kept for, as the original keys it. One
 * place builds and reads the key; the cluster link and the ledger store it encoded.
 */

/** The cooldown key of a pair: `backend` NUL `model` (neither name can hold a NUL). */
export const cooldownKey = (backend: string, model: string) => `${backend}\u0000${model}`;

/** The two names of a cooldown key. */
export function pairOf(key: string): { readonly backend: string; readonly model: string } {
  const at = key.indexOf("\u0000");
  return at === -1 ? { backend: key, model: "" } : { backend: key.slice(0, at), model: key.slice(at + 1) };
}

/** `backend/model` for people (logs, test assertions). */
export const describePair = (key: string) => key.replace("\u0000", "/");

/** The key as one path-safe string (Redis key names, database rows, where NUL cannot go): each name URI-encoded, joined by `/`. */
export const encodePair = (key: string) => key.split("\u0000").map(encodeURIComponent).join("/");
export const decodePair = (encoded: string) => encoded.split("/").map(decodeURIComponent).join("\u0000");
