// One handler: run it with a payload, its runs (filter by status; dead ones are its dead
// letters, recovered in bulk), each run's output, exit code and attempts, and rerun.
import { useState, type FormEvent } from "react";
import { ApiError, query, type Page } from "../api";
import { Badge, ErrorNote, Field, JsonBlock, Link, Loading, Pager } from "../components/ui";
import { duration, fromLocalInput, when } from "../format";
import { useAction, useLoad, usePaged } from "../hooks";
import { useSession } from "../session-context";
import type { HandlerOut, RunAttemptOut, RunOut } from "../types";
import { HandlerOperate } from "../ops/ScopePanels";
import { commandText, triggerText } from "./HandlersPage";

const STATUSES = ["", "pending", "running", "failed", "succeeded", "dead", "canceled"];

export function HandlerPage({ id }: { id: string }) {
  const { api, writable } = useSession();
  const base = `/handler/${encodeURIComponent(id)}`;
  const handler = useLoad(`handler:${id}`, () => api.get<HandlerOut>(base));
  const [status, setStatus] = useState("");
  const runs = usePaged(`runs:${id}:${status}`, (iterator) =>
    api.get<Page<RunOut>>(`${base}/run${query({ limit: 20, iterator, status })}`),
  );
  const h = handler.data;
  return (
    <section>
      <p>
        <Link to="/handlers">← Handlers</Link>
      </p>
      <ErrorNote error={handler.error} />
      <Loading when={handler.loading && !h} />
      {h && (
        <>
          <h1>{h.name}</h1>
          <dl className="facts">
            <dt>Trigger</dt>
            <dd>{triggerText(h)}</dd>
            <dt>Command</dt>
            <dd>
              <code className="break">{commandText(h.command)}</code>
            </dd>
            <dt>Retries · timeout · concurrency</dt>
            <dd>
              {h.maxRetries} · {h.timeoutSecs} s · {h.concurrency}
            </dd>
            {h.forwardTo.length > 0 && (
              <>
                <dt>Forwards to</dt>
                <dd>{h.forwardTo.join(", ")}</dd>
              </>
            )}
          </dl>
        </>
      )}
      {h && <HandlerOperate id={h.id} />}
      {writable && h && <TriggerForm base={base} onRun={runs.reload} />}
      <div className="heading-row">
        <h2>Runs</h2>
        <label className="inline">
          Status{" "}
          <select value={status} onChange={(e) => setStatus(e.target.value)} aria-label="run status">
            {STATUSES.map((s) => (
              <option key={s} value={s}>
                {s || "any"}
              </option>
            ))}
          </select>
        </label>
        <button type="button" onClick={runs.reload}>
          Refresh
        </button>
      </div>
      {writable && status === "dead" && <RecoverDead base={base} onDone={runs.reload} />}
      <ErrorNote error={runs.error} />
      {runs.data?.data.length === 0 && <p className="muted">No runs.</p>}
      <ul className="runs">
        {runs.data?.data.map((r) => (
          <RunItem key={r.id} base={base} run={r} onRerun={runs.reload} />
        ))}
      </ul>
      <Pager {...runs} />
    </section>
  );
}

function runKind(status: string): string {
  return status === "succeeded" ? "good" : status === "dead" || status === "failed" ? "bad" : "warn";
}

function RunItem({ base, run, onRerun }: { base: string; run: RunOut; onRerun(): void }) {
  const { api, writable } = useSession();
  const [open, setOpen] = useState(false);
  const act = useAction();
  const took = Date.parse(run.updatedAt) - Date.parse(run.createdAt);
  const rerun = () =>
    act.run(async () => {
      await api.call("POST", `${base}/run/${encodeURIComponent(run.id)}/rerun`);
      onRerun();
    });
  return (
    <li>
      <details className="run" data-run={run.id} onToggle={(e) => setOpen(e.currentTarget.open)}>
        <summary>
          <Badge kind={runKind(run.status)}>{run.status}</Badge> <code>{run.id}</code> · {run.step} · exit{" "}
          {run.exitCode ?? "—"} · {Number.isFinite(took) ? duration(took) : "—"}{" "}
          <span className="muted">{when(run.createdAt)}</span>
        </summary>
        <dl className="facts">
          <dt>Triggered by</dt>
          <dd>{run.triggeredBy}</dd>
          <dt>Event</dt>
          <dd>
            {run.event.type} <code>{run.event.id}</code>
          </dd>
          <dt>Attempts</dt>
          <dd>{run.attempts}</dd>
          {run.nextAttempt && (
            <>
              <dt>Next attempt</dt>
              <dd>{when(run.nextAttempt)}</dd>
            </>
          )}
        </dl>
        <JsonBlock title="Payload" text={run.event.payload} />
        <h4>Output</h4>
        <pre className="output">{run.output ?? "(none yet)"}</pre>
        {open && <RunAttempts base={base} run={run.id} />}
        {writable && (
          <button type="button" onClick={() => void rerun()} disabled={act.busy}>
            Rerun
          </button>
        )}
        <ErrorNote error={act.error} />
      </details>
    </li>
  );
}

function RunAttempts({ base, run }: { base: string; run: string }) {
  const { api } = useSession();
  const list = useLoad(`run-attempts:${run}`, () =>
    api.get<Page<RunAttemptOut>>(`${base}/run/${encodeURIComponent(run)}/attempt?limit=50`),
  );
  return (
    <>
      <h4>Attempts</h4>
      <ErrorNote error={list.error} />
      <ol className="rows">
        {list.data?.data.map((a) => (
          <li key={a.id}>
            <code>{a.outcome}</code> · exit {a.exitCode ?? "—"} · {duration(a.durationMs)}{" "}
            <span className="muted">{when(a.timestamp)}</span>
            {a.output && <pre className="output small">{a.output}</pre>}
          </li>
        ))}
      </ol>
    </>
  );
}

function TriggerForm({ base, onRun }: { base: string; onRun(): void }) {
  const { api } = useSession();
  const [payload, setPayload] = useState("");
  const [eventType, setEventType] = useState("");
  const [started, setStarted] = useState<string | null>(null);
  const act = useAction();
  const submit = (e: FormEvent) => {
    e.preventDefault();
    void act.run(async () => {
      const run = await api.call<RunOut>("POST", `${base}/run`, { payload, eventType: eventType || undefined });
      setStarted(run.id);
      onRun();
    });
  };
  const fields = act.error instanceof ApiError ? act.error.fields : {};
  return (
    <details className="card">
      <summary>Run with a payload</summary>
      <form className="form" onSubmit={submit} aria-label="run handler">
        <Field label="Payload (given to the command on stdin)" name="payload" error={fields.payload}>
          <textarea name="payload" rows={4} value={payload} onChange={(e) => setPayload(e.target.value)} />
        </Field>
        <Field label="Event type (optional)" name="eventType" error={fields.eventType}>
          <input name="eventType" value={eventType} onChange={(e) => setEventType(e.target.value)} />
        </Field>
        <button type="submit" className="primary" disabled={act.busy}>
          Run
        </button>
        {started && (
          <p className="good">
            Started run <code>{started}</code>.
          </p>
        )}
        <ErrorNote error={act.error} />
      </form>
    </details>
  );
}

function RecoverDead({ base, onDone }: { base: string; onDone(): void }) {
  const { api } = useSession();
  const [since, setSince] = useState("");
  const [note, setNote] = useState<string | null>(null);
  const act = useAction();
  const submit = (e: FormEvent) => {
    e.preventDefault();
    void act.run(async () => {
      const out = await api.call<{ recovered: number }>("POST", `${base}/recover`, {
        since: fromLocalInput(since) ?? since,
      });
      setNote(`${out.recovered} dead run(s) made due again.`);
      onDone();
    });
  };
  return (
    <form className="card form inline-form" onSubmit={submit} aria-label="recover dead runs">
      <Field label="Recover dead runs since" name="since">
        <input type="datetime-local" value={since} onChange={(e) => setSince(e.target.value)} required />
      </Field>
      <button type="submit" disabled={act.busy}>
        Recover
      </button>
      {note && <p className="good">{note}</p>}
      <ErrorNote error={act.error} />
    </form>
  );
}
