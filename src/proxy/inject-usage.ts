import type { Route } from "../config/types.ts";
import type { ProxyRequest } from "./request.ts";

/**
 * `stream_usage: inject` on a backend: an OpenAI Chat stream passed through is asked
 * for its usage (`stream_options.include_usage`), so the ledger and the limits see
 * every token, and the extra usage chunk is taken out again for a client that did
 * not ask for it. Off by default: some servers answer 400 to the option.
 * https://platform.openai.com/docs/api-reference/chat/create#chat-create-stream_options
 */

const OPTION = Buffer.from('"stream_options":{"include_usage":true},');

/** Whether to inject: a passed-through Chat stream, to a backend that wants it, from a client that set no stream_options. */
export function wantsInjection(req: ProxyRequest, route: Route): boolean {
  return route.backend.streamUsage === "inject" && req.stream && req.path.endsWith("/chat/completions") && req.json.stream_options === undefined;
}

/** The body with the option added as its first member; every other byte as it was. */
export function withUsageOption(body: Uint8Array): Uint8Array {
  const open = body.indexOf(123);
  if (open === -1) return body;
  return Buffer.concat([body.subarray(0, open + 1), OPTION, body.subarray(open + 1)]);
}

const USAGE_ONLY = /^data: ?\{.*"choices":\s*\[\].*"usage".*\}\r?\n(\r?\n)?/gm;

/** A chunk without the usage-only events (`choices: []` and a `usage`) whose line it holds whole. */
export function withoutUsageChunk(chunk: Uint8Array): Uint8Array {
  const view = Buffer.from(chunk.buffer, chunk.byteOffset, chunk.length);
  if (view.indexOf('"usage"') === -1) return chunk;
  const text = view.toString("utf8");
  const out = text.replace(USAGE_ONLY, "");
  return out.length === text.length ? chunk : Buffer.from(out);
}
