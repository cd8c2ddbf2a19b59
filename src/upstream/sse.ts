export interface SseEvent {
  /** The `event:` field, or "message". */
  readonly event: string;
  /** The `data:` lines joined with "\n". */
  readonly data: string;
}

/**
 * Finds the first complete event that carries data in a growing text stream.
 * Comments (`: ping`) and events without data do not count: a provider that only
 * pings has not answered yet. https://html.spec.whatwg.org/multipage/server-sent-events.html#event-stream-interpretation
 */
export class FirstEventScanner {
  /** Text not yet consumed: it always starts at the beginning of a line. */
  private text = "";
  /** Within `text`, where to look for the next line break (everything before has none). */
  private searchFrom = 0;
  private event = "";
  private data: string[] = [];
  private readonly decoder = new TextDecoder();
  private readonly lineBreak = /[\r\n]/g;

  /** Feeds bytes; returns the first data event once it is complete. Each byte is looked at once. */
  push(chunk: Uint8Array): SseEvent | undefined {
    this.text += this.decoder.decode(chunk, { stream: true });
    return this.scan();
  }

  private scan(): SseEvent | undefined {
    for (;;) {
      this.lineBreak.lastIndex = this.searchFrom;
      const found = this.lineBreak.exec(this.text);
      if (found === null) {
        this.searchFrom = this.text.length;
        return undefined;
      }
      const end = found.index;
      // A CR at the very end may be the first half of CRLF.
      if (this.text.charCodeAt(end) === 13 && end + 1 === this.text.length) {
        this.searchFrom = end;
        return undefined;
      }
      const next = this.text.charCodeAt(end) === 13 && this.text.charCodeAt(end + 1) === 10 ? end + 2 : end + 1;
      const line = this.text.slice(0, end);
      this.text = this.text.slice(next);
      this.searchFrom = 0;
      if (line === "") {
        if (this.data.length > 0) return { event: this.event || "message", data: this.data.join("\n") };
        this.event = "";
        continue;
      }
      if (line.charCodeAt(0) === 58) continue;
      const colon = line.indexOf(":");
      const field = colon === -1 ? line : line.slice(0, colon);
      let value = colon === -1 ? "" : line.slice(colon + 1);
      if (value.charCodeAt(0) === 32) value = value.slice(1);
      if (field === "data") this.data.push(value);
      else if (field === "event") this.event = value;
    }
  }
}
