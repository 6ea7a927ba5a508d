// The event catalog: each type with its description, flags, and schemas with their examples.
import { query, type Page } from "../api";
import { Badge, ErrorNote, JsonBlock, Loading, Pager } from "../components/ui";
import { usePaged } from "../hooks";
import { useSession } from "../session-context";
import type { EventTypeOut } from "../types";

/** The examples a schema lists, if any. */
function examples(schema: unknown): unknown[] {
  const ex = (schema as { examples?: unknown } | null)?.examples;
  return Array.isArray(ex) ? ex : [];
}

export function EventTypesPage() {
  const { api } = useSession();
  const list = usePaged("event-types", (iterator) =>
    api.get<Page<EventTypeOut>>(`/event-type${query({ limit: 50, iterator, with_content: true })}`),
  );
  return (
    <section>
      <h1>Event types</h1>
      <ErrorNote error={list.error} />
      <Loading when={list.loading && !list.data} />
      {list.data?.data.length === 0 && <p className="muted">The catalog is empty.</p>}
      <ul className="catalog">
        {list.data?.data.map((t) => (
          <li key={t.name} className="card">
            <h2>
              <code>{t.name}</code> {t.deprecated && <Badge kind="warn">deprecated</Badge>}{" "}
              {t.archived && <Badge kind="bad">archived</Badge>}
              {t.groupName && <Badge kind="role">{t.groupName}</Badge>}
            </h2>
            {t.description && <p>{t.description}</p>}
            {Object.entries(t.schemas ?? {}).map(([version, schema]) => (
              <div key={version}>
                <JsonBlock title={`Schema v${version}`} text={JSON.stringify(schema)} />
                {examples(schema).map((ex, i) => (
                  <JsonBlock key={i} title={`Example ${i + 1} (v${version})`} text={JSON.stringify(ex)} />
                ))}
              </div>
            ))}
          </li>
        ))}
      </ul>
      <Pager {...list} />
    </section>
  );
}
