/**
 * What `bun run bench` sends and what its fake provider answers, shared by the
 * orchestrator, the provider process and the streaming client, so each side can
 * check the other byte for byte.
 */

export const PROXY_KEY = "sk-bench-proxy-key-0123456789abcdef";
export const BACKEND_KEY = "sk-bench-backend-key-fedcba9876543210";
/** The alias clients name; the proxy rewrites it to UPSTREAM_MODEL. */
export const ALIAS = "bench-model";
export const UPSTREAM_MODEL = "bench-upstream-model";
export const API_PATH = "/v1/chat/completions";

export const COMPLETION_BYTES = 600;
export const STREAM_CHUNKS = 20;
export const CHUNK_GAP_MS = 5;

const FILLER = "Summarise the following notes about load balancing across language model providers in three short bullet points. ";

/**
 * A chat request of exactly `size` bytes. `model` and `stream` come first: the
 * provider checks the rewritten model with a prefix test instead of parsing the
 * body, so it stays cheap beside the load generator on its shared core.
 */
export function requestBody(model: string, stream: boolean, size: number): string {
  const open = `{"model":"${model}","stream":${stream},"max_tokens":256,"messages":[{"role":"system","content":"You are a helpful assistant."},{"role":"user","content":"`;
  const close = `"}]}`;
  const room = size - open.length - close.length;
  if (room < 0) throw new Error(`a request body cannot be as small as ${size} bytes`);
  return open + FILLER.repeat(Math.ceil(room / FILLER.length)).slice(0, room) + close;
}

/** The prefix the provider expects: the proxy must have put UPSTREAM_MODEL in place of the alias. */
export const upstreamPrefix = (stream: boolean) => `{"model":"${UPSTREAM_MODEL}","stream":${stream},`;

const ID = "chatcmpl-bench-0001";
const CREATED = 1_764_000_000;

/** The non-streaming answer: a chat completion of exactly COMPLETION_BYTES bytes. */
export const COMPLETION: string = (() => {
  const make = (content: string) =>
    JSON.stringify({
      id: ID,
      object: "chat.completion",
      created: CREATED,
      model: UPSTREAM_MODEL,
      choices: [{ index: 0, message: { role: "assistant", content }, finish_reason: "stop" }],
      usage: { prompt_tokens: 231, completion_tokens: 84, total_tokens: 315 },
    });
  const room = COMPLETION_BYTES - make("").length;
  return make(FILLER.repeat(Math.ceil(room / FILLER.length)).slice(0, room));
})();

const event = (data: unknown) => `data: ${typeof data === "string" ? data : JSON.stringify(data)}\n\n`;
const chunk = (delta: object, finish: string | null) =>
  event({ id: ID, object: "chat.completion.chunk", created: CREATED, model: UPSTREAM_MODEL, choices: [{ index: 0, delta, finish_reason: finish }] });

/** The streamed answer: STREAM_CHUNKS events (role, content pieces, finish, `[DONE]`), written CHUNK_GAP_MS apart. */
export const STREAM_EVENTS: readonly string[] = (() => {
  const pieces = STREAM_CHUNKS - 3;
  const text = FILLER.repeat(4);
  const size = Math.ceil(text.length / pieces);
  const content = Array.from({ length: pieces }, (_, i) => chunk({ content: text.slice(i * size, (i + 1) * size) }, null));
  return [chunk({ role: "assistant", content: "" }, null), ...content, chunk({}, "stop"), event("[DONE]")];
})();

export const STREAM_BYTES = STREAM_EVENTS.reduce((n, e) => n + Buffer.byteLength(e), 0);
export const DONE_TAIL = "data: [DONE]\n\n";
