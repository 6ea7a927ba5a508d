// The Alerts and Event types pages in a real browser, against the real binary (which
// crates/rustyhook/tests/dashboard.rs starts with a short alert interval), a receiver that
// answers 200 (DASHBOARD_RECEIVER_URL) and one that answers 500 (DASHBOARD_FAILING_URL). An
// operational endpoint and a rule are made through the forms, the rule fires when an endpoint
// fails and resolves when it recovers; the harness then checks that alert.fired and
// alert.resolved reached the operational endpoint.
import { expect, test, type Locator, type Page } from "@playwright/test";
import { ADMIN, SHOTS, api, need, signIn, watchConsole } from "./support";

const RECEIVER = need("DASHBOARD_RECEIVER_URL");
const FAILING = need("DASHBOARD_FAILING_URL");
const OPS = new URL("/ops", RECEIVER).toString();
const RULE = "Alerting Co failing";

test.describe.configure({ mode: "serial" });
test.use({ actionTimeout: 15_000 });

let endpointId = "";

/** Clicks the page's Refresh until `locator` shows, as an operator would. */
async function refreshUntilVisible(page: Page, locator: Locator) {
  await expect
    .poll(
      async () => {
        await page.getByRole("button", { name: "Refresh", exact: true }).click();
        return locator.isVisible();
      },
      { timeout: 90_000, intervals: [1000] },
    )
    .toBe(true);
}

async function send(count: number) {
  for (let i = 0; i < count; i++) {
    await api("POST", "/app/alerting/msg", { eventType: "order.placed", payload: { order: i } });
  }
}

test("an operational endpoint and a rule made through the forms", async ({ page }) => {
  const errors = watchConsole(page);
  await api("POST", "/app", { name: "Alerting Co", uid: "alerting" });
  endpointId = (await api<{ id: string }>("POST", "/app/alerting/endpoint", { url: FAILING })).id;

  await signIn(page, ADMIN);
  await page.getByRole("navigation", { name: "main" }).getByRole("link", { name: "Alerts" }).click();
  await expect(page.getByRole("heading", { name: "Alerts", level: 1 })).toBeVisible();
  await expect(page.getByText("Nothing is firing.")).toBeVisible();

  // The operational endpoint, told only of alerts.
  await page.getByRole("button", { name: "New operational endpoint" }).click();
  const opForm = page.getByRole("form", { name: "new operational endpoint" });
  await opForm.getByLabel("URL").fill(OPS);
  await opForm.getByLabel("Description").fill("On-call");
  await opForm.getByLabel("alert.fired", { exact: true }).check();
  await opForm.getByLabel("alert.resolved", { exact: true }).check();
  await expect(opForm.getByLabel(/^Format/)).toHaveValue("standard");
  await opForm.getByRole("button", { name: "Create endpoint" }).click();
  const opCard = page.locator(`li[data-endpoint="${OPS}"]`);
  await expect(opCard).toContainText("alert.fired, alert.resolved");
  await opCard.getByRole("button", { name: "Reveal secret" }).click();
  await expect(opCard.locator("code.secret")).toContainText("whsec_");

  // A rule: a bad window is pointed out on its field before anything is sent; an endpoint the
  // API cannot find gets the API's 422 on its field; then the rule is made.
  await page.getByRole("button", { name: "New rule" }).click();
  const form = page.getByRole("form", { name: "new rule" });
  await form.getByLabel(/^Name/).fill(RULE);
  await expect(form.getByLabel(/^Kind/)).toHaveValue("failure_rate");
  await form.getByLabel(/Percent of attempts failed/).fill("50");
  await form.getByLabel(/^Window/).fill("5 parsecs");
  await form.getByLabel(/^Minimum attempts/).fill("2");
  await form.getByLabel(/Endpoint/).fill("billing");
  await form.getByRole("button", { name: "Create rule" }).click();
  await expect(form.locator('[data-field="window"] .field-error')).toContainText("whole number of minutes");
  await form.getByLabel(/^Window/).fill("1m");
  await form.getByRole("button", { name: "Create rule" }).click();
  await expect(form.locator('[data-field="endpoint"] .field-error')).toContainText("needs its app");
  await expect(form.locator('[data-field="window"] .field-error')).toHaveCount(0);
  await page.screenshot({ path: `${SHOTS}/alerts-rule-field-error.png`, fullPage: true });
  await form.getByLabel(/Endpoint/).fill(endpointId);
  await form.getByRole("button", { name: "Create rule" }).click();
  await expect(form).toHaveCount(0);
  const row = page.locator(`tr[data-rule="${RULE}"]`);
  await expect(row).toContainText("Failure rate");
  await expect(row).toContainText("50%");
  await expect(row).toContainText(`endpoint ${endpointId}`);
  await expect(row).toContainText("api");
  await opCard.getByRole("button", { name: "Hide" }).click();
  await page.screenshot({ path: `${SHOTS}/alerts-rules.png`, fullPage: true });
  expect(errors).toEqual([]);
});

test("the rule fires when its endpoint fails and resolves when it recovers", async ({ page }) => {
  test.setTimeout(240_000);
  const errors = watchConsole(page);
  await signIn(page, ADMIN);
  await page.goto("/alerts");
  const row = page.locator(`tr[data-rule="${RULE}"]`);
  const opCard = page.locator(`li[data-endpoint="${OPS}"]`);

  // The endpoint fails: the rule fires.
  await send(2);
  const firing = page.getByRole("list", { name: "firing alerts" }).locator("li").filter({ hasText: RULE });
  await refreshUntilVisible(page, firing);
  await expect(firing).toContainText(endpointId);
  await expect(row).toContainText("1 firing");
  await expect(opCard).toBeVisible();
  await page.screenshot({ path: `${SHOTS}/alerts.png`, fullPage: true });

  // It recovers: the rule resolves, and the alert is in the history.
  await api("PATCH", `/app/alerting/endpoint/${endpointId}`, { url: RECEIVER });
  await send(30);
  await refreshUntilVisible(page, page.getByText("Nothing is firing."));
  await page.getByRole("combobox", { name: /^Status/ }).selectOption("resolved");
  await page.getByRole("combobox", { name: /^Rule/ }).selectOption({ label: RULE });
  expect(new URL(page.url()).searchParams.get("status")).toBe("resolved");
  const past = page.getByRole("table", { name: "alert history" }).locator("tbody tr");
  await expect(past).toHaveCount(1);
  await expect(past).toContainText("resolved");
  await expect(past).toContainText(endpointId);
  expect(errors).toEqual([]);
});

test("a rule is changed, disabled and enabled; a config rule is left alone; a rule is deleted", async ({ page }) => {
  const errors = watchConsole(page);
  await api("POST", "/alert/rule", { name: "throwaway", kind: "dead_letters", threshold: 5 });
  await signIn(page, ADMIN);
  await page.goto("/alerts");
  const row = page.locator(`tr[data-rule="${RULE}"]`);
  await row.getByRole("button", { name: "Edit" }).click();
  const edit = page.getByRole("form", { name: "edit rule" });
  await expect(edit.getByLabel(/^Window/)).toHaveValue("1m");
  await edit.getByLabel(/Percent of attempts failed/).fill("80");
  await edit.getByRole("button", { name: "Save rule" }).click();
  await expect(row).toContainText("80%");
  await row.getByRole("button", { name: "Disable" }).click();
  await expect(row).toContainText("disabled");
  await row.getByRole("button", { name: "Enable" }).click();
  await expect(row.getByRole("button", { name: "Disable" })).toBeVisible();
  await expect(row).not.toContainText("disabled");

  const config = page.locator('tr[data-rule="nodes"]');
  await expect(config).toContainText("Node gone");
  await expect(config).toContainText("config");
  await expect(config.getByRole("button")).toHaveCount(0);

  const gone = page.locator('tr[data-rule="throwaway"]');
  await expect(gone).toContainText("the whole server");
  page.once("dialog", (d) => void d.accept());
  await gone.getByRole("button", { name: "Delete" }).click();
  await expect(gone).toHaveCount(0);
  expect(errors).toEqual([]);
});

test("a read-only token sees alerts and no button that writes; an app token never sees them", async ({ page }) => {
  const errors = watchConsole(page);
  const viewer = await api<{ token: string }>("POST", "/token", { name: "alerts-viewer", role: "read-only" });
  await signIn(page, viewer.token);
  await page.getByRole("navigation", { name: "main" }).getByRole("link", { name: "Alerts" }).click();
  await expect(page.locator(`tr[data-rule="${RULE}"]`)).toContainText("80%");
  await expect(page.getByRole("table", { name: "alert history" })).toContainText(RULE);
  await expect(page.getByText("Only an admin token sees")).toBeVisible();
  for (const name of ["New rule", "Edit", "Disable", "Enable", "Delete", "New operational endpoint"]) {
    await expect(page.getByRole("button", { name, exact: true })).toHaveCount(0);
  }

  await page.getByRole("button", { name: "Sign out" }).click();
  const portal = await api<{ token: string }>("POST", "/auth/app-portal-access/alerting", {});
  await signIn(page, portal.token);
  await expect(page.getByRole("navigation", { name: "main" }).getByRole("link", { name: "Alerts" })).toHaveCount(0);
  await page.goto("/alerts");
  await expect(page.getByRole("heading", { name: "Alerting Co" })).toBeVisible();
  expect(new URL(page.url()).pathname).toMatch(/^\/apps\/app_/);
  expect(errors).toEqual([]);
});

test("an event type's schema and example, pretty and collapsible", async ({ page }) => {
  const errors = watchConsole(page);
  await api("POST", "/event-type", {
    name: "order.shipped",
    description: "An order was shipped",
    schemas: {
      "1": { type: "object", properties: { order: { type: "integer" } } },
      "2": {
        type: "object",
        properties: { order: { type: "integer" }, total: { type: "number" } },
        examples: [{ order: 7, total: 19.5 }],
      },
    },
  });
  await signIn(page, ADMIN);
  await page.goto("/event-types");
  const card = page.locator("li.card").filter({ hasText: "An order was shipped" });
  const example = card.locator("details.json").filter({ hasText: "Example 1 (v2)" });
  await expect(example).toHaveAttribute("open", "");
  await expect(example.locator("pre")).toContainText('"total": 19.5');
  const schema = card.locator("details.json").filter({ hasText: "Schema v2" });
  await expect(schema.locator("pre")).toBeHidden();
  await schema.locator("summary").click();
  await expect(schema.locator("pre")).toContainText('"total": {\n');
  await expect(card).toContainText("Schema v1 lists no example.");
  await page.screenshot({ path: `${SHOTS}/event-types.png`, fullPage: true });
  expect(errors).toEqual([]);
});

test("the alerts page at a phone's width, dark and light", async ({ browser }) => {
  for (const colorScheme of ["dark", "light"] as const) {
    const context = await browser.newContext({ viewport: { width: 390, height: 844 }, colorScheme });
    const page = await context.newPage();
    const errors = watchConsole(page);
    await signIn(page, ADMIN);
    await page.goto("/alerts");
    await expect(page.locator(`tr[data-rule="${RULE}"]`)).toBeVisible();
    await expect(page.locator(`li[data-endpoint="${OPS}"]`)).toBeVisible();
    expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(390);
    await page.screenshot({ path: `${SHOTS}/alerts-phone-${colorScheme}.png`, fullPage: true });
    await context.close();
    expect(errors).toEqual([]);
  }
});
