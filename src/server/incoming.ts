import type { Config } from "../config/types.ts";
import type { Logger } from "../log/logger.ts";
import { errorResponse, type Protocol } from "../proxy/errors.ts";
import type { ProxyRequest } from "../proxy/request.ts";
import type { JsonObject } from "../protocols/types.ts";
import { modelValueRanges } from "../upstream/json-scan.ts";

const strictUtf8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });

/** Where a request came in: what the server already knows about it. */
export interface Arrival {
  readonly req: Request;
  readonly id: string;
  readonly fromClient: boolean;
  readonly path: string;
  readonly search: string;
  readonly protocol: Protocol;
  /** The name of the key it came with (`keys:`). */
  readonly key: string | undefined;
}

/**
 * The client's request read and checked: a body within `limits.max_body_mb`, UTF-8
 * JSON, an object with one top-level `model` naming an enabled alias. Anything else is
 * the client's error, answered here in its protocol.
 */
export async function readIncoming(a: Arrival, config: Config, log: Logger): Promise<ProxyRequest | Response> {
  const { req, protocol } = a;
  const limit = config.maxBodyBytes;
  const length = req.headers.get("content-length");
  if (length !== null && Number(length) > limit) return tooLarge(protocol, limit, Number(length));
  const body = length !== null ? new Uint8Array(await req.arrayBuffer()) : await readChunked(req, limit);
  if (body === undefined) return tooLarge(protocol, limit);
  let text: string;
  try {
    // JSON is UTF-8 (RFC 8259); a lenient decode would shift every byte offset after a bad byte.
    text = strictUtf8.decode(body);
  } catch {
    return errorResponse("invalid_json", protocol, 'request body is not valid UTF-8; send a UTF-8 JSON object with a "model" field');
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    return errorResponse("invalid_json", protocol, `request body is not valid JSON (${(error as Error).message}); send a JSON object with a "model" field`);
  }
  if (parsed === null || typeof parsed !== "object" || Array.isArray(parsed)) {
    return errorResponse("invalid_json", protocol, 'request body must be a JSON object with a "model" field');
  }
  const json = parsed as JsonObject;
  const model = json.model;
  if (typeof model !== "string" || model === "") {
    return errorResponse("missing_model", protocol, 'request body has no "model" (a non-empty string naming one of the models in GET /v1/models)');
  }
  const modelRanges = modelValueRanges(text, body);
  // Parsers differ on a repeated key (first or last wins): the provider could see another model than the one routed.
  if (modelRanges.length > 1) return errorResponse("duplicate_model", protocol, `request body has ${modelRanges.length} top-level "model" keys; send exactly one`);
  const alias = config.aliases.get(model);
  if (!alias) return errorResponse("model_not_found", protocol, `model ${JSON.stringify(model)} is not served by this proxy; GET /v1/models lists the models it serves`);
  const stream = json.stream === true;
  // The two lines every request logs are only built when they will be written.
  if (log.enabled("info")) log.info(`${req.method} ${a.path} model=${model}${stream ? " stream" : ""}${a.key === undefined ? "" : ` key=${a.key}`}`, a.id);
  if (log.enabled("debug")) log.debug(`request headers: ${JSON.stringify(Object.fromEntries(req.headers))}; body: ${text}`, a.id);
  return {
    id: a.id,
    clientRequestId: a.fromClient,
    method: req.method,
    path: a.path,
    search: a.search,
    headers: req.headers,
    body,
    text,
    json,
    modelRanges,
    alias,
    stream,
    protocol,
    signal: req.signal,
    arrived: Date.now(),
    key: a.key,
  };
}

function tooLarge(protocol: Protocol, limit: number, size?: number): Response {
  const what = size === undefined ? "request body" : `request body of ${size} bytes`;
  return errorResponse("request_too_large", protocol, `${what} is over the limit of ${limit} bytes (limits.max_body_mb)`);
}

/** A body without Content-Length (chunked), read until it passes `limit`: then undefined, without waiting for its end. */
async function readChunked(req: Request, limit: number): Promise<Uint8Array | undefined> {
  if (!req.body) return new Uint8Array(0);
  const reader = req.body.getReader() as ReadableStreamDefaultReader<Uint8Array>;
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.length;
    if (size > limit) {
      reader.cancel().catch(() => {
        // The client is told 413; the rest of its body is not wanted.
      });
      return undefined;
    }
    chunks.push(value);
  }
  return chunks.length === 1 ? chunks[0]! : new Uint8Array(Buffer.concat(chunks));
}
