/**
 * Tool call ids that Anthropic accepts. OpenAI-compatible providers make ids such
 * as `functions.get_weather:0` (Kimi) or `call|abc` that Anthropic refuses on the
 * next turn, when the id comes back in history as a `tool_use.id` and a
 * `tool_result.tool_use_id`. One deterministic function rewrites both the same
 * way, wherever they appear, so the pair still matches.
 */

// https://docs.anthropic.com/en/api/messages (tool_use.id: pattern ^[a-zA-Z0-9_-]+$)
const ANTHROPIC_TOOL_ID = /^[a-zA-Z0-9_-]+$/;

/** FNV-1a, 32 bits: a short, stable fingerprint so `a.b` and `a:b` do not collide once both become `a_b`. */
function fingerprint(text: string): string {
  let hash = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    hash ^= text.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return hash.toString(36);
}

/** The id unchanged when Anthropic accepts it; else its invalid characters replaced by `_`, plus a fingerprint of the original. */
export function anthropicToolId(id: string): string {
  if (ANTHROPIC_TOOL_ID.test(id)) return id;
  return `${id.replace(/[^a-zA-Z0-9_-]/g, "_")}_${fingerprint(id)}`;
}

/** An id made up for a tool call the provider sent without one: `toolu_<seed>_<n>`, valid for Anthropic and OpenAI. */
export function madeUpToolId(seed: string, n: number): string {
  return anthropicToolId(`toolu_${seed}_${n}`);
}
