import type { Config, Route } from "../config/types.ts";
import type { Mask } from "../log/mask.ts";
import { translatorFor } from "../protocols/translators.ts";
import type { Translator } from "../protocols/types.ts";
import { decodedStream, UnknownEncodingError } from "../upstream/body.ts";
import { upstreamFetch } from "../upstream/fetch.ts";
import { clientHeaders, upstreamHeaders } from "../upstream/headers.ts";
import { rewriteModel } from "../upstream/json-scan.ts";
import { joinUrl } from "../upstream/url.ts";
import { AttemptControl, errorText, seconds } from "./attempt-control.ts";
import { errorBody } from "./errors.ts";
import { firstEvent } from "./first-event.ts";
import { judgeAnswer } from "./judge.ts";
import { failed, type Outcome } from "./outcome.ts";
import type { ProxyRequest } from "./request.ts";
import { routeMode } from "./route-mode.ts";
import { passthroughBody, type StreamEnd } from "./stream.ts";
import { translateRequest } from "./translate.ts";
import { wantsInjection, withUsageOption } from "./inject-usage.ts";

/** What every attempt of one configuration shares. */
export interface AttemptContext {
  readonly config: Config;
  /** Masks configured keys in what goes back to the client (providers echo keys). */
  readonly mask: Mask;
}

/** One attempt in progress: what the steps after the response head need. */
export interface Exchange {
  readonly ctx: AttemptContext;
  readonly req: ProxyRequest;
  readonly route: Route;
  readonly res: Response;
  readonly control: AttemptControl;
  /** performance.now() when the request was sent. */
  readonly started: number;
  /** Set when the backend speaks another protocol than the client: the answer is translated back. */
  readonly translator: Translator | undefined;
}

/**
 * One upstream attempt, up to the moment its answer is committed to the client or
 * judged a failure: send, then by what came back judge a JSON or error answer, wait
 * for a stream's first event, or pass any other body on.
 */
export async function attempt(ctx: AttemptContext, req: ProxyRequest, route: Route): Promise<Outcome> {
  const { backend } = route;
  const translator = routeMode(req.path, req.protocol, backend.protocol) === "translate" ? translatorFor(req.protocol, backend.protocol!) : undefined;
  const sent = requestFor(req, route, translator);
  if (typeof sent === "string") {
    const { status, body } = errorBody("not_translatable", req.protocol, `model ${JSON.stringify(req.alias.name)}: this request cannot be sent to backend ${backend.name} (it speaks ${backend.protocol}): ${sent}`);
    return failed("not_translatable", sent, undefined, undefined, { status, headers: [["content-type", "application/json"]], body: JSON.stringify(body) }, true);
  }
  const control = new AttemptControl(req.signal, backend.timeouts, backend.origin, req.arrived);
  const started = performance.now();
  let res: Response;
  try {
    res = await upstreamFetch({ ...sent, method: req.method, signal: control.signal });
  } catch (error) {
    return lost({ req, route, control }, error, false);
  }
  control.headArrived();
  const ex: Exchange = { ctx, req, route, res, control, started, translator };
  const problem = malformedHead(res);
  if (problem) {
    control.abort();
    return failed("malformed", problem, res.status >= 200 && res.status <= 599 ? res.status : undefined, res.headers);
  }
  const status = res.status;
  if (status >= 300 && status < 400) {
    control.abort();
    return failed("redirect", `redirect ${status} (not followed)`, status, res.headers);
  }
  const type = res.headers.get("content-type") ?? "";
  if (status < 200 || status >= 300 || type.includes("json")) return judgeAnswer(ex);
  if (type.includes("text/event-stream")) return firstEvent(ex);
  if (translator) {
    control.abort();
    return failed("malformed", `status ${status} with a ${type || "body without a content-type"}, where JSON or an event stream was expected`, status, res.headers);
  }
  return passOn(ex);
}

/** The request as it goes to the backend: the client's body with the model replaced, or translated into the backend's protocol. */
function requestFor(req: ProxyRequest, route: Route, translator: Translator | undefined): { url: string; headers: Headers; body: Uint8Array } | string {
  const { backend } = route;
  if (!translator) {
    const body = rewriteModel(req.body, req.text, req.modelRanges, route.model);
    return {
      url: joinUrl(backend, req.path, req.search),
      headers: upstreamHeaders(req.headers, backend, { stream: req.stream }),
      body: wantsInjection(req, route) ? withUsageOption(body) : body,
    };
  }
  const t = translateRequest(req, route, translator);
  if (typeof t === "string") return t;
  // The client's query belongs to the client's API; the backend URL's own query stays.
  return { url: joinUrl(backend, t.path, ""), headers: upstreamHeaders(req.headers, backend, { stream: req.stream, drop: t.drop, defaults: t.defaults }), body: t.body };
}

/**
 * What no client could be handed: a status outside 200–599 (a Response cannot carry
 * it), or a head with both Transfer-Encoding and Content-Length, which RFC 9112 §6.3
 * says to treat as an error (it is how responses are smuggled).
 * https://www.rfc-editor.org/rfc/rfc9112#section-6.3
 */
function malformedHead(res: Response): string | undefined {
  if (res.status < 200 || res.status > 599) return `the provider answered with status ${res.status}, which is not a valid HTTP status`;
  if (res.headers.has("transfer-encoding") && res.headers.has("content-length")) {
    return "the provider's answer has both Transfer-Encoding and Content-Length (RFC 9112 section 6.3): its framing cannot be trusted";
  }
  return undefined;
}

/** Anything else (audio, files): passed on as it comes, still encoded as the provider sent it. */
function passOn(ex: Exchange): Outcome {
  const { res, control } = ex;
  const headers = clientHeaders(res.headers, false, ex.ctx.mask);
  const firstByteMs = performance.now() - ex.started;
  if (!res.body) {
    control.release();
    return { kind: "served", status: res.status, headers, body: null, streaming: false, firstByteMs, finished: Promise.resolve({ kind: "complete", bytes: 0 }), usage: noUsage };
  }
  control.readingBody();
  const { promise, resolve } = Promise.withResolvers<StreamEnd>();
  const body = passthroughBody([], res.body.getReader() as ReadableStreamDefaultReader<Uint8Array>, control, resolve);
  return { kind: "served", status: res.status, headers, body, streaming: false, firstByteMs, finished: promise, usage: noUsage };
}

export const noUsage = () => undefined;

/** The body as plain bytes, or a failure when its content-encoding is one the proxy cannot undo. */
export function plainReader(ex: Exchange): ReadableStreamDefaultReader<Uint8Array> | Outcome {
  const { res } = ex;
  try {
    return decodedStream(res.body ?? new ReadableStream<Uint8Array>(), res.headers.get("content-encoding")).getReader() as ReadableStreamDefaultReader<Uint8Array>;
  } catch (error) {
    ex.control.abort();
    if (error instanceof UnknownEncodingError) return failed("malformed", error.message, res.status, res.headers);
    throw error;
  }
}

/** An attempt that ended without an answer to judge: the client left, a timer ran out, or the network failed. */
export function lost(ex: Pick<Exchange, "req" | "route" | "control">, error: unknown, headIn: boolean): Outcome {
  const { control, req } = ex;
  control.release();
  const t = ex.route.backend.timeouts;
  switch (control.why) {
    case "client":
      return { kind: "gone" };
    case "first_byte_timeout":
      return failed("first_byte_timeout", `no ${headIn ? "first event" : "answer"} within ${seconds(t.firstByteMs)}`);
    case "connect_timeout":
      return failed("connect_timeout", `no connection within ${seconds(t.connectMs)} (the provider's address did not accept one)`);
    case "idle_timeout":
      return failed("idle_timeout", `no data for ${seconds(t.idleMs)} while reading the answer`);
    case "total_timeout":
      return failed("total_timeout", `request took longer than ${seconds(t.totalMs)}`);
  }
  if (req.signal.aborted) return { kind: "gone" };
  const e = error as { code?: unknown; message?: unknown } | undefined;
  const message = errorText(error);
  const code = typeof e?.code === "string" && !message.startsWith(e.code) ? `${e.code}: ` : "";
  if (/CERT|TLS|SSL|UNABLE_TO_VERIFY|HOSTNAME|ALTNAME/i.test(`${String(e?.code)} ${message}`)) {
    return failed("network", `TLS: the provider's certificate was refused (${code}${message}); check the host name in the backend's url, or trust a company CA with NODE_EXTRA_CA_CERTS`);
  }
  return failed("network", `network error: ${code}${message}`);
}
