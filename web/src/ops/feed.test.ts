import { describe, expect, it } from "vitest";
import { MAX_ROWS, MAX_WAITING, receive, release, type FeedEntry, type FeedView } from "./feed";

const entry = (key: number): FeedEntry => ({ key, type: "attempt", id: `atmpt_${key}`, data: {}, receivedAt: 0 });
const range = (from: number, n: number) => Array.from({ length: n }, (_, i) => entry(from + i));
const empty: FeedView = { shown: [], waiting: [], dropped: 0 };

describe("the live list", () => {
  it("shows the newest first and keeps at most MAX_ROWS", () => {
    let v = receive(empty, range(1, 3), false);
    expect(v.shown.map((e) => e.key)).toEqual([3, 2, 1]);
    v = receive(v, range(4, MAX_ROWS), false);
    expect(v.shown.length).toBe(MAX_ROWS);
    expect(v.shown[0]?.key).toBe(MAX_ROWS + 3);
  });

  it("while paused, holds what arrives, counting what the bounded buffer dropped", () => {
    let v = receive(empty, range(1, 2), false);
    v = receive(v, range(3, MAX_WAITING + 5), true);
    expect(v.shown.map((e) => e.key)).toEqual([2, 1]);
    expect(v.waiting.length).toBe(MAX_WAITING);
    expect(v.dropped).toBe(5);
    expect(v.waiting[0]?.key).toBe(8);
    const after = release(v);
    expect(after.waiting).toEqual([]);
    expect(after.dropped).toBe(0);
    expect(after.shown[0]?.key).toBe(MAX_WAITING + 7);
    expect(after.shown.length).toBe(MAX_ROWS);
  });

  it("never reorders the entries it was given", () => {
    const given = range(1, 3);
    receive(empty, given, false);
    expect(given.map((e) => e.key)).toEqual([1, 2, 3]);
  });
});
