/**
 * Anthropic `system` and `messages` → OpenAI Chat `messages`.
 * https://docs.anthropic.com/en/api/messages#body-messages
 * https://platform.openai.com/docs/api-reference/chat/create#chat-create-messages
 *
 * - `system` (string or text blocks) and any `system` message inside `messages`
 *   (Claude Code 2.1 sends one after the first user turn) become ONE leading
 *   system message, in order. Chat allows system messages anywhere, but many
 *   OpenAI-compatible servers render chat templates (Qwen3, Mistral) that refuse a
 *   system message that is not first, and a tool message must follow its calls.
 * - Text-only content is sent as a string (blocks joined by a blank line): many
 *   OpenAI-compatible servers accept only strings there.
 * - `tool_result` blocks become `tool` messages, placed before the rest of their
 *   user turn, right after the assistant's tool calls as Chat requires. Chat tool
 *   messages carry text only: images of a result follow in a user message.
 *   `is_error` has no field: the text is prefixed with "Error: ".
 * - `thinking` blocks of an assistant turn are sent back as `reasoning_content`,
 *   which DeepSeek-style reasoning models require on tool-call turns
 *   (claude-code-router #1378).
 * Dropped: `cache_control`, `citations`, `redacted_thinking` (opaque), signatures,
 * server tool blocks (`server_tool_use`, `*_tool_result` of Anthropic-run tools),
 * and block types with no Chat counterpart.
 */

import { isObject, str, arr } from "./json.ts";
import { urlOfSource } from "./media.ts";
import { done, refuse, type Step } from "./result.ts";
import { anthropicToolId } from "./tool-ids.ts";
import type { JsonObject } from "./types.ts";

const JOIN = "\n\n";

/** The text of blocks that are text-like (text, search results, text documents); other blocks are skipped. */
function plainText(blocks: readonly unknown[]): string[] {
  const texts: string[] = [];
  for (const block of blocks) {
    if (!isObject(block)) continue;
    if (block.type === "text") texts.push(str(block, "text") ?? "");
    else if (block.type === "search_result") texts.push([str(block, "title"), ...plainText(arr(block, "content") ?? [])].filter(Boolean).join("\n"));
  }
  return texts.filter((t) => t !== "");
}

function textOf(content: unknown): string {
  if (typeof content === "string") return content;
  return Array.isArray(content) ? plainText(content).join(JOIN) : "";
}

/** A `document` block as a Chat part: a base64 PDF as a file part, plain text as text. */
function documentPart(block: JsonObject, where: string): Step<JsonObject | undefined> {
  const source = isObject(block.source) ? block.source : {};
  if (source.type === "text") return done({ type: "text", text: str(source, "data") ?? "" });
  if (source.type === "content") return done({ type: "text", text: textOf(source.content) });
  if (source.type === "base64" && source.media_type === "application/pdf") {
    return done({ type: "file", file: { filename: str(block, "title") ?? "document.pdf", file_data: urlOfSource(source) ?? "" } });
  }
  return refuse(`${where}: a document by ${String(source.type)} cannot be sent to an OpenAI Chat backend; send it as base64 or text`);
}

/** User blocks other than tool results as Chat parts. */
function userParts(blocks: readonly JsonObject[], where: string): Step<JsonObject[]> {
  const parts: JsonObject[] = [];
  for (const block of blocks) {
    if (block.type === "text" || block.type === "search_result") {
      const text = plainText([block]).join(JOIN);
      if (text !== "") parts.push({ type: "text", text });
    } else if (block.type === "image") {
      const url = urlOfSource(block.source);
      if (url === undefined) return refuse(`${where}: an image by file id cannot be sent to an OpenAI Chat backend`);
      parts.push({ type: "image_url", image_url: { url } });
    } else if (block.type === "document") {
      const part = documentPart(block, where);
      if (!part.ok) return part;
      if (part.value) parts.push(part.value);
    }
  }
  return done(parts);
}

/** Parts as a message's content: a string when all are text, else the parts. */
function content(parts: readonly JsonObject[]): string | JsonObject[] {
  if (parts.every((p) => p.type === "text")) return parts.map((p) => str(p, "text") ?? "").join(JOIN);
  return [...parts];
}

function toolMessage(block: JsonObject): { message: JsonObject; images: JsonObject[] } {
  const id = anthropicToolId(str(block, "tool_use_id") ?? "");
  const raw = block.content;
  const blocks = Array.isArray(raw) ? raw.filter(isObject) : [];
  const images = blocks.filter((b) => b.type === "image").flatMap((b) => {
    const url = urlOfSource(b.source);
    return url === undefined ? [] : [{ type: "image_url", image_url: { url } }];
  });
  let text = textOf(raw);
  if (block.is_error === true) text = `Error: ${text}`;
  return { message: { role: "tool", tool_call_id: id, content: text }, images };
}

function userMessages(blocks: readonly JsonObject[], where: string): Step<JsonObject[]> {
  const out: JsonObject[] = [];
  const resultImages: JsonObject[] = [];
  for (const block of blocks.filter((b) => b.type === "tool_result")) {
    const { message, images } = toolMessage(block);
    out.push(message);
    if (images.length > 0) resultImages.push({ type: "text", text: `Images from tool result ${String(message.tool_call_id)}:` }, ...images);
  }
  const parts = userParts(blocks.filter((b) => b.type !== "tool_result"), where);
  if (!parts.ok) return parts;
  const all = [...resultImages, ...parts.value];
  if (all.length > 0) out.push({ role: "user", content: content(all) });
  return done(out);
}

function assistantMessage(blocks: readonly JsonObject[]): JsonObject | undefined {
  const texts: string[] = [];
  const thinking: string[] = [];
  const calls: JsonObject[] = [];
  for (const block of blocks) {
    if (block.type === "text") texts.push(str(block, "text") ?? "");
    else if (block.type === "thinking") thinking.push(str(block, "thinking") ?? "");
    else if (block.type === "tool_use") {
      const input = isObject(block.input) ? block.input : {};
      calls.push({ id: anthropicToolId(str(block, "id") ?? ""), type: "function", function: { name: str(block, "name") ?? "", arguments: JSON.stringify(input) } });
    }
  }
  const text = texts.filter((t) => t !== "").join(JOIN);
  const reasoning = thinking.filter((t) => t !== "").join(JOIN);
  if (text === "" && reasoning === "" && calls.length === 0) return undefined;
  const message: JsonObject = { role: "assistant", content: text === "" && calls.length > 0 ? null : text };
  if (reasoning !== "") message.reasoning_content = reasoning;
  if (calls.length > 0) message.tool_calls = calls;
  return message;
}

function blocksOf(content: unknown): JsonObject[] {
  if (typeof content === "string") return content === "" ? [] : [{ type: "text", text: content }];
  return Array.isArray(content) ? content.filter(isObject) : [];
}

export function anthropicPromptToChat(system: unknown, messages: readonly unknown[]): Step<JsonObject[]> {
  const out: JsonObject[] = [];
  const systemTexts = [textOf(system)];
  for (const [i, message] of messages.entries()) {
    const where = `messages[${i}]`;
    if (!isObject(message)) return refuse(`${where} is not an object`);
    const blocks = blocksOf(message.content);
    if (message.role === "system") {
      systemTexts.push(textOf(message.content));
    } else if (message.role === "user") {
      const step = userMessages(blocks, where);
      if (!step.ok) return step;
      out.push(...step.value);
    } else if (message.role === "assistant") {
      const assistant = assistantMessage(blocks);
      if (assistant) out.push(assistant);
    } else {
      return refuse(`${where}: unknown role ${JSON.stringify(message.role)}`);
    }
  }
  const systemText = systemTexts.filter((t) => t !== "").join(JOIN);
  return done(systemText === "" ? out : [{ role: "system", content: systemText }, ...out]);
}
