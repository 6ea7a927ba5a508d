// Alert rules: the list (with how many alerts each has firing), a form to make or change one,
// enabling, disabling and deleting. Rules from the config file are shown and left alone: the
// API refuses to change them.
import { useState, type FormEvent } from "react";
import {
  KINDS,
  RULE_KINDS,
  ruleBody,
  ruleForm,
  subjectText,
  thresholdText,
  toggledBody,
  type AlertRuleOut,
  type RuleForm,
  type RuleKind,
} from "../alerts";
import { ApiError, query, type Page } from "../api";
import { Badge, ErrorNote, Field, Loading, Pager } from "../components/ui";
import { useAction, usePaged } from "../hooks";
import { useSession } from "../session-context";

/** The rules, read again when `generation` changes; `onChange` after this list changed one. */
export function AlertRules({ generation, onChange }: { generation: number; onChange(): void }) {
  const { api, writable } = useSession();
  const rules = usePaged(`alert-rules:${generation}`, (iterator) =>
    api.get<Page<AlertRuleOut>>(`/alert/rule${query({ limit: 50, iterator })}`),
  );
  const [editing, setEditing] = useState<AlertRuleOut | "new" | null>(null);
  const changed = () => {
    setEditing(null);
    onChange();
  };
  const save = async (body: Record<string, unknown>) => {
    if (editing === "new") await api.call("POST", "/alert/rule", body);
    else if (editing) await api.call("PUT", `/alert/rule/${encodeURIComponent(editing.id)}`, body);
    changed();
  };
  const list = rules.data?.data ?? [];
  return (
    <section aria-labelledby="rules-title">
      <div className="heading-row">
        <h2 id="rules-title">Rules</h2>
        {writable && editing === null && (
          <button type="button" onClick={() => setEditing("new")}>
            New rule
          </button>
        )}
      </div>
      {editing !== null && (
        <RuleEditor
          key={editing === "new" ? "new" : editing.id}
          initial={editing === "new" ? null : editing}
          save={save}
          cancel={() => setEditing(null)}
        />
      )}
      <ErrorNote error={rules.error} />
      <Loading when={rules.loading && !rules.data} />
      {rules.data && list.length === 0 && <p className="muted">No rules yet.</p>}
      {list.length > 0 && (
        <div className="table-wrap">
          <table aria-label="alert rules">
            <thead>
              <tr>
                <th>Name</th>
                <th>Kind</th>
                <th>Threshold</th>
                <th>Window</th>
                <th>Watches</th>
                <th>Firing</th>
                <th>Origin</th>
                {writable && <th />}
              </tr>
            </thead>
            <tbody>
              {list.map((r) => (
                <RuleRow key={r.id} rule={r} edit={() => setEditing(r)} changed={changed} />
              ))}
            </tbody>
          </table>
        </div>
      )}
      <Pager {...rules} />
    </section>
  );
}

function RuleRow({ rule, edit, changed }: { rule: AlertRuleOut; edit(): void; changed(): void }) {
  const { api, writable } = useSession();
  const act = useAction();
  const path = `/alert/rule/${encodeURIComponent(rule.id)}`;
  const toggle = () =>
    act.run(async () => {
      await api.call("PUT", path, toggledBody(rule));
      changed();
    });
  const remove = () => {
    if (!window.confirm(`Delete the rule “${rule.name}”? Its past alerts stay listed.`)) return;
    void act.run(async () => {
      await api.call("DELETE", path);
      changed();
    });
  };
  const info = KINDS[rule.kind];
  return (
    <tr data-rule={rule.name}>
      <td>
        {rule.name} {rule.disabled && <Badge kind="warn">disabled</Badge>}
        <div className="muted small">
          <code>{rule.id}</code>
        </div>
      </td>
      <td>{info?.label ?? rule.kind}</td>
      <td>
        {thresholdText(rule.kind, rule.threshold)}
        {info?.minAttempts && <div className="muted small">at least {rule.minAttempts} attempts</div>}
      </td>
      <td>{info?.windowed ? rule.window : "—"}</td>
      <td>{info ? subjectText(rule) : "—"}</td>
      <td>{rule.firing > 0 ? <Badge kind="bad">{rule.firing} firing</Badge> : <span className="muted">0</span>}</td>
      <td>
        {rule.origin === "config" ? (
          <span title="From the config file: change it there">
            <Badge kind="role">config</Badge>
          </span>
        ) : (
          <Badge kind="role">api</Badge>
        )}
      </td>
      {writable && (
        <td className="row-actions">
          {rule.origin === "api" && (
            <>
              <button type="button" onClick={edit} disabled={act.busy}>
                Edit
              </button>
              <button type="button" onClick={toggle} disabled={act.busy}>
                {rule.disabled ? "Enable" : "Disable"}
              </button>
              <button type="button" className="danger-button" onClick={remove} disabled={act.busy}>
                Delete
              </button>
            </>
          )}
          <ErrorNote error={act.error} />
        </td>
      )}
    </tr>
  );
}

const FILTER_LABEL = {
  app: ["App (id or uid)", "app_… or acme"],
  endpoint: ["Endpoint (id or uid)", "ep_…"],
  handler: ["Handler", "deploy"],
  source: ["Source", "orders"],
} as const;

export function RuleEditor(props: {
  initial: AlertRuleOut | null;
  save(body: Record<string, unknown>): Promise<void>;
  cancel(): void;
}) {
  const [form, setForm] = useState<RuleForm>(() => ruleForm(props.initial));
  const [errors, setErrors] = useState<Record<string, string>>({});
  const [other, setOther] = useState<Error | null>(null);
  const [busy, setBusy] = useState(false);
  const set =
    <K extends keyof RuleForm>(k: K) =>
    (v: RuleForm[K]) =>
      setForm({ ...form, [k]: v });
  const info = KINDS[form.kind];

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    const made = ruleBody(form);
    setOther(null);
    if ("errors" in made) {
      setErrors(made.errors);
      return;
    }
    setErrors({});
    setBusy(true);
    try {
      await props.save(made.body);
    } catch (err) {
      const fields = err instanceof ApiError ? err.fields : {};
      setErrors(fields);
      const known = ["name", "kind", "threshold", "window", "minAttempts", "disabled", ...info.filters];
      if (!Object.keys(fields).some((k) => known.includes(k))) setOther(err as Error);
    } finally {
      setBusy(false);
    }
  };
  return (
    <form onSubmit={submit} className="form card" aria-label={props.initial ? "edit rule" : "new rule"} noValidate>
      <h3>{props.initial ? `Change “${props.initial.name}”` : "New rule"}</h3>
      <Field label="Name" name="name" error={errors.name}>
        <input name="name" value={form.name} onChange={(e) => set("name")(e.target.value)} />
      </Field>
      <Field label="Kind" name="kind" error={errors.kind}>
        <select name="kind" value={form.kind} onChange={(e) => set("kind")(e.target.value as RuleKind)}>
          {RULE_KINDS.map((k) => (
            <option key={k} value={k}>
              {KINDS[k].label}
            </option>
          ))}
        </select>
      </Field>
      <Field label={info.threshold} name="threshold" error={errors.threshold}>
        <input
          name="threshold"
          inputMode="decimal"
          value={form.threshold}
          onChange={(e) => set("threshold")(e.target.value)}
        />
      </Field>
      {info.windowed && (
        <Field label="Window" name="window" error={errors.window} hint="Whole minutes, up to 24h: 5m, 1h, 1h 30m">
          <input name="window" value={form.window} onChange={(e) => set("window")(e.target.value)} />
        </Field>
      )}
      {info.minAttempts && (
        <Field
          label="Minimum attempts"
          name="minAttempts"
          error={errors.minAttempts}
          hint="Fewer attempts in the window never fire"
        >
          <input
            name="minAttempts"
            inputMode="numeric"
            value={form.minAttempts}
            onChange={(e) => set("minAttempts")(e.target.value)}
          />
        </Field>
      )}
      <p className="muted small">
        {info.filters.length ? "Narrow it to one subject, or leave these empty: then it" : "It"} watches{" "}
        {info.unfiltered}.
      </p>
      {info.filters.map((f) => (
        <Field key={f} label={`${FILTER_LABEL[f][0]} (optional)`} name={f} error={errors[f]}>
          <input name={f} value={form[f]} placeholder={FILTER_LABEL[f][1]} onChange={(e) => set(f)(e.target.value)} />
        </Field>
      ))}
      <label className="check">
        <input type="checkbox" name="disabled" checked={form.disabled} onChange={(e) => set("disabled")(e.target.checked)} />
        Disabled (never fires)
      </label>
      <ErrorNote error={other} />
      <div className="actions">
        <button type="submit" className="primary" disabled={busy}>
          {props.initial ? "Save rule" : "Create rule"}
        </button>
        <button type="button" onClick={props.cancel}>
          Cancel
        </button>
      </div>
    </form>
  );
}
