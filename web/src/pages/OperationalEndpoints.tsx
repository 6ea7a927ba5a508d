// Operational webhook endpoints: where rustyhook tells the operator what happened to it (an
// endpoint disabled, a delivery exhausted, an alert fired). Admin tokens only, as the API says.
import { useState, type FormEvent } from "react";
import { query, type Page } from "../api";
import { Badge, ErrorNote, Field, Loading, Pager } from "../components/ui";
import { formErrors } from "../form-errors";
import { numberOrText, when } from "../format";
import { useAction, usePaged } from "../hooks";
import { useSession } from "../session-context";
import type { EndpointOut } from "../types";

/** The operational event types, as the API's `filterTypes` names them. */
export const OPERATIONAL_TYPES = [
  "endpoint.created",
  "endpoint.updated",
  "endpoint.deleted",
  "endpoint.disabled",
  "endpoint.enabled",
  "message.attempt.exhausted",
  "message.attempt.failing",
  "message.attempt.recovered",
  "handler.run.failed",
  "source.rejected",
  "alert.fired",
  "alert.resolved",
] as const;

/** How an endpoint's events are written: Svix's JSON, or a Slack incoming-webhook message. */
export const FORMATS = ["standard", "slack"] as const;

/** `OperationalEndpointOut`: an endpoint's fields without channels, plus its format. */
export interface OperationalEndpointOut
  extends Pick<
    EndpointOut,
    "id" | "uid" | "url" | "description" | "disabled" | "rateLimit" | "filterTypes" | "createdAt" | "updatedAt"
  > {
  metadata: Record<string, string>;
  format?: (typeof FORMATS)[number];
}

const BASE = "/operational-webhook/endpoint";

export function OperationalEndpoints() {
  const { api, me, writable } = useSession();
  const [editing, setEditing] = useState<OperationalEndpointOut | "new" | null>(null);
  const admin = me.role === "admin";
  const list = usePaged(`op-endpoints:${admin}`, (iterator) =>
    admin
      ? api.get<Page<OperationalEndpointOut>>(`${BASE}${query({ limit: 50, iterator })}`)
      : Promise.resolve({ data: [], iterator: null, prevIterator: null, done: true }),
  );
  const save = async (body: Record<string, unknown>) => {
    if (editing === "new") await api.call("POST", BASE, body);
    else if (editing) await api.call("PUT", `${BASE}/${encodeURIComponent(editing.id)}`, body);
    setEditing(null);
    list.reload();
  };
  return (
    <section aria-labelledby="opwh-title">
      <div className="heading-row">
        <h2 id="opwh-title">Operational webhooks</h2>
        {admin && writable && editing === null && (
          <button type="button" onClick={() => setEditing("new")}>
            New operational endpoint
          </button>
        )}
      </div>
      <p className="muted small">
        Endpoints that receive rustyhook's own events (alerts fired and resolved, endpoints disabled, deliveries
        exhausted…), signed like any webhook.
      </p>
      {!admin && <p className="muted">Only an admin token sees and manages operational webhook endpoints.</p>}
      {editing !== null && (
        <OperationalEndpointForm
          key={editing === "new" ? "new" : editing.id}
          initial={editing === "new" ? null : editing}
          save={save}
          cancel={() => setEditing(null)}
        />
      )}
      <ErrorNote error={list.error} />
      <Loading when={admin && list.loading && !list.data} />
      {admin && list.data?.data.length === 0 && <p className="muted">None yet.</p>}
      <ul className="catalog">
        {list.data?.data.map((e) => (
          <OperationalEndpointCard key={e.id} endpoint={e} edit={() => setEditing(e)} changed={list.reload} />
        ))}
      </ul>
      <Pager {...list} />
    </section>
  );
}

function OperationalEndpointCard(props: { endpoint: OperationalEndpointOut; edit(): void; changed(): void }) {
  const { api, writable } = useSession();
  const e = props.endpoint;
  const path = `${BASE}/${encodeURIComponent(e.id)}`;
  const [secret, setSecret] = useState<string | null>(null);
  const act = useAction();
  const reveal = () => act.run(async () => setSecret((await api.get<{ key: string }>(`${path}/secret`)).key));
  const remove = () => {
    if (!window.confirm(`Delete the operational endpoint ${e.url}? It receives nothing more.`)) return;
    void act.run(async () => {
      await api.call("DELETE", path);
      props.changed();
    });
  };
  return (
    <li className="card" data-endpoint={e.url}>
      <h3 className="break">{e.url}</h3>
      <p className="muted small">
        <code>{e.id}</code> {e.uid && <>· uid {e.uid} </>}·{" "}
        {e.disabled ? <Badge kind="bad">disabled</Badge> : <Badge kind="good">enabled</Badge>}{" "}
        <Badge kind="role">{e.format ?? "standard"}</Badge>
      </p>
      <dl className="facts">
        <dt>Event types</dt>
        <dd>{e.filterTypes?.join(", ") || "all"}</dd>
        <dt>Rate limit</dt>
        <dd>{e.rateLimit ? `${e.rateLimit}/s` : "none"}</dd>
        <dt>Description</dt>
        <dd>{e.description || "—"}</dd>
        <dt>Updated</dt>
        <dd>{when(e.updatedAt)}</dd>
        <dt>Signing secret</dt>
        <dd>
          {secret ? (
            <>
              <code className="secret break">{secret}</code>{" "}
              <button type="button" onClick={() => setSecret(null)}>
                Hide
              </button>
            </>
          ) : (
            <button type="button" onClick={reveal} disabled={act.busy}>
              Reveal secret
            </button>
          )}
        </dd>
      </dl>
      {writable && (
        <div className="actions">
          <button type="button" onClick={props.edit}>
            Edit
          </button>
          <button type="button" className="danger-button" onClick={remove} disabled={act.busy}>
            Delete
          </button>
        </div>
      )}
      <ErrorNote error={act.error} />
    </li>
  );
}

function OperationalEndpointForm(props: {
  initial: OperationalEndpointOut | null;
  save(body: Record<string, unknown>): Promise<void>;
  cancel(): void;
}) {
  const init = props.initial;
  const [url, setUrl] = useState(init?.url ?? "");
  const [description, setDescription] = useState(init?.description ?? "");
  const [uid, setUid] = useState(init?.uid ?? "");
  const [types, setTypes] = useState<string[]>(init?.filterTypes ?? []);
  const [rateLimit, setRateLimit] = useState(init?.rateLimit?.toString() ?? "");
  const [format, setFormat] = useState<string>(init?.format ?? "standard");
  const [disabled, setDisabled] = useState(init?.disabled ?? false);
  const [error, setError] = useState<Error | null>(null);
  const [busy, setBusy] = useState(false);
  const toggleType = (t: string, on: boolean) =>
    setTypes(on ? OPERATIONAL_TYPES.filter((x) => x === t || types.includes(x)) : types.filter((x) => x !== t));

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    // A change replaces every field but the secret, so what is not on the form (metadata) is
    // sent back as it was.
    const body: Record<string, unknown> = {
      url,
      description,
      disabled,
      format,
      uid: uid.trim() || undefined,
      filterTypes: types.length ? types : undefined,
      rateLimit: numberOrText(rateLimit),
      metadata: init?.metadata ?? {},
    };
    setBusy(true);
    setError(null);
    try {
      await props.save(body);
    } catch (err) {
      setError(err as Error);
    } finally {
      setBusy(false);
    }
  };
  const known = ["url", "description", "uid", "filterTypes", "rateLimit", "format", "disabled"];
  const { field: fieldError, unplaced } = formErrors(error, known);
  return (
    <form
      onSubmit={submit}
      className="form card"
      aria-label={init ? "edit operational endpoint" : "new operational endpoint"}
      noValidate
    >
      <h3>{init ? "Change operational endpoint" : "New operational endpoint"}</h3>
      <Field label="URL" name="url" error={fieldError("url")}>
        <input name="url" type="url" value={url} onChange={(e) => setUrl(e.target.value)} placeholder="https://ops.example.com/hooks" />
      </Field>
      <Field label="Description" name="description" error={fieldError("description")}>
        <input name="description" value={description} onChange={(e) => setDescription(e.target.value)} />
      </Field>
      <Field label="Uid (optional)" name="uid" error={fieldError("uid")}>
        <input name="uid" value={uid} onChange={(e) => setUid(e.target.value)} />
      </Field>
      <Field
        label="Format"
        name="format"
        error={fieldError("format")}
        hint="slack: a Slack incoming-webhook message; standard: the event as JSON, signed"
      >
        <select name="format" value={format} onChange={(e) => setFormat(e.target.value)}>
          {FORMATS.map((f) => (
            <option key={f} value={f}>
              {f}
            </option>
          ))}
        </select>
      </Field>
      <fieldset className="field types" data-field="filterTypes">
        <legend className="field-label">Event types (none ticked: all)</legend>
        <div className="checks">
          {OPERATIONAL_TYPES.map((t) => (
            <label key={t} className="check">
              <input type="checkbox" checked={types.includes(t)} onChange={(e) => toggleType(t, e.target.checked)} />
              <code>{t}</code>
            </label>
          ))}
        </div>
        {fieldError("filterTypes") && (
          <span className="field-error" role="alert">
            {fieldError("filterTypes")}
          </span>
        )}
      </fieldset>
      <Field label="Rate limit (requests per second; empty: none)" name="rateLimit" error={fieldError("rateLimit")}>
        <input name="rateLimit" inputMode="numeric" value={rateLimit} onChange={(e) => setRateLimit(e.target.value)} />
      </Field>
      <label className="check">
        <input type="checkbox" name="disabled" checked={disabled} onChange={(e) => setDisabled(e.target.checked)} />
        Disabled (nothing is sent to it)
      </label>
      {unplaced && <ErrorNote error={error} />}
      <div className="actions">
        <button type="submit" className="primary" disabled={busy}>
          {init ? "Save endpoint" : "Create endpoint"}
        </button>
        <button type="button" onClick={props.cancel}>
          Cancel
        </button>
      </div>
    </form>
  );
}
