// The event catalog: each type with its description, flags, and schemas with their examples.
import { query, type Page } from "../api";
import { Badge, ErrorNote, JsonBlock, Loading, Pager } from "../components/ui";
import { usePaged } from "../hooks";
import { useSession } from "../session-context";
import { schemaVersions } from "../schemas";
import type { EventTypeOut } from "../types";

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
            {schemaVersions(t.schemas).length === 0 && <p className="muted small">No schema.</p>}
            {schemaVersions(t.schemas).map(({ version, schema, examples }, newest) => (
              <div key={version} className="schema">
                <JsonBlock title={`Schema v${version}`} text={JSON.stringify(schema)} />
                {examples.length === 0 && <p className="muted small">Schema v{version} lists no example.</p>}
                {examples.map((ex, i) => {
                  // Send example sends the newest schema's first example when it is an object.
                  const sent = newest === 0 && i === 0 && !!ex && typeof ex === "object" && !Array.isArray(ex);
                  return (
                    <JsonBlock
                      key={i}
                      title={`Example ${i + 1} (v${version})${sent ? ": what Send example sends" : ""}`}
                      text={JSON.stringify(ex)}
                      open={sent}
                    />
                  );
                })}
              </div>
            ))}
          </li>
        ))}
      </ul>
      <Pager {...list} />
    </section>
  );
}
