/**
 * OpenAI Chat Completions request → Anthropic Messages request.
 * https://platform.openai.com/docs/api-reference/chat/create
 * https://docs.anthropic.com/en/api/messages
 *
 * The target body is built from an allow-list, so nothing Anthropic would refuse
 * as unknown reaches it. Dropped, having no Messages counterpart:
 *   frequency_penalty, presence_penalty, logit_bias, logprobs, top_logprobs, seed,
 *   n (= 1; n > 1 is refused), stream_options, response_format (json_object and
 *   json_schema: no equivalent we can rely on for every model), modalities (text),
 *   audio (refused when asked for), prediction, store, metadata, service_tier,
 *   prompt_cache_key, prompt_cache_retention, prompt_cache_options, moderation,
 *   verbosity, web_search_options, function `strict`, an assistant's
 *   `reasoning_content` (unsigned), `name` on messages, `detail` on images.
 * Adjusted so Anthropic accepts them:
 *   temperature clamped to 0–1; top_p dropped when temperature is set (newer Claude
 *   models refuse both); with thinking on, temperature only if 1, top_p only if ≥ 0.95;
 *   thinking left off when tool_choice forces a tool (Anthropic refuses the pair);
 *   empty and whitespace-only stop sequences dropped.
 */

import { chatMessagesToAnthropic } from "./chat-to-anthropic-messages.ts";
import { isObject, str, num, obj, arr, objects } from "./json.ts";
import { thinkingFromEffort } from "./reasoning-effort.ts";
import { done, refuse, type Step } from "./result.ts";
import type { JsonObject, RequestContext, RequestResult } from "./types.ts";

function anthropicTool(tool: JsonObject, where: string): Step<JsonObject> {
  const fn = obj(tool, "function");
  if (tool.type !== "function" || !fn) return refuse(`${where}: a ${String(tool.type)} tool has no Anthropic counterpart; only function tools can be sent`);
  const parameters = obj(fn, "parameters") ?? {};
  const out: JsonObject = {
    name: str(fn, "name") ?? "",
    // Anthropic requires an object schema; OpenAI allows parameters to be left out.
    input_schema: parameters.type === undefined ? { type: "object", ...parameters } : parameters,
  };
  const description = str(fn, "description");
  if (description) out.description = description;
  return done(out);
}

interface ToolSetup {
  readonly tools: JsonObject[];
  readonly choice: JsonObject | undefined;
}

/** `tools` and `tool_choice`, `parallel_tool_calls: false` as `disable_parallel_tool_use`. */
function toolSetup(body: JsonObject): Step<ToolSetup> {
  const tools: JsonObject[] = [];
  for (const [i, tool] of objects(body, "tools").entries()) {
    const step = anthropicTool(tool, `tools[${i}]`);
    if (!step.ok) return step;
    tools.push(step.value);
  }
  const raw = body.tool_choice;
  let choice: JsonObject | undefined;
  let allowed = tools;
  if (raw === "auto") choice = { type: "auto" };
  else if (raw === "none") choice = { type: "none" };
  else if (raw === "required") choice = { type: "any" };
  else if (isObject(raw) && raw.type === "function") {
    const fn = obj(raw, "function");
    choice = { type: "tool", name: (fn && str(fn, "name")) ?? "" };
  } else if (isObject(raw) && raw.type === "allowed_tools") {
    // A subset of the tools, chosen freely or required: the subset is what Anthropic gets.
    const spec = obj(raw, "allowed_tools") ?? {};
    const names = new Set(objects(spec, "tools").map((t) => str(obj(t, "function") ?? t, "name")));
    allowed = tools.filter((t) => names.has(str(t, "name")));
    choice = { type: spec.mode === "required" ? "any" : "auto" };
  }
  if (allowed.length === 0) return done({ tools: [], choice: undefined });
  if (body.parallel_tool_calls === false && choice?.type !== "none") choice = { ...(choice ?? { type: "auto" }), disable_parallel_tool_use: true };
  return done({ tools: allowed, choice });
}

function stopSequences(stop: unknown): string[] {
  const list = typeof stop === "string" ? [stop] : Array.isArray(stop) ? stop : [];
  return list.filter((s): s is string => typeof s === "string" && s.trim() !== "");
}

/** Sampling settings Anthropic accepts, given whether thinking is on. */
function sampling(body: JsonObject, thinking: boolean): JsonObject {
  const out: JsonObject = {};
  const temperature = num(body, "temperature");
  const topP = num(body, "top_p");
  if (temperature !== undefined && (!thinking || temperature === 1)) out.temperature = Math.min(1, Math.max(0, temperature));
  if (topP !== undefined && out.temperature === undefined && (!thinking || topP >= 0.95)) out.top_p = topP;
  return out;
}

function unsupported(body: JsonObject): string | undefined {
  const n = num(body, "n");
  if (n !== undefined && n > 1) return "n > 1 (several choices) cannot be served by an Anthropic backend: Messages returns one answer";
  const modalities = arr(body, "modalities") ?? [];
  if (modalities.includes("audio") || (body.audio !== undefined && body.audio !== null)) return "audio output cannot be served by an Anthropic backend";
  if (body.functions !== undefined || body.function_call !== undefined) return "legacy functions/function_call are not supported; use tools/tool_choice";
  return undefined;
}

export function chatToAnthropicRequest(body: JsonObject, ctx: RequestContext): RequestResult {
  const problem = unsupported(body);
  if (problem) return refuse(problem);
  const messages = arr(body, "messages");
  if (!messages) return refuse("messages must be an array");
  const prompt = chatMessagesToAnthropic(messages);
  if (!prompt.ok) return prompt;
  if (prompt.value.messages.length === 0) return refuse("no message with content to send: Anthropic needs at least one non-empty user or assistant message");
  const setup = toolSetup(body);
  if (!setup.ok) return setup;

  const maxTokens = num(body, "max_completion_tokens") ?? num(body, "max_tokens") ?? ctx.maxTokens;
  const forced = setup.value.choice?.type === "any" || setup.value.choice?.type === "tool";
  const thinking = forced ? undefined : thinkingFromEffort(body.reasoning_effort, maxTokens);

  const out: JsonObject = { model: ctx.model, max_tokens: maxTokens };
  if (prompt.value.system.length > 0) out.system = prompt.value.system;
  out.messages = prompt.value.messages;
  if (thinking) out.thinking = thinking;
  Object.assign(out, sampling(body, thinking !== undefined));
  const stop = stopSequences(body.stop);
  if (stop.length > 0) out.stop_sequences = stop;
  if (setup.value.tools.length > 0) out.tools = setup.value.tools;
  if (setup.value.choice) out.tool_choice = setup.value.choice;
  const user = str(body, "user") || str(body, "safety_identifier");
  if (user) out.metadata = { user_id: user };
  if (body.stream === true) out.stream = true;
  return { ok: true, body: out };
}
