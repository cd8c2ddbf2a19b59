/** The instance facts, the usage and spend tables, and the list of the last requests. */
import type { Spend, SpendRow } from "../live-model.ts";
import { clock, count, duration, el, keyLabel, ms, row, tokens, usd } from "./format.ts";
import type { PageState } from "./state.ts";

export function renderInstance(root: HTMLElement, state: PageState): void {
  const s = state.snapshot;
  if (!s) return;
  const i = s.instance;
  const now = state.now();
  const facts: [string, string][] = [
    ["version", i.version || "unknown"],
    ["up for", duration((now - i.startedAt) / 1000)],
    ["config file", i.configFile],
    ["loaded", `${clock(i.loadedAt)}${i.warnings > 0 ? ` (${i.warnings} warning${i.warnings === 1 ? "" : "s"}: see the start-up log)` : ""}`],
    ["last reload", i.reloadError ? `refused at ${clock(i.reloadError.at)}: ${i.reloadError.message}` : "no reload refused"],
    ["cluster", i.cluster ? (i.cluster.connected ? "connected to Redis" : "not connected to Redis (cooldowns are this instance's own until it is)") : "none (cluster.redis_url not set)"],
    ["workers", i.workers > 1 ? `${i.workers} processes; this page shows the traffic of the one it reached` : "1 process"],
    ["usage ledger", i.usage ? "on" : "off"],
  ];
  root.replaceChildren(...facts.flatMap(([k, v]) => [el("dt", k), el("dd", v, k === "last reload" && i.reloadError ? "error" : undefined)]));
}

const SPEND_HEAD = ["", "requests", "tokens in", "cached", "tokens out", "cost"];

function spendTable(title: "key" | "alias", rows: readonly SpendRow[]): HTMLElement {
  const box = el("div", undefined, "scroll");
  const table = el("table");
  table.append(row([title, ...SPEND_HEAD.slice(1)], [1, 2, 3, 4, 5], true));
  if (rows.length === 0) table.append(row(["nothing yet", "", "", "", "", ""]));
  for (const r of rows) table.append(row([title === "key" ? keyLabel(r.name) : r.name, count(r.requests), tokens(r.input), tokens(r.cached), tokens(r.output), usd(r.usd)], [1, 2, 3, 4, 5]));
  box.append(table);
  return box;
}

export function renderSpend(root: HTMLElement, spend: Spend | string): void {
  if (typeof spend === "string") return root.replaceChildren(el("p", spend, "error"));
  if (!spend.enabled) return root.replaceChildren(el("p", "The usage ledger is off (usage.enabled: false), or it could not be opened: there is no usage to show.", "hint"));
  const parts: Node[] = [
    el("h3", "Today (UTC)"),
    spendTable("key", spend.day.byKey),
    spendTable("alias", spend.day.byAlias),
    el("h3", "This month (UTC)"),
    spendTable("key", spend.month.byKey),
    spendTable("alias", spend.month.byAlias),
  ];
  if (spend.budgets.length > 0) {
    parts.push(el("h3", "Budgets"));
    const table = el("table");
    table.append(row(["key", "per", "spent", "budget", "left", "resets"], [2, 3, 4], true));
    for (const b of spend.budgets) {
      const money = b.usd !== null;
      const spent = money ? usd(b.spentUsd) : `${tokens(b.spentTokens)} tokens`;
      const limit = money ? usd(b.usd) : `${tokens(b.tokens)} tokens`;
      const left = money ? usd(Math.max(0, b.usd! - b.spentUsd)) : `${tokens(Math.max(0, b.tokens! - b.spentTokens))} tokens`;
      table.append(row([b.key, b.per, spent, limit, left, clock(b.resetsAt)], [2, 3, 4]));
    }
    const box = el("div", undefined, "scroll");
    box.append(table);
    parts.push(box);
  }
  root.replaceChildren(...parts);
}

const REQUEST_HEAD = ["time", "key", "alias", "route", "attempts", "status", "duration", "tokens in", "tokens out"];

export function renderRequests(table: HTMLTableElement, state: PageState, alias: string, status: string): void {
  const shown = state.recent.filter((r) => (alias === "" || r.alias === alias) && (status === "" || (status === "failed" ? r.outcome !== "served" : String(r.status).startsWith(status))));
  const rows = [row(REQUEST_HEAD, [4, 5, 6, 7, 8], true)];
  for (const r of shown.slice().reverse()) {
    const tr = row([clock(r.at), keyLabel(r.key), r.alias, r.route || "none", String(r.attempts), String(r.status), ms(r.ms), tokens(r.inputTokens), tokens(r.outputTokens)], [4, 5, 6, 7, 8]);
    tr.title = `request id ${r.id}, ${r.outcome}`;
    tr.dataset.status = String(r.status);
    rows.push(tr);
  }
  if (shown.length === 0) rows.push(row([state.recent.length === 0 ? "No request yet." : "No request matches the filter.", "", "", "", "", "", "", "", ""]));
  table.replaceChildren(...rows);
}
