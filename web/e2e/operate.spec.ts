// Operating rustyhook from the dashboard, in a real browser against the real binary (see
// crates/rustyhook/tests/dashboard.rs): messages posted through the API arrive on the live page
// and in the overview's figures, which equal what the receiver counted; an endpoint paused from
// its page holds its messages until resumed; a broker source shows what it stored and rejected.
// These run after dashboard.spec.ts, on the same server, with an app of their own.
import { expect, test, type Page } from "@playwright/test";
import { ADMIN, api, need, SHOTS, signIn, watchConsole } from "./support";

const OPS_RECEIVER = need("DASHBOARD_OPS_RECEIVER_URL");
const TALLY = need("DASHBOARD_TALLY_URL");
const SOURCE = need("DASHBOARD_SOURCE");

/** What the receiver of this file's endpoint got: requests, and distinct webhook-ids. */
async function tally(): Promise<{ count: number; distinct: number }> {
  return (await fetch(TALLY)).json() as Promise<{ count: number; distinct: number }>;
}

async function post(n: number, from: number): Promise<string[]> {
  const ids: string[] = [];
  for (let i = from; i < from + n; i++) {
    ids.push((await api<{ id: string }>("POST", "/app/ops/msg", { eventType: "order.shipped", payload: { i } })).id);
  }
  return ids;
}

function nav(page: Page, name: string) {
  return page.getByRole("navigation", { name: "main" }).getByRole("link", { name, exact: true });
}

test.describe.configure({ mode: "serial" });

let appId = "";
let endpointId = "";

test("messages posted through the API arrive on the live page, screen paused or not", async ({ page }) => {
  const errors = watchConsole(page);
  appId = (await api<{ id: string }>("POST", "/app", { name: "Ops Co", uid: "ops" })).id;
  endpointId = (await api<{ id: string }>("POST", "/app/ops/endpoint", { url: OPS_RECEIVER, description: "Ops receiver" })).id;

  await signIn(page, ADMIN);
  await expect(page.getByRole("heading", { name: "Overview" })).toBeVisible();
  await nav(page, "Live").click();
  await page.getByLabel("App").fill("ops");
  await page.getByRole("button", { name: "Apply" }).click();
  expect(new URL(page.url()).search).toBe("?app=ops");
  await expect(page.locator("[data-feed=live]")).toBeVisible();

  await post(3, 0);
  const delivered = page.locator('.feed li[data-kind="attempt"][data-outcome="OK"]');
  await expect(delivered).toHaveCount(3);
  await page.screenshot({ path: `${SHOTS}/live.png` });

  // Paused, the screen keeps receiving and says how many wait; resumed, it shows them.
  await page.getByRole("button", { name: "Pause screen" }).click();
  await post(2, 3);
  await expect(page.locator(".waiting")).toHaveText("2 waiting");
  await expect(delivered).toHaveCount(3);
  await page.screenshot({ path: `${SHOTS}/live-paused.png` });
  await page.getByRole("button", { name: "Resume (show 2)" }).click();
  await expect(delivered).toHaveCount(5);

  // A filter that does not hold (failures only) shows nothing of a delivered message.
  await page.goto("/live?app=ops&outcome=failure");
  await expect(page.locator("[data-feed=live]")).toBeVisible();
  const [quiet] = await post(1, 5);
  await expect
    .poll(async () => (await api<{ data: { status: number }[] }>("GET", `/app/ops/attempt/msg/${quiet}`)).data.length)
    .toBe(1);
  await expect(page.locator(".feed li")).toHaveCount(0);

  // Each event links to its message.
  await page.goto("/live?app=ops");
  await expect(page.locator("[data-feed=live]")).toBeVisible();
  await post(1, 6);
  await delivered.first().getByRole("link", { name: /message/ }).click();
  await expect(page.getByRole("heading", { name: "order.shipped" })).toBeVisible();
  expect(errors).toEqual([]);
});

test("the overview's figures and chart equal what the receivers counted", async ({ page }) => {
  const errors = watchConsole(page);
  await expect.poll(async () => (await tally()).count).toBe(7);
  await signIn(page, ADMIN);
  const row = page.locator(`tr[data-app="${appId}"]`);
  await expect(row).toContainText("Ops Co");
  await expect(row.locator('[data-col="succeeded"]')).toHaveText("7");
  await expect(row.locator('[data-col="failed"]')).toHaveText("0");

  // Server-wide: every successful attempt in the window is one the receivers or the handler got.
  const runs = await api<{ data: { status: string }[] }>("GET", "/handler/greet/run?status=succeeded&limit=100");
  const main = await api<{ data: { status: number }[] }>("GET", "/app/acme/msg?limit=100");
  const expected = (await tally()).count + runs.data.length + main.data.length;
  await expect(page.locator('[data-figure="succeeded"] strong')).toHaveText(String(expected));
  await expect(page.locator('[data-figure="failed"] strong')).toHaveText("0");
  await expect(page.locator('[data-figure="success-rate"] strong')).toHaveText("100%");
  const chart = page.locator("figure.chart").filter({ hasText: "Deliveries and failures" });
  await expect(chart.locator(".legend")).toContainText(`Succeeded ${expected}`);

  // The chart reads on the keyboard: focus it, and the latest minute is told.
  await chart.locator(".chart-area").focus();
  await page.keyboard.press("End");
  await expect(chart.locator(".chart-tip")).toContainText("Succeeded:");
  await page.keyboard.press("ArrowLeft");
  await expect(chart.locator(".chart-tip")).toBeVisible();
  await page.screenshot({ path: `${SHOTS}/overview.png`, fullPage: true });

  // Other windows read hours.
  await page.getByRole("button", { name: "7d" }).click();
  await expect(page.getByRole("button", { name: "7d" })).toHaveAttribute("aria-pressed", "true");
  await expect(chart.locator(".legend")).toContainText(`Succeeded ${expected}`);

  // A handler's page charts its runs' attempts: those that succeeded are its succeeded runs.
  await page.goto("/handlers/greet");
  const runsChart = page.locator("figure.chart").filter({ hasText: "Run attempts by outcome" });
  await expect(runsChart.locator(".legend")).toContainText(`Succeeded ${runs.data.length}`);
  await expect(runsChart.locator(".legend")).toContainText("Failed (status) 0");
  expect(errors).toEqual([]);
});

test("an endpoint paused from its page holds its messages until resumed, then delivers each once", async ({ page }) => {
  const errors = watchConsole(page);
  await signIn(page, ADMIN);
  await page.goto(`/apps/${appId}/endpoints/${endpointId}`);
  const control = page.locator('[data-pause="endpoint"]');
  await expect(control).toContainText("Running.");
  const before = (await tally()).count;
  await control.getByLabel("Reason (optional)").fill("receiver deploy");
  await control.getByRole("button", { name: "Pause endpoint" }).click();
  await expect(control).toContainText("Paused since");
  await expect(control).toContainText("by admin (receiver deploy)");

  await post(3, 100);
  await expect(control).toContainText("3 waiting");
  expect((await tally()).count).toBe(before);
  const charts = page.locator("figure.chart").filter({ hasText: "Attempts by outcome" });
  await expect(charts.locator(".legend")).toContainText(`Succeeded ${before}`);
  await page.screenshot({ path: `${SHOTS}/endpoint-paused.png`, fullPage: true });

  // The overview lists the pause with what waits, and resumes it.
  await nav(page, "Overview").click();
  const item = page.locator(`[data-paused="${endpointId}"]`);
  await expect(item).toContainText("3 waiting");
  expect((await tally()).count).toBe(before);
  await page.screenshot({ path: `${SHOTS}/overview-paused.png`, fullPage: true });
  await item.getByRole("button", { name: /Resume/ }).click();
  await expect(item).toHaveCount(0);
  await expect.poll(async () => (await tally()).count).toBe(before + 3);
  const after = await tally();
  expect(after.distinct).toBe(after.count);

  // The server as a whole pauses and resumes from the overview too.
  const server = page.locator('[data-pause="server"]');
  await server.getByRole("button", { name: "Pause server" }).click();
  await expect(server).toContainText("Paused since");
  await server.getByRole("button", { name: "Resume server" }).click();
  await expect(server).toContainText("Running.");
  expect(errors).toEqual([]);
});

test("a broker source shows its state, throughput and the messages it rejected", async ({ page }) => {
  const errors = watchConsole(page);
  await signIn(page, ADMIN);
  await nav(page, "Sources").click();
  const source = page.locator(`[data-source="${SOURCE}"]`);
  await expect(source.getByRole("heading", { name: SOURCE })).toBeVisible();
  const read = source.locator("figure.chart").filter({ hasText: "Messages read" }).locator(".legend");
  await expect(read).toContainText("Stored 2");
  await expect(read).toContainText("Rejected 1");
  // Its lag, measured every 5 s by the node reading it: nothing waits once both were read.
  await expect(source).toContainText("0 waiting in the broker", { timeout: 20_000 });
  await expect
    .poll(async () => {
      await source.getByRole("button", { name: "Refresh" }).click();
      return source.locator("[data-rejected]").count();
    })
    .toBe(1);
  await expect(source.locator("[data-rejected]")).toContainText("not json {");
  await source.getByRole("button", { name: "Pause source" }).click();
  await expect(source.locator('[data-pause="source"]')).toContainText("Paused since");
  await expect(source.locator('[data-pause="source"]')).toContainText("Its messages wait in the broker.");
  await page.screenshot({ path: `${SHOTS}/sources.png`, fullPage: true });
  await source.getByRole("button", { name: "Resume source" }).click();
  await expect(source.locator('[data-pause="source"]')).toContainText("Running.");
  expect(errors).toEqual([]);
});

test("a read-only token sees the figures and the feed, and no pause or resume", async ({ page }) => {
  const errors = watchConsole(page);
  await api("POST", `/pause/endpoint/${endpointId}`, { reason: "read-only check" });
  const made = await api<{ token: string }>("POST", "/token", { name: "ops viewer", role: "read-only" });
  await signIn(page, made.token);
  await expect(page.getByRole("heading", { name: "Overview" })).toBeVisible();
  await expect(page.locator(`[data-paused="${endpointId}"]`)).toContainText("read-only check");
  await expect(page.locator('[data-figure="succeeded"] strong')).not.toHaveText("—");
  await expect(page.getByRole("button", { name: /^(Pause|Resume)/ })).toHaveCount(0);
  await page.goto(`/apps/${appId}/endpoints/${endpointId}`);
  await expect(page.locator('[data-pause="endpoint"]')).toContainText("Paused since");
  await expect(page.getByRole("button", { name: /^(Pause|Resume)/ })).toHaveCount(0);
  await page.goto("/sources");
  await expect(page.locator(`[data-source="${SOURCE}"]`)).toBeVisible();
  await expect(page.getByRole("button", { name: /^(Pause|Resume)/ })).toHaveCount(0);
  await page.goto("/live");
  await expect(page.locator("[data-feed=live]")).toBeVisible();
  await api("DELETE", `/pause/endpoint/${endpointId}`);
  expect(errors).toEqual([]);
});

test("the overview and live pages at a phone's width, light and dark", async ({ browser }) => {
  for (const colorScheme of ["light", "dark"] as const) {
    const context = await browser.newContext({ viewport: { width: 390, height: 844 }, colorScheme });
    const page = await context.newPage();
    const errors = watchConsole(page);
    await signIn(page, ADMIN);
    await expect(page.locator('[data-figure="succeeded"] strong')).not.toHaveText("—");
    await expect(page.locator("figure.chart").first()).toBeVisible();
    expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(390);
    await page.screenshot({ path: `${SHOTS}/overview-phone-${colorScheme}.png`, fullPage: true });
    await page.goto("/live?app=ops");
    await expect(page.locator("[data-feed=live]")).toBeVisible();
    await post(1, 200);
    await expect(page.locator('.feed li[data-kind="attempt"]')).toHaveCount(1);
    expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(390);
    await page.screenshot({ path: `${SHOTS}/live-phone-${colorScheme}.png`, fullPage: true });
    await context.close();
    expect(errors).toEqual([]);
  }
  // The wide overview in the dark, for the docs' light one beside it.
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 }, colorScheme: "dark" });
  const page = await context.newPage();
  await signIn(page, ADMIN);
  await expect(page.locator('[data-figure="succeeded"] strong')).not.toHaveText("—");
  await page.screenshot({ path: `${SHOTS}/overview-dark.png`, fullPage: true });
  await context.close();
});

test("the docs' pictures: the overview and the live feed with failures and dead letters", async ({ page }) => {
  const errors = watchConsole(page);
  await api("POST", "/app", { name: "Shop", uid: "shop" });
  await api("POST", "/app/shop/endpoint", { url: OPS_RECEIVER, description: "Orders service" });
  // Nothing listens on port 9: each attempt fails to connect, and the last makes a dead letter.
  await api("POST", "/app/shop/endpoint", { url: "http://127.0.0.1:9/hooks", description: "Gone for good" });
  await signIn(page, ADMIN);
  await page.goto("/live");
  await expect(page.locator("[data-feed=live]")).toBeVisible();
  for (let i = 0; i < 4; i++) {
    await api("POST", "/app/shop/msg", { eventType: "order.paid", payload: { order: i } });
  }
  await expect(page.locator('.feed li[data-kind="dead"]')).toHaveCount(4, { timeout: 30_000 });
  await page.screenshot({ path: `${SHOTS}/docs-live.png` });

  await nav(page, "Overview").click();
  await expect(page.locator('[data-figure="dead"] strong')).toHaveText("4");
  const chart = page.locator("figure.chart").filter({ hasText: "Deliveries and failures" });
  await expect(chart.locator(".legend")).toContainText(/Failed \(other\) [1-9]/);
  const bars = chart.locator(".bars rect");
  // The chart takes the pointer over its whole plot; the mouse goes where the bar is drawn.
  await bars.last().hover({ force: true });
  await expect(chart.locator(".chart-tip")).toBeVisible();
  await page.screenshot({ path: `${SHOTS}/docs-overview.png` });
  expect(errors).toEqual([]);
});
