import { expect, test, type Page } from "@playwright/test";

/** Fails the test on any console error or failed request: a missing asset is a bug. */
function watchForErrors(page: Page): string[] {
  const problems: string[] = [];
  page.on("console", (message) => {
    if (message.type() === "error") problems.push(`console: ${message.text()}`);
  });
  page.on("pageerror", (error) => problems.push(`page error: ${error.message}`));
  page.on("response", (response) => {
    if (response.status() >= 400) problems.push(`${response.status()} ${response.url()}`);
  });
  return problems;
}

test("the dashboard is served, styled and hydrated", async ({ page }) => {
  const problems = watchForErrors(page);
  await page.goto("/");
  await expect(page).toHaveURL(/\/webhook-monitor$/);
  await expect(page).toHaveTitle("Track-Futura Webhook Monitor");
  await expect(page.getByRole("heading", { level: 1 })).toHaveText("Track-Futura Webhook Monitor");
  await expect(page.getByTestId("empty-state")).toContainText("No deliveries yet");

  // The server renders the indicator offline; only the hydrated WASM app turns it live and ticks.
  const indicator = page.getByTestId("live-indicator");
  await expect(indicator).toHaveAttribute("data-hydrated", "true");
  await expect(indicator).toContainText("Live");
  const seconds = page.getByTestId("live-seconds");
  const first = await seconds.textContent();
  await expect(seconds).not.toHaveText(first ?? "", { timeout: 5_000 });

  // The stylesheet from style/ is applied.
  const background = await page.evaluate(() => getComputedStyle(document.body).backgroundColor);
  expect(background).toBe("rgb(15, 20, 25)");

  expect(problems).toEqual([]);
});

test("the server-rendered page carries content before any script runs", async ({ browser }) => {
  const context = await browser.newContext({ javaScriptEnabled: false });
  const page = await context.newPage();
  await page.goto("/webhook-monitor");
  await expect(page.getByTestId("empty-state")).toContainText("/api/brightdata/webhook/");
  await expect(page.getByTestId("live-indicator")).toHaveAttribute("data-hydrated", "false");
  await context.close();
});

test("the health endpoint answers for platform checks", async ({ request }) => {
  const response = await request.get("/api/health/");
  expect(response.status()).toBe(200);
  const body = await response.json();
  expect(body.status).toBe("healthy");
  expect(body.database).toBe("connected");
});
