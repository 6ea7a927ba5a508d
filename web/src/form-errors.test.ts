import { describe, expect, it } from "vitest";
import { ApiError } from "./api";
import { formErrors } from "./form-errors";

describe("formErrors", () => {
  const known = ["url", "filterTypes"];

  it("puts a field's message, or its item's, on the field", () => {
    const e = formErrors(new ApiError(422, "validation", "", { url: "bad url", "filterTypes.1": "bad type" }), known);
    expect(e.field("url")).toBe("bad url");
    expect(e.field("filterTypes")).toBe("bad type");
    expect(e.field("uid")).toBeUndefined();
    expect(e.unplaced).toBe(false);
  });

  it("leaves an error naming no known field to be said elsewhere", () => {
    expect(formErrors(new ApiError(409, "conflict", "uid taken", {}), known).unplaced).toBe(true);
    expect(formErrors(new ApiError(422, "validation", "", { body: "not JSON" }), known).unplaced).toBe(true);
    expect(formErrors(new Error("offline"), known).unplaced).toBe(true);
    expect(formErrors(null, known).unplaced).toBe(false);
  });
});
