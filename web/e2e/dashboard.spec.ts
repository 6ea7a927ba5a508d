// The dashboard in a real browser, against the real binary and a real receiver (see
// crates/rustyhook/tests/dashboard.rs, which starts them). The tests run in order and share the
// server: the first makes the app and endpoint the later ones read.
import { expect, test } from "@playwright/test";
import { ADMIN, SHOTS, api, need, signIn, watchConsole } from "./support";

const RECEIVER = need("DASHBOARD_RECEIVER_URL");

test.describe.configure({ mode: "serial" });

let appId = "";
let endpointId = "";

test("sign in, then make an app and an endpoint through the forms", async ({ page }) => {
  const errors = watchConsole(page);
  await page.goto("/");
  await page.getByLabel("Token").fill("rh_tok_wrongwrongwrongwrongwrongwrongwrongwrong1");
  await page.getByRole("button", { name: "Sign in" }).click();
  await expect(page.getByRole("alert")).toContainText("not valid");
  await page.screenshot({ path: `${SHOTS}/sign-in.png` });

  await page.getByLabel("Token").fill(ADMIN);
  await page.getByRole("button", { name: "Sign in" }).click();
  await expect(page.getByRole("heading", { name: "Apps" })).toBeVisible();
  expect(page.url()).not.toContain(ADMIN);
  expect(await page.evaluate(() => sessionStorage.getItem("rustyhook.token"))).toBe(ADMIN);
  expect(await page.evaluate(() => localStorage.getItem("rustyhook.token"))).toBeNull();

  await page.getByText("New app").click();
  await page.getByLabel("Name").fill("Acme Corp");
  await page.getByLabel("Uid (optional)").fill("acme");
  await page.getByRole("button", { name: "Create app" }).click();
  await expect(page.getByRole("heading", { name: "Acme Corp" })).toBeVisible();
  appId = new URL(page.url()).pathname.split("/")[2] ?? "";
  expect(appId).toMatch(/^app_/);

  await page.getByRole("link", { name: "New endpoint" }).click();
  await page.getByLabel("URL").fill("ftp://not-a-webhook");
  await page.getByRole("button", { name: "Create endpoint" }).click();
  const urlError = page.locator('[data-field="url"] .field-error');
  await expect(urlError).toBeVisible();
  await expect(urlError).not.toBeEmpty();
  await page.screenshot({ path: `${SHOTS}/endpoint-field-error.png`, fullPage: true });

  await page.getByLabel("URL").fill(RECEIVER);
  await page.getByLabel("Description").fill("Billing receiver");
  await page.getByLabel(/Event types/).fill("invoice.paid");
  await page.getByRole("button", { name: "Create endpoint" }).click();
  await expect(page.getByRole("heading", { name: RECEIVER })).toBeVisible();
  endpointId = new URL(page.url()).pathname.split("/")[4] ?? "";
  expect(endpointId).toMatch(/^ep_/);
  await page.getByRole("button", { name: "Reveal secret" }).click();
  await expect(page.locator("code.secret")).toContainText("whsec_");
  expect(errors).toEqual([]);
});

test("messages posted through the API show with their deliveries and attempts", async ({ page }) => {
  const errors = watchConsole(page);
  await api("POST", "/event-type", {
    name: "invoice.paid",
    description: "An invoice was paid",
    schemas: { "1": { type: "object", examples: [{ invoice: "in_1", amount: 100 }] } },
  });
  const sent: { id: string }[] = [];
  for (const [invoice, amount] of [
    ["in_42", 1200],
    ["in_43", 99],
  ] as const) {
    sent.push(await api<{ id: string }>("POST", "/app/acme/msg", { eventType: "invoice.paid", payload: { invoice, amount } }));
  }
  // Wait until both were delivered to the receiver, as the API reports it.
  for (const m of sent) {
    await expect
      .poll(async () => (await api<{ data: { status: number }[] }>("GET", `/app/acme/attempt/msg/${m.id}`)).data.map((a) => a.status))
      .toContain(0);
  }

  await signIn(page, ADMIN);
  await page.getByRole("link", { name: "Messages" }).first().click();
  await page.getByLabel("App").fill("acme");
  await page.getByRole("button", { name: "Search" }).click();
  await expect(page.getByRole("link", { name: "invoice.paid" })).toHaveCount(2);
  await page.screenshot({ path: `${SHOTS}/messages.png` });

  await page.getByRole("link", { name: "invoice.paid" }).first().click();
  await expect(page.getByRole("heading", { name: "invoice.paid" })).toBeVisible();
  await expect(page.locator("details.json").first()).toContainText('"invoice": "in_43"');
  await expect(page.locator(".rows .status-delivered")).toHaveCount(1);
  const attempt = page.locator("details.attempt").first();
  await attempt.locator("> summary").click();
  await expect(attempt).toContainText("Response status");
  await expect(attempt.locator("dd").filter({ hasText: /^200$/ })).toBeVisible();
  await expect(attempt).toContainText("OK");
  await page.screenshot({ path: `${SHOTS}/message-attempt.png`, fullPage: true });

  await page.goto(`/apps/${appId}`);
  const row = page.locator("tbody tr").filter({ hasText: RECEIVER });
  await expect(row).toContainText("100%");
  await expect(row).toContainText("200 (success)");
  await page.screenshot({ path: `${SHOTS}/app-endpoints.png` });

  await page.goto("/event-types");
  await expect(page.getByText("An invoice was paid")).toBeVisible();
  expect(errors).toEqual([]);
});

test("run a handler with a payload and read its output", async ({ page }) => {
  const errors = watchConsole(page);
  await signIn(page, ADMIN);
  await page.getByRole("link", { name: "Handlers" }).click();
  await page.getByRole("link", { name: "greet" }).click();
  await page.getByText("Run with a payload").click();
  await page.getByLabel(/Payload/).fill("world");
  await page.getByRole("button", { name: "Run", exact: true }).click();
  await expect(page.getByText("Started run")).toBeVisible();
  const run = page.locator("details.run").first();
  await expect
    .poll(async () => {
      await page.getByRole("button", { name: "Refresh" }).click();
      return run.locator(".badge").first().textContent();
    })
    .toBe("succeeded");
  await run.locator("> summary").click();
  await expect(run.locator("pre.output").first()).toContainText("hello world");
  await expect(run).toContainText("exit 0");
  await page.screenshot({ path: `${SHOTS}/handler-run.png`, fullPage: true });
  expect(errors).toEqual([]);
});

test("an app-portal link opens its app only, with the token out of the address bar", async ({ page }) => {
  const errors = watchConsole(page);
  await api("POST", "/app", { name: "Other Co", uid: "other" });
  const portal = await api<{ url: string; token: string }>("POST", "/auth/app-portal-access/acme", {});
  const link = new URL(portal.url);
  await page.goto(`${link.pathname}${link.hash}`);
  await expect(page.getByRole("heading", { name: "Acme Corp" })).toBeVisible();
  expect(page.url()).not.toContain("token");
  expect(await page.evaluate(() => sessionStorage.getItem("rustyhook.token"))).toBe(portal.token);
  const nav = page.getByRole("navigation", { name: "main" });
  await expect(nav.getByRole("link", { name: "Apps" })).toHaveCount(0);
  await expect(nav.getByRole("link", { name: "Handlers" })).toHaveCount(0);
  await expect(page.getByRole("link", { name: RECEIVER })).toBeVisible();
  await page.screenshot({ path: `${SHOTS}/app-portal.png` });

  for (const elsewhere of ["/apps", "/handlers", "/apps/other"]) {
    await page.goto(elsewhere);
    await expect(page.getByRole("heading", { name: "Acme Corp" })).toBeVisible();
    expect(new URL(page.url()).pathname).toBe(`/apps/${appId}`);
  }
  await page.goto("/event-types");
  await expect(page.getByText("An invoice was paid")).toBeVisible();
  expect(errors).toEqual([]);
});

test("a read-only token sees no button that writes", async ({ page }) => {
  const errors = watchConsole(page);
  const made = await api<{ token: string }>("POST", "/token", { name: "viewer", role: "read-only" });
  await signIn(page, made.token);
  await expect(page.getByRole("heading", { name: "Apps" })).toBeVisible();
  await expect(page.getByText("New app")).toHaveCount(0);
  await page.getByRole("link", { name: "Acme Corp" }).click();
  await expect(page.getByRole("link", { name: RECEIVER })).toBeVisible();
  await expect(page.getByRole("link", { name: "New endpoint" })).toHaveCount(0);
  await page.getByRole("link", { name: RECEIVER }).click();
  await expect(page.getByRole("button", { name: "Reveal secret" })).toBeVisible();
  for (const name of ["Edit endpoint", "Rotate secret", "Delete endpoint", "Edit headers", "Recover", "Send example"]) {
    await expect(page.getByRole("button", { name })).toHaveCount(0);
  }
  const msgs = await api<{ data: { id: string }[] }>("GET", "/app/acme/msg");
  await page.goto(`/apps/${appId}/messages/${msgs.data[0]?.id}`);
  await expect(page.locator(".rows .status-delivered")).toHaveCount(1);
  await expect(page.getByRole("button", { name: "Resend" })).toHaveCount(0);
  await page.goto("/handlers/greet");
  await expect(page.getByRole("heading", { name: "greet" })).toBeVisible();
  await expect(page.getByText("Run with a payload")).toHaveCount(0);
  await expect(page.getByRole("button", { name: "Rerun" })).toHaveCount(0);
  expect(errors).toEqual([]);
});

test("a phone's width in the dark theme, and the theme toggle", async ({ browser }) => {
  const context = await browser.newContext({ viewport: { width: 390, height: 844 }, colorScheme: "dark" });
  const page = await context.newPage();
  const errors = watchConsole(page);
  await signIn(page, ADMIN);
  await page.goto(`/apps/${appId}/endpoints/${endpointId}`);
  await expect(page.getByRole("heading", { name: RECEIVER })).toBeVisible();
  const width = await page.evaluate(() => document.documentElement.scrollWidth);
  expect(width).toBeLessThanOrEqual(390);
  await page.screenshot({ path: `${SHOTS}/phone-dark.png`, fullPage: true });
  const toggle = page.getByRole("button", { name: /theme/ });
  await toggle.click();
  expect(await page.evaluate(() => document.documentElement.dataset.theme)).toBe("light");
  await toggle.click();
  expect(await page.evaluate(() => document.documentElement.dataset.theme)).toBe("dark");
  await context.close();
  expect(errors).toEqual([]);
});
