// An endpoint's tools: its signing secret, custom headers, recovering dead deliveries, sending
// an example, deleting it. Each says what the API answered.
import { useState, type FormEvent } from "react";
import { ApiError } from "../api";
import { ErrorNote, Field, Link } from "../components/ui";
import { fromLocalInput, headerLines, parseHeaderLines } from "../format";
import { useAction, useLoad } from "../hooks";
import { navigate, pathOf } from "../router";
import { useSession } from "../session-context";
import type { MessageOut } from "../types";

export function SecretTool({ base }: { base: string }) {
  const { api, writable } = useSession();
  const [key, setKey] = useState<string | null>(null);
  const act = useAction();
  const reveal = () => act.run(async () => setKey((await api.get<{ key: string }>(`${base}/secret`)).key));
  const rotate = () => {
    if (!window.confirm("Rotate the signing secret? The old one stops signing now.")) return;
    void act.run(async () => setKey((await api.call<{ key: string }>("POST", `${base}/secret/rotate`, {})).key));
  };
  return (
    <div className="card tool">
      <h3>Signing secret</h3>
      {key ? (
        <p>
          <code className="secret break">{key}</code>{" "}
          <button type="button" onClick={() => setKey(null)}>
            Hide
          </button>
        </p>
      ) : (
        <button type="button" onClick={reveal} disabled={act.busy}>
          Reveal secret
        </button>
      )}
      {writable && (
        <button type="button" onClick={rotate} disabled={act.busy}>
          Rotate secret
        </button>
      )}
      <ErrorNote error={act.error} />
    </div>
  );
}

interface HeadersOut {
  headers: Record<string, string>;
  sensitive: string[];
}

export function HeadersTool({ base }: { base: string }) {
  const { api, writable } = useSession();
  const loaded = useLoad(`headers:${base}`, () => api.get<HeadersOut>(`${base}/headers`));
  const [text, setText] = useState<string | null>(null);
  const act = useAction();
  const save = (e: FormEvent) => {
    e.preventDefault();
    const parsed = parseHeaderLines(text ?? "");
    if (parsed.error) {
      act.run(async () => {
        throw new ApiError(422, "validation", parsed.error ?? "", {});
      });
      return;
    }
    void act.run(async () => {
      await api.call("PUT", `${base}/headers`, { headers: parsed.headers });
      setText(null);
      loaded.reload();
    });
  };
  const headers = loaded.data?.headers ?? {};
  return (
    <div className="card tool">
      <h3>Custom headers</h3>
      <ErrorNote error={loaded.error} />
      {text === null ? (
        <>
          {Object.keys(headers).length === 0 ? (
            <p className="muted">None.</p>
          ) : (
            <pre className="small">{headerLines(headers)}</pre>
          )}
          {writable && loaded.data && (
            <button type="button" onClick={() => setText(headerLines(headers))}>
              Edit headers
            </button>
          )}
        </>
      ) : (
        <form onSubmit={save} className="form" aria-label="custom headers">
          <Field label="One “Name: value” a line" name="headers">
            <textarea rows={4} value={text} onChange={(e) => setText(e.target.value)} />
          </Field>
          <div className="actions">
            <button type="submit" className="primary" disabled={act.busy}>
              Save headers
            </button>
            <button type="button" onClick={() => setText(null)}>
              Cancel
            </button>
          </div>
        </form>
      )}
      <ErrorNote error={act.error} />
    </div>
  );
}

export function RecoverTool({ base }: { base: string }) {
  const { api } = useSession();
  const [since, setSince] = useState("");
  const [done, setDone] = useState<string | null>(null);
  const act = useAction();
  const submit = (e: FormEvent) => {
    e.preventDefault();
    void act.run(async () => {
      const task = await api.call<{ id: string; status: string }>("POST", `${base}/recover`, {
        since: fromLocalInput(since) ?? since,
      });
      setDone(`${task.id}: ${task.status}`);
    });
  };
  const fields = act.error instanceof ApiError ? act.error.fields : {};
  return (
    <form className="card tool form" onSubmit={submit} aria-label="recover">
      <h3>Recover failed deliveries</h3>
      <Field label="Since" name="since" error={fields.since}>
        <input type="datetime-local" value={since} onChange={(e) => setSince(e.target.value)} required />
      </Field>
      <button type="submit" disabled={act.busy}>
        Recover
      </button>
      {done && <p className="good">Task {done}</p>}
      {!fields.since && <ErrorNote error={act.error} />}
    </form>
  );
}

export function SendExampleTool({ base }: { base: string }) {
  const { api } = useSession();
  const [eventType, setEventType] = useState("");
  const [sent, setSent] = useState<MessageOut | null>(null);
  const act = useAction();
  const app = base.split("/")[2] ?? "";
  const submit = (e: FormEvent) => {
    e.preventDefault();
    void act.run(async () => setSent(await api.call<MessageOut>("POST", `${base}/send-example`, { eventType })));
  };
  const fields = act.error instanceof ApiError ? act.error.fields : {};
  return (
    <form className="card tool form" onSubmit={submit} aria-label="send example">
      <h3>Send an example</h3>
      <Field label="Event type" name="eventType" error={fields.eventType}>
        <input value={eventType} onChange={(e) => setEventType(e.target.value)} placeholder="invoice.paid" />
      </Field>
      <button type="submit" disabled={act.busy}>
        Send example
      </button>
      {sent && (
        <p className="good">
          Sent <Link to={pathOf("apps", decodeURIComponent(app), "messages", sent.id)}>{sent.id}</Link>
        </p>
      )}
      {!fields.eventType && <ErrorNote error={act.error} />}
    </form>
  );
}

export function DangerZone({ base, app }: { base: string; app: string }) {
  const { api } = useSession();
  const act = useAction();
  const remove = () => {
    if (!window.confirm("Delete this endpoint? Its messages stay; nothing more is sent to it.")) return;
    void act.run(async () => {
      await api.call("DELETE", base);
      navigate(pathOf("apps", app));
    });
  };
  return (
    <div className="danger">
      <button type="button" className="danger-button" onClick={remove} disabled={act.busy}>
        Delete endpoint
      </button>
      <ErrorNote error={act.error} />
    </div>
  );
}
