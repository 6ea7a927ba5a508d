// How figures and times read on the pages.

/** Svix's message/attempt statuses. */
export const STATUS_TEXT: Record<number, string> = {
  0: "delivered",
  1: "pending",
  2: "failed",
  3: "sending",
};

/** A status number as words. */
export function statusText(status: number): string {
  return STATUS_TEXT[status] ?? `status ${status}`;
}

/** Milliseconds as `340 ms`, `2.4 s` or `3 min`. */
export function duration(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)} s`;
  return `${Math.round(ms / 60_000)} min`;
}

/** An RFC 3339 time in the reader's locale. */
export function when(rfc3339: string | null | undefined): string {
  if (!rfc3339) return "—";
  const d = new Date(rfc3339);
  return Number.isNaN(d.getTime()) ? rfc3339 : d.toLocaleString();
}

/** Counts from an endpoint's stats route. */
export interface EndpointStats {
  success: number;
  pending: number;
  sending: number;
  fail: number;
  canceled: number;
}

/** The share of finished deliveries that succeeded, or null when none finished. */
export function successRate(s: EndpointStats): number | null {
  const finished = s.success + s.fail;
  return finished === 0 ? null : s.success / finished;
}

/** A rate as `98.5%`, or `—`. */
export function percent(rate: number | null): string {
  if (rate === null) return "—";
  const p = rate * 100;
  return `${p === 100 || p === 0 ? p.toFixed(0) : p.toFixed(1)}%`;
}

/** JSON text pretty-printed, or the text itself when it is not JSON. */
export function pretty(text: string): string {
  try {
    return JSON.stringify(JSON.parse(text), null, 2);
  } catch {
    return text;
  }
}

/** A comma-separated list as items, trimmed, empty ones dropped. */
export function splitList(text: string): string[] {
  return text
    .split(",")
    .map((s) => s.trim())
    .filter(Boolean);
}

/** A `datetime-local` input's value as RFC 3339 (UTC), or undefined when empty. */
export function fromLocalInput(value: string): string | undefined {
  if (!value) return undefined;
  const d = new Date(value);
  return Number.isNaN(d.getTime()) ? undefined : d.toISOString();
}

/** `Name: value` lines as a header map; a line without a colon is an error naming it. */
export function parseHeaderLines(text: string): { headers: Record<string, string>; error: string | null } {
  const headers: Record<string, string> = {};
  const lines = text.split("\n").map((l) => l.trim());
  for (const [i, line] of lines.entries()) {
    if (!line) continue;
    const colon = line.indexOf(":");
    if (colon <= 0) return { headers, error: `line ${i + 1} is not "Name: value"` };
    headers[line.slice(0, colon).trim()] = line.slice(colon + 1).trim();
  }
  return { headers, error: null };
}

/** A header map as `Name: value` lines. */
export function headerLines(headers: Record<string, string>): string {
  return Object.entries(headers)
    .map(([k, v]) => `${k}: ${v}`)
    .join("\n");
}

/** A number input's text: a number when it is one, the text itself (for the API to refuse,
 * naming the field) when not, undefined when empty. */
export function numberOrText(text: string): number | string | undefined {
  const t = text.trim();
  if (!t) return undefined;
  const n = Number(t);
  return Number.isFinite(n) ? n : t;
}
