/** Compares in time that depends only on the expected key's length. */
export function safeEqual(given: string, expected: string): boolean {
  let diff = given.length ^ expected.length;
  for (let i = 0; i < expected.length; i++) diff |= expected.charCodeAt(i) ^ (given.charCodeAt(i) || 0);
  return diff === 0;
}

/** The key a client presents: `Authorization: Bearer <key>` (OpenAI clients) or `x-api-key` (Anthropic clients). */
export function presentedKey(headers: Headers): string | undefined {
  const authorization = headers.get("authorization");
  if (authorization) {
    const match = /^Bearer\s+(.+)$/i.exec(authorization.trim());
    if (match) return match[1];
  }
  return headers.get("x-api-key") ?? undefined;
}

/**
 * The client's query without parameters whose value is the proxy's key (a client that
 * sends the key in the query as well as the header would otherwise hand it to the
 * provider). `search` is "" or starts with `?`; a backend URL's own query is added later.
 */
export function withoutKey(search: string, key: string): string {
  if (search.length < 2 || key === "" || (!search.includes(key) && !search.includes(encodeURIComponent(key)))) return search;
  const params = new URLSearchParams(search);
  for (const [name, value] of [...params]) if (value === key) params.delete(name, value);
  const rest = params.toString();
  return rest === "" ? "" : `?${rest}`;
}
