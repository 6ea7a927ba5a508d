import { describe, expect, it } from "vitest";
import { canWrite, parseError, query, type Me } from "./api";

describe("parseError", () => {
  it("puts each 422 message on its field", () => {
    const e = parseError(422, {
      detail: [
        { loc: ["body", "url"], msg: "url must be http or https", type: "value_error" },
        { loc: ["body", "filterTypes", "0"], msg: "bad name", type: "value_error" },
      ],
    });
    expect(e.status).toBe(422);
    expect(e.fields).toEqual({ url: "url must be http or https", "filterTypes.0": "bad name" });
    expect(e.message).toContain("url: url must be http or https");
  });

  it("keeps the code and detail of other errors", () => {
    const e = parseError(409, { code: "conflict", detail: "uid taken" });
    expect(e.code).toBe("conflict");
    expect(e.message).toBe("uid taken");
    expect(e.fields).toEqual({});
  });

  it("says what happened when the body is not the API's", () => {
    const e = parseError(502, null);
    expect(e.code).toBe("http_502");
    expect(e.message).toBe("the server answered 502");
  });
});

describe("query", () => {
  it("leaves out empty values and encodes the rest", () => {
    expect(query({ a: "x y", b: "", c: undefined, d: null, e: 5, f: false })).toBe("?a=x+y&e=5&f=false");
    expect(query({})).toBe("");
  });
});

describe("canWrite", () => {
  const me = (role: Me["role"], readOnly: boolean): Me => ({
    role,
    readOnly,
    appId: null,
    tokenId: null,
    name: null,
    expiresAt: null,
  });
  it("is false for read-only roles and read-only app tokens", () => {
    expect(canWrite(me("admin", false))).toBe(true);
    expect(canWrite(me("app", false))).toBe(true);
    expect(canWrite(me("read-only", false))).toBe(false);
    expect(canWrite(me("app", true))).toBe(false);
  });
});
