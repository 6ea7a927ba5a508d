// The API client: every call carries the session's token; errors keep the API's code and, for a
// 422, which field each message is about, so a form can show it on that field.

/** One page of a list, as every list route answers. */
export interface Page<T> {
  data: T[];
  iterator: string | null;
  prevIterator: string | null;
  done: boolean;
}

/** What `GET /api/v1/auth/me` says about the signed-in token. */
export interface Me {
  role: "admin" | "read-only" | "app";
  appId: string | null;
  readOnly: boolean;
  tokenId: string | null;
  name: string | null;
  expiresAt: string | null;
}

/** Whether `me` may change anything. */
export function canWrite(me: Me): boolean {
  return me.role !== "read-only" && !me.readOnly;
}

/** An answer other than 2xx. */
export class ApiError extends Error {
  readonly status: number;
  readonly code: string;
  /** For a 422: the message for each field, keyed by the field's name in the body. */
  readonly fields: Record<string, string>;

  constructor(status: number, code: string, message: string, fields: Record<string, string>) {
    super(message);
    this.status = status;
    this.code = code;
    this.fields = fields;
  }
}

interface ValidationItem {
  loc?: unknown[];
  msg?: string;
}

/** Reads an error body: `{code, detail}` or a 422's `{detail: [{loc, msg}]}`. */
export function parseError(status: number, body: unknown): ApiError {
  const obj = (body ?? {}) as { code?: unknown; detail?: unknown };
  const code = typeof obj.code === "string" ? obj.code : `http_${status}`;
  if (Array.isArray(obj.detail)) {
    const fields: Record<string, string> = {};
    const lines: string[] = [];
    for (const item of obj.detail as ValidationItem[]) {
      const loc = (item.loc ?? []).map(String);
      const where = loc[0] === "body" || loc[0] === "query" ? loc.slice(1) : loc;
      const field = where.join(".") || "body";
      const msg = item.msg ?? "invalid";
      fields[field] ??= msg;
      lines.push(`${field}: ${msg}`);
    }
    return new ApiError(status, code === `http_${status}` ? "validation" : code, lines.join("; "), fields);
  }
  const detail = typeof obj.detail === "string" ? obj.detail : `the server answered ${status}`;
  return new ApiError(status, code, detail, {});
}

/** Builds a query string, leaving out empty values. */
export function query(params: Record<string, string | number | boolean | null | undefined>): string {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) {
    if (v === null || v === undefined || v === "") continue;
    q.set(k, String(v));
  }
  const s = q.toString();
  return s ? `?${s}` : "";
}

/** A body as JSON, `{detail: text}` when it is not JSON, null when empty. */
async function readBody(resp: Response): Promise<unknown> {
  const text = await resp.text();
  if (!text) return null;
  try {
    return JSON.parse(text);
  } catch {
    return { detail: text };
  }
}

/** Calls the API with `token`. */
export class Api {
  private readonly token: string;
  private readonly onUnauthorized: () => void;

  constructor(token: string, onUnauthorized: () => void) {
    this.token = token;
    this.onUnauthorized = onUnauthorized;
  }

  async call<T>(method: string, path: string, body?: unknown): Promise<T> {
    const headers: Record<string, string> = { Authorization: `Bearer ${this.token}` };
    if (body !== undefined) headers["Content-Type"] = "application/json";
    const resp = await fetch(`/api/v1${path}`, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const parsed = await readBody(resp);
    if (!resp.ok) {
      if (resp.status === 401) this.onUnauthorized();
      throw parseError(resp.status, parsed);
    }
    return parsed as T;
  }

  get<T>(path: string): Promise<T> {
    return this.call<T>("GET", path);
  }

  /** Opens a GET whose body is read as it streams (the live feed), with extra `headers`; a
   * non-2xx answer is thrown as `call` throws it. */
  async open(path: string, headers: Record<string, string>, signal: AbortSignal): Promise<Response> {
    const resp = await fetch(`/api/v1${path}`, {
      headers: { ...headers, Authorization: `Bearer ${this.token}` },
      signal,
    });
    if (!resp.ok) {
      if (resp.status === 401) this.onUnauthorized();
      throw parseError(resp.status, await readBody(resp));
    }
    return resp;
  }
}
