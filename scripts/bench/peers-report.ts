/**
 * `--peer` in the short-request bench: the peers' figures beside llm-proxy's, every
 * one against the direct figure of the same round, and the targets that are set
 * against nginx and the original (issue 19's short-request rows).
 */
import type { PeerSpec } from "./peer-run.ts";
import { fmtAdded, fmtMiB, fmtRatio, fmtUs, job, MAIN, rate, type Pick, type Results, type Target, type Via } from "./report.ts";

const NGINX: Via = "peer:nginx";
const ORIGINAL: Via = "peer:original";
const p50: Pick = (s) => s.p50;
const ttfb: Pick = (s) => s.ttfb50;
const cpu: Pick = (s) => s.cpuUs;

export function peerSection(r: Results, peers: readonly { via: Via; spec: PeerSpec }[]): string[] {
  if (peers.length === 0) return [];
  const rows: Via[] = ["proxy", ...peers.map((p) => p.via)];
  const name = (via: Via) => (via === "proxy" ? "llm-proxy" : via.slice(5));
  const cell = (f: (via: Via) => string) => rows.map(f).join(" | ");
  const lines = [
    "### Other proxies in the same run (`--peer`)",
    "",
    `Each pinned to the proxy's core and measured in the same rounds, against the same provider; every figure against the direct figure of the same round, then the median. CPU and peak RSS are summed over a peer's processes (nginx's master and worker). ${peers.map((p) => `${p.spec.name}: \`${p.spec.command}\``).join("; ")}.`,
    "",
    `| figure | ${rows.map(name).join(" | ")} |`,
    `|---|${rows.map(() => "--:").join("|")}|`,
    `| non-stream req/s ÷ direct, c=${MAIN} | ${cell((v) => fmtRatio(r.ratio(job("json", v, MAIN), job("json", "direct", MAIN), rate)))} |`,
    `| non-stream req/s ÷ direct, c=256 | ${cell((v) => fmtRatio(r.ratio(job("json", v, 256), job("json", "direct", 256), rate)))} |`,
    `| CPU per non-stream request, c=${MAIN} | ${cell((v) => fmtUs(r.median(job("json", v, MAIN), cpu)))} |`,
    `| added p50 latency, c=1 | ${cell((v) => fmtAdded(r.added(job("json", v, 1), job("json", "direct", 1), p50)))} |`,
    `| stream TTFB added, p50, c=16 | ${cell((v) => fmtAdded(r.added(job("stream", v, 16), job("stream", "direct", 16), ttfb)))} |`,
    `| streams/s ÷ direct, c=256 | ${cell((v) => fmtRatio(r.ratio(job("stream", v, 256), job("stream", "direct", 256), rate)))} |`,
    `| CPU per stream, c=256 | ${cell((v) => fmtUs(r.median(job("stream", v, 256), cpu)))} |`,
    `| peak RSS during c=256 streams | ${cell((v) => fmtMiB(r.max(job("stream", v, 256), (s) => s.rssMiB)))} |`,
    "",
  ];
  return lines;
}

/** The short-request targets set against peers; each only when that peer was in the run. */
export function peerTargets(r: Results, peers: readonly Via[]): Target[] {
  const out: Target[] = [];
  const t = (name: string, goal: string, value: number, shown: string, met: boolean): Target => ({ name, goal, value, shown, met: Number.isFinite(value) && met });
  if (peers.includes(NGINX)) {
    const ratio = r.ratio(job("json", "proxy", MAIN), job("json", NGINX, MAIN), rate);
    out.push(t(`non-stream req/s at c=${MAIN}, proxy ÷ nginx`, "≥ 0.6", ratio, fmtRatio(ratio), ratio >= 0.6));
    const ttfbOver = r.added(job("stream", "proxy", 16), job("stream", NGINX, 16), ttfb);
    out.push(t("stream TTFB p50 at c=16, proxy over nginx", "≤ +0.3 ms", ttfbOver, fmtAdded(ttfbOver), ttfbOver <= 0.3));
    const p50Over = r.added(job("json", "proxy", 1), job("json", NGINX, 1), p50);
    out.push(t("non-stream p50 latency at c=1, proxy over nginx", "≤ +0.15 ms", p50Over, fmtAdded(p50Over), p50Over <= 0.15));
  }
  if (peers.includes(ORIGINAL)) {
    // Both ratios to direct come from the same round, so their quotient is the proxy's req/s over the original's.
    const times = r.ratio(job("json", "proxy", MAIN), job("json", ORIGINAL, MAIN), rate);
    out.push(t(`non-stream req/s ÷ direct at c=${MAIN}, proxy's over the original's`, "≥ 5×", times, `${fmtRatio(times)}×`, times >= 5));
  }
  return out;
}
