// Dead letters across apps and handlers (`GET /api/v1/dead-letter`), newest death first,
// filtered by app, endpoint, handler, event type and a window; the filters live in the address.
// Some or all matching can be recovered at once (`POST /api/v1/dead-letter/recover`), and the
// page says how many were.
import { useState, type FormEvent } from "react";
import { query, type Page } from "../api";
import { ErrorNote, Field, Link, Loading, Pager } from "../components/ui";
import { fromLocalInput, when } from "../format";
import { useAction, usePaged } from "../hooks";
import { navigate, pathOf, useLocation } from "../router";
import { useSession } from "../session-context";
import type { DeadLetterOut } from "../types";

const FILTERS = ["app", "endpoint", "handler", "eventType", "since", "until"] as const;
type Filters = Record<(typeof FILTERS)[number], string>;

interface RecoverOut {
  recovered: number;
  done: boolean;
}

/** The filters as the API takes them (times in RFC 3339). */
function apiFilters(f: Filters) {
  return { ...f, since: fromLocalInput(f.since), until: fromLocalInput(f.until) };
}

export function DeadLettersPage() {
  const { search } = useLocation();
  const current = Object.fromEntries(FILTERS.map((k) => [k, search.get(k) ?? ""])) as Filters;
  return (
    <section>
      <h1>Dead letters</h1>
      <p className="muted">
        Deliveries to endpoints and handler runs whose last attempt failed with none left, newest first. Recovering one
        sends it again now, as a manual attempt.
      </p>
      <FilterForm key={search.toString()} initial={current} />
      <DeadList filters={current} />
    </section>
  );
}

function FilterForm({ initial }: { initial: Filters }) {
  const [f, setF] = useState(initial);
  const set = (k: keyof Filters) => (e: { target: { value: string } }) => setF({ ...f, [k]: e.target.value });
  const submit = (e: FormEvent) => {
    e.preventDefault();
    navigate(`/dead-letters${query(f)}`);
  };
  return (
    <form className="filters card" onSubmit={submit} aria-label="filter dead letters">
      <Field label="App" name="app">
        <input name="app" value={f.app} onChange={set("app")} placeholder="app_… or uid" />
      </Field>
      <Field label="Endpoint" name="endpoint">
        <input name="endpoint" value={f.endpoint} onChange={set("endpoint")} placeholder="ep_…" />
      </Field>
      <Field label="Handler" name="handler">
        <input name="handler" value={f.handler} onChange={set("handler")} />
      </Field>
      <Field label="Event type" name="eventType">
        <input name="eventType" value={f.eventType} onChange={set("eventType")} />
      </Field>
      <Field label="Died after" name="since">
        <input name="since" type="datetime-local" value={f.since} onChange={set("since")} />
      </Field>
      <Field label="Died before" name="until">
        <input name="until" type="datetime-local" value={f.until} onChange={set("until")} />
      </Field>
      <button type="submit" className="primary">
        Filter
      </button>
    </form>
  );
}

function DeadList({ filters }: { filters: Filters }) {
  const { api, writable } = useSession();
  const key = JSON.stringify(filters);
  const list = usePaged(key, (iterator) =>
    api.get<Page<DeadLetterOut>>(`/dead-letter${query({ limit: 50, iterator, ...apiFilters(filters) })}`),
  );
  const [picked, setPicked] = useState<{ key: string; ids: Set<string>; all: boolean }>({
    key,
    ids: new Set(),
    all: false,
  });
  const selection = picked.key === key ? picked : { key, ids: new Set<string>(), all: false };
  const [result, setResult] = useState<string | null>(null);
  const act = useAction();
  const rows = list.data?.data ?? [];
  const toggle = (id: string) => {
    const ids = new Set(selection.ids);
    if (ids.has(id)) ids.delete(id);
    else ids.add(id);
    setPicked({ key, ids, all: false });
  };
  const pageChecked = rows.length > 0 && rows.every((d) => selection.ids.has(d.id));
  const togglePage = () =>
    setPicked({ key, ids: pageChecked ? new Set() : new Set(rows.map((d) => d.id)), all: false });
  const filtered = Object.values(filters).some((v) => v !== "");
  const recover = () =>
    act.run(async () => {
      let total = 0;
      if (selection.all) {
        // Each call recovers up to its cap; go on until the API says none are left.
        for (;;) {
          const body = filtered ? apiFilters(filters) : { all: true };
          const out = await api.call<RecoverOut>("POST", "/dead-letter/recover", body);
          total += out.recovered;
          if (out.done) break;
        }
      } else {
        const out = await api.call<RecoverOut>("POST", "/dead-letter/recover", { ids: [...selection.ids] });
        total = out.recovered;
      }
      setResult(`Recovered ${total} dead letter${total === 1 ? "" : "s"}: they are being sent again.`);
      setPicked({ key, ids: new Set(), all: false });
      list.reload();
    });
  const count = selection.all ? "all matching" : String(selection.ids.size);
  return (
    <>
      <ErrorNote error={list.error ?? act.error} />
      {result && (
        <p className="good" role="status">
          {result}
        </p>
      )}
      <Loading when={list.loading && !list.data} />
      {list.data && rows.length === 0 && <p className="muted">No dead letters match.</p>}
      {writable && rows.length > 0 && (
        <div className="bulk-bar" role="group" aria-label="bulk recover">
          <span>
            Selected: <strong>{count}</strong>
          </span>
          <button type="button" onClick={() => setPicked({ key, ids: new Set(), all: !selection.all })}>
            {selection.all ? "Clear selection" : "Select all matching"}
          </button>
          <button
            type="button"
            className="primary"
            disabled={act.busy || (!selection.all && selection.ids.size === 0)}
            onClick={() => void recover()}
          >
            Recover selected
          </button>
        </div>
      )}
      {rows.length > 0 && (
        <div className="table-wrap">
          <table className="dead-letters">
            <thead>
              <tr>
                {writable && (
                  <th>
                    <input
                      type="checkbox"
                      aria-label="select this page"
                      checked={selection.all || pageChecked}
                      disabled={selection.all}
                      onChange={togglePage}
                    />
                  </th>
                )}
                <th>What</th>
                <th>Event type</th>
                <th>Last attempt</th>
                <th>Attempts</th>
                <th>Died</th>
              </tr>
            </thead>
            <tbody>
              {rows.map((d) => (
                <tr key={d.id} data-dead={d.id}>
                  {writable && (
                    <td>
                      <input
                        type="checkbox"
                        aria-label={`select ${d.id}`}
                        checked={selection.all || selection.ids.has(d.id)}
                        disabled={selection.all}
                        onChange={() => toggle(d.id)}
                      />
                    </td>
                  )}
                  <td>
                    <Target d={d} />
                  </td>
                  <td>{d.eventType}</td>
                  <td>
                    <span className="bad">
                      {d.kind === "handler"
                        ? `exit ${d.lastExitCode ?? "—"}`
                        : d.lastStatusCode
                          ? String(d.lastStatusCode)
                          : "no response"}
                    </span>{" "}
                    <code>{d.lastOutcome ?? "—"}</code>
                  </td>
                  <td>{d.attempts}</td>
                  <td>{when(d.deadAt)}</td>
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

function Target({ d }: { d: DeadLetterOut }) {
  if (d.kind === "handler" && d.handlerId) {
    return (
      <>
        <span className="badge">run</span> <Link to={pathOf("handlers", d.handlerId)}>{d.handlerId}</Link>
        <div className="muted small">
          <code>{d.id}</code>
        </div>
      </>
    );
  }
  const app = d.appId ?? "";
  return (
    <>
      <span className="badge">endpoint</span>{" "}
      <Link to={pathOf("apps", app, "endpoints", d.endpointId ?? "")}>{d.endpointUrl ?? d.endpointId}</Link>
      <div className="muted small">
        <Link to={pathOf("apps", app, "messages", d.msgId ?? "")}>{d.msgId}</Link>
      </div>
    </>
  );
}
