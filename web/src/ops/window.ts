// The windows a chart can show, the stats query for each, and the axes' ticks and labels.

export type WindowKey = "1h" | "24h" | "7d" | "30d";

export interface ChartWindow {
  key: WindowKey;
  label: string;
  spanMs: number;
  /** Minute buckets for short windows (60 points), hours for long ones (at most 720). */
  bucket: "minute" | "hour";
}

const HOUR = 3_600_000;

export const WINDOWS: ChartWindow[] = [
  { key: "1h", label: "1 hour", spanMs: HOUR, bucket: "minute" },
  { key: "24h", label: "24 hours", spanMs: 24 * HOUR, bucket: "hour" },
  { key: "7d", label: "7 days", spanMs: 7 * 24 * HOUR, bucket: "hour" },
  { key: "30d", label: "30 days", spanMs: 30 * 24 * HOUR, bucket: "hour" },
];

/** The window of `key` (the first one for anything unknown). */
export function windowOf(key: string | null | undefined): ChartWindow {
  return WINDOWS.find((w) => w.key === key) ?? (WINDOWS[0] as ChartWindow);
}

/** The stats routes' query for a window ending `now`. */
export function windowQuery(w: ChartWindow, now: number): string {
  const since = new Date(now - w.spanMs).toISOString();
  return `?since=${encodeURIComponent(since)}&bucket=${w.bucket}`;
}

/** Up to about `count` round values from 0 to at least `max`, for a y axis. */
export function niceTicks(max: number, count = 4): number[] {
  if (!(max > 0)) return [0, 1];
  const raw = max / count;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = ([1, 2, 2.5, 5, 10].map((m) => m * mag).find((s) => s >= raw) ?? 10 * mag) as number;
  const ticks: number[] = [];
  for (let v = 0; v < max + step - 1e-9; v += step) ticks.push(Number(v.toFixed(6)));
  return ticks;
}

/** Round steps between time labels, in minutes: 1 min up to a week. */
const STEPS = [1, 2, 5, 10, 15, 30, 60, 120, 180, 360, 720, 1440, 2880, 10080];

/** Indexes of the buckets to label on an x axis: at most `count`, on round local times (every
 * 10 minutes, every 6 hours, each midnight…), or evenly spread when no round step fits. */
export function timeTickIndexes(times: number[], bucketMs: number, count = 6): number[] {
  const n = times.length;
  if (n === 0) return [];
  const span = n * bucketMs;
  const step = STEPS.map((m) => m * 60_000).find((s) => s >= bucketMs && span / s <= count);
  if (step) {
    const round = times.flatMap((t, i) => ((t - new Date(t).getTimezoneOffset() * 60_000) % step === 0 ? [i] : []));
    if (round.length >= 2) return round;
  }
  const every = Math.max(1, Math.ceil(n / count));
  const out: number[] = [];
  for (let i = 0; i < n; i += every) out.push(i);
  return out;
}

/** A bucket's start as an axis label: the time of day for short windows, the date for long. */
export function timeLabel(t: number, spanMs: number): string {
  const d = new Date(t);
  if (spanMs <= 24 * HOUR) return d.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
  return d.toLocaleDateString([], { month: "short", day: "numeric" });
}

/** A bucket as a tooltip names it: its date and time. */
export function bucketLabel(t: number, bucketMs: number): string {
  const d = new Date(t);
  const day = d.toLocaleDateString([], { month: "short", day: "numeric" });
  const time = d.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
  return bucketMs >= HOUR ? `${day} ${time}–${new Date(t + bucketMs).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" })}` : `${day} ${time}`;
}

/** A count as it reads in a figure: 1234 → 1,234. */
export function count(n: number | null | undefined): string {
  return n === null || n === undefined ? "—" : n.toLocaleString();
}

/** Milliseconds as a latency figure, or `—`. */
export function latency(ms: number | null | undefined): string {
  if (ms === null || ms === undefined) return "—";
  if (ms === 0) return "0 ms";
  if (ms < 10) return `${ms.toFixed(1)} ms`;
  if (ms < 1000) return `${Math.round(ms)} ms`;
  return `${(ms / 1000).toFixed(ms < 10_000 ? 2 : 1)} s`;
}

/** An age in ms as `45 s`, `12 min`, `3 h 5 min` or `2 d 4 h`, or `—`. */
export function age(ms: number | null | undefined): string {
  if (ms === null || ms === undefined) return "—";
  const s = Math.round(ms / 1000);
  if (s < 60) return `${s} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m} min`;
  const h = Math.floor(m / 60);
  if (h < 24) return `${h} h ${m % 60} min`;
  return `${Math.floor(h / 24)} d ${h % 24} h`;
}
