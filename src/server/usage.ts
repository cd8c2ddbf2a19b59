import { parseUsageQuery } from "../ops/ledger-query.ts";
import { periodEnd, periodStart } from "../ops/periods.ts";
import { errorResponse, type Protocol } from "../proxy/errors.ts";
import type { KeyServices } from "../ops/usage-services.ts";
import type { Principal } from "./keys.ts";

const iso = (ms: number) => new Date(ms).toISOString();

/**
 * GET /usage?from=…&to=…&by=key|alias|backend|model|day: totals from the ledger. The
 * proxy key (or an open proxy) sees every key and may filter with `key=`; a key of
 * `keys:` sees its own totals only, with what is left of its budget (another key's: 403;
 * an expired key: 401, as everywhere).
 */
export async function usageAnswer(req: Request, url: URL, principal: Principal, services: KeyServices, protocol: Protocol): Promise<Response> {
  if (req.method !== "GET" && req.method !== "HEAD") return errorResponse("method_not_allowed", protocol, `${req.method} is not allowed on /usage; use GET`, { allow: "GET" });
  const now = Date.now();
  const params = new URLSearchParams(url.search);
  if (principal.kind === "key") {
    const { key } = principal;
    if (now >= key.expiresAt) return errorResponse("key_expired", protocol, `key ${JSON.stringify(key.name)} expired at ${iso(key.expiresAt)}; ask for a new one`);
    const asked = params.get("key");
    if (asked && asked !== key.name) {
      return errorResponse("operator_only", protocol, `key ${JSON.stringify(key.name)} may read only its own usage; leave out key=, or ask with the proxy's own key (proxy_api_key) for another key's`);
    }
    params.set("key", key.name);
  }
  const { ledger } = services;
  if (!ledger) return errorResponse("not_found", protocol, "the usage ledger is off (usage.enabled: false), or it could not be opened (see the start-up log)");
  const query = parseUsageQuery(params, now);
  if (!query.ok) return errorResponse("invalid_json", protocol, `${query.message}`);
  // Rows wait up to a second in memory: what was answered before this request is counted.
  await ledger.flush().catch(() => {
    // The database refused: the answer is what it holds; the outage is logged by the ledger.
  });
  const rows = await ledger.summary(query.value);
  const answer: Record<string, unknown> = { from: iso(query.value.from), to: iso(query.value.to), by: query.value.by, rows };
  if (principal.kind === "key") {
    answer.key = principal.key.name;
    const budget = principal.key.limits.budget;
    if (budget) {
      const spent = (await ledger.spentSince(periodStart(budget.per, now))).get(principal.key.name) ?? { usd: 0, tokens: 0 };
      answer.budget = {
        per: budget.per,
        ...(budget.usd !== undefined ? { usd: budget.usd, spent_usd: spent.usd, remaining_usd: Math.max(0, budget.usd - spent.usd) } : {}),
        ...(budget.tokens !== undefined ? { tokens: budget.tokens, spent_tokens: spent.tokens, remaining_tokens: Math.max(0, budget.tokens - spent.tokens) } : {}),
        resets_at: iso(periodEnd(budget.per, now)),
      };
    }
  }
  return Response.json(answer, { headers: { "cache-control": "no-store" } });
}
