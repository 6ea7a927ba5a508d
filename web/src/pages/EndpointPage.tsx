// One endpoint: what it is and how it does, its tools (edit, secret, headers, recover, send an
// example, delete), its dead letters and its recent attempts.
import { useState } from "react";
import { query, type Page } from "../api";
import { AttemptList } from "../components/AttemptList";
import { Badge, ErrorNote, Link, Loading, Pager, Status } from "../components/ui";
import { percent, successRate, when, type EndpointStats } from "../format";
import { useLoad, usePaged } from "../hooks";
import { navigate, pathOf } from "../router";
import { useSession } from "../session-context";
import type { AttemptOut, EndpointMessageOut, EndpointOut } from "../types";
import { EndpointOperate } from "../ops/ScopePanels";
import { EndpointForm } from "./EndpointForm";
import { DangerZone, HeadersTool, RecoverTool, SecretTool, SendExampleTool } from "./EndpointTools";

export function EndpointPage({ app, endpoint }: { app: string; endpoint: string | null }) {
  const { api } = useSession();
  const appPath = `/app/${encodeURIComponent(app)}`;
  if (endpoint === null) {
    return (
      <section>
        <p>
          <Link to={pathOf("apps", app)}>← Endpoints</Link>
        </p>
        <h1>New endpoint</h1>
        <EndpointForm
          initial={null}
          save={async (body) => {
            const ep = await api.call<EndpointOut>("POST", `${appPath}/endpoint`, body);
            navigate(pathOf("apps", app, "endpoints", ep.id));
          }}
          cancel={() => navigate(pathOf("apps", app))}
        />
      </section>
    );
  }
  return <EndpointDetail app={app} endpoint={endpoint} />;
}

function EndpointDetail({ app, endpoint }: { app: string; endpoint: string }) {
  const { api, writable } = useSession();
  const base = `/app/${encodeURIComponent(app)}/endpoint/${encodeURIComponent(endpoint)}`;
  const ep = useLoad(`ep:${base}`, () => api.get<EndpointOut>(base));
  const stats = useLoad(`stats:${base}`, () => api.get<EndpointStats>(`${base}/stats`));
  const [editing, setEditing] = useState(false);
  const e = ep.data;
  return (
    <section>
      <p>
        <Link to={pathOf("apps", app)}>← Endpoints</Link>
      </p>
      <ErrorNote error={ep.error} />
      <Loading when={ep.loading && !e} />
      {e && (
        <>
          <h1 className="break">{e.url}</h1>
          <p className="muted">
            <code>{e.id}</code> {e.uid && <>· uid {e.uid}</>} ·{" "}
            {e.disabled ? <Badge kind="bad">disabled</Badge> : <Badge kind="good">enabled</Badge>}
          </p>
          <dl className="facts">
            <dt>Success rate (all time)</dt>
            <dd>{stats.data ? percent(successRate(stats.data)) : "…"}</dd>
            <dt>Delivered</dt>
            <dd>{stats.data?.success ?? "…"}</dd>
            <dt>Pending or sending</dt>
            <dd>{stats.data ? stats.data.pending + stats.data.sending : "…"}</dd>
            <dt>Failed</dt>
            <dd>{stats.data?.fail ?? "…"}</dd>
            <dt>Event types</dt>
            <dd>{e.filterTypes?.join(", ") || "all"}</dd>
            <dt>Channels</dt>
            <dd>{e.channels?.join(", ") || "all"}</dd>
            <dt>Rate limit</dt>
            <dd>{e.rateLimit ? `${e.rateLimit}/s` : "none"}</dd>
            <dt>Description</dt>
            <dd>{e.description || "—"}</dd>
            <dt>Updated</dt>
            <dd>{when(e.updatedAt)}</dd>
          </dl>
          {writable && !editing && (
            <button type="button" onClick={() => setEditing(true)}>
              Edit endpoint
            </button>
          )}
          {editing && (
            <EndpointForm
              initial={e}
              save={async (body) => {
                await api.call<EndpointOut>("PATCH", base, body);
                setEditing(false);
                ep.reload();
              }}
              cancel={() => setEditing(false)}
            />
          )}
          <div className="tools">
            <SecretTool base={base} />
            <HeadersTool base={base} />
            {writable && <RecoverTool base={base} />}
            {writable && <SendExampleTool base={base} />}
          </div>
          <EndpointOperate app={app} endpoint={e.id} />
          <DeadLetters app={app} base={base} />
          <RecentAttempts app={app} endpoint={e.id} />
          {writable && <DangerZone base={base} app={app} />}
        </>
      )}
    </section>
  );
}

function DeadLetters({ app, base }: { app: string; base: string }) {
  const { api } = useSession();
  const dead = usePaged(`dead:${base}`, (iterator) =>
    api.get<Page<EndpointMessageOut>>(`${base}/msg${query({ status: 2, limit: 20, iterator })}`),
  );
  return (
    <section aria-labelledby="dead-title">
      <h2 id="dead-title">Dead letters</h2>
      <p className="muted small">Messages whose last retry failed; recover them above.</p>
      <ErrorNote error={dead.error} />
      {dead.data?.data.length === 0 && <p className="muted">None.</p>}
      {!!dead.data?.data.length && (
        <ul className="rows">
          {dead.data.data.map((m) => (
            <li key={m.id}>
              <Status status={m.status} /> <Link to={pathOf("apps", app, "messages", m.id)}>{m.eventType}</Link>{" "}
              <code>{m.id}</code> <span className="muted">{when(m.timestamp)}</span>
            </li>
          ))}
        </ul>
      )}
      <Pager {...dead} />
    </section>
  );
}

function RecentAttempts({ app, endpoint }: { app: string; endpoint: string }) {
  const { api } = useSession();
  const path = `/app/${encodeURIComponent(app)}/attempt/endpoint/${encodeURIComponent(endpoint)}`;
  const attempts = usePaged(`attempts:${path}`, (iterator) =>
    api.get<Page<AttemptOut>>(`${path}${query({ limit: 20, iterator })}`),
  );
  return (
    <section aria-labelledby="attempts-title">
      <h2 id="attempts-title">Attempts</h2>
      <ErrorNote error={attempts.error} />
      {attempts.data && <AttemptList app={app} attempts={attempts.data.data} showMessage />}
      <Pager {...attempts} />
    </section>
  );
}
