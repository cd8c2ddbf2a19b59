import type { Alias } from "../config/types.ts";
import type { JsonObject, Protocol } from "../protocols/types.ts";

/** A client's request as the proxy serves it: read, validated and matched to an alias by the server. */
export interface ProxyRequest {
  readonly id: string;
  /** The id came from the client's x-request-id. */
  readonly clientRequestId: boolean;
  readonly method: string;
  readonly path: string;
  /** The query, with `?`, or "": the proxy's own key already taken out. */
  readonly search: string;
  readonly headers: Headers;
  readonly body: Uint8Array;
  readonly text: string;
  readonly json: JsonObject;
  /** Where the top-level `model` value sits in `text` (one range). */
  readonly modelRanges: readonly [number, number][];
  readonly alias: Alias;
  readonly stream: boolean;
  /** The client's protocol, from its path. */
  readonly protocol: Protocol;
  /** Aborted when the client goes away. */
  readonly signal: AbortSignal;
  /** Epoch ms when the request arrived (for `total_seconds`). */
  readonly arrived: number;
  /** The name of the key it came with (`keys:`), for logs, metrics and the ledger; undefined for the proxy key or none. */
  readonly key: string | undefined;
}
