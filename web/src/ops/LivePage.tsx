// The live feed: attempts, runs and dead letters as they happen, filtered by app, endpoint,
// handler and outcome (the filters are in the address), pausable on screen while it keeps
// receiving, each linking to its message, endpoint or handler. Event types this page does not
// know are listed as they came.
import { useState, type FormEvent } from "react";
import { query } from "../api";
import { ErrorNote, Field, Link } from "../components/ui";
import { duration, when } from "../format";
import { navigate, pathOf, useLocation } from "../router";
import { useFeed, MAX_ROWS, type FeedEntry, type FeedStatus } from "./feed";
import type { StreamEvent } from "./types";

const OUTCOMES = ["", "success", "failure", "OK", "E_HTTP_STATUS", "E_TIMEOUT", "E_CONNECT", "E_DNS", "E_TLS", "E_EXIT_CODE"];
const FILTERS = ["app", "endpoint", "handler", "outcome"] as const;
type Filters = Record<(typeof FILTERS)[number], string>;

const STATUS_TEXT: Record<FeedStatus, string> = {
  connecting: "Connecting…",
  live: "Connected",
  reconnecting: "Reconnecting (the events missed meanwhile will follow)…",
  stopped: "Stopped",
};

export function LivePage() {
  const { search } = useLocation();
  const applied = Object.fromEntries(FILTERS.map((f) => [f, search.get(f) ?? ""])) as Filters;
  const q = query(applied);
  const [paused, setPaused] = useState(false);
  const feed = useFeed(q, paused);
  const { shown, waiting, dropped } = feed.view;
  return (
    <section className="live">
      <div className="heading-row">
        <h1>Live</h1>
        <span className={`badge ${feed.status === "live" ? "good" : feed.status === "stopped" ? "bad" : "warn"}`} data-feed={feed.status}>
          {STATUS_TEXT[feed.status]}
        </span>
      </div>
      <FilterForm key={q} applied={applied} />
      <ErrorNote error={feed.error} />
      <div className="heading-row live-controls">
        <p className="muted small" aria-live="polite">
          {shown.length} shown (at most {MAX_ROWS}, newest first)
          {paused && (
            <>
              {" · "}
              <strong className="waiting" data-waiting={waiting.length}>
                {waiting.length} waiting
              </strong>
              {dropped > 0 && <> ({dropped} older ones dropped)</>}
            </>
          )}
        </p>
        <button type="button" aria-pressed={paused} onClick={() => setPaused((p) => !p)} className={paused ? "primary" : ""}>
          {paused ? `Resume (show ${waiting.length})` : "Pause screen"}
        </button>
        <button type="button" onClick={feed.clear}>
          Clear
        </button>
      </div>
      {shown.length === 0 && <p className="muted">Nothing yet: attempts and runs appear here as they happen.</p>}
      <ul className="rows feed">
        {shown.map((e) => (
          <FeedRow key={e.key} entry={e} />
        ))}
      </ul>
    </section>
  );
}

function FilterForm({ applied }: { applied: Filters }) {
  const [f, setF] = useState<Filters>(applied);
  const submit = (e: FormEvent) => {
    e.preventDefault();
    navigate(`/live${query(f)}`);
  };
  const input = (name: keyof Filters, label: string, hint: string) => (
    <Field label={label} name={name}>
      <input name={name} value={f[name]} placeholder={hint} onChange={(e) => setF({ ...f, [name]: e.target.value.trim() })} />
    </Field>
  );
  return (
    <form className="filters" onSubmit={submit} aria-label="live filters">
      {input("app", "App", "id or uid")}
      {input("endpoint", "Endpoint", "ep_…")}
      {input("handler", "Handler", "its id")}
      <Field label="Outcome" name="outcome">
        <select name="outcome" value={f.outcome} onChange={(e) => setF({ ...f, outcome: e.target.value })}>
          {OUTCOMES.map((o) => (
            <option key={o} value={o}>
              {o || "any"}
            </option>
          ))}
        </select>
      </Field>
      <button type="submit">Apply</button>
    </form>
  );
}

function outcomeKind(outcome: string): string {
  return outcome === "OK" ? "good" : "bad";
}

function FeedRow({ entry }: { entry: FeedEntry }) {
  const known = entry.type === "attempt" || entry.type === "run" || entry.type === "dead";
  if (known && entry.data && typeof entry.data === "object") {
    return <AttemptRow type={entry.type} e={entry.data as StreamEvent} />;
  }
  if (entry.type === "endpoint" && entry.data && typeof entry.data === "object") {
    return <EndpointRow e={entry.data as EndpointEvent} />;
  }
  const data = entry.data as { detail?: unknown } | string | null;
  const detail = data && typeof data === "object" && typeof data.detail === "string" ? data.detail : null;
  const text = typeof entry.data === "string" ? entry.data : JSON.stringify(entry.data);
  return (
    <li data-kind={entry.type} className="feed-other">
      <span className="badge">{entry.type}</span> <span className="muted small">{new Date(entry.receivedAt).toLocaleTimeString()}</span>{" "}
      {detail ?? <code className="break">{text.length > 300 ? `${text.slice(0, 300)}…` : text}</code>}
    </li>
  );
}

/** The `data` of an `endpoint` event: an endpoint's state changed. */
interface EndpointEvent {
  appId: string;
  endpointId: string;
  change: string;
  detail?: string;
  timestamp: string;
}

const CHANGE_TEXT: Record<string, string> = {
  breaker_opened: "breaker opened",
  breaker_closed: "breaker closed",
};

function EndpointRow({ e }: { e: EndpointEvent }) {
  const bad = e.change === "disabled" || e.change === "breaker_opened" || e.change === "deleted";
  const breaker = e.change.startsWith("breaker_");
  return (
    <li data-kind="endpoint" data-change={e.change}>
      <time className="muted small" dateTime={e.timestamp} title={when(e.timestamp)}>
        {new Date(e.timestamp).toLocaleTimeString()}
      </time>
      <span className="badge">endpoint</span>
      <strong className={bad ? "bad" : undefined}>{CHANGE_TEXT[e.change] ?? e.change}</strong>
      {e.change === "deleted" ? (
        <code>{e.endpointId}</code>
      ) : (
        <Link to={pathOf("apps", e.appId, "endpoints", e.endpointId)}>
          endpoint <code>{e.endpointId}</code>
        </Link>
      )}
      {e.detail && <span className="muted">{breaker ? `on node ${e.detail}` : e.detail}</span>}
    </li>
  );
}

function AttemptRow({ type, e }: { type: string; e: StreamEvent }) {
  const dead = type === "dead";
  return (
    <li data-kind={type} data-outcome={e.outcome} data-attempt={e.id}>
      <time className="muted small" dateTime={e.timestamp} title={when(e.timestamp)}>
        {new Date(e.timestamp).toLocaleTimeString()}
      </time>
      <span className={`badge ${dead ? "bad" : ""}`}>{dead ? "dead letter" : type}</span>
      <code className={outcomeKind(e.outcome)}>{e.outcome}</code>
      {e.exitCode !== undefined ? <span>exit {e.exitCode}</span> : <strong>{e.statusCode || "—"}</strong>}
      <span>{duration(e.durationMs)}</span>
      {e.triggerType === 1 && <span className="badge">manual</span>}
      {e.appId && e.msgId && (
        <Link to={pathOf("apps", e.appId, "messages", e.msgId)}>
          message <code>{e.msgId}</code>
        </Link>
      )}
      {e.appId && e.endpointId && (
        <Link to={pathOf("apps", e.appId, "endpoints", e.endpointId)}>
          endpoint <code>{e.endpointId}</code>
        </Link>
      )}
      {e.handlerId && (
        <Link to={pathOf("handlers", e.handlerId)}>
          handler {e.handlerId} · run <code>{e.runId}</code>
        </Link>
      )}
    </li>
  );
}
