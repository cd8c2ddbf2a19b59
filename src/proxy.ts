import type { Alias, Config, Route } from "./config/types.ts";
import type { CooldownTable } from "./cooldown.ts";
import { findPattern, isErrorEvent, isErrorStatus, isRequestFault, jsonHasError } from "./detect.ts";
import { errorResponse, type Protocol } from "./errors.ts";
import type { Logger } from "./log.ts";
import type { Mask } from "./mask.ts";
import { plan } from "./router.ts";
import { FirstEventScanner } from "./sse.ts";
import { clientHeaders, joinUrl, rewriteModel, upstreamHeaders } from "./upstream.ts";

/** Until the resilience timeouts exist: how long a route may take to answer (headers, or a stream's first event). */
export const FIRST_BYTE_MS = 60_000;

export interface ProxyContext {
  readonly config: Config;
  readonly cooldowns: CooldownTable;
  readonly log: Logger;
  /** Masks configured keys in bodies passed back to clients (providers echo keys in 401s). */
  readonly redact: Mask;
}

export interface Incoming {
  readonly method: string;
  readonly path: string;
  readonly search: string;
  readonly headers: Headers;
  readonly body: Uint8Array;
  readonly text: string;
  /** Where the top-level `model` value sits in `text`. */
  readonly modelRanges: readonly [number, number][];
  readonly alias: Alias;
  readonly stream: boolean;
  readonly protocol: Protocol;
  /** Aborted when the client goes away. */
  readonly signal: AbortSignal;
}

/** An upstream answer kept to return as the final one if every route fails. */
interface Answer {
  readonly status: number;
  readonly headers: Headers;
  readonly body: string;
}

/** What one attempt came to. Expected upstream trouble is a value, never thrown. */
type Outcome =
  | { readonly kind: "served"; readonly response: Response; readonly status: number }
  | { readonly kind: "failed"; readonly reason: string; readonly status?: number; readonly answer?: Answer; readonly cool: boolean }
  | { readonly kind: "gone" };

const describeRoute = (r: Route) => `${r.backend.name}/${r.model}`;

/** The attempt loop: tries the alias's routes in plan order until one serves the request. */
export async function forward(ctx: ProxyContext, inc: Incoming): Promise<Response> {
  const { config, cooldowns, log } = ctx;
  const started = performance.now();
  const candidates = plan(inc.alias, (key) => cooldowns.remaining(key, Date.now()));
  let attempts = 0;
  let skipped = candidates.cooling;
  let last: Answer | undefined;
  const tried: string[] = [];

  for (const route of candidates.routes) {
    if (config.maxRetries > 0 && attempts >= config.maxRetries) break;
    // Another request may have cooled this pair since the plan was made.
    if (cooldowns.remaining(route.key, Date.now()) > 0) {
      skipped++;
      continue;
    }
    attempts++;
    const outcome = await attempt(ctx, inc, route);
    if (outcome.kind === "gone") {
      log.info(`${inc.alias.name}: client went away during attempt ${attempts} (${describeRoute(route)})`);
      return new Response(null, { status: 499 });
    }
    if (outcome.kind === "served") {
      cooldowns.succeeded(route.key);
      log.info(`${inc.alias.name} → ${describeRoute(route)}: ${outcome.status} after ${attempts} attempt${attempts === 1 ? "" : "s"} in ${(performance.now() - started).toFixed(1)} ms`);
      return outcome.response;
    }
    tried.push(`${describeRoute(route)}: ${outcome.reason}`);
    if (outcome.answer) last = outcome.answer;
    if (outcome.cool && config.cooldownMs > 0) {
      cooldowns.enter(route.key, Date.now(), config.cooldownMs, outcome.reason, outcome.status);
      log.warn(`${inc.alias.name}: ${describeRoute(route)} failed (${outcome.reason}); cooling down for ${config.cooldownMs / 1000} s`);
    } else log.warn(`${inc.alias.name}: ${describeRoute(route)} failed (${outcome.reason}); not cooled down (the request's own fault)`);
  }

  const alias = JSON.stringify(inc.alias.name);
  if (attempts === 0) {
    if (skipped > 0) {
      const wait = Math.max(1, Math.ceil(Math.max(candidates.firstFreeMs, 1) / 1000));
      log.warn(`${inc.alias.name}: every route is cooling down; retry in ${wait} s`);
      return errorResponse("no_route_available", inc.protocol, `every route of model ${alias} is cooling down after failures; retry in ${wait} s`, { "retry-after": String(wait) });
    }
    log.error(`${inc.alias.name}: no usable route (check the routes and backends in the config)`);
    return errorResponse("no_route_available", inc.protocol, `model ${alias} has no usable route (every route or backend is disabled or unknown)`);
  }
  log.error(`${inc.alias.name}: all ${attempts} attempt${attempts === 1 ? "" : "s"} failed: ${tried.join("; ")}`);
  if (last) {
    return new Response(ctx.redact(last.body), { status: last.status, headers: last.headers });
  }
  return errorResponse("upstream_unavailable", inc.protocol, `model ${alias}: ${attempts} attempt${attempts === 1 ? "" : "s"} failed without an answer from any provider (${ctx.redact(tried.join("; "))})`);
}

/** One upstream attempt, up to the moment the answer is committed to the client or judged a failure. */
async function attempt(ctx: ProxyContext, inc: Incoming, route: Route): Promise<Outcome> {
  const { config } = ctx;
  const upstream = new AbortController();
  const onClientGone = () => upstream.abort();
  inc.signal.addEventListener("abort", onClientGone, { once: true });
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    upstream.abort();
  }, FIRST_BYTE_MS);
  const release = () => {
    clearTimeout(timer);
    inc.signal.removeEventListener("abort", onClientGone);
  };
  const lost = (error: unknown): Outcome => {
    release();
    if (inc.signal.aborted) return { kind: "gone" };
    if (timedOut) return { kind: "failed", reason: `no answer within ${FIRST_BYTE_MS / 1000} s`, cool: true };
    return { kind: "failed", reason: `network error: ${(error as Error)?.message ?? String(error)}`, cool: true };
  };

  let res: Response;
  try {
    res = await fetch(joinUrl(route.backend, inc.path, inc.search), {
      method: inc.method,
      headers: upstreamHeaders(inc.headers, route.backend, inc.stream),
      body: rewriteModel(inc.body, inc.text, inc.modelRanges, route.model),
      redirect: "manual",
      signal: upstream.signal,
      // Our own timers decide; Bun's idle timer must never cut a slow stream.
      timeout: false,
    } as RequestInit);
  } catch (error) {
    return lost(error);
  }

  const status = res.status;
  try {
    if (status >= 300 && status < 400) {
      await res.body?.cancel();
      release();
      return { kind: "failed", reason: `redirect ${status} (not followed)`, status, cool: true };
    }
    if (status < 200 || status >= 300) {
      const body = await res.text();
      release();
      const answer = { status, headers: clientHeaders(res.headers), body };
      const fault = isRequestFault(status, body);
      if (isErrorStatus(config, status)) return { kind: "failed", reason: `status ${status}`, status, answer, cool: !fault };
      const pattern = findPattern(config, body);
      if (pattern !== undefined) return { kind: "failed", reason: `status ${status} with "${pattern}"`, status, answer, cool: !fault };
      return { kind: "served", status, response: new Response(body, { status, headers: answer.headers }) };
    }
    const type = res.headers.get("content-type") ?? "";
    if (type.includes("text/event-stream")) return await commitStream(ctx, inc, route, res, upstream, release);
    if (type.includes("json")) {
      const body = await res.text();
      release();
      if (jsonHasError(body)) {
        return { kind: "failed", reason: `status ${status} with an error body`, status, answer: { status: 502, headers: clientHeaders(res.headers), body }, cool: !isRequestFault(status, body) };
      }
      return { kind: "served", status, response: new Response(body, { status, headers: clientHeaders(res.headers) }) };
    }
    // Anything else (audio, files): passed through as it comes; a client abort still reaches upstream.
    clearTimeout(timer);
    return { kind: "served", status, response: new Response(res.body, { status, headers: clientHeaders(res.headers) }) };
  } catch (error) {
    return lost(error);
  }
}

/**
 * Reads a stream up to its first complete data event before committing: until
 * then the proxy can still fall back. After that, each chunk goes to the client
 * as it arrives.
 */
async function commitStream(ctx: ProxyContext, inc: Incoming, route: Route, res: Response, upstream: AbortController, release: () => void): Promise<Outcome> {
  const reader = res.body!.getReader();
  const scanner = new FirstEventScanner();
  const held: Uint8Array[] = [];
  for (;;) {
    const { done, value } = await reader.read();
    if (done) {
      release();
      return { kind: "failed", reason: "stream ended before its first event", status: res.status, cool: true };
    }
    held.push(value);
    const event = scanner.push(value);
    if (!event) continue;
    if (isErrorEvent(event.event, event.data)) {
      await reader.cancel().catch(() => {
        // The stream is abandoned either way.
      });
      release();
      const answer = { status: res.status, headers: clientHeaders(res.headers), body: Buffer.concat(held).toString("utf8") };
      return { kind: "failed", reason: "stream began with an error event", status: res.status, answer, cool: !isRequestFault(res.status, event.data) };
    }
    break;
  }

  // Committed: from here on a failure cannot fall back; the timers no longer apply.
  release();
  const { cooldowns, config, log } = ctx;
  const onClientGone = () => upstream.abort();
  inc.signal.addEventListener("abort", onClientGone, { once: true });
  const finish = () => inc.signal.removeEventListener("abort", onClientGone);
  const body = new ReadableStream<Uint8Array>(
    {
      start(controller) {
        for (const chunk of held) controller.enqueue(chunk);
      },
      async pull(controller) {
        try {
          const { done, value } = await reader.read();
          if (done) {
            finish();
            controller.close();
          } else controller.enqueue(value);
        } catch (error) {
          finish();
          if (!inc.signal.aborted) {
            if (config.cooldownMs > 0) cooldowns.enter(route.key, Date.now(), config.cooldownMs, "stream cut after commit");
            log.error(`${inc.alias.name}: stream from ${describeRoute(route)} was cut after it started (${(error as Error).message}); the client sees an incomplete stream`);
          }
          controller.error(error);
        }
      },
      cancel() {
        finish();
        upstream.abort();
      },
    },
    { highWaterMark: 0 },
  );
  return { kind: "served", status: res.status, response: new Response(body, { status: res.status, headers: clientHeaders(res.headers) }) };
}
