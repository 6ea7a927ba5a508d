// Broker sources: each with its state (and lag, last error, when the server reports them),
// its pause, its throughput over the chosen window, and the messages it rejected.
import { useState } from "react";
import { query, type Page } from "../api";
import { ErrorNote, JsonBlock, Loading, Pager } from "../components/ui";
import { when } from "../format";
import { useLoad, usePaged } from "../hooks";
import { useSession } from "../session-context";
import { bucketMsOf, REFRESH_MS, timesOf, useSeries, useTick, WindowPicker } from "./charts";
import { PauseControl } from "./PauseControl";
import { TimeChart } from "./TimeChart";
import type { RejectedOut, SourceOut } from "./types";
import { count, windowOf, type ChartWindow } from "./window";

export function SourcesPage() {
  const { api } = useSession();
  const [w, setW] = useState<ChartWindow>(() => windowOf(null));
  // Read again every few seconds: the state and lag change as the readers work.
  const tick = useTick(REFRESH_MS);
  const sources = useLoad(`sources:${tick}`, () => api.get<Page<SourceOut>>("/source"));
  return (
    <section>
      <div className="heading-row">
        <h1>Sources</h1>
        <WindowPicker value={w} onChange={setW} />
      </div>
      <ErrorNote error={sources.error} />
      <Loading when={sources.loading && !sources.data} />
      {sources.data?.data.length === 0 && (
        <p className="muted">No broker sources are configured (see the `sources:` section of the config file).</p>
      )}
      {sources.data?.data.map((s) => (
        <Source key={s.name} source={s} w={w} onChange={sources.reload} />
      ))}
    </section>
  );
}

function stateKind(state: string): string {
  return state === "reading" ? "good" : state === "reconnecting" ? "bad" : "warn";
}

function Source({ source: s, w, onChange }: { source: SourceOut; w: ChartWindow; onChange(): void }) {
  const state = s.state ?? (s.paused ? "paused" : null);
  return (
    <article className="card source" data-source={s.name} aria-labelledby={`src-${s.name}`}>
      <div className="heading-row">
        <h2 id={`src-${s.name}`}>{s.name}</h2>
        {state && (
          <span className={`badge ${stateKind(state)}`} data-state={state}>
            {state}
          </span>
        )}
        {s.since && <span className="muted small">since {when(s.since)}</span>}
      </div>
      <dl className="facts">
        <dt>Reads</dt>
        <dd>
          {s.type} <code>{s.reads}</code> ({s.format})
        </dd>
        <dt>Goes to</dt>
        <dd>{s.handler ? `handler ${s.handler}` : s.app ? `app ${s.app}` : "the app each message names"}</dd>
        {s.lag !== undefined && (
          <>
            <dt>Lag</dt>
            <dd>
              {s.lag === null ? "unknown" : `${count(s.lag)} waiting in the broker`}
              {s.lagAt && <span className="muted small"> (read {when(s.lagAt)})</span>}
            </dd>
          </>
        )}
        {s.lastError && (
          <>
            <dt>Last error</dt>
            <dd className="error break">{s.lastError}</dd>
          </>
        )}
      </dl>
      <PauseControl scope="source" id={s.name} what="source" onChange={onChange} />
      <Throughput name={s.name} w={w} />
      <Rejected name={s.name} />
    </article>
  );
}

function Throughput({ name, w }: { name: string; w: ChartWindow }) {
  const series = useSeries(`/stats/source/${encodeURIComponent(name)}`, w);
  const s = series.data;
  return (
    <div className="charts">
      <ErrorNote error={series.error} />
      {s && (
        <TimeChart
          title="Messages read"
          kind="bars"
          times={timesOf(s)}
          bucketMs={bucketMsOf(s)}
          series={[
            { label: "Stored", color: "good", values: s.data.map((p) => p.messagesStored) },
            { label: "Rejected", color: "bad", values: s.data.map((p) => p.messagesRejected) },
            { label: "Duplicate", color: "other", values: s.data.map((p) => p.messagesDuplicate) },
          ]}
          format={count}
          empty="No messages read in this window."
        />
      )}
      {s?.data.some((p) => p.queueDepth !== null) && (
        <TimeChart
          title="Lag (messages waiting in the broker)"
          kind="lines"
          times={timesOf(s)}
          bucketMs={bucketMsOf(s)}
          series={[{ label: "Lag", color: "accent", values: s.data.map((p) => p.queueDepth) }]}
          legend={[`${count(s.total.queueDepth)} at most`]}
          format={count}
          empty="Nothing waited in this window."
        />
      )}
    </div>
  );
}

function Rejected({ name }: { name: string }) {
  const { api } = useSession();
  const path = `/source/${encodeURIComponent(name)}/rejected`;
  const list = usePaged(`rejected:${name}`, (iterator) => api.get<Page<RejectedOut>>(`${path}${query({ limit: 10, iterator })}`));
  return (
    <section aria-label={`messages ${name} rejected`}>
      <div className="heading-row">
        <h3>Rejected messages</h3>
        <button type="button" onClick={list.reload}>
          Refresh
        </button>
      </div>
      <ErrorNote error={list.error} />
      {list.data?.data.length === 0 && <p className="muted">None.</p>}
      <ul className="rows rejected">
        {list.data?.data.map((r) => (
          <li key={r.id} data-rejected={r.id}>
            <span className="muted small">{when(r.timestamp)}</span> <code>{r.brokerId}</code> <span className="error">{r.reason}</span>
            <JsonBlock title="Body" text={r.body} />
          </li>
        ))}
      </ul>
      <Pager {...list} />
    </section>
  );
}
