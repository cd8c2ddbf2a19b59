/**
 * An ESTIMATE of the input tokens of an Anthropic `count_tokens` request
 * (`POST /v1/messages/count_tokens`), for aliases whose route cannot count them
 * because its backend is not Anthropic. It is not a tokenizer: about four
 * characters per token over the text that reaches the model (system, messages,
 * tool definitions), plus fixed costs where the text says little.
 * https://docs.anthropic.com/en/api/messages-count-tokens
 *
 * - Text, thinking, tool inputs (as JSON), tool results, tool definitions (as JSON):
 *   characters / 4, rounded up.
 * - Each message: 3 tokens for its role and framing.
 * - Each image or binary document: 1600 tokens, about what Anthropic charges for an
 *   image at its largest size (https://docs.anthropic.com/en/docs/build-with-claude/vision#calculate-image-costs).
 * - Any tools: 346 tokens for the tool-use system prompt Anthropic adds
 *   (https://docs.anthropic.com/en/docs/agents-and-tools/tool-use/overview#pricing).
 */

import { isObject, str, arr, objects } from "./json.ts";
import type { JsonObject } from "./types.ts";

const CHARS_PER_TOKEN = 4;
const PER_MESSAGE = 3;
const PER_IMAGE = 1600;
const TOOL_PROMPT = 346;

/** Characters of text in a block or a list of blocks; images and binary documents counted apart in `media`. */
function measure(content: unknown, media: { count: number }): number {
  if (typeof content === "string") return content.length;
  if (Array.isArray(content)) return content.reduce<number>((sum, block) => sum + measure(block, media), 0);
  if (!isObject(content)) return 0;
  switch (content.type) {
    case "text":
      return (str(content, "text") ?? "").length;
    case "thinking":
      return (str(content, "thinking") ?? "").length;
    case "tool_use":
    case "server_tool_use":
      return (str(content, "name") ?? "").length + JSON.stringify(content.input ?? {}).length;
    case "tool_result":
      return measure(content.content, media);
    case "document": {
      const source = isObject(content.source) ? content.source : {};
      if (source.type === "text") return (str(source, "data") ?? "").length;
      if (source.type === "content") return measure(source.content, media);
      media.count++;
      return 0;
    }
    case "image":
      media.count++;
      return 0;
    default:
      // Other blocks (search results, server tool results): their JSON, a fair upper bound.
      return JSON.stringify(content).length;
  }
}

export function estimateAnthropicTokens(body: JsonObject): { input_tokens: number } {
  const media = { count: 0 };
  let chars = measure(body.system, media);
  const messages = arr(body, "messages") ?? [];
  for (const message of messages) if (isObject(message)) chars += measure(message.content, media);
  const tools = objects(body, "tools");
  for (const tool of tools) chars += JSON.stringify(tool).length;
  const tokens = Math.ceil(chars / CHARS_PER_TOKEN) + messages.length * PER_MESSAGE + media.count * PER_IMAGE + (tools.length > 0 ? TOOL_PROMPT : 0);
  return { input_tokens: tokens };
}
