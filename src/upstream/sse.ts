export interface SseEvent {
  /** The `event:` field, or "message". */
  readonly event: string;
  /** The `data:` lines joined with "\n". */
  readonly data: string;
}

/**
 * Server-sent events from a growing byte stream, as the browser reads them: lines end
 * in LF, CRLF or CR; `event:` names the event, `data:` lines join with "\n", a blank
 * line dispatches it. Comments (`: ping`) and events without data are not events: a
 * provider that only pings has not answered yet.
 * https://html.spec.whatwg.org/multipage/server-sent-events.html#event-stream-interpretation
 */
export class SseParser {
  /** Text not yet consumed: it always starts at the beginning of a line. */
  private text = "";
  /** Within `text`, where to look for the next line break (everything before has none). */
  private searchFrom = 0;
  private event = "";
  private data: string[] = [];
  private readonly decoder = new TextDecoder();
  private readonly lineBreak = /[\r\n]/g;

  /** Feeds bytes; returns the events they completed, in order. Each byte is looked at once. */
  push(chunk: Uint8Array): SseEvent[] {
    this.text += this.decoder.decode(chunk, { stream: true });
    const out: SseEvent[] = [];
    this.scan(out, Infinity);
    return out;
  }

  /** Feeds bytes; returns the first event they complete, keeping the rest unread. */
  pushUntilEvent(chunk: Uint8Array): SseEvent | undefined {
    this.text += this.decoder.decode(chunk, { stream: true });
    const out: SseEvent[] = [];
    this.scan(out, 1);
    return out[0];
  }

  /** Characters held waiting for a line break. */
  get pending(): number {
    return this.text.length;
  }

  private scan(out: SseEvent[], most: number): void {
    while (out.length < most) {
      this.lineBreak.lastIndex = this.searchFrom;
      const found = this.lineBreak.exec(this.text);
      if (found === null) {
        this.searchFrom = this.text.length;
        return;
      }
      const end = found.index;
      // A CR at the very end may be the first half of CRLF.
      if (this.text.charCodeAt(end) === 13 && end + 1 === this.text.length) {
        this.searchFrom = end;
        return;
      }
      const next = this.text.charCodeAt(end) === 13 && this.text.charCodeAt(end + 1) === 10 ? end + 2 : end + 1;
      const line = this.text.slice(0, end);
      this.text = this.text.slice(next);
      this.searchFrom = 0;
      this.line(line, out);
    }
  }

  private line(line: string, out: SseEvent[]): void {
    if (line === "") {
      if (this.data.length > 0) out.push({ event: this.event || "message", data: this.data.join("\n") });
      this.event = "";
      this.data = [];
      return;
    }
    if (line.charCodeAt(0) === 58) return;
    const colon = line.indexOf(":");
    const field = colon === -1 ? line : line.slice(0, colon);
    let value = colon === -1 ? "" : line.slice(colon + 1);
    if (value.charCodeAt(0) === 32) value = value.slice(1);
    if (field === "data") this.data.push(value);
    else if (field === "event") this.event = value;
  }
}

/** The first data event of a stream: what the proxy waits for before it commits. */
export class FirstEventScanner {
  private readonly parser = new SseParser();

  push(chunk: Uint8Array): SseEvent | undefined {
    return this.parser.pushUntilEvent(chunk);
  }
}
