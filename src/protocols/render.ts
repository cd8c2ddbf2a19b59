/**
 * One stream event as server-sent-event text.
 * https://html.spec.whatwg.org/multipage/server-sent-events.html#event-stream-interpretation
 */

import type { StreamEvent } from "./types.ts";

/**
 * `event: <name>\ndata: <JSON>\n\n`; no `event:` line when the name is "" (OpenAI
 * Chat streams have none); string data (`[DONE]`) written as is, one `data:`
 * line per line so a newline in it cannot end the event early.
 */
export function renderEvent(e: StreamEvent): string {
  const text = typeof e.data === "string" ? e.data : JSON.stringify(e.data ?? null);
  const data = text
    .split(/\r\n|\r|\n/)
    .map((line) => `data: ${line}\n`)
    .join("");
  return e.event === "" ? `${data}\n` : `event: ${e.event}\n${data}\n`;
}
