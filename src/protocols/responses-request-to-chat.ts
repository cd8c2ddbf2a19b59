/**
 * A Responses request (`POST /v1/responses`, what Codex speaks) → a Chat
 * Completions request.
 * https://platform.openai.com/docs/api-reference/responses/create
 * https://platform.openai.com/docs/api-reference/chat/create
 *
 * Translation is stateless: `store: true`, `previous_response_id`, `conversation`,
 * `prompt` (a stored template) and `background: true` need state kept at the
 * server and are refused (`store` absent is served statelessly).
 *
 * Fields sent on: input/instructions (responses-input.ts), tools and tool_choice
 * (responses-tools.ts; tool_choice and parallel_tool_calls only when tools remain),
 * max_output_tokens → max_completion_tokens, reasoning.effort → reasoning_effort,
 * text.format → response_format, temperature, top_p, user (or safety_identifier),
 * stream (+ stream_options.include_usage when the route asks for usage).
 *
 * Fields dropped: include (e.g. reasoning.encrypted_content), metadata (Chat takes
 * it only with store), prompt_cache_key and prompt_cache_retention (OpenAI-only,
 * unknown to most Chat servers), client_metadata, truncation, text.verbosity,
 * reasoning.summary and reasoning.context, service_tier, max_tool_calls,
 * top_logprobs, stream_options, store: false, and any field this file does not
 * name.
 */
import { bool, isObject, num, obj, str } from "./responses-guards.ts";
import { responsesInputToChat } from "./responses-input.ts";
import { responsesToolChoiceToChat, responsesToolsToChat } from "./responses-tools.ts";
import type { JsonObject, RequestContext, RequestResult } from "./types.ts";

const STATELESS = "the proxy keeps no conversation state, so this request cannot be translated for this route";
const STATELESS_FIX = "send `store: false` with the whole conversation in `input` (as Codex does)";

function refusal(request: JsonObject): string | undefined {
  if (request.store === true) return `\`store: true\` asks for the response to be stored: ${STATELESS}; ${STATELESS_FIX}.`;
  if (str(request.previous_response_id)) return `\`previous_response_id\` refers to a stored response: ${STATELESS}; ${STATELESS_FIX}.`;
  if (request.conversation !== undefined && request.conversation !== null) return `\`conversation\` refers to a stored conversation: ${STATELESS}; ${STATELESS_FIX}.`;
  if (request.background === true) return `\`background: true\` needs the response kept for later retrieval: ${STATELESS}; send the request without \`background\`.`;
  if (request.prompt !== undefined && request.prompt !== null) return "`prompt` refers to a prompt template stored at OpenAI, which this route cannot read: send the instructions and input themselves.";
  return undefined;
}

/**
 * Chat servers other than OpenAI's know low/medium/high. `minimal` asks for the
 * least reasoning a model offers: `low` is the nearest everywhere. Efforts above
 * high (xhigh, max, …) become `high`; `none` sends nothing (the server's default).
 */
function chatEffort(effort: unknown): string | undefined {
  if (effort === "low" || effort === "medium" || effort === "high") return effort;
  if (effort === "minimal") return "low";
  if (typeof effort === "string" && effort !== "none" && effort !== "") return "high";
  return undefined;
}

function chatResponseFormat(format: unknown): JsonObject | undefined {
  const f = obj(format);
  if (f.type === "json_object") return { type: "json_object" };
  if (f.type !== "json_schema") return undefined;
  const schema: JsonObject = { name: str(f.name) ?? "response" };
  if (str(f.description) !== undefined) schema.description = f.description;
  if (isObject(f.schema)) schema.schema = f.schema;
  if (bool(f.strict) !== undefined) schema.strict = f.strict;
  return { type: "json_schema", json_schema: schema };
}

export function responsesRequestToChat(request: JsonObject, ctx: RequestContext): RequestResult {
  const refused = refusal(request);
  if (refused !== undefined) return { ok: false, message: refused };

  const tools = responsesToolsToChat(request);
  const input = responsesInputToChat(request, tools);
  if (!input.ok) return input;

  const out: JsonObject = { model: ctx.model, messages: input.messages };
  if (tools.tools.length > 0) {
    out.tools = tools.tools;
    const choice = responsesToolChoiceToChat(request.tool_choice, tools);
    if (choice !== undefined) out.tool_choice = choice;
    const parallel = bool(request.parallel_tool_calls);
    if (parallel !== undefined) out.parallel_tool_calls = parallel;
  }
  const maxTokens = num(request.max_output_tokens) ?? num(request.max_completion_tokens) ?? num(request.max_tokens);
  if (maxTokens !== undefined) out.max_completion_tokens = maxTokens;
  const effort = chatEffort(obj(request.reasoning).effort);
  if (effort !== undefined) out.reasoning_effort = effort;
  const format = chatResponseFormat(obj(request.text).format);
  if (format !== undefined) out.response_format = format;
  if (num(request.temperature) !== undefined) out.temperature = request.temperature;
  if (num(request.top_p) !== undefined) out.top_p = request.top_p;
  const user = str(request.user) ?? str(request.safety_identifier);
  if (user !== undefined) out.user = user;
  if (request.stream === true) {
    out.stream = true;
    if (ctx.streamUsage) out.stream_options = { include_usage: true };
  }
  return { ok: true, body: out };
}
