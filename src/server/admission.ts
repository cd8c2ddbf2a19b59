import type { Admitted } from "../ops/limits.ts";
import { refusedRow } from "../ops/usage-record.ts";
import type { KeyServices } from "../ops/usage-services.ts";
import { errorResponse, type Protocol } from "../proxy/errors.ts";
import type { Principal } from "./keys.ts";

/** A proxy key or an open proxy: nothing to count. */
const FREE: Admitted = Object.freeze({ ok: true as const, release() {} });

/**
 * Before a proxied request: a key past its `expires`, an alias outside its `models`,
 * or a limit it is over gets its answer here (401, 403, 429 with Retry-After) and
 * nothing goes upstream; otherwise the admission to release when the request is over.
 */
export async function admit(principal: Principal, alias: string, protocol: Protocol, services: KeyServices, now: number): Promise<Admitted | Response> {
  if (principal.kind !== "key") return FREE;
  const { key } = principal;
  if (now >= key.expiresAt) {
    return errorResponse("key_expired", protocol, `key ${JSON.stringify(key.name)} expired at ${new Date(key.expiresAt).toISOString()}; ask for a new one`);
  }
  if (!key.allows(alias)) {
    services.ledger?.record(refusedRow(key.name, alias, 403, "forbidden", now));
    return errorResponse("model_not_allowed", protocol, `key ${JSON.stringify(key.name)} may not use model ${JSON.stringify(alias)}; GET /v1/models with this key lists the models it may use`);
  }
  const admission = await services.limiter.admit(key.name, key.limits, now);
  if (admission.ok) return admission;
  services.ledger?.record(refusedRow(key.name, alias, 429, "limited", now));
  const kind = admission.limit === "budget" ? "budget_exceeded" : "rate_limit_exceeded";
  return errorResponse(kind, protocol, admission.message, { "retry-after": String(admission.retryAfterSeconds) });
}
