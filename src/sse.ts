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
  private text = "";
  private offset = 0;
  private event = "";
  private data: string[] = [];
  private readonly decoder = new TextDecoder();

  /** Feeds bytes; returns the first data event once it is complete. */
  push(chunk: Uint8Array): SseEvent | undefined {
    this.text += this.decoder.decode(chunk, { stream: true });
    return this.scan();
  }

  private scan(): SseEvent | undefined {
    const text = this.text;
    while (this.offset < text.length) {
      let end = this.offset;
      while (end < text.length && text.charCodeAt(end) !== 10 && text.charCodeAt(end) !== 13) end++;
      if (end === text.length) return undefined;
      // A CR at the very end may be the first half of CRLF.
      if (text.charCodeAt(end) === 13 && end + 1 === text.length) return undefined;
      const next = text.charCodeAt(end) === 13 && text.charCodeAt(end + 1) === 10 ? end + 2 : end + 1;
      const line = text.slice(this.offset, end);
      this.offset = next;
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
    return undefined;
  }
}
