import { describe, expect, it } from "vitest";
import { schemaVersions } from "./schemas";

describe("schemaVersions", () => {
  it("lists versions newest first, each with the examples its schema lists", () => {
    const v1 = { type: "object" };
    const v2 = { type: "object", examples: [{ a: 1 }, { a: 2 }] };
    const v10 = { type: "object", examples: "not a list" };
    expect(schemaVersions({ "1": v1, "10": v10, "2": v2 })).toEqual([
      { version: "10", schema: v10, examples: [] },
      { version: "2", schema: v2, examples: [{ a: 1 }, { a: 2 }] },
      { version: "1", schema: v1, examples: [] },
    ]);
  });

  it("is empty without schemas", () => {
    expect(schemaVersions(null)).toEqual([]);
    expect(schemaVersions(undefined)).toEqual([]);
    expect(schemaVersions({})).toEqual([]);
  });
});
