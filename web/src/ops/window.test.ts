import { describe, expect, it } from "vitest";
import { age, latency, niceTicks, timeTickIndexes, windowOf, windowQuery, WINDOWS } from "./window";

describe("windows", () => {
  it("read minutes for an hour and hours beyond, within the API's 1,440 points", () => {
    expect(WINDOWS.map((w) => [w.key, w.bucket])).toEqual([
      ["1h", "minute"],
      ["24h", "hour"],
      ["7d", "hour"],
      ["30d", "hour"],
    ]);
    for (const w of WINDOWS) {
      const points = w.spanMs / (w.bucket === "minute" ? 60_000 : 3_600_000);
      expect(points).toBeLessThanOrEqual(1440);
    }
  });

  it("ask for the window ending now", () => {
    const now = Date.parse("2026-12-03T12:00:00Z");
    expect(windowQuery(windowOf("24h"), now)).toBe("?since=2026-12-02T12%3A00%3A00.000Z&bucket=hour");
    expect(windowOf("nonsense").key).toBe("1h");
  });
});

describe("niceTicks", () => {
  it("covers the highest value with round steps", () => {
    expect(niceTicks(7)).toEqual([0, 2, 4, 6, 8]);
    expect(niceTicks(100)).toEqual([0, 25, 50, 75, 100]);
    expect(niceTicks(0.9)).toEqual([0, 0.25, 0.5, 0.75, 1]);
    expect(niceTicks(0)).toEqual([0, 1]);
  });
});

describe("timeTickIndexes", () => {
  it("labels about six buckets, evenly", () => {
    const start = Date.parse("2026-12-03T12:00:00Z");
    const times = Array.from({ length: 60 }, (_, i) => start + i * 60_000);
    const ticks = timeTickIndexes(times, 60_000);
    expect(ticks.length).toBeGreaterThanOrEqual(5);
    expect(ticks.length).toBeLessThanOrEqual(7);
    const gaps = ticks.slice(1).map((t, i) => t - (ticks[i] as number));
    expect(new Set(gaps).size).toBe(1);
    expect(ticks[0]).toBe(0);
    expect(timeTickIndexes([], 60_000)).toEqual([]);
  });

  it("puts a week's hourly labels on midnights", () => {
    const start = Date.parse("2026-12-01T05:00:00Z");
    const times = Array.from({ length: 168 }, (_, i) => start + i * 3_600_000);
    const ticks = timeTickIndexes(times, 3_600_000, 8);
    expect(ticks.length).toBe(7);
    for (const i of ticks) expect(new Date(times[i] as number).getHours()).toBe(0);
  });
});

describe("figures", () => {
  it("read as a person would say them", () => {
    expect(latency(null)).toBe("—");
    expect(latency(4.25)).toBe("4.3 ms");
    expect(latency(420)).toBe("420 ms");
    expect(latency(2500)).toBe("2.50 s");
    expect(age(5_200)).toBe("5 s");
    expect(age(3 * 3_600_000 + 5 * 60_000)).toBe("3 h 5 min");
    expect(age(50 * 3_600_000)).toBe("2 d 2 h");
  });
});
