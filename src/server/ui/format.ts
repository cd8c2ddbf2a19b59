/** Numbers with units and times in the viewer's own zone, for the status page. */

export const ms = (n: number | null | undefined) => (n === null || n === undefined ? "–" : n < 1000 ? `${Math.round(n)} ms` : `${(n / 1000).toFixed(n < 10_000 ? 2 : 1)} s`);

export const count = (n: number) => n.toLocaleString();

/** A key as the ledger and the request list name it: "" is the proxy key. */
export const keyLabel = (name: string) => name || "(proxy key)";

export const tokens = (n: number | null | undefined) => (n === null || n === undefined ? "–" : n.toLocaleString());

export const usd = (n: number | null | undefined) => (n === null || n === undefined ? "–" : `$${n < 0.01 && n > 0 ? n.toFixed(6) : n.toFixed(2)}`);

/** A clock time in the viewer's zone; with the date when it is not today. */
export function clock(epochMs: number): string {
  const d = new Date(epochMs);
  const today = new Date().toDateString() === d.toDateString();
  return today ? d.toLocaleTimeString() : d.toLocaleString();
}

/** "42 s", "3 min 5 s", "2 h 10 min". */
export function duration(seconds: number): string {
  const s = Math.max(0, Math.round(seconds));
  if (s < 60) return `${s} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min ${s % 60} s`;
  if (s < 86_400) return `${Math.floor(s / 3600)} h ${Math.floor((s % 3600) / 60)} min`;
  return `${Math.floor(s / 86_400)} d ${Math.floor((s % 86_400) / 3600)} h`;
}

export const ago = (epochMs: number, now: number) => `${duration((now - epochMs) / 1000)} ago`;

/** An element with text (never HTML: every value from the proxy goes in as text). */
export function el<K extends keyof HTMLElementTagNameMap>(tag: K, text?: string | null, className?: string): HTMLElementTagNameMap[K] {
  const node = document.createElement(tag);
  if (text !== undefined && text !== null) node.textContent = text;
  if (className) node.className = className;
  return node;
}

export function row(cells: readonly (string | Node)[], numeric: readonly number[] = [], header = false): HTMLTableRowElement {
  const tr = el("tr");
  cells.forEach((cell, i) => {
    const td = el(header ? "th" : "td", typeof cell === "string" ? cell : undefined, numeric.includes(i) ? "num" : undefined);
    if (typeof cell !== "string") td.append(cell);
    tr.append(td);
  });
  return tr;
}
