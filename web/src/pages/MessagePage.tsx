// One message: its payload, where it went (each destination's status, with resend) and every
// attempt, each opening to its details.
import { useState } from "react";
import { query, type Page } from "../api";
import { AttemptList } from "../components/AttemptList";
import { ErrorNote, JsonBlock, Link, Loading, Pager, Status } from "../components/ui";
import { when } from "../format";
import { useLoad, usePaged } from "../hooks";
import { pathOf } from "../router";
import { useSession } from "../session-context";
import type { AttemptOut, DestinationOut, MessageOut } from "../types";

export function MessagePage({ app, msg }: { app: string; msg: string }) {
  const { api } = useSession();
  const base = `/app/${encodeURIComponent(app)}/msg/${encodeURIComponent(msg)}`;
  const message = useLoad(`msg:${base}`, () => api.get<MessageOut>(base));
  const attempts = usePaged(`attempts:${base}`, (iterator) =>
    api.get<Page<AttemptOut>>(
      `/app/${encodeURIComponent(app)}/attempt/msg/${encodeURIComponent(msg)}${query({ limit: 50, iterator })}`,
    ),
  );
  const m = message.data;
  return (
    <section>
      <p>
        <Link to={`/messages?app=${encodeURIComponent(app)}`}>← Messages</Link>
      </p>
      <ErrorNote error={message.error} />
      <Loading when={message.loading && !m} />
      {m && (
        <>
          <h1>{m.eventType}</h1>
          <p className="muted">
            <code>{m.id}</code> · {when(m.timestamp)}
            {m.eventId && <> · eventId {m.eventId}</>}
            {m.channels?.length ? <> · channels {m.channels.join(", ")}</> : null}
            {m.tags?.length ? <> · tags {m.tags.join(", ")}</> : null}
          </p>
          <JsonBlock title="Payload" text={JSON.stringify(m.payload)} open />
        </>
      )}
      <Destinations app={app} base={base} onResent={attempts.reload} />
      <h2>Attempts</h2>
      <ErrorNote error={attempts.error} />
      {attempts.data && <AttemptList app={app} attempts={attempts.data.data} />}
      <Pager {...attempts} />
    </section>
  );
}

function Destinations({ app, base, onResent }: { app: string; base: string; onResent(): void }) {
  const { api, writable } = useSession();
  const list = usePaged(`dest:${base}`, (iterator) =>
    api.get<Page<DestinationOut>>(`${base}/endpoint${query({ limit: 50, iterator })}`),
  );
  const [note, setNote] = useState<string | null>(null);
  const [error, setError] = useState<Error | null>(null);
  const resend = async (ep: DestinationOut) => {
    setError(null);
    try {
      await api.call("POST", `${base}/endpoint/${encodeURIComponent(ep.id)}/resend`, {});
      setNote(`Resent to ${ep.url}.`);
      list.reload();
      onResent();
    } catch (e) {
      setError(e as Error);
    }
  };
  return (
    <section aria-labelledby="dest-title">
      <h2 id="dest-title">Deliveries</h2>
      <ErrorNote error={list.error ?? error} />
      {note && <p className="good">{note}</p>}
      {list.data?.data.length === 0 && <p className="muted">No endpoint took this message.</p>}
      {!!list.data?.data.length && (
        <ul className="rows">
          {list.data.data.map((d) => (
            <li key={d.id}>
              <Status status={d.status} /> <Link to={pathOf("apps", app, "endpoints", d.id)}>{d.url}</Link>
              {d.nextAttempt && <span className="muted"> · next attempt {when(d.nextAttempt)}</span>}
              {writable && (
                <button type="button" onClick={() => void resend(d)}>
                  Resend
                </button>
              )}
            </li>
          ))}
        </ul>
      )}
      <Pager {...list} />
    </section>
  );
}
