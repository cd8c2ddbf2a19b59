/** A text as a regular expression that matches exactly it. */
export const escapeRegExp = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");

/** `1 attempt`, `2 attempts`: for messages people read. */
export const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? "" : "s"}`;
