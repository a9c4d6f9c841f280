// What every browser test file shares: the admin session, error watching, sending deliveries as
// BrightData does.
import { expect, request as http, test, type APIRequestContext, type Browser, type Page } from "@playwright/test";
import { execFileSync } from "node:child_process";
import * as path from "node:path";

import { E2E_ADMIN_TOKEN, E2E_WEBHOOK_TOKEN } from "../playwright.config";

/** Screenshots land here (gitignored); the README says how to make them. */
export const SHOTS = path.resolve(__dirname, "..", "screenshots");

/**
 * Fails the test on any console error or failed request: a missing asset is a bug. `expected`
 * lists URL parts whose refusals the test itself provokes.
 */
export function watchForErrors(page: Page, expected: string[] = []): string[] {
  const problems: string[] = [];
  page.on("console", (message) => {
    // The browser logs every refused fetch; those the test provokes are allowed, by status.
    const provoked = expected.length > 0 && /status of 401/.test(message.text());
    if (message.type() === "error" && !provoked) problems.push(`console: ${message.text()}`);
  });
  page.on("pageerror", (error) => problems.push(`page error: ${error.message}`));
  page.on("response", (response) => {
    if (response.status() >= 400 && !expected.some((part) => response.url().includes(part))) {
      problems.push(`${response.status()} ${response.url()}`);
    }
  });
  return problems;
}

/**
 * One session for the tests of a file that start logged in (login attempts are rate-limited per
 * address, 5 at once): its cookies, taken by logging in over the API once.
 */
let session: Awaited<ReturnType<APIRequestContext["storageState"]>>;

export function useAdminSession() {
  test.beforeAll(async ({ baseURL }) => {
    const api = await http.newContext({ baseURL });
    const response = await api.post("/api/auth/login", { data: { token: E2E_ADMIN_TOKEN } });
    expect(response.status()).toBe(200);
    session = await api.storageState();
    await api.dispose();
  });
}

/** A page of a new browser context that already holds the session. */
export async function loggedIn(browser: Browser, options: Parameters<Browser["newContext"]>[0] = {}) {
  const context = await browser.newContext({ ...options, storageState: session });
  const page = await context.newPage();
  return { context, page };
}

/** Logs in through the form, as a person does. */
export async function logIn(page: Page) {
  await page.goto("/webhook-monitor");
  await page.getByLabel("Admin token").fill(E2E_ADMIN_TOKEN);
  await page.getByRole("button", { name: "Log in" }).click();
  await expect(page.getByTestId("cards")).toBeVisible();
}

/** Ids unique to this run of this process: snapshots and posts never collide with another file's. */
const RUN = Math.random().toString(36).slice(2, 8);
let delivery = 0;

/** A fresh snapshot id. */
export function snapshotId(label: string) {
  delivery += 1;
  return `s_e2e_${RUN}_${label}_${delivery}`;
}

/**
 * A BrightData-shaped delivery of `posts` TikTok posts (and `records`, if given, as they are),
 * sent as BrightData sends it; returns its snapshot id.
 */
export async function deliver(
  request: APIRequestContext,
  posts: number,
  options: { snapshot?: string; records?: object[]; edit?: (post: Record<string, unknown>) => void } = {},
) {
  const snapshot = options.snapshot ?? snapshotId("d");
  delivery += 1;
  const records: object[] = Array.from({ length: posts }, (_, i) => {
    const post: Record<string, unknown> = {
      url: `https://www.tiktok.com/@e2e/video/73${RUN}${delivery}00${i}`,
      post_id: `73${RUN}${delivery}00${i}`,
      description: "e2e ✨",
      digg_count: 10 + i,
    };
    options.edit?.(post);
    return post;
  });
  records.push(...(options.records ?? []));
  const response = await request.post("/api/brightdata/webhook/", {
    headers: {
      Authorization: `Bearer ${E2E_WEBHOOK_TOKEN}`,
      "Snapshot-Id": snapshot,
      "Dca-Filename": `${snapshot}_${delivery}.json`,
    },
    data: records,
  });
  expect(response.status()).toBe(200);
  return snapshot;
}

/** A status notification for `snapshot`, as BrightData sends it (with its dataset, if given). */
export async function notify(
  request: APIRequestContext,
  snapshot: string,
  status: string,
  error?: string,
  dataset?: string,
) {
  const response = await request.post("/api/brightdata/notify/", {
    headers: { Authorization: `Bearer ${E2E_WEBHOOK_TOKEN}` },
    data: { snapshot_id: snapshot, status, ...(error ? { error } : {}), ...(dataset ? { dataset_id: dataset } : {}) },
  });
  expect(response.status()).toBe(200);
}

/** A delivery refused for its token. */
export async function refusedDelivery(request: APIRequestContext) {
  const response = await request.post("/api/brightdata/webhook/", {
    headers: { Authorization: "Bearer wrong-token", "Content-Type": "application/json" },
    data: [],
  });
  expect(response.status()).toBe(401);
}

/** Nothing sticks out sideways (a narrow screen must not scroll horizontally). */
export async function expectNoOverflow(page: Page) {
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  expect(overflow).toBeLessThanOrEqual(0);
}

/** Marks the page's window, so a later check can tell whether the page was reloaded since. */
export async function stayOnPage(page: Page) {
  await page.evaluate(() => ((window as unknown as { stayed: boolean }).stayed = true));
}

/** The mark set by `stayOnPage` is still there: no navigation replaced the document. */
export async function expectStayedOnPage(page: Page) {
  expect(await page.evaluate(() => (window as unknown as { stayed?: boolean }).stayed)).toBe(true);
}

/** A posts export as an independent reader sees it (`end2end/readers/read_export.py`). */
export type ExportRead = {
  rows: number;
  columns: { name: string; type?: string }[];
  data: Record<string, unknown>[];
};

/**
 * Reads the export at `file` back with Python's csv and json modules, or pyarrow for Parquet
 * (installed by scripts/tools.sh into end2end/.pylib): readers that share no code with the service.
 */
export function readExport(file: string, format: "csv" | "ndjson" | "parquet"): ExportRead {
  const root = path.resolve(__dirname, "..");
  const out = execFileSync("python3", [path.join(root, "readers", "read_export.py"), format, file], {
    env: { ...process.env, PYTHONPATH: path.join(root, ".pylib") },
    encoding: "utf-8",
    maxBuffer: 64 << 20,
  });
  return JSON.parse(out) as ExportRead;
}
