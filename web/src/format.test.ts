import { describe, expect, it } from "vitest";
import {
  duration,
  fromLocalInput,
  headerLines,
  numberOrText,
  parseHeaderLines,
  percent,
  pretty,
  splitList,
  statusText,
  successRate,
} from "./format";
import { match, pathOf } from "./router";

describe("figures", () => {
  it("success rate counts finished deliveries only", () => {
    expect(successRate({ success: 3, fail: 1, pending: 10, sending: 2, canceled: 4 })).toBe(0.75);
    expect(successRate({ success: 0, fail: 0, pending: 5, sending: 0, canceled: 0 })).toBeNull();
    expect(percent(0.75)).toBe("75.0%");
    expect(percent(1)).toBe("100%");
    expect(percent(null)).toBe("—");
  });

  it("durations read in the unit that fits", () => {
    expect(duration(12)).toBe("12 ms");
    expect(duration(2400)).toBe("2.4 s");
    expect(duration(180_000)).toBe("3 min");
  });

  it("statuses read as words", () => {
    expect(statusText(0)).toBe("delivered");
    expect(statusText(2)).toBe("failed");
    expect(statusText(9)).toBe("status 9");
  });

  it("payloads are pretty when JSON and kept when not", () => {
    expect(pretty('{"a":1}')).toBe('{\n  "a": 1\n}');
    expect(pretty("plain text")).toBe("plain text");
  });

  it("lists split on commas", () => {
    expect(splitList(" a.b, ,c ")).toEqual(["a.b", "c"]);
  });

  it("a local time input becomes RFC 3339", () => {
    expect(fromLocalInput("")).toBeUndefined();
    expect(fromLocalInput("2026-01-02T03:04")).toMatch(/^2026-01-0[12]T\d\d:04:00\.000Z$/);
  });
});

describe("routes", () => {
  it("match patterns and decode parameters", () => {
    expect(match("/apps/:app", "/apps/acme%20co")).toEqual({ app: "acme co" });
    expect(match("/apps/:app", "/apps/acme/endpoints")).toBeNull();
    expect(match("/apps", "/apps/")).toEqual({});
    expect(match("/apps/:app", "/apps/%E0%A4%A")).toBeNull();
  });

  it("build paths with each segment encoded", () => {
    expect(pathOf("apps", "a/b", "endpoints")).toBe("/apps/a%2Fb/endpoints");
  });
});

describe("header lines", () => {
  it("read `Name: value` lines and name a bad one", () => {
    expect(parseHeaderLines("X-A: 1\n\nX-B:two:2")).toEqual({ headers: { "X-A": "1", "X-B": "two:2" }, error: null });
    expect(parseHeaderLines("X-A: 1\nnonsense").error).toBe('line 2 is not "Name: value"');
    expect(headerLines({ "X-A": "1", "X-B": "2" })).toBe("X-A: 1\nX-B: 2");
  });

  it("number inputs keep what is not a number for the API to refuse", () => {
    expect(numberOrText(" 5 ")).toBe(5);
    expect(numberOrText("")).toBeUndefined();
    expect(numberOrText("fast")).toBe("fast");
  });
});
