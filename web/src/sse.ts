// A streaming reader of Server-Sent Events (the WHATWG "event stream" format), for the live
// feed. EventSource cannot send an Authorization header, so the page reads the stream with
// fetch and feeds the body's chunks here as they come: a line, a UTF-8 character or a CRLF may
// be split between chunks, and an event is only dispatched at its blank line.

/** One event, dispatched at the blank line that ends it. */
export interface SseEvent {
  /** The `event:` field, `message` when none was given. */
  type: string;
  /** The `data:` lines, joined by newlines. */
  data: string;
  /** The last `id:` seen in the stream so far (ids persist across events, as the spec says). */
  id: string;
}

/** Reads a stream chunk by chunk; `lastEventId` and `retry` are what a reconnect should use. */
export class SseParser {
  /** The last event id the stream set: send it back as `Last-Event-ID` when reconnecting. */
  lastEventId = "";
  /** The reconnection delay the server asked for with `retry:`, in ms, if it did. */
  retry: number | null = null;
  /** Comment lines (`: keep-alive`) seen so far: the stream is alive even when idle. */
  comments = 0;

  private readonly decoder = new TextDecoder("utf-8");
  private buffer = "";
  private started = false;
  /** A chunk ended in `\r`: a `\n` starting the next one belongs to the same line end. */
  private pendingCR = false;
  private type = "";
  private data: string[] = [];

  /** Feeds raw bytes (UTF-8, possibly cut mid-character); returns the events they complete. */
  pushBytes(bytes: Uint8Array): SseEvent[] {
    return this.push(this.decoder.decode(bytes, { stream: true }));
  }

  /** Feeds text; returns the events it completes, in order. */
  push(text: string): SseEvent[] {
    if (text.length === 0) return [];
    if (!this.started) {
      this.started = true;
      if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
    }
    if (this.pendingCR && text.startsWith("\n")) text = text.slice(1);
    this.pendingCR = false;
    this.buffer += text;
    const events: SseEvent[] = [];
    for (;;) {
      const end = this.buffer.search(/[\r\n]/);
      if (end < 0) break;
      const line = this.buffer.slice(0, end);
      let next = end + 1;
      if (this.buffer[end] === "\r") {
        if (end + 1 === this.buffer.length) this.pendingCR = true;
        else if (this.buffer[end + 1] === "\n") next = end + 2;
      }
      this.buffer = this.buffer.slice(next);
      const event = this.line(line);
      if (event) events.push(event);
    }
    return events;
  }

  private line(line: string): SseEvent | null {
    if (line === "") return this.dispatch();
    if (line.startsWith(":")) {
      this.comments += 1;
      return null;
    }
    const colon = line.indexOf(":");
    const field = colon < 0 ? line : line.slice(0, colon);
    let value = colon < 0 ? "" : line.slice(colon + 1);
    if (value.startsWith(" ")) value = value.slice(1);
    switch (field) {
      case "event":
        this.type = value;
        break;
      case "data":
        this.data.push(value);
        break;
      case "id":
        if (!value.includes("\u0000")) this.lastEventId = value;
        break;
      case "retry":
        if (/^\d+$/.test(value)) this.retry = Number(value);
        break;
      default:
        // Unknown fields are ignored.
        break;
    }
    return null;
  }

  private dispatch(): SseEvent | null {
    const type = this.type || "message";
    const data = this.data;
    this.type = "";
    this.data = [];
    // An event without data lines is not dispatched (its id, if any, still counts).
    if (data.length === 0) return null;
    return { type, data: data.join("\n"), id: this.lastEventId };
  }
}
