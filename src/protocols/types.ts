/**
 * The contract between the attempt and the protocol translators. Translators are
 * pure: no I/O, no clock (the time comes in the context), no imports from other
 * layers. They work on parsed JSON; the attempt parses, frames and writes bytes.
 *
 * A client's protocol is its endpoint: `/v1/chat/completions` is "openai" (Chat
 * Completions), `/v1/messages` is "anthropic" (Messages), `/v1/responses` is
 * "openai-responses". A backend's protocol is its `protocol` setting.
 */

export type Protocol = "openai" | "anthropic" | "openai-responses";

/** A JSON object, as JSON.parse gives it. */
export type JsonObject = Record<string, unknown>;

/**
 * One server-sent event. `event` is the `event:` field ("" when the event has
 * none, as in every OpenAI Chat stream); `data` is the `data:` text parsed as
 * JSON, or the text itself when it is not JSON (OpenAI's `[DONE]`).
 */
export interface StreamEvent {
  readonly event: string;
  readonly data: unknown;
}

/**
 * Tokens of one answer, counted the Anthropic way: `input` excludes cached
 * tokens, which are counted apart as `cacheRead` (read from the cache) and
 * `cacheWrite` (written to it). `reasoning` is part of `output` (OpenAI's
 * `completion_tokens_details.reasoning_tokens`), reported for information.
 */
export interface Usage {
  readonly input: number;
  readonly output: number;
  readonly cacheRead: number;
  readonly cacheWrite: number;
  readonly reasoning: number;
}

/** What a request translation needs besides the client's body. */
export interface RequestContext {
  /** The route's upstream model name: the translated body's `model`. */
  readonly model: string;
  /** `max_tokens` for a target that requires it (Anthropic) when the client gave none. */
  readonly maxTokens: number;
  /** Chat Completions target, streaming: ask for usage (`stream_options.include_usage`). */
  readonly streamUsage: boolean;
}

/** A translated request, or why it cannot be translated (the client gets a 400 saying so). */
export type RequestResult = { readonly ok: true; readonly body: JsonObject } | { readonly ok: false; readonly message: string };

/** What an answer translation needs besides the provider's answer. */
export interface AnswerContext {
  /** The alias the client asked for: the `model` the client sees. */
  readonly alias: string;
  /** Unique per request: the seed of ids the translator makes up (`msg_…`, `chatcmpl-…`, `resp_…`). */
  readonly id: string;
  /** The client's own request body, parsed (stream_options, tools, and so on). */
  readonly request: JsonObject;
  /** Seconds since the epoch, for `created` / `created_at` fields. */
  readonly now: number;
}

/** A provider's error, in the client's protocol: status and body. */
export interface TranslatedError {
  readonly status: number;
  readonly body: JsonObject;
}

/**
 * One translated stream. Fed the provider's events in order, it returns the
 * client's events. Exactly one of `end` or `fail` is called last.
 */
export interface StreamTranslator {
  /** One event from the provider; the events to send the client now (often none or one). */
  push(event: StreamEvent): StreamEvent[];
  /** True once the provider's stream carried its completion (`[DONE]`, `message_stop`, `response.completed`, or a finish the protocol treats as final). */
  readonly complete: boolean;
  /** The provider's stream ended after its completion: the client's closing events, if any are still due. */
  end(): StreamEvent[];
  /** The stream was cut after it began (network, timeout, no completion): the client's honest error ending. */
  fail(message: string): StreamEvent[];
}

/** Translation from the client's protocol to one backend's, and back. */
export interface Translator {
  readonly client: Protocol;
  readonly backend: Protocol;
  /** The backend's endpoint path for this request (`/v1/messages`, `/v1/chat/completions`, `/v1/responses`). */
  readonly path: string;
  request(body: JsonObject, ctx: RequestContext): RequestResult;
  /** A 2xx JSON answer. */
  response(body: JsonObject, ctx: AnswerContext): JsonObject;
  /** A non-2xx answer: `body` is parsed JSON, or the text when it is not JSON. */
  error(status: number, body: unknown): TranslatedError;
  stream(ctx: AnswerContext): StreamTranslator;
}
