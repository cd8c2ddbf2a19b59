import type { Backend } from "../config/types.ts";

/**
 * Joins a backend URL and the client's path as the original does: the backend URL
 * includes its base path; a request path that already starts with it is used as
 * is, any other gets it prefixed. `https://h/v1` + `/v1/chat/completions` →
 * `https://h/v1/chat/completions`; `https://h/api` + `/v1/chat/completions` →
 * `https://h/api/v1/chat/completions`. A query in the backend URL (`?key=…`) is added
 * to the client's.
 */
export function joinUrl(backend: Backend, path: string, clientSearch: string): string {
  return backend.origin + requestTarget(backend, path, clientSearch);
}

/** `joinUrl` without the origin: the path and query an HTTP/1.1 request line carries. */
export function requestTarget(backend: Backend, path: string, clientSearch: string): string {
  const base = backend.basePath;
  const search = backend.query === "" ? clientSearch : clientSearch === "" || clientSearch === "?" ? `?${backend.query}` : `${clientSearch}&${backend.query}`;
  if (base === "" || path === base || path.startsWith(`${base}/`)) return path + search;
  return base + path + search;
}
