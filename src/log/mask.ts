import { escapeRegExp } from "./text.ts";

/**
 * Key masking for logs and error bodies: `sk-abcdef1234567890cdef` → `sk-ab****cdef`,
 * as the original shows keys. A value shorter than 16 characters is masked whole,
 * since its first and last characters would give away too much of it.
 */
export function maskKey(key: string): string {
  return key.length < 16 ? "****" : `${key.slice(0, 5)}****${key.slice(-4)}`;
}

/** Keys the proxy was not told about, recognised by their usual shapes. */
const KEY_SHAPES = [
  String.raw`\bsk-[A-Za-z0-9_\-]{8,}`,
  String.raw`\bAIza[0-9A-Za-z_\-]{20,}`,
  String.raw`(?<=\b[Bb]earer\s+)[A-Za-z0-9._~+/=\-]{8,}`,
  String.raw`(?<=[?&](?:key|api_key|apikey|access_token|token)=)[^&\s"']{8,}`,
  // A credential header's value (a key of keys: given as sha256: is not known to mask by value).
  String.raw`(?<=\b(?:x-api-key|api-key|x-goog-api-key)["']?\s*[:=]\s*["']?)[^\s"',;]{8,}`,
];

export type Mask = (text: string) => string;

/**
 * Builds a masking function for a set of configured secrets, once per config.
 * Exact values come first, in every form they can take in a log line: as is,
 * URL-encoded and JSON-escaped; then the key shapes above catch unknown keys.
 */
export function createMask(secrets: readonly string[]): Mask {
  const forms = new Map<string, string>();
  for (const secret of secrets) {
    if (!secret) continue;
    const masked = maskKey(secret);
    for (const form of [secret, encodeURIComponent(secret), JSON.stringify(secret).slice(1, -1)]) forms.set(form, masked);
  }
  const exact = [...forms.keys()].sort((a, b) => b.length - a.length).map(escapeRegExp);
  const known = exact.length > 0 ? new RegExp(exact.join("|"), "g") : undefined;
  const shapes = new RegExp(KEY_SHAPES.join("|"), "g");
  return (text) => {
    const out = known ? text.replace(known, (match) => forms.get(match) ?? maskKey(match)) : text;
    // The shapes' look-behinds are slow to try at every position: only where one could start.
    if (!SHAPE_HINT.test(out)) return out;
    // A value the first pass already masked is left as it is.
    return out.replace(shapes, (match) => (match.includes("****") ? match : maskKey(match)));
  };
}

/** Text that holds none of these cannot match a key shape. */
const SHAPE_HINT = /sk-|AIza|earer|key=|token=|api-key/;

export const noMask: Mask = (text) => text;
