/**
 * A Chat Completions request → a Responses request, for a backend that speaks
 * only `POST /v1/responses`.
 * https://platform.openai.com/docs/api-reference/chat/create
 * https://platform.openai.com/docs/api-reference/responses/create
 *
 * Messages become input items in order: system and developer messages keep their
 * role (no `instructions`), assistant `tool_calls` become `function_call` (or
 * `custom_tool_call`) items and `tool` messages their outputs. The request is
 * always sent with `store: false`: the proxy keeps no state and asks none of the
 * backend.
 *
 * Fields sent on: tools and tool_choice (responses-tools.ts; only with tools),
 * parallel_tool_calls, max_completion_tokens (or max_tokens) → max_output_tokens,
 * reasoning_effort → reasoning.effort, response_format → text.format, verbosity →
 * text.verbosity, temperature, top_p, user, safety_identifier, prompt_cache_key,
 * service_tier, metadata, stream.
 *
 * Fields dropped (no Responses counterpart): stop, seed, frequency_penalty,
 * presence_penalty, logit_bias, logprobs, top_logprobs, stream_options (Responses
 * streams always carry usage), store, prediction, web_search_options, audio and
 * modalities ["text"], `reasoning_content` of assistant history (Responses takes
 * back only reasoning items it produced itself, by id or encrypted content).
 *
 * Refused: `n` above 1, audio output, and the legacy `functions`/`function_call`
 * fields and `function` role.
 */
import { bool, isObject, joinTexts, num, obj, objects, str } from "./responses-guards.ts";
import { chatToolChoiceToResponses, chatToolsToResponses } from "./responses-tools.ts";
import type { JsonObject, RequestContext, RequestResult } from "./types.ts";

function refusal(request: JsonObject): string | undefined {
  if ((num(request.n) ?? 1) > 1) return "`n` above 1 asks for several answers, which a Responses backend cannot give: send `n: 1` (or leave it out).";
  if (Array.isArray(request.modalities) && request.modalities.includes("audio")) return "audio output is not available through a Responses backend: ask for `modalities: [\"text\"]`.";
  if (request.functions !== undefined || request.function_call !== undefined) return "the legacy `functions` and `function_call` fields are not translated: send `tools` and `tool_choice` instead.";
  if (objects(request.messages).some((m) => m.role === "function")) return "messages with the legacy `function` role are not translated: send tool results as `tool` messages with their `tool_call_id`.";
  return undefined;
}

function text(content: unknown): string {
  if (typeof content === "string") return content;
  return joinTexts(objects(content).flatMap((p) => (typeof p.text === "string" ? [p.text] : typeof p.refusal === "string" ? [p.refusal] : [])));
}

function userContent(content: unknown): unknown {
  if (typeof content === "string") return content;
  return objects(content).flatMap((part): JsonObject[] => {
    if (part.type === "text") return [{ type: "input_text", text: str(part.text) ?? "" }];
    if (part.type === "image_url") {
      const image = isObject(part.image_url) ? part.image_url : { url: part.image_url };
      return [{ type: "input_image", image_url: str(image.url) ?? "", detail: str(image.detail) ?? "auto" }];
    }
    if (part.type === "input_audio") return [{ type: "input_audio", input_audio: part.input_audio }];
    if (part.type === "file") {
      const file = obj(part.file);
      const r: JsonObject = { type: "input_file" };
      for (const key of ["file_data", "file_id", "filename"]) if (str(file[key]) !== undefined) r[key] = file[key];
      return [r];
    }
    return [];
  });
}

function chatMessagesToInput(messages: unknown): JsonObject[] {
  const input: JsonObject[] = [];
  const customCalls = new Set<string>();
  for (const m of objects(messages)) {
    if (m.role === "system" || m.role === "developer") {
      input.push({ type: "message", role: m.role, content: text(m.content) });
    } else if (m.role === "user") {
      input.push({ type: "message", role: "user", content: userContent(m.content) });
    } else if (m.role === "assistant") {
      const said = joinTexts([text(m.content), str(m.refusal) ?? ""].filter((t) => t !== ""));
      if (said !== "") input.push({ type: "message", role: "assistant", content: said });
      for (const call of objects(m.tool_calls)) {
        const callId = str(call.id) ?? "";
        if (call.type === "custom" && isObject(call.custom)) {
          customCalls.add(callId);
          input.push({ type: "custom_tool_call", call_id: callId, name: str(call.custom.name) ?? "", input: str(call.custom.input) ?? "" });
        } else {
          const fn = obj(call.function);
          input.push({ type: "function_call", call_id: callId, name: str(fn.name) ?? "", arguments: str(fn.arguments) ?? "{}" });
        }
      }
    } else if (m.role === "tool") {
      const callId = str(m.tool_call_id) ?? "";
      input.push({ type: customCalls.has(callId) ? "custom_tool_call_output" : "function_call_output", call_id: callId, output: text(m.content) });
    }
  }
  return input;
}

function responsesFormat(format: unknown): JsonObject | undefined {
  const f = obj(format);
  if (f.type === "json_object") return { type: "json_object" };
  if (f.type !== "json_schema") return undefined;
  const schema = obj(f.json_schema);
  const r: JsonObject = { type: "json_schema", name: str(schema.name) ?? "response" };
  if (str(schema.description) !== undefined) r.description = schema.description;
  r.schema = isObject(schema.schema) ? schema.schema : {};
  if (bool(schema.strict) !== undefined) r.strict = schema.strict;
  return r;
}

export function chatRequestToResponses(request: JsonObject, ctx: RequestContext): RequestResult {
  const refused = refusal(request);
  if (refused !== undefined) return { ok: false, message: refused };

  const out: JsonObject = { model: ctx.model, input: chatMessagesToInput(request.messages), store: false };
  const tools = chatToolsToResponses(request.tools);
  if (tools.length > 0) {
    out.tools = tools;
    const choice = chatToolChoiceToResponses(request.tool_choice);
    if (choice !== undefined) out.tool_choice = choice;
    if (bool(request.parallel_tool_calls) !== undefined) out.parallel_tool_calls = request.parallel_tool_calls;
  }
  const maxTokens = num(request.max_completion_tokens) ?? num(request.max_tokens);
  if (maxTokens !== undefined) out.max_output_tokens = maxTokens;
  if (str(request.reasoning_effort) !== undefined) out.reasoning = { effort: request.reasoning_effort };
  const textConfig: JsonObject = {};
  const format = responsesFormat(request.response_format);
  if (format !== undefined) textConfig.format = format;
  if (str(request.verbosity) !== undefined) textConfig.verbosity = request.verbosity;
  if (Object.keys(textConfig).length > 0) out.text = textConfig;
  for (const key of ["temperature", "top_p"]) if (num(request[key]) !== undefined) out[key] = request[key];
  for (const key of ["user", "safety_identifier", "prompt_cache_key", "service_tier"]) if (str(request[key]) !== undefined) out[key] = request[key];
  if (isObject(request.metadata)) out.metadata = request.metadata;
  if (request.stream === true) out.stream = true;
  return { ok: true, body: out };
}
