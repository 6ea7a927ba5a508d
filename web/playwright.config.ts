// Browser tests of the dashboard, in Debian's Chromium (never a downloaded browser), against a
// rustyhook the caller started: crates/rustyhook/tests/dashboard.rs starts the real binary and
// a receiver and passes their addresses in DASHBOARD_URL, DASHBOARD_ADMIN_TOKEN and
// DASHBOARD_RECEIVER_URL.
import { defineConfig } from "@playwright/test";

export default defineConfig({
  testDir: "e2e",
  timeout: 60_000,
  expect: { timeout: 10_000 },
  workers: 1,
  fullyParallel: false,
  forbidOnly: true,
  reporter: "list",
  outputDir: "test-results",
  use: {
    baseURL: process.env.DASHBOARD_URL,
    headless: true,
    viewport: { width: 1280, height: 800 },
    launchOptions: { executablePath: process.env.CHROMIUM_PATH ?? "/usr/bin/chromium" },
    trace: "off",
  },
  // One server serves every spec, in this order: operate.spec.ts compares the overview's
  // server-wide figures with what its receivers counted, so it runs after dashboard.spec.ts
  // (whose deliveries it counts in) and before the specs that make endpoints fail.
  projects: [
    { name: "basics", testMatch: /dashboard\.spec\.ts/, use: { browserName: "chromium" } },
    { name: "operate", testMatch: /operate\.spec\.ts/, dependencies: ["basics"], use: { browserName: "chromium" } },
    {
      name: "chromium",
      testIgnore: /(dashboard|operate)\.spec\.ts/,
      dependencies: ["operate"],
      use: { browserName: "chromium" },
    },
  ],
});
