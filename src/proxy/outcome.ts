import type { Usage } from "../protocols/types.ts";
import type { StreamEnd } from "./stream.ts";

/** An upstream answer kept to return as the final one if every route fails. */
export interface Answer {
  readonly status: number;
  /** Safe for the client: cleaned and masked. */
  readonly headers: readonly [string, string][];
  readonly body: string;
}

export type FailureKind =
  | "malformed"
  | "status"
  | "pattern"
  | "error_body"
  | "error_event"
  | "empty_stream"
  | "redirect"
  | "network"
  | "connect_timeout"
  | "first_byte_timeout"
  | "idle_timeout"
  | "total_timeout"
  | "too_large"
  | "not_translatable";

/** What one attempt came to. Expected upstream trouble is a value, never thrown. */
export type Outcome =
  | {
      readonly kind: "served";
      readonly status: number;
      /** Response headers for the client, before the proxy adds its own. */
      readonly headers: [string, string][];
      readonly body: Uint8Array | string | ReadableStream<Uint8Array> | null;
      readonly streaming: boolean;
      /** What `first_byte_seconds` bounds: the response head, or a stream's first event. */
      readonly firstByteMs: number;
      /** Resolves when the client has the whole body, or it was cut, or the client went away. */
      readonly finished: Promise<StreamEnd>;
      /** The tokens the answer reported, as far as it got (read once it is finished). */
      readonly usage: () => Usage | undefined;
    }
  | {
      readonly kind: "failed";
      readonly failure: FailureKind;
      readonly reason: string;
      readonly status?: number;
      /** The provider's headers, for the cooldown policy (Retry-After and rate-limit resets). */
      readonly headers?: Headers;
      readonly answer?: Answer;
      /** Whose fault it was when it is not the pair's, so nothing cools: the request's (400, 413, 422, context too long) or the path's (a 404 for an endpoint the provider does not serve). */
      readonly requestFault: boolean | "path";
    }
  | { readonly kind: "gone" };

export type Failed = Extract<Outcome, { kind: "failed" }>;

export function failed(failure: FailureKind, reason: string, status?: number, headers?: Headers, answer?: Answer, requestFault: boolean | "path" = false): Failed {
  return { kind: "failed", failure, reason, status, headers, answer, requestFault };
}
