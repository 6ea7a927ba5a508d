// Fail → fix → recover in a real browser, against the real binary (see
// crates/rustyhook/tests/dashboard.rs, which starts it with a short retry schedule, a receiver
// that answers 500 at DASHBOARD_FAILING_URL and one that answers 200 at DASHBOARD_RECEIVER_URL,
// and afterwards checks that the fixed receiver got each recovered message exactly once).
import { expect, test, type Page } from "@playwright/test";
import { mkdirSync } from "node:fs";

const BASE = need("DASHBOARD_URL");
const ADMIN = need("DASHBOARD_ADMIN_TOKEN");
const RECEIVER = need("DASHBOARD_RECEIVER_URL");
const FAILING = need("DASHBOARD_FAILING_URL");
const SHOTS = "e2e/screenshots";
mkdirSync(SHOTS, { recursive: true });
/** How many messages fail, die and are recovered (dashboard.rs counts them at the receiver). */
const MESSAGES = 3;

function need(name: string): string {
  const v = process.env[name];
  if (!v) throw new Error(`${name} is not set: run these through crates/rustyhook/tests/dashboard.rs`);
  return v;
}

async function api<T = unknown>(method: string, path: string, body?: unknown): Promise<T> {
  const resp = await fetch(`${BASE}/api/v1${path}`, {
    method,
    headers: { Authorization: `Bearer ${ADMIN}`, "Content-Type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await resp.text();
  if (!resp.ok) throw new Error(`${method} ${path}: ${resp.status} ${text}`);
  return (text ? JSON.parse(text) : null) as T;
}

function watchConsole(page: Page): string[] {
  const errors: string[] = [];
  page.on("console", (m) => {
    if (m.type() === "error") errors.push(m.text());
  });
  page.on("pageerror", (e) => errors.push(e.message));
  return errors;
}

test("an endpoint fails until its messages are dead, is fixed, and the dead letters are recovered", async ({
  page,
}) => {
  const errors = watchConsole(page);
  const app = await api<{ id: string }>("POST", "/app", { name: "Recover Co", uid: "recover" });
  const ep = await api<{ id: string }>("POST", "/app/recover/endpoint", { url: FAILING, description: "Orders" });
  const sent: string[] = [];
  for (let i = 0; i < MESSAGES; i++) {
    const m = await api<{ id: string }>("POST", "/app/recover/msg", {
      eventType: "order.made",
      payload: { recover: i, order: `ord_${i}` },
    });
    sent.push(m.id);
  }
  // The retry schedule is short: every message is dead within seconds.
  await expect
    .poll(async () => (await api<{ data: unknown[] }>("GET", "/dead-letter?app=recover")).data.length, {
      timeout: 30_000,
    })
    .toBe(MESSAGES);

  await page.goto("/");
  await page.getByLabel("Token").fill(ADMIN);
  await page.getByRole("button", { name: "Sign in" }).click();
  await expect(page.getByRole("button", { name: "Sign out" })).toBeVisible();

  // The endpoint's health says so.
  await page.goto(`/apps/${app.id}`);
  const row = page.locator("tbody tr").filter({ hasText: FAILING });
  await expect(row).toContainText("0%");
  await expect(row).toContainText(`0 · 0 · ${MESSAGES}`);
  await expect(row).toContainText("500 (fail)");
  await page.screenshot({ path: `${SHOTS}/recover-failing-endpoint.png` });

  // The overview counts them among the past hour's dead letters (other tests' may be there too).
  await page.getByRole("link", { name: "Overview" }).click();
  const dead = page.locator('[data-figure="dead"] strong');
  await expect
    .poll(async () => Number(((await dead.textContent()) ?? "").replace(/\D/g, "") || 0), { timeout: 15_000 })
    .toBeGreaterThanOrEqual(MESSAGES);

  // The dead letters page lists them.
  await page.getByRole("link", { name: "Dead letters" }).click();
  await page.getByLabel("App").fill("recover");
  await page.getByRole("button", { name: "Filter" }).click();
  const rows = page.locator("tr[data-dead]");
  await expect(rows).toHaveCount(MESSAGES);
  await expect(rows.first()).toContainText("order.made");
  await expect(rows.first()).toContainText("E_HTTP_STATUS");
  await expect(rows.first()).toContainText("500");
  await page.screenshot({ path: `${SHOTS}/dashboard-dead-letters.png`, fullPage: true });

  // Fix: point the endpoint at a receiver that answers 200, through the form.
  await page.goto(`/apps/${app.id}/endpoints/${ep.id}`);
  await expect(page.locator("dl.facts").filter({ hasText: "Success rate" })).toContainText(String(MESSAGES));
  await page.getByRole("button", { name: "Edit endpoint" }).click();
  await page.getByLabel("URL").fill(`${RECEIVER}/recovered`);
  await page.getByRole("button", { name: "Save endpoint" }).click();
  await expect(page.getByRole("heading", { name: `${RECEIVER}/recovered` })).toBeVisible();

  // Recover every dead letter of the app from the dead letters page.
  await page.goto("/dead-letters?app=recover");
  await expect(rows).toHaveCount(MESSAGES);
  await page.getByRole("button", { name: "Select all matching" }).click();
  await expect(page.getByRole("group", { name: "bulk recover" })).toContainText("all matching");
  await page.getByRole("button", { name: "Recover selected" }).click();
  await expect(page.getByRole("status")).toContainText(`Recovered ${MESSAGES} dead letters`);
  await expect(page.getByText("No dead letters match.")).toBeVisible();
  await page.screenshot({ path: `${SHOTS}/recover-done.png` });

  // Delivered: each message's page shows a successful attempt, with the headers it sent.
  for (const id of sent) {
    await expect
      .poll(async () => (await api<{ data: { status: number }[] }>("GET", `/app/recover/attempt/msg/${id}`)).data[0]?.status)
      .toBe(0);
  }
  await page.goto(`/apps/${app.id}/messages/${sent[0]}`);
  await expect(page.locator(".rows .status-delivered")).toHaveCount(1);
  const attempt = page.locator("details.attempt").first();
  await attempt.locator("> summary").click();
  await expect(attempt.locator("dd").filter({ hasText: /^200$/ })).toBeVisible();
  const headers = attempt.locator("details.request-headers");
  await expect(headers).toContainText("webhook-id");
  await expect(headers).toContainText(sent[0]!);
  await expect(headers).toContainText("webhook-signature");
  await expect(headers).toContainText("rustyhook/");
  await page.screenshot({ path: `${SHOTS}/attempt-request-headers.png`, fullPage: true });

  // The endpoint's health now counts them delivered.
  await page.goto(`/apps/${app.id}`);
  await expect(page.locator("tbody tr").filter({ hasText: `${RECEIVER}/recovered` })).toContainText(
    `${MESSAGES} · 0 · 0`,
  );
  expect(errors).toEqual([]);
});

test("the app portal shows the app's name and logo at the top", async ({ page }) => {
  const errors = watchConsole(page);
  // A logo from this server (the page's own favicon), so the test needs no network.
  const logo = `${BASE.replace(/^http:/, "https:")}/favicon.svg`;
  await api("PATCH", "/app/recover", { logoUrl: logo });
  const portal = await api<{ url: string }>("POST", "/auth/app-portal-access/recover", {});
  const link = new URL(portal.url);
  // The https logo cannot load from this plain-HTTP test server, and the page drops an image
  // that failed: that the browser asked for it is what shows the page put it there.
  const asked = page.waitForRequest((r) => r.url() === logo);
  await page.goto(`${link.pathname}${link.hash}`);
  const brand = page.locator(".topbar .portal-brand");
  await expect(brand).toContainText("Recover Co");
  await asked;
  await page.screenshot({ path: `${SHOTS}/app-portal-logo.png` });
  // The name stands alone once the logo failed.
  expect(errors.filter((e) => !e.includes("favicon.svg") && !e.includes("ERR_"))).toEqual([]);
});
