// Small pieces every page uses.
import type { MouseEvent, ReactNode } from "react";
import { ApiError } from "../api";
import { pretty, statusText } from "../format";
import { navigate } from "../router";

/** A link that navigates without reloading (a plain link with a modifier key or middle click). */
export function Link(props: { to: string; children: ReactNode; className?: string }) {
  const onClick = (e: MouseEvent<HTMLAnchorElement>) => {
    if (e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey || e.altKey) return;
    e.preventDefault();
    navigate(props.to);
  };
  return (
    <a href={props.to} onClick={onClick} className={props.className}>
      {props.children}
    </a>
  );
}

/** A labelled input with the API's message for it, if any. */
export function Field(props: { label: string; name: string; error?: string; hint?: string; children: ReactNode }) {
  return (
    <label className="field" data-field={props.name}>
      <span className="field-label">{props.label}</span>
      {props.children}
      {props.hint && !props.error && <span className="field-hint">{props.hint}</span>}
      {props.error && (
        <span className="field-error" role="alert">
          {props.error}
        </span>
      )}
    </label>
  );
}

/** An error from the API or the network, said plainly. */
export function ErrorNote({ error }: { error: unknown }) {
  if (!error) return null;
  const text =
    error instanceof ApiError
      ? `${error.message} (${error.status} ${error.code})`
      : error instanceof Error
        ? error.message
        : String(error);
  return (
    <p className="error" role="alert">
      {text}
    </p>
  );
}

/** Previous/next for a list walked with iterators. */
export function Pager(props: { canPrev: boolean; canNext: boolean; prev(): void; next(): void }) {
  if (!props.canPrev && !props.canNext) return null;
  return (
    <nav className="pager" aria-label="pages">
      <button type="button" onClick={props.prev} disabled={!props.canPrev}>
        ← Newer / previous
      </button>
      <button type="button" onClick={props.next} disabled={!props.canNext}>
        Next →
      </button>
    </nav>
  );
}

/** A message, delivery or attempt status. */
export function Status({ status }: { status: number }) {
  const text = statusText(status);
  return <span className={`badge status-${text}`}>{text}</span>;
}

/** A badge for anything else. */
export function Badge({ kind, children }: { kind: string; children: ReactNode }) {
  return <span className={`badge ${kind}`}>{children}</span>;
}

/** JSON (or any text), pretty and collapsible. */
export function JsonBlock(props: { title: string; text: string; open?: boolean }) {
  return (
    <details className="json" open={props.open}>
      <summary>{props.title}</summary>
      <pre>{pretty(props.text)}</pre>
    </details>
  );
}

/** "Loading…" while a first answer is awaited. */
export function Loading({ when }: { when: boolean }) {
  return when ? <p className="muted">Loading…</p> : null;
}
