// Making or changing an endpoint. What the API refuses (a 422) is shown on the field it names.
import { useState, type FormEvent } from "react";
import { ApiError } from "../api";
import { ErrorNote, Field } from "../components/ui";
import { formErrors } from "../form-errors";
import { numberOrText, parseHeaderLines, splitList } from "../format";
import type { EndpointOut } from "../types";

export interface EndpointFormProps {
  /** The endpoint to change, or null to make one. */
  initial: EndpointOut | null;
  /** Sends the body; rejects with the API's error. */
  save(body: Record<string, unknown>): Promise<void>;
  cancel?(): void;
}

export function EndpointForm({ initial, save, cancel }: EndpointFormProps) {
  const [url, setUrl] = useState(initial?.url ?? "");
  const [description, setDescription] = useState(initial?.description ?? "");
  const [uid, setUid] = useState(initial?.uid ?? "");
  const [filterTypes, setFilterTypes] = useState((initial?.filterTypes ?? []).join(", "));
  const [channels, setChannels] = useState((initial?.channels ?? []).join(", "));
  const [rateLimit, setRateLimit] = useState(initial?.rateLimit?.toString() ?? "");
  const [disabled, setDisabled] = useState(initial?.disabled ?? false);
  const [headers, setHeaders] = useState("");
  const [error, setError] = useState<Error | null>(null);
  const [busy, setBusy] = useState(false);

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    const parsedHeaders = parseHeaderLines(headers);
    if (parsedHeaders.error) {
      setError(new ApiError(422, "validation", parsedHeaders.error, { headers: parsedHeaders.error }));
      return;
    }
    const types = splitList(filterTypes);
    const chans = splitList(channels);
    const editing = initial !== null;
    // A change sends every field (null clears); a new endpoint leaves out what is empty.
    const body: Record<string, unknown> = {
      url,
      description,
      disabled,
      uid: uid || (editing ? null : undefined),
      filterTypes: types.length ? types : editing ? null : undefined,
      channels: chans.length ? chans : editing ? null : undefined,
      rateLimit: numberOrText(rateLimit) ?? (editing ? null : undefined),
    };
    if (!editing && Object.keys(parsedHeaders.headers).length) body.headers = parsedHeaders.headers;
    setBusy(true);
    setError(null);
    try {
      await save(body);
    } catch (err) {
      setError(err as Error);
    } finally {
      setBusy(false);
    }
  };
  const known = ["url", "description", "uid", "filterTypes", "channels", "rateLimit", "headers", "disabled"];
  const { field: fieldError, unplaced } = formErrors(error, known);
  return (
    <form onSubmit={submit} className="form card" aria-label={initial ? "edit endpoint" : "new endpoint"} noValidate>
      <Field label="URL" name="url" error={fieldError("url")}>
        <input name="url" type="url" value={url} onChange={(e) => setUrl(e.target.value)} placeholder="https://example.com/webhooks" />
      </Field>
      <Field label="Description" name="description" error={fieldError("description")}>
        <input name="description" value={description} onChange={(e) => setDescription(e.target.value)} />
      </Field>
      <Field label="Uid (optional)" name="uid" error={fieldError("uid")}>
        <input name="uid" value={uid} onChange={(e) => setUid(e.target.value)} />
      </Field>
      <Field
        label="Event types (comma-separated; empty: all)"
        name="filterTypes"
        error={fieldError("filterTypes")}
      >
        <input name="filterTypes" value={filterTypes} onChange={(e) => setFilterTypes(e.target.value)} placeholder="invoice.paid, invoice.failed" />
      </Field>
      <Field label="Channels (comma-separated; empty: all)" name="channels" error={fieldError("channels")}>
        <input name="channels" value={channels} onChange={(e) => setChannels(e.target.value)} />
      </Field>
      <Field label="Rate limit (requests per second; empty: none)" name="rateLimit" error={fieldError("rateLimit")}>
        <input name="rateLimit" inputMode="numeric" value={rateLimit} onChange={(e) => setRateLimit(e.target.value)} />
      </Field>
      {!initial && (
        <Field label="Custom headers (one “Name: value” a line)" name="headers" error={fieldError("headers")}>
          <textarea name="headers" rows={3} value={headers} onChange={(e) => setHeaders(e.target.value)} />
        </Field>
      )}
      <label className="check">
        <input type="checkbox" name="disabled" checked={disabled} onChange={(e) => setDisabled(e.target.checked)} />
        Disabled (nothing is sent to it)
      </label>
      {unplaced && <ErrorNote error={error} />}
      <div className="actions">
        <button type="submit" className="primary" disabled={busy}>
          {initial ? "Save endpoint" : "Create endpoint"}
        </button>
        {cancel && (
          <button type="button" onClick={cancel}>
            Cancel
          </button>
        )}
      </div>
    </form>
  );
}
