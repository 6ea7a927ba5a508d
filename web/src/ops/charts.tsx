// The stats charts every page shares: attempts by outcome and latency percentiles of one
// scope's series, the window picker, and a ticker that keeps them fresh.
import { useEffect, useState, type ReactNode } from "react";
import { ErrorNote } from "../components/ui";
import { useLoad } from "../hooks";
import { useSession } from "../session-context";
import { TimeChart, type ChartSeries } from "./TimeChart";
import type { StatsSeries } from "./types";
import { count, latency, windowQuery, WINDOWS, type ChartWindow } from "./window";

/** How often figures and charts are read again while a page is open. */
export const REFRESH_MS = 5_000;

/** A number that goes up every `ms`, for loads to key on. */
export function useTick(ms: number): number {
  const [tick, setTick] = useState(0);
  useEffect(() => {
    const timer = window.setInterval(() => {
      if (document.visibilityState !== "hidden") setTick((t) => t + 1);
    }, ms);
    return () => window.clearInterval(timer);
  }, [ms]);
  return tick;
}

/** 1 hour, 24 hours, 7 days, 30 days. */
export function WindowPicker({ value, onChange }: { value: ChartWindow; onChange(w: ChartWindow): void }) {
  return (
    <div className="window-picker" role="group" aria-label="window">
      {WINDOWS.map((w) => (
        <button
          key={w.key}
          type="button"
          aria-pressed={w.key === value.key}
          title={`The past ${w.label}, in ${w.bucket}s`}
          onClick={() => onChange(w)}
        >
          {w.key}
        </button>
      ))}
    </div>
  );
}

/** A stats series (`/stats/server`, `/stats/app/{id}/endpoint/{id}`, …) over `w`, read again
 * every few seconds. */
export function useSeries(path: string, w: ChartWindow) {
  const { api } = useSession();
  const tick = useTick(REFRESH_MS);
  return useLoad(`${path}:${w.key}:${tick}`, () => api.get<StatsSeries>(`${path}${windowQuery(w, Date.now())}`));
}

export function bucketMsOf(s: StatsSeries): number {
  return s.bucket === "hour" ? 3_600_000 : 60_000;
}

export function timesOf(s: StatsSeries): number[] {
  return s.data.map((p) => Date.parse(p.start));
}

/** Attempts stacked by outcome. */
export function outcomeSeries(s: StatsSeries): ChartSeries[] {
  return [
    { label: "Succeeded", color: "good", values: s.data.map((p) => p.succeeded) },
    { label: "Failed (status)", color: "bad", values: s.data.map((p) => p.failedStatus) },
    { label: "Timed out", color: "warn", values: s.data.map((p) => p.timedOut) },
    { label: "Failed (other)", color: "violet", values: s.data.map((p) => p.failedOther) },
  ];
}

/** p50, p95 and p99 latency; the legend gives the whole window's. */
export function LatencyChart({ series, title = "Latency" }: { series: StatsSeries; title?: string }) {
  return (
    <TimeChart
      title={title}
      kind="lines"
      times={timesOf(series)}
      bucketMs={bucketMsOf(series)}
      series={[
        { label: "p50", color: "accent", values: series.data.map((p) => p.p50Ms) },
        { label: "p95", color: "warn", values: series.data.map((p) => p.p95Ms) },
        { label: "p99", color: "bad", values: series.data.map((p) => p.p99Ms) },
      ]}
      legend={[latency(series.total.p50Ms), latency(series.total.p95Ms), latency(series.total.p99Ms)]}
      format={latency}
      empty="No attempts in this window."
    />
  );
}

/** Attempts by outcome and latency of one scope (the server, an endpoint, a handler), and
 * whatever else `more` draws from the same series. */
export function ScopeCharts(props: { path: string; w: ChartWindow; title: string; more?(s: StatsSeries): ReactNode }) {
  const series = useSeries(props.path, props.w);
  const s = series.data;
  return (
    <div className="charts">
      <ErrorNote error={series.error} />
      {s && (
        <>
          <TimeChart
            title={props.title}
            kind="bars"
            times={timesOf(s)}
            bucketMs={bucketMsOf(s)}
            series={outcomeSeries(s)}
            format={count}
            empty="No attempts in this window."
          />
          <LatencyChart series={s} />
          {props.more?.(s)}
        </>
      )}
    </div>
  );
}
