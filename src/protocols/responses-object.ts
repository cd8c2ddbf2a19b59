/**
 * The Response object the client sees, for answers and for the lifecycle events
 * of a stream (`response.created` … `response.completed`). Request parameters are
 * echoed from the client's own request, as the Responses API does.
 * https://platform.openai.com/docs/api-reference/responses/object
 */
import { isObject, obj } from "./responses-guards.ts";
import type { AnswerContext, JsonObject } from "./types.ts";

export type ResponseStatus = "in_progress" | "completed" | "incomplete" | "failed";

export interface EnvelopeFields {
  readonly status: ResponseStatus;
  readonly output: readonly JsonObject[];
  readonly usage?: JsonObject | undefined;
  readonly error?: JsonObject | undefined;
  readonly incompleteReason?: string | undefined;
}

export const responseId = (ctx: AnswerContext): string => `resp_${ctx.id}`;

/** Item ids derive from the request id, so the same request always yields the same ids. */
export const itemId = (prefix: "msg" | "fc" | "ctc" | "rs", ctx: AnswerContext, index: number): string => `${prefix}_${ctx.id}_${index}`;

const echo = (value: unknown, fallback: unknown): unknown => (value === undefined ? fallback : value);

export function responseEnvelope(ctx: AnswerContext, fields: EnvelopeFields): JsonObject {
  const req = ctx.request;
  const reasoning = obj(req.reasoning);
  const text = isObject(req.text) ? req.text : {};
  return {
    id: responseId(ctx),
    object: "response",
    created_at: ctx.now,
    status: fields.status,
    completed_at: fields.status === "completed" ? ctx.now : null,
    background: false,
    error: fields.error ?? null,
    incomplete_details: fields.incompleteReason === undefined ? null : { reason: fields.incompleteReason },
    instructions: echo(req.instructions, null),
    max_output_tokens: echo(req.max_output_tokens, null),
    max_tool_calls: echo(req.max_tool_calls, null),
    model: ctx.alias,
    output: [...fields.output],
    parallel_tool_calls: echo(req.parallel_tool_calls, true),
    previous_response_id: null,
    prompt_cache_key: echo(req.prompt_cache_key, null),
    reasoning: { effort: echo(reasoning.effort, null), summary: echo(reasoning.summary, null) },
    safety_identifier: echo(req.safety_identifier, null),
    service_tier: "default",
    store: false,
    temperature: echo(req.temperature, null),
    text: { format: { type: "text" }, ...text },
    tool_choice: echo(req.tool_choice, "auto"),
    tools: Array.isArray(req.tools) ? req.tools : [],
    top_logprobs: echo(req.top_logprobs, 0),
    top_p: echo(req.top_p, null),
    truncation: echo(req.truncation, "disabled"),
    usage: fields.usage ?? null,
    user: echo(req.user, null),
    metadata: isObject(req.metadata) ? req.metadata : {},
  };
}
