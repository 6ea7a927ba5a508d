// A chart over time in plain SVG: stacked bars (counts) or lines (latencies), one bucket per
// point as the stats routes answer them. Axes with round values and readable times, a tooltip
// on hover and on the keyboard (focus the chart, then ← → Home End), a legend with the window's
// figures, colours from the theme (light and dark), and a clear empty state.
import { useLayoutEffect, useRef, useState, type KeyboardEvent, type PointerEvent } from "react";
import { bucketLabel, niceTicks, timeLabel, timeTickIndexes } from "./window";

/** Theme colours a series may take (see operate.css). */
export type ChartColor = "good" | "bad" | "warn" | "other" | "accent" | "violet";

export interface ChartSeries {
  label: string;
  color: ChartColor;
  /** One value per bucket; `null` where there is nothing to measure (a line breaks there). */
  values: (number | null)[];
}

export interface TimeChartProps {
  title: string;
  /** Each bucket's start, in ms. */
  times: number[];
  bucketMs: number;
  series: ChartSeries[];
  /** `bars` stacks counts; `lines` draws each series on its own. */
  kind: "bars" | "lines";
  /** How a value reads on the axis and in the tooltip. */
  format?: (v: number) => string;
  /** What the legend says after each series' name: for bars, the window's sum unless given. */
  legend?: string[];
  /** Said when every value is zero or missing. */
  empty?: string;
  height?: number;
}

const MARGIN = { top: 10, right: 12, bottom: 26, left: 52 };

/** The wrapper's width, measured before the first paint and kept up to date, so the chart is
 * drawn at its real size (text never stretched) and never wider than its place. */
function useWidth(fallback: number) {
  const ref = useRef<HTMLDivElement>(null);
  const [width, setWidth] = useState(fallback);
  useLayoutEffect(() => {
    const el = ref.current;
    if (!el) return;
    if (el.clientWidth > 0) setWidth(el.clientWidth);
    if (typeof ResizeObserver === "undefined") return;
    const observer = new ResizeObserver((entries) => {
      const w = entries[0]?.contentRect.width;
      if (w && w > 0) setWidth(Math.floor(w));
    });
    observer.observe(el);
    return () => observer.disconnect();
  }, []);
  return { ref, width };
}

export function TimeChart(props: TimeChartProps) {
  const { ref, width } = useWidth(320);
  const [active, setActive] = useState<number | null>(null);
  const height = props.height ?? 200;
  const format = props.format ?? ((v: number) => v.toLocaleString());
  const n = props.times.length;
  const plotW = Math.max(10, width - MARGIN.left - MARGIN.right);
  const plotH = height - MARGIN.top - MARGIN.bottom;
  const bw = n > 0 ? plotW / n : plotW;
  const stacked = props.kind === "bars";

  const tops = props.times.map((_, i) =>
    stacked
      ? props.series.reduce((sum, s) => sum + (s.values[i] ?? 0), 0)
      : Math.max(0, ...props.series.map((s) => s.values[i] ?? 0)),
  );
  const max = Math.max(0, ...tops);
  const empty = max === 0;
  const ticks = niceTicks(max);
  const top = ticks[ticks.length - 1] ?? 1;
  const y = (v: number) => MARGIN.top + plotH - (v / top) * plotH;
  const xAt = (i: number) => MARGIN.left + i * bw;
  const spanMs = n * props.bucketMs;
  const sums = props.series.map((s) => s.values.reduce<number>((a, v) => a + (v ?? 0), 0));
  const legend = props.legend ?? sums.map((v) => format(v));

  const pick = (e: PointerEvent<SVGRectElement>) => {
    const box = e.currentTarget.getBoundingClientRect();
    const i = Math.floor((e.clientX - box.left) / (box.width / Math.max(1, n)));
    setActive(Math.min(n - 1, Math.max(0, i)));
  };
  const onKey = (e: KeyboardEvent<HTMLDivElement>) => {
    const last = n - 1;
    const cur = active ?? last;
    const next =
      e.key === "ArrowLeft" ? cur - 1 : e.key === "ArrowRight" ? cur + 1 : e.key === "Home" ? 0 : e.key === "End" ? last : null;
    if (next === null || n === 0) return;
    e.preventDefault();
    setActive(Math.min(last, Math.max(0, next)));
  };
  const summary = `${props.title}: ${props.series.map((s, i) => `${s.label} ${legend[i]}`).join(", ")}`;

  return (
    <figure className="chart">
      <figcaption>{props.title}</figcaption>
      <div
        ref={ref}
        className="chart-area"
        tabIndex={0}
        role="group"
        aria-label={`${summary}. Arrow keys read each ${props.bucketMs >= 3_600_000 ? "hour" : "minute"}.`}
        onKeyDown={onKey}
        onFocus={() => setActive((a) => a ?? (n > 0 ? n - 1 : null))}
        onBlur={() => setActive(null)}
      >
        <svg width={width} height={height} role="img" aria-label={summary}>
          {ticks.map((t) => (
            <g key={t} className="tick">
              <line x1={MARGIN.left} x2={MARGIN.left + plotW} y1={y(t)} y2={y(t)} />
              <text x={MARGIN.left - 6} y={y(t)} dy="0.32em" textAnchor="end">
                {format(t)}
              </text>
            </g>
          ))}
          {timeTickIndexes(props.times, props.bucketMs, Math.max(2, Math.floor(plotW / 90))).map((i) => (
            <text key={i} className="tick" x={xAt(i) + bw / 2} y={height - 8} textAnchor="middle">
              {timeLabel(props.times[i] as number, spanMs)}
            </text>
          ))}
          {active !== null && n > 0 && (
            <rect className="hover-band" x={xAt(active)} width={Math.max(1, bw)} y={MARGIN.top} height={plotH} />
          )}
          {stacked ? <Bars {...props} y={y} xAt={xAt} bw={bw} /> : <Lines {...props} y={y} xAt={xAt} bw={bw} active={active} />}
          <line className="axis" x1={MARGIN.left} x2={MARGIN.left + plotW} y1={y(0)} y2={y(0)} />
          {empty && (
            <text className="empty" x={MARGIN.left + plotW / 2} y={MARGIN.top + plotH / 2} textAnchor="middle">
              {props.empty ?? "Nothing in this window."}
            </text>
          )}
          <rect
            className="hit"
            x={MARGIN.left}
            y={MARGIN.top}
            width={plotW}
            height={plotH}
            onPointerMove={pick}
            onPointerDown={pick}
            onPointerLeave={() => setActive(null)}
          />
        </svg>
        {active !== null && n > 0 && (
          <Tooltip {...props} index={active} format={format} left={xAt(active) + bw / 2} width={width} />
        )}
      </div>
      <ul className="legend">
        {props.series.map((s, i) => (
          <li key={s.label} className={`c-${s.color}`}>
            <span className="swatch" aria-hidden="true" /> {s.label} <strong>{legend[i]}</strong>
          </li>
        ))}
      </ul>
    </figure>
  );
}

interface Drawing extends TimeChartProps {
  y(v: number): number;
  xAt(i: number): number;
  bw: number;
}

function Bars(props: Drawing) {
  const gap = props.bw > 4 ? Math.min(2, props.bw * 0.2) : 0;
  const base = props.times.map(() => 0);
  return (
    <g>
      {props.series.map((s) => (
        <g key={s.label} className={`bars c-${s.color}`}>
          {s.values.map((v, i) => {
            if (!v) return null;
            const from = base[i] as number;
            base[i] = from + v;
            const y1 = props.y(from + v);
            return <rect key={i} x={props.xAt(i) + gap / 2} width={Math.max(0.5, props.bw - gap)} y={y1} height={props.y(from) - y1} />;
          })}
        </g>
      ))}
    </g>
  );
}

function Lines(props: Drawing & { active: number | null }) {
  return (
    <g>
      {props.series.map((s) => {
        let d = "";
        let drawing = false;
        const dots: number[] = [];
        s.values.forEach((v, i) => {
          if (v === null) {
            drawing = false;
            return;
          }
          // Each point is marked where points are few enough to tell apart, and a point with no
          // neighbour always (a line needs two).
          const isolated = (i === 0 || s.values[i - 1] === null) && (i === s.values.length - 1 || s.values[i + 1] === null);
          if (isolated || props.bw >= 6) dots.push(i);
          d += `${drawing ? "L" : "M"}${(props.xAt(i) + props.bw / 2).toFixed(1)},${props.y(v).toFixed(1)}`;
          drawing = true;
        });
        const a = props.active;
        const av = a === null ? null : s.values[a];
        return (
          <g key={s.label} className={`lines c-${s.color}`}>
            <path d={d} />
            {dots.map((i) => (
              <circle key={i} cx={props.xAt(i) + props.bw / 2} cy={props.y(s.values[i] as number)} r={2.5} />
            ))}
            {a !== null && av !== null && av !== undefined && (
              <circle className="focus-dot" cx={props.xAt(a) + props.bw / 2} cy={props.y(av)} r={3.5} />
            )}
          </g>
        );
      })}
    </g>
  );
}

function Tooltip(props: TimeChartProps & { index: number; format(v: number): string; left: number; width: number }) {
  const t = props.times[props.index] as number;
  const flip = props.left > props.width * 0.6;
  return (
    <div
      className={`chart-tip${flip ? " flip" : ""}`}
      role="status"
      aria-live="polite"
      style={flip ? { right: props.width - props.left + 8 } : { left: props.left + 8 }}
    >
      <strong>{bucketLabel(t, props.bucketMs)}</strong>
      {props.series.map((s) => {
        const v = s.values[props.index];
        return (
          <span key={s.label} className={`c-${s.color}`}>
            <span className="swatch" aria-hidden="true" /> {s.label}: {v === null || v === undefined ? "—" : props.format(v)}
          </span>
        );
      })}
    </div>
  );
}
