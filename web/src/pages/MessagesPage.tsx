// Messages of one app, newest first, filtered as the API's list allows (event types, channel,
// tag, a time window); the filters live in the address so a search can be linked. Selected
// messages are resent, each to the endpoints where it failed, in one call
// (`POST /api/v1/app/{app}/resend-failed`).
import { useState, type FormEvent } from "react";
import { query, type Page } from "../api";
import { ErrorNote, Field, Link, Loading, Pager } from "../components/ui";
import { fromLocalInput, when } from "../format";
import { useAction, usePaged } from "../hooks";
import { navigate, pathOf, useLocation } from "../router";
import { useSession } from "../session-context";
import type { MessageOut } from "../types";

const FILTERS = ["app", "event_types", "channel", "tag", "after", "before"] as const;
type Filters = Record<(typeof FILTERS)[number], string>;

export function MessagesPage() {
  const { me } = useSession();
  const { search } = useLocation();
  const current = Object.fromEntries(FILTERS.map((k) => [k, search.get(k) ?? ""])) as Filters;
  if (me.role === "app" && me.appId) current.app = me.appId;
  return (
    <section>
      <h1>Messages</h1>
      <SearchForm key={search.toString()} initial={current} fixedApp={me.role === "app"} />
      {current.app ? <MessageList filters={current} /> : <p className="muted">Choose an app (its id or uid).</p>}
    </section>
  );
}

function SearchForm({ initial, fixedApp }: { initial: Filters; fixedApp: boolean }) {
  const [f, setF] = useState(initial);
  const set = (k: keyof Filters) => (e: { target: { value: string } }) => setF({ ...f, [k]: e.target.value });
  const submit = (e: FormEvent) => {
    e.preventDefault();
    navigate(`/messages${query(f)}`);
  };
  return (
    <form className="filters card" onSubmit={submit} aria-label="search messages">
      {!fixedApp && (
        <Field label="App" name="app">
          <input name="app" value={f.app} onChange={set("app")} placeholder="app_… or uid" />
        </Field>
      )}
      <Field label="Event types" name="event_types" hint="comma-separated">
        <input name="event_types" value={f.event_types} onChange={set("event_types")} />
      </Field>
      <Field label="Channel" name="channel">
        <input name="channel" value={f.channel} onChange={set("channel")} />
      </Field>
      <Field label="Tag" name="tag">
        <input name="tag" value={f.tag} onChange={set("tag")} />
      </Field>
      <Field label="After" name="after">
        <input name="after" type="datetime-local" value={f.after} onChange={set("after")} />
      </Field>
      <Field label="Before" name="before">
        <input name="before" type="datetime-local" value={f.before} onChange={set("before")} />
      </Field>
      <button type="submit" className="primary">
        Search
      </button>
    </form>
  );
}

function MessageList({ filters }: { filters: Filters }) {
  const { api, writable } = useSession();
  const key = JSON.stringify(filters);
  const [picked, setPicked] = useState<{ key: string; ids: Set<string> }>({ key, ids: new Set() });
  const selected = picked.key === key ? picked.ids : new Set<string>();
  const [note, setNote] = useState<string | null>(null);
  const act = useAction();
  const list = usePaged(key, (iterator) =>
    api.get<Page<MessageOut>>(
      `/app/${encodeURIComponent(filters.app)}/msg${query({
        limit: 50,
        iterator,
        with_content: false,
        event_types: filters.event_types,
        channel: filters.channel,
        tag: filters.tag,
        after: fromLocalInput(filters.after),
        before: fromLocalInput(filters.before),
      })}`,
    ),
  );
  const rows = list.data?.data ?? [];
  const toggle = (id: string) => {
    const ids = new Set(selected);
    if (ids.has(id)) ids.delete(id);
    else ids.add(id);
    setPicked({ key, ids });
  };
  const pageChecked = rows.length > 0 && rows.every((m) => selected.has(m.id));
  const resend = () =>
    act.run(async () => {
      const out = await api.call<{ resent: number }>("POST", `/app/${encodeURIComponent(filters.app)}/resend-failed`, {
        msgIds: [...selected],
      });
      setNote(
        `Resent ${out.resent} failed deliver${out.resent === 1 ? "y" : "ies"} of ${selected.size} message${
          selected.size === 1 ? "" : "s"
        }.`,
      );
      setPicked({ key, ids: new Set() });
    });
  return (
    <>
      <ErrorNote error={list.error ?? act.error} />
      {note && (
        <p className="good" role="status">
          {note}
        </p>
      )}
      <Loading when={list.loading && !list.data} />
      {list.data?.data.length === 0 && <p className="muted">No messages match.</p>}
      {writable && rows.length > 0 && (
        <div className="bulk-bar" role="group" aria-label="bulk resend">
          <span>
            Selected: <strong>{selected.size}</strong>
          </span>
          <button type="button" className="primary" disabled={act.busy || selected.size === 0} onClick={() => void resend()}>
            Resend failed
          </button>
          <span className="muted small">sends each selected message again to the endpoints where it failed</span>
        </div>
      )}
      {!!list.data?.data.length && (
        <div className="table-wrap">
          <table>
            <thead>
              <tr>
                {writable && (
                  <th>
                    <input
                      type="checkbox"
                      aria-label="select this page"
                      checked={pageChecked}
                      onChange={() => setPicked({ key, ids: pageChecked ? new Set() : new Set(rows.map((m) => m.id)) })}
                    />
                  </th>
                )}
                <th>Event type</th>
                <th>Message</th>
                <th>Channels / tags</th>
                <th>Created</th>
              </tr>
            </thead>
            <tbody>
              {list.data.data.map((m) => (
                <tr key={m.id}>
                  {writable && (
                    <td>
                      <input
                        type="checkbox"
                        aria-label={`select ${m.id}`}
                        checked={selected.has(m.id)}
                        onChange={() => toggle(m.id)}
                      />
                    </td>
                  )}
                  <td>
                    <Link to={pathOf("apps", filters.app, "messages", m.id)}>{m.eventType}</Link>
                  </td>
                  <td>
                    <code>{m.id}</code>
                    {m.eventId && <div className="muted small">eventId {m.eventId}</div>}
                  </td>
                  <td>{[...(m.channels ?? []), ...(m.tags ?? []).map((t) => `#${t}`)].join(", ") || "—"}</td>
                  <td>{when(m.timestamp)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      <Pager {...list} />
    </>
  );
}
