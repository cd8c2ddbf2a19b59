/** The traffic recorder's points and request lines as the status page receives them (no imports: the page's own type check reads this file). */

/** One closed bucket: its start (epoch ms), requests served, failed and served after a fallback, and milliseconds (p50, p95) of duration and first byte. */
export type Point = readonly [t: number, served: number, failed: number, fellBack: number, p50: number | null, p95: number | null, firstByteP50: number | null, firstByteP95: number | null];

export interface RecentRequest {
  readonly seq: number;
  /** Epoch ms when it was over. */
  readonly at: number;
  readonly id: string;
  readonly key: string;
  readonly alias: string;
  /** `backend/model` that answered (or was tried last), or "" when none was tried. */
  readonly route: string;
  readonly attempts: number;
  readonly status: number;
  readonly outcome: string;
  readonly ms: number;
  readonly inputTokens: number | null;
  readonly outputTokens: number | null;
}
