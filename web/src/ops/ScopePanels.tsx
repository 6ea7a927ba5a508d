// What the endpoint, handler and app pages show of operating them: the pause control and, for
// endpoints and handlers, attempts by outcome and latency over a chosen window.
import { useState } from "react";
import { ScopeCharts, WindowPicker } from "./charts";
import { PauseControl } from "./PauseControl";
import { windowOf, type ChartWindow } from "./window";

function Charts({ path, title }: { path: string; title: string }) {
  const [w, setW] = useState<ChartWindow>(() => windowOf(null));
  return (
    <section aria-labelledby="charts-title">
      <div className="heading-row">
        <h2 id="charts-title">Over time</h2>
        <WindowPicker value={w} onChange={setW} />
      </div>
      <ScopeCharts path={path} w={w} title={title} />
    </section>
  );
}

/** An endpoint's pause and charts; `endpoint` is its id (`ep_…`), as pauses are kept by id. */
export function EndpointOperate({ app, endpoint }: { app: string; endpoint: string }) {
  return (
    <>
      <PauseControl scope="endpoint" id={endpoint} what="endpoint" />
      <Charts path={`/stats/app/${encodeURIComponent(app)}/endpoint/${encodeURIComponent(endpoint)}`} title="Attempts by outcome" />
    </>
  );
}

/** A handler's pause and charts. */
export function HandlerOperate({ id }: { id: string }) {
  return (
    <>
      <PauseControl scope="handler" id={id} what="handler" />
      <Charts path={`/stats/handler/${encodeURIComponent(id)}`} title="Run attempts by outcome" />
    </>
  );
}

/** An app's pause. */
export function AppOperate({ app }: { app: string }) {
  return <PauseControl scope="app" id={app} what="app" />;
}
