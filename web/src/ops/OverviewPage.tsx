// The landing page of admin and read-only tokens: how the server does over a chosen window
// (every figure from /api/v1/stats, never counted from rows), what is paused, firing alerts and
// nodes where the server has them, and the busiest apps.
import { useState } from "react";
import { ApiError, type Api } from "../api";
import { ErrorNote, Link } from "../components/ui";
import { percent, when } from "../format";
import { useAction, useLoad, type Loaded } from "../hooks";
import { pathOf } from "../router";
import { useSession } from "../session-context";
import type { AppOut } from "../types";
import { bucketMsOf, REFRESH_MS, ScopeCharts, timesOf, useTick, WindowPicker } from "./charts";
import { PauseControl, pausedText, pausePath, waitingText } from "./PauseControl";
import { TimeChart } from "./TimeChart";
import type { AlertOut, NodeOut, PauseOut, StatsPoint, StatsSeries, StatsSummary } from "./types";
import { age, count, latency, windowOf, windowQuery, type ChartWindow } from "./window";

/** Failed attempts, whatever the failure. */
export function failed(p: StatsPoint): number {
  return p.failedStatus + p.timedOut + p.failedOther;
}

export function OverviewPage() {
  const [w, setW] = useState<ChartWindow>(() => windowOf(new URLSearchParams(window.location.search).get("window")));
  const summary = useSummary(w);
  return (
    <section className="overview">
      <div className="heading-row">
        <h1>Overview</h1>
        <WindowPicker value={w} onChange={setW} />
      </div>
      <Figures w={w} summary={summary} />
      <ServerCharts w={w} />
      <Paused />
      <Alerts />
      <Nodes />
      <TopApps summary={summary} />
    </section>
  );
}

function useSummary(w: ChartWindow) {
  const { api } = useSession();
  const tick = useTick(REFRESH_MS);
  return useLoad(`summary:${w.key}:${tick}`, () => api.get<StatsSummary>(`/stats/summary${windowQuery(w, Date.now())}`));
}

function Figure(props: { name: string; label: string; value: string; hint?: string; kind?: string }) {
  return (
    <div className={`figure ${props.kind ?? ""}`} data-figure={props.name} title={props.hint}>
      <span className="figure-label">{props.label}</span>
      <strong>{props.value}</strong>
    </div>
  );
}

function Figures({ w, summary }: { w: ChartWindow; summary: Loaded<StatsSummary> }) {
  const s = summary.data;
  const t = s?.total;
  const fails = t ? failed(t) : 0;
  return (
    <>
      <ErrorNote error={summary.error} />
      <div className="figures" aria-label={`the past ${w.label}`} role="group">
        <Figure name="attempts" label="Attempts" value={count(t?.attempts)} />
        <Figure name="succeeded" label="Delivered" value={count(t?.succeeded)} kind="good" />
        <Figure name="failed" label="Failed" value={count(t ? fails : null)} kind={fails ? "bad" : ""} />
        <Figure name="success-rate" label="Success rate" value={t ? percent(t.successRate) : "—"} />
        <Figure name="p50" label="Latency p50" value={latency(t?.p50Ms)} />
        <Figure name="p99" label="Latency p99" value={latency(t?.p99Ms)} />
        <Figure name="queue" label="Queue now" value={count(s?.queueDepth)} hint="Deliveries and runs waiting now" />
        <Figure name="oldest" label="Oldest waiting" hint="How long the oldest waiting delivery or run has waited, now" value={s ? age(s.oldestPendingMs) : "—"} />
        <Figure name="dead" label="Dead letters" value={count(t?.dead)} kind={t?.dead ? "bad" : ""} hint="Deliveries and runs that exhausted their attempts in the window" />
      </div>
    </>
  );
}

function ServerCharts({ w }: { w: ChartWindow }) {
  return <ScopeCharts path="/stats/server" w={w} title="Deliveries and failures" more={(s) => <QueueChart series={s} />} />;
}

function QueueChart({ series: s }: { series: StatsSeries }) {
  return (
    <TimeChart
      title="Queue depth (highest sample of each bucket)"
      kind="lines"
      times={timesOf(s)}
      bucketMs={bucketMsOf(s)}
      series={[{ label: "Waiting", color: "accent", values: s.data.map((p) => p.queueDepth) }]}
      legend={[count(s.total.queueDepth)]}
      format={count}
      empty={s.data.some((p) => p.queueDepth !== null) ? "Nothing waited in this window." : "No samples in this window."}
    />
  );
}

/** Where a paused thing is shown, if it has a page. */
function pausedLink(p: PauseOut): string | null {
  if (p.scope === "app" && p.id) return pathOf("apps", p.id);
  if (p.scope === "handler" && p.id) return pathOf("handlers", p.id);
  if (p.scope === "source") return "/sources";
  return null;
}

function Paused() {
  const { api, writable } = useSession();
  const tick = useTick(REFRESH_MS);
  const list = useLoad(`pauses:${tick}`, () => api.get<{ data: PauseOut[] }>("/pause"));
  const act = useAction();
  const resume = (p: PauseOut) =>
    act.run(async () => {
      await api.call("DELETE", pausePath(p.scope, p.id));
      list.reload();
    });
  const others = list.data?.data.filter((p) => p.scope !== "server") ?? [];
  return (
    <section aria-labelledby="paused-title">
      <h2 id="paused-title">Paused</h2>
      <PauseControl scope="server" what="server" />
      <ErrorNote error={list.error ?? act.error} />
      {list.data && others.length === 0 && <p className="muted">No app, endpoint, handler or source is paused.</p>}
      {others.length > 0 && (
        <ul className="rows paused-list">
          {others.map((p) => {
            const to = pausedLink(p);
            return (
              <li key={`${p.scope}:${p.id}`} data-paused={p.id}>
                <span className="badge warn">{p.scope}</span> {to ? <Link to={to}>{p.id}</Link> : <code>{p.id}</code>}{" "}
                <span className="muted small">
                  {pausedText(p)} {waitingText(p)}
                </span>
                {writable && (
                  <button type="button" disabled={act.busy} onClick={() => void resume(p)} aria-label={`Resume ${p.scope} ${p.id}`}>
                    Resume
                  </button>
                )}
              </li>
            );
          })}
        </ul>
      )}
    </section>
  );
}

/** The API paths this server serves, from its OpenAPI document (read once): alerts and nodes
 * are not served by every version, and asking a missing route would log a 404. */
let served: Promise<Set<string>> | null = null;

function servedPaths(api: Api): Promise<Set<string>> {
  served ??= api.get<{ paths: Record<string, unknown> }>("/openapi.json").then(
    (doc) => new Set(Object.keys(doc.paths)),
    () => {
      served = null;
      return new Set<string>();
    },
  );
  return served;
}

/** A route another part of the server may not have: `null` while it is not served (not in the
 * OpenAPI document, or answering 404). */
function useOptional<T>(key: string, route: string, path: string) {
  const { api } = useSession();
  const tick = useTick(REFRESH_MS * 3);
  return useLoad<T | null>(`${key}:${tick}`, async () => {
    if (!(await servedPaths(api)).has(`/api/v1${route}`)) return null;
    return api.get<T>(path).catch((e: unknown) => {
      if (e instanceof ApiError && e.status === 404) return null;
      throw e;
    });
  });
}

function Alerts() {
  const alerts = useOptional<{ data: AlertOut[] }>("alerts", "/alert", "/alert?status=firing&limit=50");
  if (!alerts.data && !alerts.error) return null;
  const firing = alerts.data?.data ?? [];
  return (
    <section aria-labelledby="alerts-title">
      <h2 id="alerts-title">Firing alerts</h2>
      <ErrorNote error={alerts.error} />
      {alerts.data && firing.length === 0 && <p className="muted">None firing.</p>}
      {firing.length > 0 && (
        <ul className="rows">
          {firing.map((a) => (
            <li key={a.id} data-alert={a.id}>
              <span className="badge bad">{a.kind}</span> <strong>{a.ruleName}</strong> {a.summary}{" "}
              <span className="muted small">since {when(a.firedAt)}</span>
            </li>
          ))}
        </ul>
      )}
    </section>
  );
}

function Nodes() {
  const nodes = useOptional<{ data: NodeOut[] }>("nodes", "/node", "/node");
  if (!nodes.data && !nodes.error) return null;
  return (
    <section aria-labelledby="nodes-title">
      <h2 id="nodes-title">Nodes</h2>
      <ErrorNote error={nodes.error} />
      <ul className="rows">
        {nodes.data?.data.map((n) => (
          <li key={n.id}>
            <span className={`badge ${n.alive ? "good" : "bad"}`}>{n.alive ? "alive" : "gone"}</span> <code>{n.id}</code>{" "}
            {n.role}
            {n.leader && <span className="badge">leader</span>}
            <span className="muted small">last seen {when(n.lastSeen)}</span>
          </li>
        ))}
      </ul>
    </section>
  );
}

function TopApps({ summary }: { summary: Loaded<StatsSummary> }) {
  const top = summary.data?.topApps ?? [];
  return (
    <section aria-labelledby="top-title">
      <h2 id="top-title">Busiest apps</h2>
      {summary.data && top.length === 0 && <p className="muted">No app had attempts in this window.</p>}
      {top.length > 0 && (
        <div className="table-wrap">
          <table>
            <thead>
              <tr>
                <th>App</th>
                <th>Attempts</th>
                <th>Delivered</th>
                <th>Failed</th>
                <th>Success rate</th>
                <th>p99</th>
              </tr>
            </thead>
            <tbody>
              {top.map((a) => (
                <tr key={a.id} data-app={a.id}>
                  <td>
                    <AppName id={a.id} />
                  </td>
                  <td data-col="attempts">{count(a.attempts)}</td>
                  <td data-col="succeeded">{count(a.succeeded)}</td>
                  <td data-col="failed">{count(failed(a))}</td>
                  <td>{percent(a.successRate)}</td>
                  <td>{latency(a.p99Ms)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </section>
  );
}

function AppName({ id }: { id: string }) {
  const { api } = useSession();
  const app = useLoad(`app:${id}`, () => api.get<AppOut>(`/app/${encodeURIComponent(id)}`));
  return <Link to={pathOf("apps", id)}>{app.data?.name ?? id}</Link>;
}
