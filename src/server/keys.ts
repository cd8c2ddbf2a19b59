import { keyDigest, type VirtualKey } from "../config/keys.ts";
import type { Config } from "../config/types.ts";
import { safeEqual, presentedKey } from "./auth.ts";

/**
 * Who is asking: the proxy's own key (`proxy_api_key`: every alias, no limits, and
 * the operator endpoints), one of `keys:`, or nobody needs to be asked (no key is
 * configured at all, as the original with no `proxy_api_key`).
 */
export type Principal = { readonly kind: "admin" } | { readonly kind: "open" } | { readonly kind: "key"; readonly key: VirtualKey };

const ADMIN: Principal = { kind: "admin" };
const OPEN: Principal = { kind: "open" };

/**
 * The principal of a request, or undefined when its key is missing or wrong. A
 * virtual key is found by the SHA-256 of what was presented (the file may hold only
 * that digest), so nothing is compared character by character with a key.
 */
export function identify(config: Config, headers: Headers): Principal | undefined {
  if (!config.proxyKey && config.keys.size === 0) return OPEN;
  const presented = presentedKey(headers);
  if (presented === undefined) return undefined;
  if (config.proxyKey && safeEqual(presented, config.proxyKey)) return ADMIN;
  if (config.keys.size === 0) return undefined;
  // Found by its digest, not by the key: how long the lookup takes depends on the digest alone, which tells nothing about the key's characters.
  const key = config.keys.get(keyDigest(presented));
  return key === undefined ? undefined : { kind: "key", key };
}

/** The operator endpoints (/status, cooldown clearing, /metrics, everyone's /usage): the proxy key, or an open proxy. */
export const isOperator = (p: Principal) => p.kind !== "key";
