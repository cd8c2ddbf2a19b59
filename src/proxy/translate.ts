import type { Route } from "../config/types.ts";
import { renderEvent } from "../protocols/render.ts";
import type { AnswerContext, JsonObject, Protocol, StreamTranslator, Translator, Usage } from "../protocols/types.ts";
import type { UsageFollower } from "../protocols/usage.ts";
import { SseParser } from "../upstream/sse.ts";
import type { Answer } from "./outcome.ts";
import type { ProxyRequest } from "./request.ts";
import type { StreamShape } from "./stream.ts";
import { usageFollower } from "./usage-tap.ts";

/** `max_tokens` for a target that requires it (Anthropic), when neither the client nor the route names one. */
export const DEFAULT_MAX_TOKENS = 8192;

/** Anthropic's API version sent when the client did not send one. https://docs.anthropic.com/en/api/versioning */
const ANTHROPIC_VERSION = "2023-06-01";

/** Headers of one vendor's clients that mean nothing to another vendor's backend. */
const VENDOR_HEADERS: Record<"anthropic" | "openai", RegExp> = {
  anthropic: /^anthropic-/,
  openai: /^(openai-|x-openai-)/,
};
const vendor = (p: Protocol) => (p === "anthropic" ? "anthropic" : "openai");
/** A client's internal switches (Codex's x-openai-internal-codex-responses-lite) belong to the API it speaks. */
const INTERNAL = /^x-openai-internal-/;

/** The translated request: the path on the backend, the body, and how the client's headers change. */
export interface TranslatedRequest {
  readonly path: string;
  readonly body: Uint8Array;
  readonly drop: (name: string) => boolean;
  readonly defaults: readonly (readonly [string, string])[];
}

const encoder = new TextEncoder();
/** Ends any event the provider left open: a line break for its last line, a blank line to dispatch it. */
const blankLines = encoder.encode("\n\n");

/** The client's request in the backend's protocol, or why it cannot be (the client's own fault). */
export function translateRequest(req: ProxyRequest, route: Route, t: Translator): TranslatedRequest | string {
  const body = req.json;
  const result = t.request(capped(body, route), {
    model: route.model,
    maxTokens: route.maxTokens ?? DEFAULT_MAX_TOKENS,
    streamUsage: route.backend.streamUsage !== "off",
  });
  if (!result.ok) return result.message;
  const foreign = vendor(t.client) === vendor(t.backend) ? INTERNAL : VENDOR_HEADERS[vendor(t.client)];
  return {
    path: t.path,
    body: encoder.encode(JSON.stringify(result.body)),
    drop: (name) => foreign.test(name) || INTERNAL.test(name),
    defaults: t.backend === "anthropic" ? [["anthropic-version", ANTHROPIC_VERSION]] : [],
  };
}

/** The route's `max_tokens` also caps what the client asked for (Claude Code asks 128,000 of every model). */
function capped(body: JsonObject, route: Route): JsonObject {
  const cap = route.maxTokens;
  if (cap === undefined) return body;
  let out = body;
  for (const field of ["max_tokens", "max_completion_tokens", "max_output_tokens"]) {
    const asked = out[field];
    if (typeof asked === "number" && asked > cap) out = { ...out, [field]: cap };
  }
  return out;
}

export function answerContext(req: ProxyRequest): AnswerContext {
  return { alias: req.alias.name, id: req.id, request: req.json, now: Math.floor(Date.now() / 1000) };
}

/** A provider's non-2xx answer in the client's protocol: status mapped, body reshaped, headers cleaned. */
export function translatedError(t: Translator, status: number, text: string, headers: readonly [string, string][]): Answer {
  let body: unknown = text;
  try {
    body = JSON.parse(text);
  } catch {
    // Not JSON (an HTML page from a load balancer): the translator makes a message of the text.
  }
  const translated = t.error(status, body);
  return { status: translated.status, headers: jsonHeaders(headers), body: JSON.stringify(translated.body) };
}

/** The provider's headers for a body the proxy rebuilt as JSON. */
export function jsonHeaders(headers: readonly [string, string][]): [string, string][] {
  return [...headers.filter(([name]) => name !== "content-type" && name !== "content-encoding"), ["content-type", "application/json"]];
}

/**
 * A committed stream translated event by event: the provider's bytes are parsed into
 * events, each given to the translator, and its events rendered for the client.
 */
export class TranslatingShape implements StreamShape {
  private readonly parser = new SseParser();
  private done = false;
  private readonly follower: UsageFollower;
  /** What the provider's last event, left without its blank line at the end of the body, gave the client. */
  private last: string | undefined;

  constructor(
    private readonly stream: StreamTranslator,
    backend: Protocol,
  ) {
    this.follower = usageFollower(backend);
  }

  get usage(): Usage | undefined {
    return this.follower.usage;
  }

  get complete(): boolean {
    return this.stream.complete;
  }

  /**
   * At a clean end of the provider's body, an event still waiting for its blank line is
   * taken as ended, as the openai SDK takes it ("servers sometimes omit the trailing
   * blank line") and as passthrough finds `data: [DONE]` as a whole line; what it gives
   * the client goes out before the closing (or the cut) events.
   */
  endedCleanly(): boolean {
    this.last ??= this.chunk(blankLines);
    return this.stream.complete;
  }

  chunk(bytes: Uint8Array): string {
    let out = "";
    for (const e of this.parser.push(bytes)) {
      let data: unknown = e.data;
      try {
        data = JSON.parse(e.data);
      } catch {
        // Not JSON (OpenAI's [DONE]): the translator takes the text.
      }
      const event = { event: e.event === "message" ? "" : e.event, data };
      this.follower.push(event);
      for (const translated of this.stream.push(event)) out += renderEvent(translated);
    }
    return out;
  }

  end(): string {
    if (this.done) return "";
    this.done = true;
    return (this.last ?? "") + this.stream.end().map(renderEvent).join("");
  }

  cut(message: string): string {
    if (this.done) return "";
    this.done = true;
    return (this.last ?? "") + this.stream.fail(message).map(renderEvent).join("");
  }
}

/**
 * The provider's body as the committed stream reads it, ended as soon as the
 * translated stream is complete. The proxy is the client's server here: after the
 * last event of the client's protocol it has nothing more to say, and the clients
 * that read to the end of the body (the Anthropic SDK, the openai SDK's Responses
 * stream) would otherwise wait for a provider that keeps its connection open after
 * `[DONE]` until idle_seconds. The rest of the provider's body is not read.
 */
export function endingAtCompletion(reader: ReadableStreamDefaultReader<Uint8Array>, shape: TranslatingShape): ReadableStreamDefaultReader<Uint8Array> {
  return new ReadableStream<Uint8Array>(
    {
      async pull(controller) {
        if (shape.complete) {
          controller.close();
          // Cancelling closes the provider's connection; an error from it changes nothing for the client.
          reader.cancel().catch(() => undefined);
          return;
        }
        const { done, value } = await reader.read();
        if (done) controller.close();
        else controller.enqueue(value);
      },
      cancel(reason) {
        return reader.cancel(reason);
      },
    },
    { highWaterMark: 0 },
  ).getReader() as ReadableStreamDefaultReader<Uint8Array>;
}
