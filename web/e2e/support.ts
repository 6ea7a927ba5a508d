// What the browser specs share: the addresses crates/rustyhook/tests/dashboard.rs passes in, a
// direct API client (what an application would do), console watching, and signing in.
import { expect, type Page } from "@playwright/test";
import { mkdirSync } from "node:fs";

export function need(name: string): string {
  const v = process.env[name];
  if (!v) throw new Error(`${name} is not set: run these through crates/rustyhook/tests/dashboard.rs`);
  return v;
}

export const BASE = need("DASHBOARD_URL");
export const ADMIN = need("DASHBOARD_ADMIN_TOKEN");
export const SHOTS = "e2e/screenshots";
mkdirSync(SHOTS, { recursive: true });

/** Calls the API directly. */
export async function api<T = unknown>(method: string, path: string, body?: unknown, token = ADMIN): Promise<T> {
  const resp = await fetch(`${BASE}/api/v1${path}`, {
    method,
    headers: { Authorization: `Bearer ${token}`, "Content-Type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await resp.text();
  if (!resp.ok) throw new Error(`${method} ${path}: ${resp.status} ${text}`);
  return (text ? JSON.parse(text) : null) as T;
}

/** Collects console errors, such as a script or style the CSP refused, for a test to fail on. */
export function watchConsole(page: Page): string[] {
  const errors: string[] = [];
  page.on("console", (m) => {
    // A 4xx a test causes on purpose (a wrong token, a bad value in a form) is logged too.
    const expected = /^Failed to load resource: the server responded with a status of 4(01|22)/;
    if (m.type() === "error" && !expected.test(m.text())) errors.push(m.text());
  });
  page.on("pageerror", (e) => errors.push(e.message));
  return errors;
}

export async function signIn(page: Page, token: string) {
  await page.goto("/");
  await page.getByLabel("Token").fill(token);
  await page.getByRole("button", { name: "Sign in" }).click();
  await expect(page.getByRole("button", { name: "Sign out" })).toBeVisible();
}
