// Alerts: what is firing now, the rules that fire them, the alerts of the past (filtered by
// status and rule, in the address so a view can be linked), and the operational webhook
// endpoints alerts are sent to. For admin and read-only tokens; app tokens never get here.
import { useState } from "react";
import { KINDS, thresholdText, type AlertOut, type AlertRuleOut } from "../alerts";
import { query, type Page } from "../api";
import { Badge, ErrorNote, Loading, Pager } from "../components/ui";
import { when } from "../format";
import { useLoad, usePaged } from "../hooks";
import { navigate, useLocation } from "../router";
import { useSession } from "../session-context";
import { AlertRules } from "./AlertRules";
import { OperationalEndpoints } from "./OperationalEndpoints";

export function AlertsPage() {
  // Changing a rule can end or start alerts: the lists read again.
  const [generation, setGeneration] = useState(0);
  const refresh = () => setGeneration((g) => g + 1);
  return (
    <section>
      <div className="heading-row">
        <h1>Alerts</h1>
        <button type="button" onClick={refresh}>
          Refresh
        </button>
      </div>
      <Firing generation={generation} />
      <AlertRules generation={generation} onChange={refresh} />
      <History generation={generation} />
      <OperationalEndpoints />
    </section>
  );
}

function Firing({ generation }: { generation: number }) {
  const { api } = useSession();
  const firing = usePaged(`alerts-firing:${generation}`, (iterator) =>
    api.get<Page<AlertOut>>(`/alert${query({ status: "firing", limit: 20, iterator })}`),
  );
  return (
    <section aria-labelledby="firing-title">
      <h2 id="firing-title">Firing now</h2>
      <ErrorNote error={firing.error} />
      <Loading when={firing.loading && !firing.data} />
      {firing.data?.data.length === 0 && <p className="good">Nothing is firing.</p>}
      <ul className="catalog" aria-label="firing alerts">
        {firing.data?.data.map((a) => (
          <li key={a.id} className="card alert-firing">
            <p className="alert-summary">
              <Badge kind="bad">firing</Badge> <strong>{a.ruleName}</strong>
            </p>
            <p>{a.summary}</p>
            <p className="muted small">
              {KINDS[a.kind]?.label ?? a.kind} · {a.subject} · measured {measured(a)} · since {when(a.firedAt)} ·{" "}
              <code>{a.id}</code>
            </p>
          </li>
        ))}
      </ul>
      <Pager {...firing} />
    </section>
  );
}

/** What was measured against the threshold, with its unit. */
function measured(a: AlertOut): string {
  return `${thresholdText(a.kind, round(a.value))} (threshold ${thresholdText(a.kind, a.threshold)})`;
}

function round(n: number): number {
  return Math.round(n * 10) / 10;
}

function History({ generation }: { generation: number }) {
  const { api } = useSession();
  const { search } = useLocation();
  const status = search.get("status") ?? "";
  const rule = search.get("rule") ?? "";
  // The filter offers the rules (up to the API's largest page; more are rare).
  const rules = useLoad(`history-rules:${generation}`, () => api.get<Page<AlertRuleOut>>("/alert/rule?limit=250"));
  const alerts = usePaged(`alerts:${status}:${rule}:${generation}`, (iterator) =>
    api.get<Page<AlertOut>>(`/alert${query({ status, rule, limit: 20, iterator })}`),
  );
  const filter = (k: string, v: string) => {
    const next = new URLSearchParams(search);
    if (v) next.set(k, v);
    else next.delete(k);
    navigate(`/alerts${query(Object.fromEntries(next))}`);
  };
  return (
    <section aria-labelledby="history-title">
      <h2 id="history-title">History</h2>
      <div className="inline wrap">
        <label className="inline">
          Status
          <select name="status" value={status} onChange={(e) => filter("status", e.target.value)}>
            <option value="">any</option>
            <option value="firing">firing</option>
            <option value="resolved">resolved</option>
          </select>
        </label>
        <label className="inline">
          Rule
          <select name="rule" value={rule} onChange={(e) => filter("rule", e.target.value)}>
            <option value="">any</option>
            {rules.data?.data.map((r) => (
              <option key={r.id} value={r.id}>
                {r.name}
              </option>
            ))}
          </select>
        </label>
      </div>
      <ErrorNote error={alerts.error} />
      <Loading when={alerts.loading && !alerts.data} />
      {alerts.data?.data.length === 0 && <p className="muted">No alerts.</p>}
      {!!alerts.data?.data.length && (
        <div className="table-wrap">
          <table aria-label="alert history">
            <thead>
              <tr>
                <th>Status</th>
                <th>Rule</th>
                <th>What happened</th>
                <th>Fired</th>
                <th>Resolved</th>
              </tr>
            </thead>
            <tbody>
              {alerts.data.data.map((a) => (
                <tr key={a.id} data-alert={a.id}>
                  <td>
                    <Badge kind={a.status === "firing" ? "bad" : "good"}>{a.status}</Badge>
                  </td>
                  <td>{a.ruleName}</td>
                  <td>{a.summary}</td>
                  <td>{when(a.firedAt)}</td>
                  <td>{when(a.resolvedAt)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      <Pager {...alerts} />
    </section>
  );
}
