
/** POSTs a body (a string is sent byte for byte, anything else as JSON) to the proxy. */
export function post(url: string, body: unknown, headers: Record<string, string> = {}, init: RequestInit = {}): Promise<Response> {
  return fetch(url, {
    method: "POST",
    ...init,
    headers: { "content-type": "application/json", ...headers },
    body: typeof body === "string" || body instanceof Uint8Array ? body : JSON.stringify(body),
  });
}

/** The error shapes the proxy makes itself. */
export interface OpenAIErrorBody {
  error: { message: string; type: string; code: string; param: null };
}
export interface AnthropicErrorBody {
  type: "error";
  error: { type: string; message: string };
}

export async function openaiError(res: Response): Promise<OpenAIErrorBody> {
  return (await res.json()) as OpenAIErrorBody;
}
export async function anthropicError(res: Response): Promise<AnthropicErrorBody> {
  return (await res.json()) as AnthropicErrorBody;
}

/** Resolves with `promise`, or rejects after `ms` naming `what` (for promises that should settle soon). */
export function within<T>(promise: Promise<T>, what: string, ms = 10_000): Promise<T> {
  let timer: Timer | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out waiting for ${what}`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/** Reads a streamed body until `predicate` holds for the text so far (or the body ends). */
export async function readUntil(reader: { read(): Promise<{ done: boolean; value?: Uint8Array | undefined }> }, seen: { text: string }, predicate: (text: string) => boolean): Promise<void> {
  const decoder = new TextDecoder();
  while (!predicate(seen.text)) {
    const { value, done } = await reader.read();
    if (done) throw new Error(`stream ended before the expected text; got: ${seen.text}`);
    seen.text += decoder.decode(value, { stream: true });
  }
}
