// Pause and resume one target (the server, an app, an endpoint, a handler, a source): its state
// (paused since when, by whom, why), what waits behind it, and the buttons, which tokens that
// may not write never see. App tokens cannot read pauses, so they see nothing here.
import { useEffect, useState, type FormEvent } from "react";
import { ErrorNote } from "../components/ui";
import { when } from "../format";
import { useAction, useLoad } from "../hooks";
import { useSession } from "../session-context";
import { REFRESH_MS, useTick } from "./charts";
import type { PauseOut, PauseScope } from "./types";
import { age, count } from "./window";

/** The pause route of a target. */
export function pausePath(scope: PauseScope, id?: string): string {
  return scope === "server" ? "/pause/server" : `/pause/${scope}/${encodeURIComponent(id ?? "")}`;
}

/** What waits, said in a line. */
export function waitingText(p: PauseOut): string {
  if (!p.waiting) return p.scope === "source" ? "Its messages wait in the broker." : "";
  const w = p.waiting;
  if (w.count === 0) return "Nothing waiting.";
  const oldest = w.oldestAgeSecs === null ? "" : `, the oldest for ${age(w.oldestAgeSecs * 1000)}`;
  return `${count(w.count)} waiting${oldest}.`;
}

/** Paused since when, by whom, why. */
export function pausedText(p: PauseOut): string {
  if (!p.paused) return "Running.";
  const by = p.pausedBy ? ` by ${p.pausedBy}` : "";
  const why = p.reason ? ` (${p.reason})` : "";
  return `Paused since ${when(p.pausedAt)}${by}${why}.`;
}

interface Target {
  scope: PauseScope;
  id?: string;
  /** What the buttons name: `Pause endpoint`. */
  what: string;
  /** Called after a pause or resume, for a page that shows the state elsewhere too. */
  onChange?(): void;
}

export function PauseControl(props: Target) {
  const { me } = useSession();
  return me.role === "app" ? null : <PauseState {...props} />;
}

function PauseState({ scope, id, what, onChange }: Target) {
  const { api, writable } = useSession();
  const tick = useTick(REFRESH_MS);
  const path = pausePath(scope, id);
  const [after, setAfter] = useState<PauseOut | null>(null);
  const state = useLoad(`${path}:${tick}`, () => api.get<PauseOut>(path));
  const [reason, setReason] = useState("");
  const act = useAction();
  // The answer of a pause or resume is the state afterwards: shown until the next read lands.
  useEffect(() => setAfter(null), [state.data]);
  const p = after ?? state.data;
  const change = (method: "POST" | "DELETE") =>
    act.run(async () => {
      const body = method === "POST" && reason.trim() ? { reason: reason.trim() } : undefined;
      setAfter(await api.call<PauseOut>(method, path, body));
      setReason("");
      state.reload();
      onChange?.();
    });
  const submit = (e: FormEvent) => {
    e.preventDefault();
    void change("POST");
  };
  return (
    <div className={`card pause${p?.paused ? " is-paused" : ""}`} data-pause={scope}>
      <h3>Processing</h3>
      <ErrorNote error={state.error} />
      {p && (
        <p className="pause-state" role="status">
          <span className={`badge ${p.paused ? "warn" : "good"}`}>{p.paused ? "paused" : "running"}</span>{" "}
          {pausedText(p)} {waitingText(p)}
        </p>
      )}
      {writable && p && !p.paused && (
        <form className="inline-form pause-form" onSubmit={submit} aria-label={`pause ${what}`}>
          <input
            aria-label="Reason (optional)"
            placeholder="Reason (optional)"
            value={reason}
            maxLength={1000}
            onChange={(e) => setReason(e.target.value)}
          />
          <button type="submit" disabled={act.busy}>
            Pause {what}
          </button>
        </form>
      )}
      {writable && p?.paused && (
        <button type="button" className="primary" disabled={act.busy} onClick={() => void change("DELETE")}>
          Resume {what}
        </button>
      )}
      <ErrorNote error={act.error} />
    </div>
  );
}
