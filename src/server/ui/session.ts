/**
 * The proxy key: asked once, kept in this tab's sessionStorage only, sent as a
 * bearer token to this proxy's JSON endpoints; never in a cookie or the URL.
 */
const STORE = "llm-proxy.key";

export const savedKey = () => sessionStorage.getItem(STORE);
export const saveKey = (key: string) => sessionStorage.setItem(STORE, key);
export const forgetKey = () => sessionStorage.removeItem(STORE);

/** The proxy's endpoints sit at its root, wherever the page is served. */
export function call(path: string, init: RequestInit = {}): Promise<Response> {
  const key = savedKey();
  const headers = new Headers(init.headers);
  if (key) headers.set("authorization", `Bearer ${key}`);
  return fetch(new URL(path, location.origin), { ...init, headers, cache: "no-store", credentials: "omit" });
}

/** What a refusal means for the person at the page. */
export async function refusal(res: Response): Promise<string> {
  if (res.status === 401) return savedKey() ? "That key was refused. Check it and try again." : "This proxy needs its key.";
  if (res.status === 403) return "That is one of keys:, not the proxy's own key; the page needs proxy_api_key.";
  let detail = "";
  try {
    const body = (await res.json()) as { error?: { message?: string } };
    detail = body.error?.message ?? "";
  } catch {
    // Not JSON: the status says enough.
  }
  return `The proxy answered ${res.status}${detail ? `: ${detail}` : ""}`;
}
