// The loaded handlers (from the config file) with their triggers and commands.
import type { Page } from "../api";
import { ErrorNote, Link, Loading } from "../components/ui";
import { useLoad } from "../hooks";
import { pathOf } from "../router";
import { useSession } from "../session-context";
import type { HandlerOut } from "../types";

/** A trigger in a few words. */
export function triggerText(h: HandlerOut): string {
  const t = h.trigger;
  const parts = Object.entries(t)
    .filter(([, v]) => v !== null && v !== undefined)
    .map(([k, v]) => `${k}: ${Array.isArray(v) ? v.join(",") : String(v)}`);
  return `${h.type}${parts.length ? ` (${parts.join("; ")})` : ""}`;
}

/** A command as one line. */
export function commandText(c: HandlerOut["command"]): string {
  if (c === null) return "—";
  return Array.isArray(c) ? c.join(" ") : c;
}

export function HandlersPage() {
  const { api } = useSession();
  const list = useLoad("handlers", () => api.get<Page<HandlerOut>>("/handler"));
  return (
    <section>
      <h1>Handlers</h1>
      <ErrorNote error={list.error} />
      <Loading when={list.loading && !list.data} />
      {list.data?.data.length === 0 && (
        <p className="muted">No handlers are configured (see docs/handlers.md).</p>
      )}
      {!!list.data?.data.length && (
        <div className="table-wrap">
          <table>
            <thead>
              <tr>
                <th>Handler</th>
                <th>Trigger</th>
                <th>Command</th>
                <th>Retries · timeout</th>
              </tr>
            </thead>
            <tbody>
              {list.data.data.map((h) => (
                <tr key={h.id}>
                  <td>
                    <Link to={pathOf("handlers", h.id)}>{h.name}</Link>
                  </td>
                  <td>{triggerText(h)}</td>
                  <td>
                    <code className="break">{commandText(h.command)}</code>
                  </td>
                  <td>
                    {h.maxRetries} · {h.timeoutSecs} s
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </section>
  );
}
