/**
 * The status page: asks for the proxy key once, then follows the live feed and keeps
 * the panels up to date. Everything it shows comes from this proxy's own endpoints.
 */
import type { Spend } from "../live-model.ts";
import { ChartsView } from "./charts-view.ts";
import { Feed } from "./feed.ts";
import { el } from "./format.ts";
import { renderInstance, renderRequests, renderSpend } from "./panels-view.ts";
import { RoutesView } from "./routes-view.ts";
import { call, forgetKey, refusal, saveKey, savedKey } from "./session.ts";
import { PageState } from "./state.ts";

const SPEND_EVERY_MS = 15_000;

const $ = <T extends HTMLElement = HTMLElement>(id: string) => document.getElementById(id) as T;

const state = new PageState();
const routes = new RoutesView($("routes"), $("routes-note"), state);
const charts = new ChartsView($("charts"), state);
const connection = $("connection");
const aliasFilter = $<HTMLSelectElement>("filter-alias");
const statusFilter = $<HTMLSelectElement>("filter-status");
let feed: Feed | undefined;
let spendTimer: ReturnType<typeof setInterval> | undefined;

function showRequests(): void {
  renderRequests($<HTMLTableElement>("requests"), state, aliasFilter.value, statusFilter.value);
}

function fillAliasFilter(): void {
  const chosen = aliasFilter.value;
  const names = state.snapshot?.aliases.map((a) => a.name) ?? [];
  aliasFilter.replaceChildren(el("option", "all"), ...names.map((n) => el("option", n)));
  (aliasFilter.options[0] as HTMLOptionElement).value = "";
  aliasFilter.value = names.includes(chosen) ? chosen : "";
}

async function refreshSpend(): Promise<void> {
  try {
    const res = await call("/status/spend");
    renderSpend($("spend"), res.ok ? ((await res.json()) as Spend) : await refusal(res));
  } catch (error) {
    renderSpend($("spend"), `Could not read the usage: ${error instanceof Error ? error.message : String(error)}`);
  }
}

function setConnection(text: string, kind: "ok" | "cooling" | "down"): void {
  connection.textContent = text;
  connection.className = `badge state-${kind}`;
}

function showSignIn(message: string): void {
  feed?.stop();
  clearInterval(spendTimer);
  state.snapshot = undefined;
  $("board").hidden = true;
  $("sign-out").hidden = true;
  $("sign-in").hidden = false;
  $("sign-in-error").textContent = message;
  setConnection("signed out", "down");
  $<HTMLInputElement>("key").focus();
}

function start(): void {
  $("sign-in").hidden = true;
  feed = new Feed({
    snapshot(s) {
      const first = state.snapshot === undefined;
      state.apply(s);
      // Usage is asked for once the key is known to be good: a refused key costs one request, not two.
      if (first) {
        void refreshSpend();
        spendTimer = setInterval(() => void refreshSpend(), SPEND_EVERY_MS);
      }
      $("board").hidden = false;
      $("sign-out").hidden = !savedKey();
      fillAliasFilter();
      renderInstance($("instance"), state);
      routes.render();
      charts.render();
      showRequests();
    },
    tick(t) {
      state.tick(t);
      renderInstance($("instance"), state);
      routes.render();
      if (Object.keys(t.points).length > 0) charts.render();
      if (t.recent.length > 0) showRequests();
    },
    state(s, detail) {
      if (s === "live") setConnection("live", "ok");
      else setConnection(`reconnecting${detail ? ` (${detail})` : ""}`, "cooling");
    },
    refused(message) {
      forgetKey();
      showSignIn(message);
    },
  });
  feed.start();
}

$("sign-in-form").addEventListener("submit", (event) => {
  event.preventDefault();
  const input = $<HTMLInputElement>("key");
  saveKey(input.value);
  input.value = "";
  start();
});
$("sign-out").addEventListener("click", () => {
  forgetKey();
  showSignIn("");
});
$("clear-all").addEventListener("click", () => {
  if (confirm("Clear every cooldown? Requests go to every pair again, the failing ones included.")) void routes.clear("", "every cooldown");
});
aliasFilter.addEventListener("change", showRequests);
statusFilter.addEventListener("change", showRequests);

// With a key from earlier in this tab the page starts at once; else it asks (an open proxy: sign in with the field empty).
if (savedKey() === null) showSignIn("");
else start();
