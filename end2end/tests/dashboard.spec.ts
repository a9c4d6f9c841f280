import { expect, request as http, test } from "@playwright/test";
import { spawn, type ChildProcess } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";

import { E2E_ADMIN_TOKEN, E2E_WEBHOOK_TOKEN } from "../playwright.config";
import {
  SHOTS,
  deliver,
  expectStayedOnPage,
  logIn,
  loggedIn,
  stayOnPage,
  useAdminSession,
  watchForErrors,
} from "./support";

useAdminSession();

test("anonymous visitors see only the login form, and a wrong token is refused", async ({ page }) => {
  const problems = watchForErrors(page, ["/dashboard/api/login"]);
  await page.goto("/");
  await expect(page).toHaveURL(/\/webhook-monitor$/);
  await expect(page).toHaveTitle("Track-Futura Webhook Monitor");
  await expect(page.getByRole("heading", { level: 1 })).toHaveText("Track-Futura Webhook Monitor");
  await expect(page.getByTestId("login")).toBeVisible();
  await expect(page.getByTestId("cards")).toHaveCount(0);
  await expect(page.getByTestId("live-indicator")).toHaveAttribute("data-state", "offline");

  await page.getByLabel("Admin token").fill("not-the-token");
  await stayOnPage(page);
  await page.getByRole("button", { name: "Log in" }).click();
  await expect(page.getByTestId("login-problem")).toHaveText("that is not the admin token");
  await expect(page.getByTestId("cards")).toHaveCount(0);
  // The script answered the form: the page was not posted and reloaded.
  await expectStayedOnPage(page);
  expect(problems).toEqual([]);
});

test("without a script the login form still logs in (the browser posts it)", async ({ browser }) => {
  const context = await browser.newContext({ javaScriptEnabled: false });
  const page = await context.newPage();
  await page.goto("/webhook-monitor");
  await page.getByLabel("Admin token").fill(E2E_ADMIN_TOKEN);
  await page.getByRole("button", { name: "Log in" }).click();
  // The server function sends the browser back to the page it came from, now with the session.
  await expect(page).toHaveURL(/\/webhook-monitor\??$/);
  await expect(page.getByTestId("cards")).toBeVisible();
  await context.close();
});

test("after login the overview shows figures, charts and the live link", async ({ page }) => {
  const problems = watchForErrors(page);
  await logIn(page);
  await expect(page.getByTestId("live-indicator")).toHaveAttribute("data-state", "live");
  await expect(page.locator("figure.chart svg")).toHaveCount(4);
  await expect(page.getByTestId("health-badge")).toBeVisible();
  // The stylesheet from style/ is applied.
  const display = await page.getByTestId("cards").evaluate((e) => getComputedStyle(e).display);
  expect(display).toBe("grid");
  // Logging out ends the session: the login form again.
  await page.getByRole("button", { name: "Log out" }).click();
  await expect(page.getByTestId("login")).toBeVisible();
  await expect(page.getByTestId("cards")).toHaveCount(0);
  expect(problems).toEqual([]);
});

test("a delivery sent during the test appears live, without a reload", async ({ browser, request }) => {
  const { context, page } = await loggedIn(browser);
  const problems = watchForErrors(page);
  await page.goto("/webhook-monitor");
  await expect(page.getByTestId("live-indicator")).toHaveAttribute("data-state", "live");
  const requests = page.getByTestId("card-requests-value");
  const records = page.getByTestId("card-records-value");
  // Ingest -> DOM: the time from sending a delivery to its numbers on screen, measured 5 times.
  const latencies: number[] = [];
  for (let round = 0; round < 5; round++) {
    const before = Number((await requests.textContent())?.replace(/,/g, ""));
    const recordsBefore = Number((await records.textContent())?.replace(/,/g, ""));
    const sent = Date.now();
    await deliver(request, 3);
    await expect(requests).toHaveText(String(before + 1).replace(/\B(?=(\d{3})+(?!\d))/g, ","));
    latencies.push(Date.now() - sent);
    await expect(records).toHaveText(String(recordsBefore + 3));
  }
  latencies.sort((a, b) => a - b);
  console.log(`ingest -> DOM latency ms: ${latencies.join(", ")} (max ${latencies[latencies.length - 1]})`);
  expect(problems).toEqual([]);
  await context.close();
});

test("a refused delivery shows its reason, and hostile text stays text", async ({ browser, request }) => {
  const { context, page } = await loggedIn(browser);
  const problems = watchForErrors(page);
  await page.goto("/webhook-monitor");
  await expect(page.getByTestId("live-indicator")).toHaveAttribute("data-state", "live");
  const refused = await request.post("/api/brightdata/webhook/", {
    headers: { Authorization: "Bearer wrong-token", "Content-Type": "application/json" },
    data: [],
  });
  expect(refused.status()).toBe(401);
  const row = page.getByTestId("latest-events").locator("tr[data-outcome=rejected_auth]").first();
  await expect(row).toBeVisible();
  await expect(row).toContainText("401");
  await expect(row.locator(".reason-text")).not.toBeEmpty();

  // Markup in what a client sends is shown as text, never run: the refused media type is quoted
  // in the event's reason.
  const hostile = `text/x-<img src=x onerror="window.__pwned=1"><script>window.__pwned=2</script>`;
  const echoed = await request.post("/api/brightdata/webhook/", {
    headers: { Authorization: `Bearer ${E2E_WEBHOOK_TOKEN}`, "Content-Type": hostile },
    data: "[]",
  });
  expect(echoed.status()).toBe(415);
  // After a reload too: the server's first paint must escape it as well.
  await expect(page.getByTestId("latest-events")).toContainText("onerror=");
  await page.reload();
  await expect(page.getByTestId("latest-events")).toBeVisible();
  // The markup is on screen as characters...
  await expect(page.getByTestId("latest-events")).toContainText("onerror=");
  // ...and nothing of it ran or became an element.
  expect(await page.evaluate(() => (window as unknown as { __pwned?: number }).__pwned)).toBeUndefined();
  await expect(page.getByTestId("latest-events").locator("img, script")).toHaveCount(0);
  expect(problems).toEqual([]);
  await context.close();
});

test("the server-rendered page carries real numbers before any script runs", async ({ browser, request }) => {
  await deliver(request, 2);
  const { context, page } = await loggedIn(browser, { javaScriptEnabled: false });
  await page.goto("/webhook-monitor?window=24h");
  const value = await page.getByTestId("card-requests-value").textContent();
  expect(Number(value?.replace(/,/g, ""))).toBeGreaterThan(0);
  await expect(page.locator("figure.chart svg")).toHaveCount(4);
  await expect(page.getByTestId("live-indicator")).toHaveAttribute("data-state", "offline");
  await context.close();
});

test("screenshots of the overview, wide and narrow, light and dark", async ({ browser, request }) => {
  await deliver(request, 4);
  for (const scheme of ["light", "dark"] as const) {
    for (const [name, viewport] of [
      ["wide", { width: 1280, height: 900 }],
      ["narrow", { width: 375, height: 800 }],
    ] as const) {
      const { context, page } = await loggedIn(browser, { viewport, colorScheme: scheme });
      const problems = watchForErrors(page);
      await page.goto("/webhook-monitor");
      await expect(page.getByTestId("live-indicator")).toHaveAttribute("data-state", "live");
      // The stylesheet follows the colour scheme.
      const background = await page.evaluate(() => getComputedStyle(document.body).backgroundColor);
      expect(background).toBe(scheme === "dark" ? "rgb(15, 20, 25)" : "rgb(246, 248, 250)");
      // Nothing overflows sideways at 375 px.
      const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
      expect(overflow).toBeLessThanOrEqual(0);
      await page.screenshot({ path: path.join(SHOTS, `overview-${name}-${scheme}.png`), fullPage: true });
      expect(problems).toEqual([]);
      await context.close();
    }
  }
});

/** Starts the release server on `port` with `dir` as its home; resolves once it answers. */
async function startServer(port: number, dir: string): Promise<ChildProcess> {
  const root = path.resolve(__dirname, "..", "..");
  const child = spawn(path.join(root, "target/release/server"), ["serve"], {
    env: {
      ...process.env,
      HOST: "127.0.0.1",
      PORT: String(port),
      DATA_DIR: path.join(dir, "data"),
      LOG_DIR: path.join(dir, "logs"),
      LEPTOS_SITE_ROOT: path.join(root, "target/site"),
      BRIGHTDATA_WEBHOOK_TOKEN: E2E_WEBHOOK_TOKEN,
      WEBHOOK_ADMIN_TOKEN: E2E_ADMIN_TOKEN,
      RUST_LOG: "warn",
    },
    stdio: "ignore",
  });
  for (let i = 0; i < 100; i++) {
    try {
      const response = await fetch(`http://127.0.0.1:${port}/api/health/`);
      if (response.ok) return child;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  child.kill("SIGKILL");
  throw new Error(`the server did not start on port ${port}`);
}

/** SIGTERM, and the exit within 10 s: an open live link must not hold the shutdown. */
async function stopServer(child: ChildProcess) {
  const exited = new Promise<number | null>((resolve) => child.once("exit", resolve));
  child.kill("SIGTERM");
  const code = await Promise.race([exited, new Promise<string>((r) => setTimeout(() => r("hung"), 10_000))]);
  if (code === "hung") child.kill("SIGKILL");
  expect(code, "graceful shutdown with a dashboard connected").not.toBe("hung");
}

test("the page survives the server restarting: reconnecting, then live again", async ({ browser }) => {
  const port = Number(process.env.E2E_RESTART_PORT ?? "3918");
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "tf-e2e-restart-"));
  const base = `http://127.0.0.1:${port}`;
  let server = await startServer(port, dir);
  // The session key derives from the admin token: the cookie stays valid across the restart.
  const api = await http.newContext({ baseURL: base });
  expect((await api.post("/api/auth/login", { data: { token: E2E_ADMIN_TOKEN } })).status()).toBe(200);
  const context = await browser.newContext({ baseURL: base, storageState: await api.storageState() });
  await api.dispose();
  const page = await context.newPage();
  const problems = watchForErrors(page);
  try {
    await page.goto("/webhook-monitor");
    const indicator = page.getByTestId("live-indicator");
    await expect(indicator).toHaveAttribute("data-state", "live");
    await stopServer(server);
    await expect(indicator).toHaveAttribute("data-state", "reconnecting");
    server = await startServer(port, dir);
    await expect(indicator).toHaveAttribute("data-state", "live", { timeout: 15_000 });
    // The reconnection re-synced the overview from the restarted server.
    await expect(page.getByTestId("cards")).toBeVisible();
  } finally {
    await context.close();
    await stopServer(server);
  }
  // While the server was down the browser reported the refused connections; nothing else.
  const unexpected = problems.filter((p) => !/WebSocket|ERR_CONNECTION_REFUSED|Failed to fetch/.test(p));
  expect(unexpected).toEqual([]);
});

test("the health endpoint answers for platform checks", async ({ request }) => {
  const response = await request.get("/api/health/");
  expect(response.status()).toBe(200);
  const body = await response.json();
  expect(body.status).toBe("healthy");
  expect(body.database).toBe("connected");
});

test("a first visit downloads the WASM, JS and CSS compressed; the figure is printed", async ({ browser }) => {
  // A new context: an empty cache, as a first visit has. Logged in, so the whole overview loads.
  const { context, page } = await loggedIn(browser);
  const finished: import("@playwright/test").Request[] = [];
  page.on("requestfinished", (request) => finished.push(request));
  await page.goto("/webhook-monitor");
  await expect(page.getByTestId("live-indicator")).toHaveAttribute("data-state", "live");
  await expect(page.locator("figure.chart svg")).toHaveCount(4);
  let transferred = 0;
  const assets: Record<string, { encoding: string | undefined; body: number }> = {};
  for (const request of finished) {
    const sizes = await request.sizes();
    transferred += sizes.responseBodySize + sizes.responseHeadersSize;
    const url = new URL(request.url());
    const match = url.pathname.match(/\/pkg\/track-futura\.(js|wasm|css)$/);
    if (match) {
      const response = await request.response();
      assets[match[1]] = {
        encoding: (await response?.allHeaders())?.["content-encoding"],
        body: sizes.responseBodySize,
      };
    }
  }
  for (const kind of ["js", "wasm", "css"]) {
    expect(assets[kind]?.encoding, `${kind}: ${JSON.stringify(assets)}`).toBe("br");
  }
  const raw = fs.statSync(path.join(__dirname, "../../target/site/pkg/track-futura.wasm")).size;
  expect(assets.wasm.body).toBeLessThan(raw / 2);
  console.log(
    `first visit: ${finished.length} requests, ${transferred} bytes transferred ` +
      `(WASM ${assets.wasm.body} of ${raw} bytes, JS ${assets.js.body}, CSS ${assets.css.body})`,
  );
  await context.close();
});

test("a session ended elsewhere sends the page back to the login form, not into endless reconnecting", async ({ browser }) => {
  // A session of its own: the shared one must stay valid for the other tests.
  const context = await browser.newContext();
  const page = await context.newPage();
  await logIn(page);
  await expect(page.getByTestId("live-indicator")).toHaveAttribute("data-state", "live");
  // Logged out from another tab (the same cookie): the live stream notices at its next heartbeat.
  const ended = await context.request.post("/api/auth/logout");
  expect(ended.status()).toBe(200);
  await expect(page.getByTestId("login")).toBeVisible({ timeout: 15_000 });
  await expect(page.getByTestId("live-indicator")).toHaveAttribute("data-state", "offline");
  await context.close();
});
