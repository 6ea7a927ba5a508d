// Apps: the list, walked with the API's iterators, and a form to make one.
import { useState, type FormEvent } from "react";
import { ApiError, query, type Page } from "../api";
import { ErrorNote, Field, Link, Loading, Pager } from "../components/ui";
import { when } from "../format";
import { usePaged } from "../hooks";
import { navigate, pathOf } from "../router";
import { useSession } from "../session-context";
import type { AppOut } from "../types";

export function AppsPage() {
  const { api, writable } = useSession();
  const apps = usePaged("apps", (iterator) =>
    api.get<Page<AppOut>>(`/app${query({ limit: 50, iterator, order: "descending" })}`),
  );
  return (
    <section>
      <h1>Apps</h1>
      {writable && <NewApp />}
      <ErrorNote error={apps.error} />
      <Loading when={apps.loading && !apps.data} />
      {apps.data && apps.data.data.length === 0 && <p className="muted">No apps yet.</p>}
      {apps.data && apps.data.data.length > 0 && (
        <div className="table-wrap">
          <table>
            <thead>
              <tr>
                <th>Name</th>
                <th>Id</th>
                <th>Uid</th>
                <th>Created</th>
              </tr>
            </thead>
            <tbody>
              {apps.data.data.map((a) => (
                <tr key={a.id}>
                  <td>
                    <Link to={pathOf("apps", a.id)}>{a.name}</Link>
                  </td>
                  <td>
                    <code>{a.id}</code>
                  </td>
                  <td>{a.uid ?? "—"}</td>
                  <td>{when(a.createdAt)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      <Pager {...apps} />
    </section>
  );
}

function NewApp() {
  const { api } = useSession();
  const [name, setName] = useState("");
  const [uid, setUid] = useState("");
  const [error, setError] = useState<ApiError | Error | null>(null);
  const [busy, setBusy] = useState(false);
  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setBusy(true);
    try {
      const app = await api.call<AppOut>("POST", "/app", { name, uid: uid || undefined });
      navigate(pathOf("apps", app.id));
    } catch (err) {
      setError(err as Error);
    } finally {
      setBusy(false);
    }
  };
  const fields = error instanceof ApiError ? error.fields : {};
  return (
    <details className="card">
      <summary>New app</summary>
      <form onSubmit={submit} className="form" aria-label="new app">
        <Field label="Name" name="name" error={fields.name}>
          <input name="name" value={name} onChange={(e) => setName(e.target.value)} />
        </Field>
        <Field label="Uid (optional)" name="uid" error={fields.uid} hint="Your own id for the app, e.g. acme">
          <input name="uid" value={uid} onChange={(e) => setUid(e.target.value)} />
        </Field>
        {error && Object.keys(fields).length === 0 && <ErrorNote error={error} />}
        <button type="submit" className="primary" disabled={busy}>
          Create app
        </button>
      </form>
    </details>
  );
}
