// The sections beyond the overview: events (filters, live rows, detail, replay), snapshots,
// alerts, setup; each in the real browser against the release build.
import { expect, test, type Page } from "@playwright/test";
import * as path from "node:path";

import { E2E_ADMIN_TOKEN, E2E_BASE_URL } from "../playwright.config";
import {
  type ExportRead,
  SHOTS,
  deliver,
  expectNoOverflow,
  expectStayedOnPage,
  loggedIn,
  notify,
  readExport,
  refusedDelivery,
  snapshotId,
  stayOnPage,
  useAdminSession,
  watchForErrors,
} from "./support";

useAdminSession();

/** Opens a section and waits until the page is hydrated and its live link is up. */
async function open(page: Page, path: string) {
  await page.goto(`/webhook-monitor${path}`);
  await expect(page.getByTestId("live-indicator")).toHaveAttribute("data-state", "live");
}

test("filters narrow the events table, the URL keeps them, the export follows them", async ({ browser, request }) => {
  const snapshot = await deliver(request, 2);
  await deliver(request, 1);
  await refusedDelivery(request);
  const { context, page } = await loggedIn(browser);
  const problems = watchForErrors(page);
  await open(page, "/events");
  const table = page.getByTestId("events-table");
  await expect(table.locator("tr[data-outcome=accepted]").first()).toBeVisible();
  await expect(table.locator("tr[data-outcome=rejected_auth]").first()).toBeVisible();

  // By outcome: only refusals remain. The router applies the filter: the page is not reloaded.
  await stayOnPage(page);
  await page.getByLabel("Outcome").selectOption("rejected_auth");
  await page.getByRole("button", { name: "Apply" }).click();
  await expect(page).toHaveURL(/outcome=rejected_auth/);
  await expectStayedOnPage(page);
  await expect(table.locator("tr[data-outcome=accepted]")).toHaveCount(0);
  await expect(table.locator("tbody tr").first()).toHaveAttribute("data-outcome", "rejected_auth");

  // By snapshot (outcome back to any): only that snapshot's delivery.
  await page.getByLabel("Outcome").selectOption("");
  await page.getByLabel("Snapshot").fill(snapshot);
  await page.getByRole("button", { name: "Apply" }).click();
  await expect(page).toHaveURL(new RegExp(`snapshot=${snapshot}`));
  await expect(table.locator("tbody tr")).toHaveCount(1);
  await expect(table).toContainText(snapshot);

  // A reload keeps the filter (it is in the URL) and the server renders it.
  await page.reload();
  await expect(page.getByLabel("Snapshot")).toHaveValue(snapshot);
  await expect(table.locator("tbody tr")).toHaveCount(1);

  // The export is of the same filter, with the session's cookie.
  const href = await page.getByTestId("export-csv").getAttribute("href");
  expect(href).toContain(`snapshot=${snapshot}`);
  const csv = await page.request.get(href!);
  expect(csv.status()).toBe(200);
  const lines = (await csv.text()).trim().split("\r\n");
  expect(lines).toHaveLength(2);
  expect(lines[1]).toContain(snapshot);

  // Clear: every event again.
  await page.getByRole("link", { name: "Clear" }).click();
  await expect(page.getByLabel("Snapshot")).toHaveValue("");
  await expect(table.locator("tr[data-outcome=rejected_auth]").first()).toBeVisible();
  expect(problems).toEqual([]);
  await context.close();
});

test("new events slide into the events table live, at the top", async ({ browser, request }) => {
  const { context, page } = await loggedIn(browser);
  const problems = watchForErrors(page);
  await open(page, "/events");
  const snapshot = await deliver(request, 1);
  const first = page.getByTestId("events-table").locator("tbody tr").first();
  await expect(first).toContainText(snapshot);
  await expect(first).toHaveClass(/is-new/);
  expect(problems).toEqual([]);
  await context.close();
});

test("an event's detail shows headers, body and posts; hostile markup stays inert; replay", async ({ browser, request }) => {
  const hostile = `<img src=x onerror="window.__pwned=1"><script>window.__pwned=2</script>`;
  const snapshot = await deliver(request, 1, {
    records: [
      { url: "https://www.tiktok.com/@e2e/video/hostile1", post_id: `hostile_${snapshotId("h")}`, description: hostile },
    ],
  });
  const { context, page } = await loggedIn(browser);
  const problems = watchForErrors(page);
  await open(page, `/events?snapshot=${snapshot}`);
  await page.getByTestId("events-table").locator("tbody tr").first().getByRole("link").first().click();
  await expect(page).toHaveURL(/\/webhook-monitor\/events\/\d+$/);
  await expect(page.getByTestId("event-outcome")).toHaveText("accepted");
  // The secret header is stored redacted; the others as sent.
  const headers = page.getByTestId("event-headers");
  await expect(headers.locator("tr", { hasText: "authorization" })).toContainText("[redacted]");
  await expect(headers.locator("tr", { hasText: "snapshot-id" })).toContainText(snapshot);
  // The body, pretty-printed, with the markup as characters that never ran.
  const body = page.getByTestId("event-body");
  await expect(body).toContainText(`"description": "<img src=x onerror=`);
  await expect(body).toContainText("<script>window.__pwned=2</script>");
  await expect(body.locator("img, script")).toHaveCount(0);
  expect(await page.evaluate(() => (window as unknown as { __pwned?: number }).__pwned)).toBeUndefined();
  await expect(page.getByTestId("posts").locator("tbody tr")).toHaveCount(2);
  await expect(page.getByTestId("delivery-records")).toHaveText("2");

  // Replay: queued, extracted again, nothing duplicated.
  await page.getByTestId("replay").click();
  await expect(page.getByTestId("replay-result")).toContainText("Queued");
  // Extraction runs in the background; the server's page after it (its first paint escapes the
  // body too) shows the delivery stored again with the same two posts.
  await expect(async () => {
    await page.reload();
    await expect(page.getByTestId("delivery-state")).toHaveText("stored", { timeout: 1_000 });
  }).toPass({ timeout: 10_000 });
  await expect(page.getByTestId("posts").locator("tbody tr")).toHaveCount(2);
  await expect(page.getByTestId("event-body")).toContainText("<script>window.__pwned=2</script>");
  await expect(page.getByTestId("event-body").locator("img, script")).toHaveCount(0);
  expect(await page.evaluate(() => (window as unknown as { __pwned?: number }).__pwned)).toBeUndefined();
  await page.setViewportSize({ width: 1280, height: 900 });
  await page.screenshot({ path: path.join(SHOTS, "event-detail-wide-light.png"), fullPage: true });
  expect(problems).toEqual([]);
  await context.close();
});

test("a refused request's detail says why it was refused", async ({ browser, request }) => {
  await refusedDelivery(request);
  const { context, page } = await loggedIn(browser);
  const problems = watchForErrors(page);
  await open(page, "/events?outcome=rejected_auth");
  await page.getByTestId("events-table").locator("tbody tr").first().getByRole("link").first().click();
  await expect(page.getByTestId("event-outcome")).toHaveText("rejected_auth");
  await expect(page.getByTestId("event-reason")).toContainText("invalid_token");
  // Nothing was stored: no delivery to replay.
  await expect(page.getByTestId("replay")).toHaveCount(0);
  expect(problems).toEqual([]);
  await context.close();
});

test("the snapshot tracker shows each collection's lifecycle, notifications and input errors", async ({ browser, request }) => {
  const snapshot = snapshotId("life");
  await notify(request, snapshot, "running");
  await deliver(request, 2, {
    snapshot,
    records: [{ warning: "Page not found", warning_code: "dead_page", input: { url: "https://www.tiktok.com/@gone" } }],
  });
  await notify(request, snapshot, "ready");
  const failed = snapshotId("fail");
  await notify(request, failed, "failed", "BrightData: <b>quota</b> exceeded");

  const { context, page } = await loggedIn(browser);
  const problems = watchForErrors(page);
  await open(page, "/snapshots");
  const list = page.getByTestId("snapshots-table");
  await expect(list.locator(`tr[data-status=delivered]`, { hasText: snapshot })).toBeVisible();
  await expect(list.locator(`tr[data-status=failed]`, { hasText: failed })).toContainText("<b>quota</b> exceeded");
  // The status filter narrows the list.
  await page.getByLabel("Status").selectOption("failed");
  await page.getByRole("button", { name: "Apply" }).click();
  await expect(list.locator("tr[data-status=delivered]")).toHaveCount(0);
  await expect(list).toContainText(failed);

  await open(page, `/snapshots/${snapshot}`);
  await expect(page.getByTestId("snapshot-status")).toHaveText("delivered");
  for (const step of ["running", "ready", "delivered"]) {
    await expect(page.getByTestId("lifecycle").locator(`li[data-step=${step}]`)).toHaveClass(/is-reached/);
  }
  await expect(page.getByTestId("snapshot-records")).toHaveText("2");
  await expect(page.getByTestId("notifications").locator("tbody tr")).toHaveCount(2);
  await expect(page.getByTestId("input-errors")).toContainText("dead_page");
  await expect(page.getByTestId("deliveries").locator("tbody tr")).toHaveCount(1);
  await expect(page.getByTestId("posts").locator("tbody tr")).toHaveCount(2);
  await page.screenshot({ path: path.join(SHOTS, "snapshot-wide-light.png"), fullPage: true });

  await open(page, `/snapshots/${failed}`);
  await expect(page.getByTestId("snapshot-status")).toHaveText("failed");
  await expect(page.getByTestId("lifecycle").locator("li[data-step=failed]")).toHaveClass(/is-reached/);
  await expect(page.getByTestId("snapshot-error")).toContainText("<b>quota</b> exceeded");
  await expect(page.getByTestId("snapshot-error").locator("b")).toHaveCount(0);
  expect(problems).toEqual([]);
  await context.close();
});

test("acknowledging an alert records who and when", async ({ browser, request }) => {
  const failed = snapshotId("alert");
  await notify(request, failed, "failed", "collector crashed");
  const { context, page } = await loggedIn(browser);
  const problems = watchForErrors(page);
  await open(page, "/alerts");
  // Alerts are evaluated every second here; the page shows the new one live.
  const alert = page.getByTestId("alert").filter({ hasText: failed });
  await expect(alert).toBeVisible({ timeout: 15_000 });
  await expect(alert).toHaveAttribute("data-rule", "snapshot_failed");
  await alert.getByLabel("Your name").fill("e2e-operator");
  await alert.getByRole("button", { name: "Acknowledge" }).click();
  await expect(alert.getByTestId("acknowledged")).toContainText("Acknowledged by e2e-operator at");
  // Stored: the server's page says so too.
  await page.reload();
  await expect(page.getByTestId("alert").filter({ hasText: failed }).getByTestId("acknowledged")).toContainText(
    "e2e-operator",
  );
  await page.screenshot({ path: path.join(SHOTS, "alerts-wide-light.png"), fullPage: true });
  expect(problems).toEqual([]);
  await context.close();
});

test("setup shows what to paste into BrightData and runs the self-test", async ({ browser }) => {
  const { context, page } = await loggedIn(browser);
  await context.grantPermissions(["clipboard-read", "clipboard-write"]);
  const problems = watchForErrors(page);
  await open(page, "/setup");
  await expect(page.getByTestId("setup-data-url")).toHaveText(`${E2E_BASE_URL}/api/brightdata/webhook/`);
  await expect(page.getByTestId("setup-notify-url")).toHaveText(`${E2E_BASE_URL}/api/brightdata/notify/`);
  await expect(page.getByTestId("setup-auth-header")).toHaveText("Bearer <webhook token>");
  await expect(page.getByTestId("setup-base-url")).toContainText("BRIGHTDATA_BASE_URL");
  await expect(page.getByTestId("setup-unreachable")).toHaveCount(0);
  // Secrets are masked; the page never carries a token.
  const settings = page.getByTestId("settings");
  await expect(settings.locator("tr", { hasText: "WEBHOOK_ADMIN_TOKEN" })).toContainText("hidden");
  expect(await page.content()).not.toContain("e2e-admin-token");
  expect(await page.content()).not.toContain("e2e-webhook-token");

  // The copy button puts the exact URL on the clipboard.
  await page.getByRole("button", { name: "Copy Data URL (endpoint)" }).click();
  await expect(page.getByText("Copied")).toBeVisible();
  expect(await page.evaluate(() => navigator.clipboard.readText())).toBe(`${E2E_BASE_URL}/api/brightdata/webhook/`);

  await page.getByTestId("run-self-test").click();
  await expect(page.getByTestId("self-test-verdict")).toHaveText("Every check gave the expected answer.");
  const checks = page.getByTestId("self-test-checks").locator("tbody tr");
  expect(await checks.count()).toBeGreaterThanOrEqual(8);
  for (const row of await checks.all()) await expect(row).toContainText("pass");
  await expect(page.getByTestId("self-test-checks").locator("tr[data-check=bad_token]")).toContainText("401");
  await page.screenshot({ path: path.join(SHOTS, "setup-wide-light.png"), fullPage: true });
  expect(problems).toEqual([]);
  await context.close();
});

test("the sections are reachable by keyboard and fit a 375 px screen, light and dark", async ({ browser, request }) => {
  const snapshot = await deliver(request, 2);
  for (const scheme of ["light", "dark"] as const) {
    const { context, page } = await loggedIn(browser, { viewport: { width: 375, height: 800 }, colorScheme: scheme });
    const problems = watchForErrors(page);
    await open(page, "");
    // Tab to the Events tab and follow it with Enter.
    const tab = page.getByRole("navigation", { name: "Sections" }).getByRole("link", { name: "Events" });
    for (let i = 0; i < 20 && !(await tab.evaluate((e) => e === document.activeElement)); i++) {
      await page.keyboard.press("Tab");
    }
    await expect(tab).toBeFocused();
    await page.keyboard.press("Enter");
    await expect(page).toHaveURL(/\/webhook-monitor\/events$/);
    await expect(tab).toHaveAttribute("aria-current", "page");
    for (const [name, section] of [
      ["events", "/events"],
      ["snapshot", `/snapshots/${snapshot}`],
      ["setup", "/setup"],
      ["alerts", "/alerts?status=all"],
    ]) {
      await open(page, section);
      await expectNoOverflow(page);
      await page.screenshot({ path: path.join(SHOTS, `${name}-narrow-${scheme}.png`), fullPage: true });
    }
    expect(problems).toEqual([]);
    await context.close();
  }
  // And the events list, wide.
  const { context, page } = await loggedIn(browser, { viewport: { width: 1280, height: 900 } });
  await open(page, "/events");
  await page.screenshot({ path: path.join(SHOTS, "events-wide-light.png"), fullPage: true });
  await context.close();
});

test("a snapshot's page reloads for its own deliveries only, live", async ({ browser, request }) => {
  const snapshot = await deliver(request, 1);
  const { context, page } = await loggedIn(browser);
  await open(page, `/snapshots/${snapshot}`);
  await expect(page.getByTestId("live-indicator")).toHaveAttribute("data-state", "live");
  await expect(page.getByTestId("snapshot-records")).toHaveText("1");
  const reloads: string[] = [];
  page.on("request", (r) => {
    if (r.url().includes("/dashboard/api/snapshot")) reloads.push(r.url());
  });
  // Deliveries to other snapshots: this page asks for nothing.
  for (let i = 0; i < 3; i++) await deliver(request, 1);
  await page.waitForTimeout(2_500);
  expect(reloads).toEqual([]);
  // One to this snapshot: the page reloads and shows it.
  await deliver(request, 2, { snapshot });
  await expect(page.getByTestId("snapshot-records")).toHaveText("3");
  expect(reloads.length).toBeGreaterThan(0);
  await context.close();
});

test("the posts view filters, shows a hostile record as text in its drawer, and its downloads hold every row", async ({ browser, request }, testInfo) => {
  const marker = `h${Date.now()}`;
  const hostile = {
    url: `https://www.tiktok.com/@e2e/video/9${marker}`,
    post_id: `9${marker}`,
    description: `=HYPERLINK("http://x") <img src=x onerror="window.__pwned=1"> ${marker}`,
    digg_count: 7,
  };
  const snapshot = await deliver(request, 3, { records: [hostile] });
  await deliver(request, 2);
  const { context, page } = await loggedIn(browser, { viewport: { width: 1280, height: 900 } });
  const problems = watchForErrors(page);
  await open(page, "/posts");
  const table = page.getByTestId("posts-table");
  await expect(table.locator("tbody tr").first()).toBeVisible();

  // One snapshot: its four posts, applied by the router without a reload.
  await stayOnPage(page);
  await page.getByLabel("Snapshot").fill(snapshot);
  await page.getByRole("button", { name: "Apply" }).click();
  await expect(page).toHaveURL(new RegExp(`snapshot=${snapshot}`));
  await expectStayedOnPage(page);
  await expect(table.locator("tbody tr")).toHaveCount(4);
  // Text anywhere in the record: only the hostile post.
  await page.getByLabel("Text").fill(marker);
  await page.getByRole("button", { name: "Apply" }).click();
  await expect(table.locator("tbody tr")).toHaveCount(1);

  // Its record in the drawer: the markup as characters, nothing of it run or made an element.
  await table.getByTestId("open-record").click();
  const drawer = page.getByTestId("record-drawer");
  await expect(drawer).toBeVisible();
  await expect(page.getByTestId("drawer-record")).toContainText('<img src=x onerror=');
  await expect(drawer.locator("img, script")).toHaveCount(0);
  expect(await page.evaluate(() => (window as unknown as { __pwned?: number }).__pwned)).toBeUndefined();
  await expect(page.getByTestId("drawer-event")).toBeVisible();
  await page.screenshot({ path: path.join(SHOTS, "posts-drawer-wide-light.png"), fullPage: true });
  await page.getByRole("link", { name: "Close the record" }).click();
  await expect(drawer).toHaveCount(0);

  // The downloads follow the filter (snapshot only) and hold every row: each file, downloaded by
  // clicking its link, is read back by Python's csv and json modules and by pyarrow.
  await page.getByLabel("Text").fill("");
  await page.getByRole("button", { name: "Apply" }).click();
  await expect(table.locator("tbody tr")).toHaveCount(4);
  const csvHref = await page.getByTestId("download-csv").getAttribute("href");
  expect(csvHref).toContain(`snapshot=${snapshot}`);
  const read: Record<string, ExportRead> = {};
  for (const format of ["csv", "ndjson", "parquet"] as const) {
    const [download] = await Promise.all([page.waitForEvent("download"), page.getByTestId(`download-${format}`).click()]);
    expect(download.suggestedFilename()).toMatch(new RegExp(`\\.${format}$`));
    const file = testInfo.outputPath(`posts.${format}`);
    await download.saveAs(file);
    read[format] = readExport(file, format);
  }
  const sent = [10, 11, 12, hostile.digg_count];
  for (const [format, file] of Object.entries(read)) {
    expect(file.rows, format).toBe(4);
    const records = file.data.map((row) => row.record as Record<string, unknown>);
    // The records as sent: the generated posts' counts and the hostile one whole.
    expect(records.map((r) => r.digg_count).sort((a, b) => Number(a) - Number(b)), format).toEqual(
      [...sent].sort((a, b) => a - b),
    );
    expect(records.find((r) => r.post_id === hostile.post_id), format).toEqual(hostile);
  }
  // The typed files' columns agree with the records: likes is the record's digg_count, text its
  // description; in the CSV, the hostile text starts with a quote, not as a formula.
  for (const format of ["csv", "parquet"]) {
    for (const row of read[format].data) {
      const record = row.record as Record<string, unknown>;
      expect(String(row.likes), format).toBe(String(record.digg_count));
      expect(row.snapshot_id, format).toBe(snapshot);
      const text = String(record.description);
      expect(row.text, format).toBe(format === "csv" && text.startsWith("=") ? `'${text}` : text);
    }
  }
  // Spreadsheet-safe: no CSV cell (the record aside, which is JSON) starts as a formula.
  for (const row of read.csv.data) {
    for (const [column, cell] of Object.entries(row)) {
      if (column !== "record") expect(String(cell), column).not.toMatch(/^[=+\-@]/);
    }
  }
  const parquetHref = await page.getByTestId("download-parquet").getAttribute("href");
  expect((await page.request.get(parquetHref!)).headers()["content-type"]).toBe("application/vnd.apache.parquet");
  const types = Object.fromEntries(read.parquet.columns.map((c) => [c.name, c.type]));
  expect(types).toMatchObject({ likes: "int64", text: "string", posted_at: "timestamp[ms, tz=UTC]" });
  expect(read.csv.columns.map((c) => c.name)).toContain("record");

  // The snapshot's page offers the same downloads, of its posts.
  await open(page, `/snapshots/${snapshot}`);
  const [snapshotFile] = await Promise.all([page.waitForEvent("download"), page.getByTestId("download-parquet").click()]);
  await snapshotFile.saveAs(testInfo.outputPath("snapshot.parquet"));
  expect(readExport(testInfo.outputPath("snapshot.parquet"), "parquet").rows).toBe(4);
  await expect(page.getByTestId("completeness")).toHaveAttribute("data-verdict", "pending");

  // Narrow: the table scrolls in its panel, the page does not overflow.
  await page.setViewportSize({ width: 375, height: 800 });
  await open(page, `/posts?snapshot=${snapshot}`);
  await expectNoOverflow(page);
  await page.screenshot({ path: path.join(SHOTS, "posts-narrow-light.png"), fullPage: true });
  expect(problems).toEqual([]);
  await context.close();
});

test("a snapshot whose field went empty says so in words, live, and accepting the new shape resolves its alert", async ({ browser, request }) => {
  // Its own dataset: the baseline is these five snapshots, whatever other tests delivered.
  const dataset = `gd_e2e_drift_${Date.now()}`;
  for (let i = 0; i < 5; i++) {
    const normal = snapshotId("fields");
    await deliver(request, 24, { snapshot: normal });
    await notify(request, normal, "ready", undefined, dataset);
  }
  const broken = snapshotId("fields");
  await deliver(request, 24, { snapshot: broken, edit: (post) => { post.digg_count = null; } });

  const { context, page } = await loggedIn(browser, { viewport: { width: 1280, height: 900 } });
  const problems = watchForErrors(page);
  await open(page, `/snapshots/${broken}`);
  const fields = page.getByTestId("field-coverage");
  await expect(fields).toHaveAttribute("data-verdict", "pending");
  // BrightData says ready: the page updates by itself once the snapshot is judged.
  await notify(request, broken, "ready", undefined, dataset);
  await expect(fields).toHaveAttribute("data-verdict", "drift", { timeout: 20_000 });
  const drifted = page.getByTestId("drifted-fields").locator("li[data-field=digg_count]");
  await expect(drifted).toContainText("went empty");
  await expect(drifted).toContainText("digg_count: filled in 0% of 24 records (usually 100%)");
  const row = page.getByTestId("coverage-table").locator("tr[data-field=digg_count]");
  await expect(row).toHaveClass(/is-drifted/);
  await expect(row).toContainText("went empty");
  await expect(page.getByTestId("coverage-table").locator("tr[data-field=description]")).toContainText("as usual");
  await page.screenshot({ path: path.join(SHOTS, "snapshot-fields-drift-wide-light.png"), fullPage: true });
  // Narrow: the coverage table scrolls in its panel, the page does not overflow.
  await page.setViewportSize({ width: 375, height: 800 });
  await expectNoOverflow(page);
  await fields.scrollIntoViewIfNeeded();
  await page.screenshot({ path: path.join(SHOTS, "snapshot-fields-drift-narrow-light.png") });
  await page.setViewportSize({ width: 1280, height: 900 });

  const alerts = async () => {
    const response = await request.get("/api/brightdata/webhook/alerts/?status=active", {
      headers: { Authorization: `Bearer ${E2E_ADMIN_TOKEN}` },
    });
    const body = await response.json();
    return body.alerts.filter((a: { rule: string }) => a.rule === "scraper_drift").map((a: { subject: string }) => a.subject);
  };
  await expect.poll(alerts).toContain("tiktok:digg_count");

  // The tracker marks it, and the coverage chart is drawn per platform.
  await open(page, "/snapshots");
  await expect(page.getByTestId("snapshots-table").locator("tr", { hasText: broken }).getByTestId("drift-pill")).toHaveText("drift");
  const charts = page.getByTestId("coverage-charts");
  await expect(charts.locator("figure", { hasText: "tiktok" }).locator("svg rect").first()).toBeVisible();
  await page.screenshot({ path: path.join(SHOTS, "snapshots-coverage-wide-light.png"), fullPage: true });

  // The platform changed for good: accept the shape; the alert resolves.
  await open(page, `/snapshots/${broken}`);
  await page.getByTestId("accept-fields").click();
  await expect(fields).toHaveAttribute("data-verdict", "accepted");
  await expect.poll(alerts).not.toContain("tiktok:digg_count");
  expect(problems).toEqual([]);
  await context.close();
});
