// Alert rules as the API takes them (see docs/api.md, "Alerts"): what each kind measures, which
// of the form's fields it uses, and the checks the API makes, done here first so a typo is
// pointed out on its field before anything is sent. The API still decides: its 422 is shown on
// the same fields.

/** The kinds of rule, in the order the form offers them. */
export const RULE_KINDS = [
  "failure_rate",
  "dead_letters",
  "oldest_pending",
  "source_lag",
  "source_rejected",
  "node_gone",
] as const;
export type RuleKind = (typeof RULE_KINDS)[number];

/** The subjects a rule can be narrowed to. */
export type SubjectFilter = "app" | "endpoint" | "handler" | "source";

/** What a kind of rule watches and which fields it reads. */
export interface KindInfo {
  /** What the kind is, in a few words. */
  label: string;
  /** The threshold's meaning and unit, for its field's label. */
  threshold: string;
  /** The threshold is a percentage (0–100). */
  percent: boolean;
  /** It counts over `window`. */
  windowed: boolean;
  /** It reads `minAttempts`. */
  minAttempts: boolean;
  /** The subject filters it takes. */
  filters: SubjectFilter[];
  /** What it watches without a filter. */
  unfiltered: string;
}

export const KINDS: Record<RuleKind, KindInfo> = {
  failure_rate: {
    label: "Failure rate",
    threshold: "Percent of attempts failed in the window (0–100)",
    percent: true,
    windowed: true,
    minAttempts: true,
    filters: ["app", "endpoint", "handler"],
    unfiltered: "each endpoint and each handler separately",
  },
  dead_letters: {
    label: "Dead letters",
    threshold: "Dead letters in the window",
    percent: false,
    windowed: true,
    minAttempts: false,
    filters: ["app", "endpoint", "handler"],
    unfiltered: "the whole server",
  },
  oldest_pending: {
    label: "Oldest pending delivery",
    threshold: "Age of the oldest pending delivery, in seconds",
    percent: false,
    windowed: false,
    minAttempts: false,
    filters: [],
    unfiltered: "the whole server",
  },
  source_lag: {
    label: "Source lag",
    threshold: "Messages waiting in the broker",
    percent: false,
    windowed: false,
    minAttempts: false,
    filters: ["source"],
    unfiltered: "each source separately",
  },
  source_rejected: {
    label: "Source rejections",
    threshold: "Rejected messages in the window",
    percent: false,
    windowed: true,
    minAttempts: false,
    filters: ["source"],
    unfiltered: "each source separately",
  },
  node_gone: {
    label: "Node gone",
    threshold: "Seconds since the node's last heartbeat",
    percent: false,
    windowed: false,
    minAttempts: false,
    filters: [],
    unfiltered: "each node separately",
  },
};

/** `AlertRuleOut`. */
export interface AlertRuleOut {
  id: string;
  name: string;
  kind: RuleKind;
  threshold: number;
  window: string;
  app: string | null;
  endpoint: string | null;
  handler: string | null;
  source: string | null;
  minAttempts: number;
  disabled: boolean;
  origin: "config" | "api";
  firing: number;
  createdAt: string;
  updatedAt: string;
}

/** `AlertOut`. */
export interface AlertOut {
  id: string;
  ruleId: string;
  ruleName: string;
  kind: RuleKind;
  subject: string;
  status: "firing" | "resolved";
  value: number;
  threshold: number;
  summary: string;
  firedAt: string;
  resolvedAt: string | null;
}

/** The rule form's fields, as typed. */
export interface RuleForm {
  name: string;
  kind: RuleKind;
  threshold: string;
  window: string;
  app: string;
  endpoint: string;
  handler: string;
  source: string;
  minAttempts: string;
  disabled: boolean;
}

/** The API's default window and minimum number of attempts. */
export const DEFAULT_WINDOW = "5m";
export const DEFAULT_MIN_ATTEMPTS = 10;

/** An empty form, or one holding `rule` to change it. */
export function ruleForm(rule: AlertRuleOut | null): RuleForm {
  return {
    name: rule?.name ?? "",
    kind: rule?.kind ?? "failure_rate",
    threshold: rule ? String(rule.threshold) : "",
    window: rule?.window ?? DEFAULT_WINDOW,
    app: rule?.app ?? "",
    endpoint: rule?.endpoint ?? "",
    handler: rule?.handler ?? "",
    source: rule?.source ?? "",
    minAttempts: String(rule?.minAttempts ?? DEFAULT_MIN_ATTEMPTS),
    disabled: rule?.disabled ?? false,
  };
}

const UNIT_MS: Record<string, number> = {};
for (const [ms, names] of [
  [1e-6, "nanos nsec ns"],
  [1e-3, "usec us µs"],
  [1, "millis msec ms"],
  [1000, "seconds second secs sec s"],
  [60_000, "minutes minute min mins m"],
  [3_600_000, "hours hour hr hrs h"],
  [86_400_000, "days day d"],
  [604_800_000, "weeks week wk wks w"],
  [2_630_016_000, "months month M"],
  [31_557_600_000, "years year yr yrs y"],
] as const) {
  for (const name of names.split(" ")) UNIT_MS[name] = ms;
}

/** A duration as the API reads one (`5m`, `1h 30m`, `90s`, `1.5h`: numbers each with a unit),
 * in milliseconds; null when it is not one. */
export function parseDuration(text: string): number | null {
  const t = text.trim();
  if (!t) return null;
  const part = /(\d+(?:\.\d+)?)\s*([a-zA-Zµ]+)\s*/y;
  let ms = 0;
  let at = 0;
  while (at < t.length) {
    part.lastIndex = at;
    const m = part.exec(t);
    const unit = m ? UNIT_MS[m[2] as string] : undefined;
    if (!m || unit === undefined) return null;
    ms += Number(m[1]) * unit;
    at = part.lastIndex;
  }
  return ms;
}

/** The longest window the API accepts (it keeps minute counts a day). */
export const MAX_WINDOW_MS = 86_400_000;

/** Why `window` is not one the API takes (whole minutes, 1m to 24h), or null when it is. */
export function windowProblem(window: string): string | null {
  const ms = parseDuration(window);
  if (ms === null || ms === 0 || ms % 60_000 !== 0) {
    return `window ${JSON.stringify(window)} must be a whole number of minutes, like "5m" or "1h"`;
  }
  if (ms > MAX_WINDOW_MS) return `window ${JSON.stringify(window)} must be at most 24h`;
  return null;
}

/** The body to send for `form`, or the message for each field that is wrong (keyed as the
 * API names them). Fields the kind does not read are left out. */
export function ruleBody(form: RuleForm): { body: Record<string, unknown> } | { errors: Record<string, string> } {
  const info = KINDS[form.kind];
  const errors: Record<string, string> = {};
  const name = form.name.trim();
  if (!name || [...name].length > 100) errors.name = "name must have 1 to 100 characters";

  const threshold = Number(form.threshold.trim());
  if (!form.threshold.trim() || !Number.isFinite(threshold) || threshold < 0) {
    errors.threshold = "threshold must be a number, zero or more";
  } else if (info.percent && threshold > 100) {
    errors.threshold = `threshold of ${form.kind} is a percentage: 0 to 100`;
  }

  const body: Record<string, unknown> = { name, kind: form.kind, threshold, disabled: form.disabled };
  if (info.windowed) {
    const window = form.window.trim() || DEFAULT_WINDOW;
    const problem = windowProblem(window);
    if (problem) errors.window = problem;
    body.window = window;
  }
  if (info.minAttempts) {
    const text = form.minAttempts.trim();
    const n = Number(text || DEFAULT_MIN_ATTEMPTS);
    if (!Number.isInteger(n) || n < 1) errors.minAttempts = "minAttempts must be a whole number, at least 1";
    body.minAttempts = n;
  }
  for (const f of info.filters) {
    const v = form[f].trim();
    if (v) body[f] = v;
  }
  if (body.handler && (body.app || body.endpoint)) {
    errors.handler = "handler cannot be combined with app or endpoint: a rule watches one";
  }
  return Object.keys(errors).length ? { errors } : { body };
}

/** `rule` as the API takes it back, with `disabled` flipped: what enabling or disabling sends. */
export function toggledBody(rule: AlertRuleOut): Record<string, unknown> {
  const body: Record<string, unknown> = {
    name: rule.name,
    kind: rule.kind,
    threshold: rule.threshold,
    window: rule.window,
    minAttempts: rule.minAttempts,
    disabled: !rule.disabled,
  };
  for (const f of ["app", "endpoint", "handler", "source"] as const) if (rule[f]) body[f] = rule[f];
  return body;
}

/** What a rule watches, in words: its filters, or what it watches without one. */
export function subjectText(rule: Pick<AlertRuleOut, SubjectFilter | "kind">): string {
  const set = KINDS[rule.kind].filters.filter((f) => rule[f]).map((f) => `${f} ${rule[f]}`);
  return set.length ? set.join(", ") : KINDS[rule.kind].unfiltered;
}

/** A rule's threshold with its unit. */
export function thresholdText(kind: RuleKind, threshold: number): string {
  switch (kind) {
    case "failure_rate":
      return `${threshold}%`;
    case "oldest_pending":
    case "node_gone":
      return `${threshold} s`;
    default:
      return String(threshold);
  }
}
