import { describe, expect, it } from "vitest";
import { SseParser, type SseEvent } from "./sse";

/** Feeds `chunks` one after the other and collects every event. */
function feed(parser: SseParser, chunks: string[]): SseEvent[] {
  return chunks.flatMap((c) => parser.push(c));
}

describe("SseParser", () => {
  it("reads the live feed's events with their type, data and id", () => {
    const p = new SseParser();
    const got = p.push('retry: 2000\n\nevent: attempt\nid: atmpt_1\ndata: {"id":"atmpt_1"}\n\n');
    expect(got).toEqual([{ type: "attempt", data: '{"id":"atmpt_1"}', id: "atmpt_1" }]);
    expect(p.retry).toBe(2000);
    expect(p.lastEventId).toBe("atmpt_1");
  });

  it("gives the same events however the stream is cut into chunks", () => {
    const text = 'event: attempt\ndata: {"a":1}\n\nevent: dead\r\nid: atmpt_2\r\ndata: {"b":2}\r\n\r\n: keep-alive\n\n';
    const whole = new SseParser().push(text);
    expect(whole.map((e) => e.type)).toEqual(["attempt", "dead"]);
    for (let size = 1; size <= 7; size++) {
      const chunks: string[] = [];
      for (let i = 0; i < text.length; i += size) chunks.push(text.slice(i, i + size));
      const p = new SseParser();
      expect(feed(p, chunks)).toEqual(whole);
      expect(p.comments).toBe(1);
    }
  });

  it("treats a CR at a chunk's end and the LF starting the next as one line end", () => {
    const p = new SseParser();
    expect(feed(p, ["data: x\r", "\n\r", "\n"])).toEqual([{ type: "message", data: "x", id: "" }]);
  });

  it("joins multi-line data with newlines and keeps a value's colons and spaces", () => {
    const p = new SseParser();
    const got = p.push("data: first\ndata:second\ndata:  third: x\ndata\n\n");
    expect(got).toEqual([{ type: "message", data: "first\nsecond\n third: x\n", id: "" }]);
  });

  it("keeps the last id for later events and for a reconnect, and ignores ids with NUL", () => {
    const p = new SseParser();
    const got = p.push("id: atmpt_1\ndata: a\n\ndata: b\n\nid: bad\u0000id\ndata: c\n\nid\ndata: d\n\n");
    expect(got.map((e) => e.id)).toEqual(["atmpt_1", "atmpt_1", "atmpt_1", ""]);
  });

  it("skips comments and keep-alives, and events with no data", () => {
    const p = new SseParser();
    expect(p.push(": keep-alive\n\n:\n\nevent: lonely\n\nid: atmpt_9\n\n")).toEqual([]);
    expect(p.comments).toBe(2);
    expect(p.lastEventId).toBe("atmpt_9");
    expect(p.push("event: lag\ndata: {}\n\n")).toEqual([{ type: "lag", data: "{}", id: "atmpt_9" }]);
  });

  it("holds an unfinished event until its blank line arrives", () => {
    const p = new SseParser();
    expect(p.push("event: run\ndata: {}\n")).toEqual([]);
    expect(p.push("\n")).toEqual([{ type: "run", data: "{}", id: "" }]);
  });

  it("ignores a bad retry, unknown fields and a byte order mark at the start", () => {
    const p = new SseParser();
    expect(p.push("\ufeffretry: soon\nfoo: bar\ndata: x\n\n")).toEqual([{ type: "message", data: "x", id: "" }]);
    expect(p.retry).toBeNull();
  });

  it("decodes UTF-8 split between byte chunks", () => {
    const bytes = new TextEncoder().encode('data: {"name":"café ✓"}\n\n');
    const p = new SseParser();
    const got: SseEvent[] = [];
    for (const b of bytes) got.push(...p.pushBytes(new Uint8Array([b])));
    expect(got).toEqual([{ type: "message", data: '{"name":"café ✓"}', id: "" }]);
  });
});
