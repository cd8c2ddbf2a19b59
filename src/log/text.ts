/** `1 attempt`, `2 attempts`: for messages people read. */
export const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? "" : "s"}`;
