/**
 * Two translators chained through a middle protocol: `first` takes the client to
 * the middle, `second` the middle to the backend. Responses ⇄ Anthropic is
 * `composeTranslators(responsesToChat, chatToAnthropic)`; an Anthropic client on a
 * Responses backend is `composeTranslators(anthropicToChat, chatToResponses)`.
 *
 * The middle request never goes on the wire, so `first` always translates with
 * `streamUsage: true`: the middle stream then carries usage for `first` to report,
 * whatever the backend accepts (`second` gets the route's real context).
 *
 * `second` needs the middle request in its answer context, where only the
 * client's request is given: it is rebuilt by translating the client's request
 * again. Translation is pure, so this is the body the request path made, except
 * `model` (the alias here) and `maxTokens` (0 here): answer translation reads
 * neither from the request.
 */
import type { AnswerContext, JsonObject, RequestContext, StreamTranslator, Translator } from "./types.ts";

/** A programmer error: the two translators do not meet in the same protocol. */
export class ComposeMismatchError extends Error {
  override readonly name = "ComposeMismatchError";
}

export function composeTranslators(first: Translator, second: Translator): Translator {
  if (first.backend !== second.client) {
    throw new ComposeMismatchError(`cannot compose ${first.client}→${first.backend} with ${second.client}→${second.backend}: the middle protocols differ`);
  }
  const middleContext = (ctx: RequestContext): RequestContext => ({ ...ctx, streamUsage: true });
  const middleAnswerContext = (ctx: AnswerContext): AnswerContext => {
    const middle = first.request(ctx.request, { model: ctx.alias, maxTokens: 0, streamUsage: true });
    const request: JsonObject = middle.ok ? middle.body : ctx.request;
    return { ...ctx, request };
  };

  return {
    client: first.client,
    backend: second.backend,
    path: second.path,
    request(body, ctx) {
      const middle = first.request(body, middleContext(ctx));
      return middle.ok ? second.request(middle.body, ctx) : middle;
    },
    response(body, ctx) {
      return first.response(second.response(body, middleAnswerContext(ctx)), ctx);
    },
    error(status, body) {
      const middle = second.error(status, body);
      return first.error(middle.status, middle.body);
    },
    stream(ctx): StreamTranslator {
      const inner = second.stream(middleAnswerContext(ctx));
      const outer = first.stream(ctx);
      const through = (events: readonly { event: string; data: unknown }[]) => events.flatMap((e) => outer.push(e));
      return {
        push: (event) => through(inner.push(event)),
        get complete() {
          return inner.complete;
        },
        end() {
          const events = through(inner.end());
          // The outer stream must have seen the middle completion; if not, say so rather than end as if whole.
          return [...events, ...(outer.complete ? outer.end() : outer.fail("the translated stream ended before its completion"))];
        },
        fail(message) {
          // The inner error ending is the middle protocol's; the client's honest ending comes from the outer one.
          inner.fail(message);
          return outer.fail(message);
        },
      };
    },
  };
}
