import { describe, expect, it } from "vitest";
import {
  parseDuration,
  ruleBody,
  ruleForm,
  subjectText,
  thresholdText,
  toggledBody,
  type AlertRuleOut,
  type RuleForm,
  windowProblem,
} from "./alerts";

describe("parseDuration", () => {
  it("reads what the API reads", () => {
    expect(parseDuration("5m")).toBe(300_000);
    expect(parseDuration(" 1h 30m ")).toBe(5_400_000);
    expect(parseDuration("1h30m")).toBe(5_400_000);
    expect(parseDuration("90s")).toBe(90_000);
    expect(parseDuration("1.5h")).toBe(5_400_000);
    expect(parseDuration("2 minutes")).toBe(120_000);
    expect(parseDuration("500ms")).toBe(500);
    expect(parseDuration("1d")).toBe(86_400_000);
  });

  it("refuses a number without a unit, an unknown unit, or anything else", () => {
    for (const bad of ["", "5", "5 parsecs", "m5", "-5m", "5m!", "five minutes", "1.h", "5 M5"]) {
      expect(parseDuration(bad), bad).toBeNull();
    }
  });

  it("tells minutes (m) from months (M), as the API does", () => {
    expect(parseDuration("1M")).toBe(2_630_016_000);
    expect(parseDuration("1m")).toBe(60_000);
  });
});

const form = (over: Partial<RuleForm>): RuleForm => ({ ...ruleForm(null), name: "r", threshold: "50", ...over });

describe("ruleBody", () => {
  it("sends a failure-rate rule with its window, minimum attempts and filters", () => {
    expect(ruleBody(form({ endpoint: " ep_1 ", window: "10m", minAttempts: "4" }))).toEqual({
      body: {
        name: "r",
        kind: "failure_rate",
        threshold: 50,
        window: "10m",
        minAttempts: 4,
        endpoint: "ep_1",
        disabled: false,
      },
    });
  });

  it("leaves out the fields a kind does not read", () => {
    const made = ruleBody(
      form({ kind: "source_lag", threshold: "1000", source: "orders", endpoint: "ep_1", window: "bad", minAttempts: "x" }),
    );
    expect(made).toEqual({ body: { name: "r", kind: "source_lag", threshold: 1000, source: "orders", disabled: false } });
    expect(ruleBody(form({ kind: "node_gone", threshold: "30", app: "acme" }))).toEqual({
      body: { name: "r", kind: "node_gone", threshold: 30, disabled: false },
    });
  });

  it("fills the API's defaults for an empty window and minimum", () => {
    const made = ruleBody(form({ window: " ", minAttempts: "" }));
    expect(made).toMatchObject({ body: { window: "5m", minAttempts: 10 } });
  });

  it("names each wrong field as the API does", () => {
    expect(ruleBody(form({ name: " ", threshold: "lots", window: "5 parsecs", minAttempts: "0" }))).toEqual({
      errors: {
        name: "name must have 1 to 100 characters",
        threshold: "threshold must be a number, zero or more",
        window: 'window "5 parsecs" must be a whole number of minutes, like "5m" or "1h"',
        minAttempts: "minAttempts must be a whole number, at least 1",
      },
    });
    expect(ruleBody(form({ name: "x".repeat(101) }))).toEqual({ errors: { name: "name must have 1 to 100 characters" } });
    expect(ruleBody(form({ handler: "deploy", endpoint: "ep_1" }))).toEqual({
      errors: { handler: "handler cannot be combined with app or endpoint: a rule watches one" },
    });
  });

  it("keeps a percentage within 0–100 and other thresholds at least 0", () => {
    expect(ruleBody(form({ threshold: "101" }))).toEqual({
      errors: { threshold: "threshold of failure_rate is a percentage: 0 to 100" },
    });
    expect(ruleBody(form({ kind: "dead_letters", threshold: "101" }))).toMatchObject({ body: { threshold: 101 } });
    expect(ruleBody(form({ kind: "dead_letters", threshold: "-1" }))).toEqual({
      errors: { threshold: "threshold must be a number, zero or more" },
    });
  });

  it("takes a window of whole minutes, from 1m to 24h", () => {
    for (const ok of ["1m", "90m", "1h 30m", "24h", "120s", "1d"]) expect(windowProblem(ok), ok).toBeNull();
    for (const bad of ["0m", "30s", "90s", "1.5m", "500ms"]) {
      expect(windowProblem(bad), bad).toBe(`window "${bad}" must be a whole number of minutes, like "5m" or "1h"`);
    }
    expect(ruleBody(form({ window: "25h" }))).toEqual({ errors: { window: 'window "25h" must be at most 24h' } });
  });
});

const rule: AlertRuleOut = {
  id: "alr_1",
  name: "billing failing",
  kind: "failure_rate",
  threshold: 50,
  window: "5m",
  app: null,
  endpoint: "ep_1",
  handler: null,
  source: null,
  minAttempts: 10,
  disabled: false,
  origin: "api",
  firing: 1,
  createdAt: "2026-01-01T00:00:00Z",
  updatedAt: "2026-01-01T00:00:00Z",
};

describe("a rule as read back", () => {
  it("fills the form to change it", () => {
    expect(ruleForm(rule)).toEqual({
      name: "billing failing",
      kind: "failure_rate",
      threshold: "50",
      window: "5m",
      app: "",
      endpoint: "ep_1",
      handler: "",
      source: "",
      minAttempts: "10",
      disabled: false,
    });
  });

  it("is sent back whole with only disabled flipped", () => {
    expect(toggledBody(rule)).toEqual({
      name: "billing failing",
      kind: "failure_rate",
      threshold: 50,
      window: "5m",
      minAttempts: 10,
      endpoint: "ep_1",
      disabled: true,
    });
  });

  it("says what it watches and its threshold with a unit", () => {
    expect(subjectText(rule)).toBe("endpoint ep_1");
    expect(subjectText({ ...rule, endpoint: null })).toBe("each endpoint and each handler separately");
    expect(subjectText({ ...rule, kind: "dead_letters", endpoint: null })).toBe("the whole server");
    expect(thresholdText("failure_rate", 50)).toBe("50%");
    expect(thresholdText("oldest_pending", 60)).toBe("60 s");
    expect(thresholdText("dead_letters", 3)).toBe("3");
  });
});
