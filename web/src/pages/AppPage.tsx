// One app: its endpoints with their health (the stats route's counts, the last attempt's
// status), each linking to its page.
import { query, type Page } from "../api";
import { Badge, ErrorNote, Link, Loading, Pager } from "../components/ui";
import { percent, successRate, type EndpointStats } from "../format";
import { useLoad, usePaged } from "../hooks";
import { AppOperate } from "../ops/ScopePanels";
import { pathOf } from "../router";
import { useSession } from "../session-context";
import type { AppOut, AttemptOut, EndpointOut } from "../types";

export function AppPage({ app }: { app: string }) {
  const { api, writable } = useSession();
  const info = useLoad(`app:${app}`, () => api.get<AppOut>(`/app/${encodeURIComponent(app)}`));
  const endpoints = usePaged(`endpoints:${app}`, (iterator) =>
    api.get<Page<EndpointOut>>(`/app/${encodeURIComponent(app)}/endpoint${query({ limit: 50, iterator })}`),
  );
  return (
    <section>
      <h1>{info.data?.name ?? app}</h1>
      <p className="muted">
        <code>{info.data?.id ?? app}</code>
        {info.data?.uid && <> · uid {info.data.uid}</>} ·{" "}
        <Link to={`/messages?app=${encodeURIComponent(info.data?.id ?? app)}`}>Messages</Link>
      </p>
      <ErrorNote error={info.error} />
      {info.data && <AppOperate app={info.data.id} />}
      <div className="heading-row">
        <h2>Endpoints</h2>
        {writable && (
          <Link to={pathOf("apps", app, "endpoints", "new")} className="button primary">
            New endpoint
          </Link>
        )}
      </div>
      <ErrorNote error={endpoints.error} />
      <Loading when={endpoints.loading && !endpoints.data} />
      {endpoints.data?.data.length === 0 && <p className="muted">No endpoints yet.</p>}
      {endpoints.data && endpoints.data.data.length > 0 && (
        <div className="table-wrap">
          <table>
            <thead>
              <tr>
                <th>URL</th>
                <th>State</th>
                <th title="Delivered / (delivered + failed), all time, from the stats route">Success rate</th>
                <th>Delivered · pending · failed</th>
                <th>Last attempt</th>
              </tr>
            </thead>
            <tbody>
              {endpoints.data.data.map((ep) => (
                <EndpointRow key={ep.id} app={app} ep={ep} />
              ))}
            </tbody>
          </table>
        </div>
      )}
      <Pager {...endpoints} />
    </section>
  );
}

function EndpointRow({ app, ep }: { app: string; ep: EndpointOut }) {
  const { api } = useSession();
  const base = `/app/${encodeURIComponent(app)}/endpoint/${encodeURIComponent(ep.id)}`;
  const stats = useLoad(`stats:${ep.id}`, () => api.get<EndpointStats>(`${base}/stats`));
  const last = useLoad(`last:${ep.id}`, () =>
    api.get<Page<AttemptOut>>(`/app/${encodeURIComponent(app)}/attempt/endpoint/${encodeURIComponent(ep.id)}?limit=1`),
  );
  const s = stats.data;
  const attempt = last.data?.data[0];
  return (
    <tr>
      <td>
        <Link to={pathOf("apps", app, "endpoints", ep.id)}>{ep.url}</Link>
        {ep.description && <div className="muted small">{ep.description}</div>}
      </td>
      <td>{ep.disabled ? <Badge kind="bad">disabled</Badge> : <Badge kind="good">enabled</Badge>}</td>
      <td>{s ? percent(successRate(s)) : stats.error ? "?" : "…"}</td>
      <td>{s ? `${s.success} · ${s.pending + s.sending} · ${s.fail}` : "…"}</td>
      <td>
        {attempt ? (
          <span className={attempt.status === 0 ? "good" : "bad"}>
            {attempt.responseStatusCode || attempt.outcome} ({attempt.statusText})
          </span>
        ) : last.data ? (
          "none yet"
        ) : (
          "…"
        )}
      </td>
    </tr>
  );
}
