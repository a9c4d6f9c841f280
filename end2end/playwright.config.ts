import { defineConfig, devices } from "@playwright/test";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";

// Playwright starts the release server itself, on its own port, with a fresh data directory, and
// refuses to run if something already listens there (a stale server would be tested instead).
const port = process.env.E2E_PORT ?? "3917";
const baseURL = `http://127.0.0.1:${port}`;
const root = path.resolve(__dirname, "..");
const scratch = fs.mkdtempSync(path.join(os.tmpdir(), "tf-e2e-"));

export const E2E_ADMIN_TOKEN = "e2e-admin-token-0123456789abcdef";
export const E2E_WEBHOOK_TOKEN = "e2e-webhook-token-0123456789abcdef";
/** The public URL the Setup section must show (the tests never call it). */
export const E2E_BASE_URL = "https://tf-e2e.example.org";

export default defineConfig({
  testDir: "./tests",
  timeout: 30_000,
  expect: { timeout: 10_000 },
  fullyParallel: false,
  workers: 1,
  forbidOnly: true,
  retries: 0,
  reporter: [["list"]],
  use: {
    baseURL,
    trace: "retain-on-failure",
  },
  webServer: {
    command: `${path.join(root, "target/release/server")} serve`,
    url: `${baseURL}/api/health/`,
    reuseExistingServer: false,
    timeout: 60_000,
    stdout: "ignore",
    stderr: "pipe",
    env: {
      HOST: "127.0.0.1",
      PORT: port,
      DATA_DIR: path.join(scratch, "data"),
      LOG_DIR: path.join(scratch, "logs"),
      LEPTOS_SITE_ROOT: path.join(root, "target/site"),
      BRIGHTDATA_WEBHOOK_TOKEN: E2E_WEBHOOK_TOKEN,
      WEBHOOK_ADMIN_TOKEN: E2E_ADMIN_TOKEN,
      BRIGHTDATA_BASE_URL: E2E_BASE_URL,
      // Alerts are evaluated every second, so an alert a test provokes opens while it waits.
      WEBHOOK_ALERT_INTERVAL: "1",
      // Snapshots are judged (completeness, scraper drift) a second after BrightData's ready.
      BRIGHTDATA_VERIFY_INTERVAL: "1",
      BRIGHTDATA_VERIFY_SETTLE: "1",
      RUST_LOG: "warn",
    },
  },
  projects: [
    {
      name: "chromium",
      use: {
        ...devices["Desktop Chrome"],
        launchOptions: {
          executablePath: process.env.CHROMIUM_PATH ?? "/usr/bin/chromium",
          args: [
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
          ],
        },
      },
    },
  ],
});
