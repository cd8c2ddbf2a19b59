/**
 * Anthropic Messages request → OpenAI Chat Completions request.
 * https://docs.anthropic.com/en/api/messages
 * https://platform.openai.com/docs/api-reference/chat/create
 *
 * The target body is built from an allow-list, so no Anthropic-only field reaches
 * an OpenAI server that refuses unknown fields. Dropped, having no Chat counterpart:
 *   top_k, cache_control (top level and on blocks), context_management,
 *   output_config (its effort is read for adaptive thinking; its format dropped),
 *   container, service_tier, speed, inference_geo, diagnostics, metadata other
 *   than user_id, citations, `thinking.display`, Anthropic-defined tools without
 *   an input_schema (web_search, bash, text_editor, computer, …) and tool fields
 *   other than name, description and input_schema (cache_control, strict,
 *   defer_loading, input_examples, …), `disable_parallel_tool_use` on a tool_choice
 *   of none.
 * Refused: mcp_servers (Anthropic would run them; a Chat backend cannot), a
 * tool_choice naming a tool that cannot be sent, documents by URL or file id.
 * Adjusted: stop_sequences capped at 4, OpenAI's limit.
 */

import { anthropicPromptToChat } from "./anthropic-to-chat-messages.ts";
import { isObject, str, num, obj, arr, objects } from "./json.ts";
import { effortFromThinking } from "./reasoning-effort.ts";
import { refuse } from "./result.ts";
import type { JsonObject, RequestContext, RequestResult } from "./types.ts";

// https://platform.openai.com/docs/api-reference/chat/create#chat-create-stop ("Up to 4 sequences")
const MAX_STOP_SEQUENCES = 4;

export interface ChatRequestOptions {
  /**
   * Which field carries the token limit. `max_tokens` (the default) is what
   * OpenAI-compatible servers all read; OpenAI's reasoning models accept only
   * `max_completion_tokens`.
   */
  readonly maxTokensField?: "max_tokens" | "max_completion_tokens";
  /**
   * The route's output limit: a larger client value is lowered to it. Claude Code
   * asks for 128000 tokens, which many OpenAI-compatible servers refuse with a 400
   * (DeepSeek allows 8192). Absent, the client's value is sent as is.
   */
  readonly maxTokensLimit?: number;
}

/** Custom tools (those with an input_schema) as function tools; Anthropic-defined tools have no schema to send. */
function chatTools(tools: readonly JsonObject[]): JsonObject[] {
  return tools
    .filter((t) => isObject(t.input_schema) && (t.type === undefined || t.type === "custom"))
    .map((t) => {
      const fn: JsonObject = { name: str(t, "name") ?? "" };
      const description = str(t, "description");
      if (description) fn.description = description;
      fn.parameters = t.input_schema;
      return { type: "function", function: fn };
    });
}

function toolChoice(choice: unknown): unknown {
  if (!isObject(choice)) return undefined;
  if (choice.type === "auto") return "auto";
  if (choice.type === "any") return "required";
  if (choice.type === "none") return "none";
  if (choice.type === "tool") return { type: "function", function: { name: str(choice, "name") ?? "" } };
  return undefined;
}

export function anthropicToChatRequest(body: JsonObject, ctx: RequestContext, options: ChatRequestOptions = {}): RequestResult {
  if ((arr(body, "mcp_servers") ?? []).length > 0) return refuse("mcp_servers cannot be served by an OpenAI Chat backend: only Anthropic runs MCP servers for you");
  const messages = arr(body, "messages");
  if (!messages) return refuse("messages must be an array");
  const converted = anthropicPromptToChat(body.system, messages);
  if (!converted.ok) return converted;
  if (!converted.value.some((m) => m.role !== "system")) return refuse("no message with content to send");

  const out: JsonObject = { model: ctx.model, messages: converted.value };
  const maxTokens = num(body, "max_tokens");
  if (maxTokens !== undefined) out[options.maxTokensField ?? "max_tokens"] = Math.min(maxTokens, options.maxTokensLimit ?? maxTokens);
  const temperature = num(body, "temperature");
  if (temperature !== undefined) out.temperature = temperature;
  const topP = num(body, "top_p");
  if (topP !== undefined) out.top_p = topP;
  const stop = (arr(body, "stop_sequences") ?? []).filter((s): s is string => typeof s === "string" && s !== "");
  if (stop.length > 0) out.stop = stop.slice(0, MAX_STOP_SEQUENCES);

  const tools = chatTools(objects(body, "tools"));
  const choice = obj(body, "tool_choice");
  if (choice?.type === "tool" && !tools.some((t) => str(obj(t, "function") ?? {}, "name") === str(choice, "name"))) {
    return refuse(`tool_choice names ${JSON.stringify(choice.name)}, which is not a custom tool with an input_schema and cannot be sent to an OpenAI Chat backend`);
  }
  if (tools.length > 0) {
    out.tools = tools;
    const mapped = toolChoice(choice);
    if (mapped !== undefined) out.tool_choice = mapped;
    if (choice?.disable_parallel_tool_use === true && mapped !== "none") out.parallel_tool_calls = false;
  }

  const effort = effortFromThinking(body.thinking, body.output_config);
  if (effort) out.reasoning_effort = effort;
  const metadata = obj(body, "metadata");
  const user = metadata ? str(metadata, "user_id") : undefined;
  if (user) out.user = user;
  if (body.stream === true) {
    out.stream = true;
    if (ctx.streamUsage) out.stream_options = { include_usage: true };
  }
  return { ok: true, body: out };
}
