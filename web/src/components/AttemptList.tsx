// Attempts, newest first; each opens to show what was sent where and what came back.
import { duration, when } from "../format";
import { pathOf } from "../router";
import type { AttemptOut } from "../types";
import { RequestHeaders } from "./RequestHeaders";
import { JsonBlock, Link, Status } from "./ui";

const TRIGGER: Record<number, string> = { 0: "scheduled", 1: "manual" };

export function AttemptList(props: { app: string; attempts: AttemptOut[]; showMessage?: boolean }) {
  if (props.attempts.length === 0) return <p className="muted">No attempts yet.</p>;
  return (
    <ul className="attempts">
      {props.attempts.map((a) => (
        <li key={a.id}>
          <details className="attempt" data-attempt={a.id}>
            <summary>
              <Status status={a.status} /> <strong>{a.responseStatusCode || "—"}</strong> <code>{a.outcome}</code>{" "}
              <span>{duration(a.responseDurationMs)}</span> <span className="muted">{when(a.timestamp)}</span>
            </summary>
            <dl className="facts">
              <dt>Attempt</dt>
              <dd>
                <code>{a.id}</code>
              </dd>
              <dt>URL</dt>
              <dd className="break">{a.url}</dd>
              <dt>Endpoint</dt>
              <dd>
                <Link to={pathOf("apps", props.app, "endpoints", a.endpointId)}>{a.endpointId}</Link>
              </dd>
              {props.showMessage && (
                <>
                  <dt>Message</dt>
                  <dd>
                    <Link to={pathOf("apps", props.app, "messages", a.msgId)}>{a.msgId}</Link>
                  </dd>
                </>
              )}
              <dt>Response status</dt>
              <dd>{a.responseStatusCode || "no response"}</dd>
              <dt>Outcome</dt>
              <dd>
                <code>{a.outcome}</code> ({a.statusText})
              </dd>
              <dt>Duration</dt>
              <dd>{duration(a.responseDurationMs)}</dd>
              <dt>Trigger</dt>
              <dd>{TRIGGER[a.triggerType] ?? a.triggerType}</dd>
            </dl>
            <RequestHeaders headers={a.requestHeaders} />
            <JsonBlock title="Response body" text={a.response} open />
          </details>
        </li>
      ))}
    </ul>
  );
}
