// An event type's `schemas` as the API stores them: JSON schemas keyed by version (`{"1": {…}}`),
// each with the example payloads it lists in `examples`, if any. Nothing is made up: a schema
// without examples shows none.

/** One version of an event type's schema. */
export interface SchemaVersion {
  version: string;
  schema: unknown;
  examples: unknown[];
}

/** The versions of `schemas`, newest first (the one Send example reads its payload from). */
export function schemaVersions(schemas: Record<string, unknown> | null | undefined): SchemaVersion[] {
  if (!schemas || typeof schemas !== "object" || Array.isArray(schemas)) return [];
  return Object.entries(schemas)
    .map(([version, schema]) => {
      const ex = (schema as { examples?: unknown } | null)?.examples;
      return { version, schema, examples: Array.isArray(ex) ? ex : [] };
    })
    .sort((a, b) => versionNumber(b.version) - versionNumber(a.version));
}

function versionNumber(v: string): number {
  const n = Number.parseInt(v, 10);
  return Number.isNaN(n) ? 0 : n;
}
