/**
 * OpenAI Chat `messages` → Anthropic `system` and `messages`.
 * https://platform.openai.com/docs/api-reference/chat/create#chat-create-messages
 * https://docs.anthropic.com/en/api/messages#body-messages
 *
 * - `system` and `developer` messages, wherever they stand, become `system` text
 *   blocks in order (Messages has no system turn inside the conversation).
 * - `tool` messages become `tool_result` blocks of a user turn; consecutive results,
 *   and user text that follows them, share one user turn, results first (Anthropic
 *   wants results before any text).
 * - Consecutive turns of one role are merged; a turn left without blocks is dropped.
 * - Empty and whitespace-only text is never sent: Anthropic refuses it (new-api #1854).
 * - Tool call ids are rewritten to Anthropic's pattern the same way in `tool_use`
 *   and `tool_result`, so the pair still matches.
 * - A final assistant turn (a prefill) loses its trailing whitespace, which Anthropic refuses.
 * - An assistant's `reasoning_content` is dropped: Anthropic accepts a thinking block
 *   only with the signature it made, which an OpenAI-compatible provider never has.
 */

import { isObject, str, obj, arr, parseJson } from "./json.ts";
import { anthropicSource, parseDataUrl } from "./media.ts";
import { done, refuse, type Step } from "./result.ts";
import { anthropicToolId } from "./tool-ids.ts";
import type { JsonObject } from "./types.ts";

export interface AnthropicTurn {
  readonly role: "user" | "assistant";
  readonly content: JsonObject[];
}

export interface AnthropicPrompt {
  readonly system: JsonObject[];
  readonly messages: AnthropicTurn[];
}

/** A text block, or nothing for text Anthropic would refuse (empty, whitespace only). */
function textBlock(text: string, part?: JsonObject): JsonObject[] {
  if (text.trim() === "") return [];
  const block: JsonObject = { type: "text", text };
  // OpenRouter-style clients mark cache breakpoints on parts; Anthropic reads the same field.
  if (part && isObject(part.cache_control)) block.cache_control = part.cache_control;
  return [block];
}

/** The text of a message's content (string or text parts), as blocks. */
function textBlocks(content: unknown, where: string): Step<JsonObject[]> {
  if (typeof content === "string") return done(textBlock(content));
  if (content === null || content === undefined) return done([]);
  if (!Array.isArray(content)) return refuse(`${where}.content must be a string or an array of parts`);
  const blocks: JsonObject[] = [];
  for (const part of content) {
    if (!isObject(part)) continue;
    const text = part.type === "refusal" ? str(part, "refusal") : str(part, "text");
    if (part.type !== "text" && part.type !== "refusal") return refuse(`${where}: a ${String(part.type)} part has no Anthropic counterpart here`);
    blocks.push(...textBlock(text ?? "", part));
  }
  return done(blocks);
}

function imageBlock(part: JsonObject, where: string): Step<JsonObject> {
  const image = obj(part, "image_url");
  const url = image ? str(image, "url") : str(part, "image_url");
  if (!url) return refuse(`${where}: an image_url part without a url`);
  return done({ type: "image", source: anthropicSource(url) });
}

/** A `file` part: a base64 PDF becomes a document block; uploaded file ids cannot travel to Anthropic. */
function fileBlock(part: JsonObject, where: string): Step<JsonObject> {
  const file = obj(part, "file");
  const data = file ? str(file, "file_data") : undefined;
  const parsed = data ? parseDataUrl(data) : undefined;
  if (!parsed || parsed.mediaType !== "application/pdf") {
    return refuse(`${where}: only base64 PDF files (file_data) can be sent to an Anthropic backend, not file ids or other file types`);
  }
  return done({ type: "document", source: { type: "base64", media_type: parsed.mediaType, data: parsed.data } });
}

/** User content: text, images, PDFs. Audio has no Messages counterpart. */
function userBlocks(content: unknown, where: string): Step<JsonObject[]> {
  if (!Array.isArray(content)) return textBlocks(content, where);
  const blocks: JsonObject[] = [];
  for (const part of content) {
    if (!isObject(part)) continue;
    let step: Step<JsonObject[]>;
    if (part.type === "text") step = done(textBlock(str(part, "text") ?? "", part));
    else if (part.type === "image_url") step = wrap(imageBlock(part, where));
    else if (part.type === "file") step = wrap(fileBlock(part, where));
    else if (part.type === "input_audio") return refuse(`${where}: audio input has no Anthropic Messages counterpart`);
    else return refuse(`${where}: a ${String(part.type)} part has no Anthropic counterpart`);
    if (!step.ok) return step;
    blocks.push(...step.value);
  }
  return done(blocks);
}

function wrap(step: Step<JsonObject>): Step<JsonObject[]> {
  return step.ok ? done([step.value]) : step;
}

/** Tool arguments as an object: Anthropic's `input` must be one; anything else (invalid JSON too) reads as `{}`. */
function toolInput(args: unknown): JsonObject {
  if (isObject(args)) return args;
  if (typeof args !== "string") return {};
  const parsed = parseJson(args);
  return isObject(parsed) ? parsed : {};
}

function assistantBlocks(message: JsonObject, where: string): Step<JsonObject[]> {
  if (message.function_call !== undefined && message.function_call !== null) {
    return refuse(`${where}: legacy function_call is not supported; use tool_calls`);
  }
  const text = textBlocks(message.content, where);
  if (!text.ok) return text;
  const blocks = [...text.value];
  for (const call of arr(message, "tool_calls") ?? []) {
    if (!isObject(call)) continue;
    const fn = obj(call, "function");
    if (!fn) return refuse(`${where}: a tool call of type ${String(call.type)} has no Anthropic counterpart`);
    blocks.push({ type: "tool_use", id: anthropicToolId(str(call, "id") ?? ""), name: str(fn, "name") ?? "", input: toolInput(fn.arguments) });
  }
  return done(blocks);
}

/** A `tool` message as a `tool_result` block; text parts and images (which Anthropic accepts in results) kept. */
function toolResultBlock(message: JsonObject, where: string): Step<JsonObject> {
  const id = str(message, "tool_call_id");
  if (id === undefined) return refuse(`${where}: a tool message without tool_call_id`);
  const block: JsonObject = { type: "tool_result", tool_use_id: anthropicToolId(id) };
  const content = message.content;
  if (typeof content === "string") {
    if (content !== "") block.content = content;
    return done(block);
  }
  const inner = userBlocks(content, where);
  if (!inner.ok) return inner;
  if (inner.value.length > 0) block.content = inner.value;
  return done(block);
}

function push(turns: AnthropicTurn[], role: "user" | "assistant", blocks: JsonObject[]): void {
  if (blocks.length === 0) return;
  const last = turns.at(-1);
  if (last && last.role === role) last.content.push(...blocks);
  else turns.push({ role, content: blocks });
}

/** Results first within a user turn, as Anthropic requires; the order of each kind is kept. */
function resultsFirst(turn: AnthropicTurn): AnthropicTurn {
  if (turn.role !== "user") return turn;
  const results = turn.content.filter((b) => b.type === "tool_result");
  const rest = turn.content.filter((b) => b.type !== "tool_result");
  return { role: "user", content: [...results, ...rest] };
}

/**
 * A conversation that ends with an assistant turn asks Anthropic to continue it
 * (prefill), and Anthropic refuses a prefill ending in whitespace: trim it.
 */
function trimPrefill(turns: AnthropicTurn[]): AnthropicTurn[] {
  const last = turns.at(-1);
  const block = last?.content.at(-1);
  if (last?.role !== "assistant" || block?.type !== "text") return turns;
  const text = String(block.text).trimEnd();
  const content = text === "" ? last.content.slice(0, -1) : [...last.content.slice(0, -1), { ...block, text }];
  return content.length === 0 ? turns.slice(0, -1) : [...turns.slice(0, -1), { role: "assistant", content }];
}

export function chatMessagesToAnthropic(messages: readonly unknown[]): Step<AnthropicPrompt> {
  const system: JsonObject[] = [];
  const turns: AnthropicTurn[] = [];
  for (const [i, message] of messages.entries()) {
    const where = `messages[${i}]`;
    if (!isObject(message)) return refuse(`${where} is not an object`);
    const role = message.role;
    let step: Step<JsonObject[]>;
    if (role === "system" || role === "developer") {
      step = textBlocks(message.content, where);
      if (!step.ok) return step;
      system.push(...step.value);
      continue;
    }
    if (role === "user") step = userBlocks(message.content, where);
    else if (role === "assistant") step = assistantBlocks(message, where);
    else if (role === "tool") step = wrap(toolResultBlock(message, where));
    else if (role === "function") return refuse(`${where}: legacy function messages are not supported; use tool messages`);
    else return refuse(`${where}: unknown role ${JSON.stringify(role)}`);
    if (!step.ok) return step;
    push(turns, role === "assistant" ? "assistant" : "user", step.value);
  }
  return done({ system, messages: trimPrefill(turns.map(resultsFirst)) });
}
