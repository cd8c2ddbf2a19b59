/** The routes panel: every alias with its routes in plan order, each pair's state and last failure, and the clear buttons. */
import { call, refusal } from "./session.ts";
import { ago, clock, duration, el, row } from "./format.ts";
import type { PageState } from "./state.ts";

const HEAD = ["#", "backend", "model", "protocol", "priority", "weight", "enabled", "state", "last failure", ""];

interface RowCells {
  readonly pair: number;
  readonly state: HTMLTableCellElement;
  readonly failure: HTMLTableCellElement;
  readonly action: HTMLTableCellElement;
  shown: string;
}

/** Built again only when the configuration changes; each second only the cells whose state changed are redrawn (a focused button stays focused). */
export class RoutesView {
  private rows: RowCells[] = [];
  private builtFor: unknown;

  constructor(
    private readonly root: HTMLElement,
    private readonly note: HTMLElement,
    private readonly state: PageState,
  ) {}

  render(): void {
    const s = this.state.snapshot;
    if (!s) return;
    if (this.builtFor !== s) this.build();
    const now = this.state.now();
    for (const r of this.rows) {
      const st = this.state.stateOf(r.pair);
      const f = this.state.failures.get(r.pair);
      const shown = `${st.kind}|${"reason" in st ? `${st.reason}|${st.status}` : ""}|${f?.[1] ?? ""}`;
      if (shown !== r.shown) {
        r.shown = shown;
        r.state.replaceChildren(this.stateCell(r.pair, now));
        r.failure.replaceChildren(this.failureCell(r.pair, now));
        r.action.replaceChildren(this.clearButton(r.pair));
      } else {
        const countdown = r.state.querySelector(".countdown");
        if (countdown instanceof HTMLElement && st.kind === "cooling") this.countdown(countdown, st.until, now);
        const when = r.failure.querySelector(".when");
        if (when && f) when.textContent = ago(f[1], now);
      }
    }
  }

  private build(): void {
    const s = this.state.snapshot!;
    this.builtFor = s;
    this.rows = [];
    const parts: Node[] = [];
    if (s.aliases.length === 0) parts.push(el("p", "No alias is served: the configuration has no enabled model with a usable route.", "hint"));
    for (const alias of s.aliases) {
      const title = el("h3", alias.name);
      if (alias.fallbacks.length > 0) title.append(el("span", `  then ${alias.fallbacks.join(", ")}`, "muted"));
      const table = el("table");
      table.dataset.alias = alias.name;
      table.append(row(HEAD, [4, 5], true));
      alias.routes.forEach((route, i) => {
        const pair = s.pairs[route.pair]!;
        const tr = row([String(i + 1), pair.backend, pair.model, pair.protocol, String(route.priority), String(route.weight), pair.usable ? "yes" : "no", "", "", ""], [4, 5]);
        tr.dataset.backend = pair.backend;
        tr.dataset.model = pair.model;
        tr.cells[8]!.className = "message";
        this.rows.push({ pair: route.pair, state: tr.cells[7]!, failure: tr.cells[8]!, action: tr.cells[9]!, shown: "" });
        table.append(tr);
      });
      const wrap = el("div", undefined, "scroll");
      wrap.append(table);
      parts.push(title, wrap);
    }
    this.root.replaceChildren(...parts);
  }

  private stateCell(pair: number, now: number): Node {
    const st = this.state.stateOf(pair);
    const badge = el("span", st.kind, `badge state-${st.kind}`);
    badge.dataset.state = st.kind;
    if (st.kind !== "cooling" && st.kind !== "probing") return badge;
    const cell = el("span");
    const left = el("span", " one request is trying it", "countdown");
    if (st.kind === "cooling") this.countdown(left, st.until, now);
    const status = st.status !== null && !st.reason.includes(String(st.status)) ? ` (${st.status})` : "";
    cell.append(badge, left, el("br"), el("span", `${st.reason}${status}`, "muted"));
    return cell;
  }

  private countdown(node: HTMLElement, until: number, now: number): void {
    const seconds = Math.max(0, Math.ceil((until - now) / 1000));
    node.dataset.seconds = String(seconds);
    node.textContent = ` ${duration(seconds)} left`;
  }

  private failureCell(pair: number, now: number): Node {
    const f = this.state.failures.get(pair);
    if (!f) return el("span", "none", "muted");
    const cell = el("span");
    cell.title = clock(f[1]);
    const what = f[2] === null ? f[3] : f[3] === `status ${f[2]}` ? `status ${f[2]}` : `${f[2]}: ${f[3]}`;
    cell.append(el("span", what), el("br"), el("span", ago(f[1], now), "muted when"));
    return cell;
  }

  private clearButton(pair: number): Node {
    const st = this.state.stateOf(pair);
    if (st.kind !== "cooling" && st.kind !== "probing") return el("span");
    const p = this.state.snapshot!.pairs[pair]!;
    const button = el("button", "Clear");
    button.type = "button";
    button.setAttribute("aria-label", `Clear the cooldown of ${p.backend}/${p.model}`);
    button.addEventListener("click", () => void this.clear(`?backend=${encodeURIComponent(p.backend)}&model=${encodeURIComponent(p.model)}`, `${p.backend}/${p.model}`));
    return button;
  }

  /** DELETE /status/cooldowns, for one pair or (after a confirmation) every pair. */
  async clear(query: string, what: string): Promise<void> {
    const res = await call(`/status/cooldowns${query}`, { method: "DELETE" });
    if (!res.ok) {
      this.note.textContent = `Could not clear ${what}: ${await refusal(res)}`;
      return;
    }
    const body = (await res.json()) as { cleared: number };
    this.note.textContent = `Cleared ${what} (${body.cleared} cooling) at ${clock(Date.now())}.`;
  }
}
