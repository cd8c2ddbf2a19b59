/**
 * The traffic charts, drawn by uPlot: for each alias and each route, requests per
 * second (served, failed, served after a fallback) and milliseconds (p50 and p95 of
 * the whole answer and of the first byte), over the last 15 minutes in 5-second steps.
 */
import uPlot from "uplot";
import "uplot/dist/uPlot.min.css";
import type { Point } from "../live-model.ts";
import { el } from "./format.ts";
import { HISTORY_MS, type PageState } from "./state.ts";

const HEIGHT = 120;

interface Chart {
  readonly box: HTMLElement;
  readonly rate: uPlot;
  readonly latency: uPlot;
}

const css = (name: string) => getComputedStyle(document.documentElement).getPropertyValue(name).trim();

function axes(unit: string): uPlot.Axis[] {
  const stroke = css("--muted");
  const grid = { stroke: css("--line"), width: 1 };
  return [
    { stroke, grid, ticks: grid },
    { stroke, grid, ticks: grid, size: 48, label: unit, labelSize: 18, values: (_u, ticks) => ticks.map((t) => String(+t.toFixed(2))) },
  ];
}

function line(label: string, color: string, dash?: number[]): uPlot.Series {
  return { label, stroke: color, width: 1.5, spanGaps: false, points: { show: false }, ...(dash ? { dash } : {}) };
}

export class ChartsView {
  private readonly charts = new Map<string, Chart>();
  private builtFor: unknown;

  constructor(
    private readonly root: HTMLElement,
    private readonly state: PageState,
  ) {
    // Light or dark follows the system: the charts take the new colours.
    matchMedia("(prefers-color-scheme: dark)").addEventListener("change", () => this.rebuild());
    new ResizeObserver(() => this.resize()).observe(root);
  }

  render(): void {
    const s = this.state.snapshot;
    if (!s) return;
    if (this.builtFor !== s) this.rebuild();
    const now = this.state.now();
    for (const [series, chart] of this.charts) {
      const { x, rates, latencies } = this.columns(this.state.series.get(series) ?? [], now, s.bucketMs);
      const [served, failed] = rates;
      chart.rate.setData([x, ...rates]);
      chart.latency.setData([x, ...latencies]);
      // What the page drew, for a person with a screen reader and for the browser test.
      const points = served.filter((v) => v > 0).length + failed.filter((v) => v > 0).length;
      chart.box.dataset.points = String(points);
    }
  }

  private rebuild(): void {
    const s = this.state.snapshot;
    if (!s) return;
    this.builtFor = s;
    for (const chart of this.charts.values()) {
      chart.rate.destroy();
      chart.latency.destroy();
    }
    this.charts.clear();
    const boxes: HTMLElement[] = [];
    const add = (series: string, title: string) => {
      const box = el("div", undefined, "chart");
      box.dataset.series = series;
      box.append(el("h3", title));
      const pair = el("div", undefined, "pair");
      box.append(pair);
      boxes.push(box);
      this.charts.set(series, { box, rate: this.chart(pair, "req/s", [line("served", css("--ok")), line("failed", css("--bad")), line("fell back", css("--warn"), [4, 3])]), latency: this.chart(pair, "ms", [line("p50", css("--accent")), line("p95", css("--accent"), [4, 3]), line("first byte p50", css("--muted")), line("first byte p95", css("--muted"), [4, 3])]) });
    };
    for (const alias of s.aliases) add(`alias:${alias.name}`, `alias ${alias.name}`);
    s.pairs.forEach((p, i) => add(`route:${i}`, `route ${p.backend}/${p.model}`));
    this.root.replaceChildren(...boxes);
    this.render();
  }

  private chart(parent: HTMLElement, unit: string, series: uPlot.Series[]): uPlot {
    const opts: uPlot.Options = { width: this.width(), height: HEIGHT, series: [{}, ...series], axes: axes(unit), legend: { show: true, live: false }, cursor: { drag: { x: false, y: false } }, scales: { y: { range: (_u, _min, max) => [0, Math.max(1, max)] } } };
    return new uPlot(opts, [[], ...series.map(() => [])], parent);
  }

  private width(): number {
    const first = this.root.querySelector(".chart");
    return Math.max(240, (first?.clientWidth ?? Math.min(this.root.clientWidth, 480)) - 14);
  }

  private resize(): void {
    const width = this.width();
    for (const chart of this.charts.values()) {
      chart.rate.setSize({ width, height: HEIGHT });
      chart.latency.setSize({ width, height: HEIGHT });
    }
  }

  /** One column per 5-second step of the window: a step with no request is 0 requests and no latency. */
  private columns(points: readonly Point[], now: number, bucketMs: number): { x: number[]; rates: [number[], number[], number[]]; latencies: [(number | null)[], (number | null)[], (number | null)[], (number | null)[]] } {
    const last = now - (now % bucketMs) - bucketMs;
    const first = last - HISTORY_MS + bucketMs;
    const at = new Map(points.map((p) => [p[0], p]));
    const x: number[] = [];
    const rates: [number[], number[], number[]] = [[], [], []];
    const latencies: [(number | null)[], (number | null)[], (number | null)[], (number | null)[]] = [[], [], [], []];
    const perSecond = 1000 / bucketMs;
    for (let t = first; t <= last; t += bucketMs) {
      const p = at.get(t);
      x.push(t / 1000);
      rates.forEach((column, i) => column.push(p ? p[i + 1]! * perSecond : 0));
      latencies.forEach((column, i) => column.push(p ? p[i + 4] ?? null : null));
    }
    return { x, rates, latencies };
  }
}
