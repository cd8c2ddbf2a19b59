/**
 * Responses `input` (and `instructions`) → Chat `messages`.
 * https://platform.openai.com/docs/api-reference/responses/create#responses-create-input
 *
 * - `message` items: user text, images and audio keep their parts; system and
 *   developer messages become `system` text (many Chat servers do not know the
 *   `developer` role), consecutive ones merged into one message; assistant history becomes assistant text,
 *   with `refusal` parts in the Chat `refusal` field.
 * - `function_call` and `custom_tool_call` items become `tool_calls` of ONE
 *   assistant message per run of consecutive calls, together with the assistant
 *   text just before them (a custom call's input travels as `{"input": "..."}`).
 * - `function_call_output` and `custom_tool_call_output` become `tool` messages.
 *   Chat tool results are text, so images in an output are sent in a user message
 *   right after the run of tool messages.
 * - `reasoning` items: their summary text becomes `reasoning_content` of the next
 *   assistant message (DeepSeek, Qwen and Kimi-style servers read it back); with no
 *   assistant message after it, or without summary text, it is dropped.
 *   `encrypted_content` only means something to OpenAI and is dropped.
 * - `additional_tools` items carry tools (see responses-tools.ts), not messages.
 * - `item_reference` and file ids point at state stored at OpenAI: refused.
 * - Items of hosted tools (web_search_call, file_search_call, computer_call, mcp_*,
 *   image_generation_call, code_interpreter_call, local_shell_call, shell_call,
 *   apply_patch_call, tool_search_*, compaction, …) and their outputs have no Chat
 *   counterpart and are dropped, calls and outputs alike, so no tool message is
 *   left without its call.
 */
import { isObject, joinTexts, list, objects, str } from "./responses-guards.ts";
import type { ChatToolSet } from "./responses-tools.ts";
import type { JsonObject } from "./types.ts";

export type InputResult = { readonly ok: true; readonly messages: JsonObject[] } | { readonly ok: false; readonly message: string };

/** Thrown from deep inside the walk and caught in responsesInputToChat: a refusal is a value to the caller. */
class Refusal extends Error {}

const STATE_HINT = "the proxy keeps no conversation state: send the whole history in `input` instead";

/** Image detail levels Chat knows; Responses' `original` has no Chat equivalent and is left to the default. */
const CHAT_DETAILS = new Set(["auto", "low", "high"]);

function imagePart(part: JsonObject): JsonObject {
  const url = str(part.image_url);
  if (url === undefined || url === "") {
    if (str(part.file_id) !== undefined) {
      throw new Refusal("an input_image with a file_id refers to a file stored at OpenAI, which a Chat target cannot read: send the image as image_url (a URL or a data: URL)");
    }
    throw new Refusal("an input_image needs an image_url");
  }
  const image: JsonObject = { url };
  if (typeof part.detail === "string" && CHAT_DETAILS.has(part.detail)) image.detail = part.detail;
  return { type: "image_url", image_url: image };
}

function filePart(part: JsonObject): JsonObject {
  const data = str(part.file_data);
  if (data === undefined) {
    throw new Refusal("an input_file must carry file_data here: file_id and file_url point at files the Chat target cannot fetch");
  }
  const file: JsonObject = { file_data: data };
  if (str(part.filename) !== undefined) file.filename = part.filename;
  return { type: "file", file };
}

/** Content parts of a user message, in Chat form. */
function userParts(content: unknown): JsonObject[] {
  if (typeof content === "string") return [{ type: "text", text: content }];
  return objects(content).flatMap((part): JsonObject[] => {
    switch (part.type) {
      case "input_text":
      case "output_text":
      case "text":
        return [{ type: "text", text: str(part.text) ?? "" }];
      case "input_image":
        return [imagePart(part)];
      case "input_file":
        return [filePart(part)];
      case "input_audio":
        return [{ type: "input_audio", input_audio: part.input_audio }];
      default:
        return [];
    }
  });
}

function texts(content: unknown, types: readonly string[]): string[] {
  if (typeof content === "string") return [content];
  return objects(content).flatMap((p) => (typeof p.type === "string" && types.includes(p.type) ? [str(p.text) ?? ""] : []));
}

const TEXT_TYPES = ["input_text", "output_text", "text"];

interface PendingAssistant {
  text: string[];
  refusal: string[];
  reasoning: string[];
  toolCalls: JsonObject[];
}

/**
 * Chat messages being written. An assistant turn is gathered (its reasoning, text
 * and tool calls) until something else is said; images from tool outputs wait
 * until the run of tool messages is over, since Chat allows nothing between an
 * assistant's tool calls and their results.
 */
class ChatMessages {
  readonly messages: JsonObject[] = [];
  private pending: PendingAssistant | undefined;
  private toolImages: JsonObject[] = [];

  // Consecutive system texts are one message: many Chat templates accept a single leading system message only.
  system(text: string): void {
    this.flush();
    const last = this.messages[this.messages.length - 1];
    if (last?.role === "system" && typeof last.content === "string") last.content = `${last.content}\n\n${text}`;
    else this.messages.push({ role: "system", content: text });
  }

  user(content: unknown): void {
    this.flush();
    const parts = userParts(content);
    const only = parts[0];
    this.messages.push({ role: "user", content: parts.length === 1 && only?.type === "text" ? only.text : parts });
  }

  /** Text (or reasoning) after tool calls or after text starts a new assistant message. */
  assistantText(text: readonly string[], refusal: readonly string[]): void {
    this.startTurn();
    this.assistant().text.push(...text);
    this.assistant().refusal.push(...refusal);
  }

  reasoning(summary: string): void {
    this.startTurn();
    if (summary !== "") this.assistant().reasoning.push(summary);
  }

  toolCall(callId: string, name: string, args: string): void {
    this.flushToolImages();
    this.assistant().toolCalls.push({ id: callId, type: "function", function: { name, arguments: args } });
  }

  toolOutput(callId: string, output: unknown): void {
    this.flushAssistant();
    const images = objects(output).filter((p) => p.type === "input_image");
    if (images.length > 0) this.toolImages.push({ type: "text", text: `Images returned by tool call ${callId}:` }, ...images.map(imagePart));
    this.messages.push({ role: "tool", tool_call_id: callId, content: joinTexts(texts(output, TEXT_TYPES)) });
  }

  flush(): void {
    this.flushAssistant();
    this.flushToolImages();
  }

  private startTurn(): void {
    this.flushToolImages();
    const p = this.pending;
    if (p !== undefined && (p.toolCalls.length > 0 || p.text.length > 0)) this.flushAssistant();
  }

  private assistant(): PendingAssistant {
    this.pending ??= { text: [], refusal: [], reasoning: [], toolCalls: [] };
    return this.pending;
  }

  private flushAssistant(): void {
    const p = this.pending;
    this.pending = undefined;
    // Reasoning alone has no assistant message to ride on: it is dropped.
    if (p === undefined || (p.text.length === 0 && p.refusal.length === 0 && p.toolCalls.length === 0)) return;
    const m: JsonObject = { role: "assistant", content: p.text.length > 0 ? p.text.join("") : null };
    if (p.refusal.length > 0) m.refusal = p.refusal.join("");
    if (p.toolCalls.length > 0) m.tool_calls = p.toolCalls;
    if (p.reasoning.length > 0) m.reasoning_content = p.reasoning.join("\n\n");
    this.messages.push(m);
  }

  private flushToolImages(): void {
    if (this.toolImages.length === 0) return;
    this.messages.push({ role: "user", content: this.toolImages });
    this.toolImages = [];
  }
}

function addItem(out: ChatMessages, item: JsonObject, tools: ChatToolSet): void {
  const type = item.type ?? (item.role !== undefined ? "message" : undefined);
  const callId = str(item.call_id) ?? str(item.id) ?? "";
  const chatName = (): string => tools.chatNameOf(str(item.name) ?? "", str(item.namespace));
  switch (type) {
    case "message":
      if (item.role === "assistant") {
        const refusals = objects(item.content).flatMap((p) => (p.type === "refusal" ? [str(p.refusal) ?? ""] : []));
        out.assistantText(texts(item.content, TEXT_TYPES), refusals);
      } else if (item.role === "system" || item.role === "developer") out.system(joinTexts(texts(item.content, TEXT_TYPES)));
      else if (item.role === "user") out.user(item.content);
      return;
    case "reasoning":
      out.reasoning(objects(item.summary).flatMap((p) => (typeof p.text === "string" && p.text !== "" ? [p.text] : [])).join("\n\n"));
      return;
    case "function_call":
      return out.toolCall(callId, chatName(), str(item.arguments) ?? "{}");
    case "custom_tool_call":
      return out.toolCall(callId, chatName(), JSON.stringify({ input: str(item.input) ?? "" }));
    case "function_call_output":
    case "custom_tool_call_output":
      return out.toolOutput(str(item.call_id) ?? "", item.output);
    case "item_reference":
      throw new Refusal(`input item_reference "${str(item.id) ?? ""}" points at an item stored at OpenAI; ${STATE_HINT}`);
    default:
      return; // hosted-tool items, additional_tools and unknown kinds: see the header comment
  }
}

/** Turns the input into Chat messages; `tools` names the calls in history as the Chat request does. */
export function responsesInputToChat(request: JsonObject, tools: ChatToolSet): InputResult {
  const out = new ChatMessages();
  try {
    const instructions = str(request.instructions);
    if (instructions !== undefined && instructions !== "") out.system(instructions);
    if (typeof request.input === "string") out.user(request.input);
    for (const item of list(request.input)) if (isObject(item)) addItem(out, item, tools);
    out.flush();
    return { ok: true, messages: out.messages };
  } catch (error) {
    if (error instanceof Refusal) return { ok: false, message: error.message };
    throw error;
  }
}
