// The live view across instances: two release servers on one PostgreSQL database of their own; an
// events page open in Chromium on instance A; deliveries sent to instance B, one at a time. For
// each, the time from sending it to its row (its snapshot id) in A's table: what an operator
// watching A sees of what B handled (B's NOTIFY, A's hub, the page's live link and reload).
//
// Usage (after scripts/build-site):
//   node end2end/measure/live-across.mjs [--deliveries 20] [--server target/release/server] [--site target/site]
import { chromium } from "@playwright/test";
import { spawn } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { CHROMIUM_ARGS, freePort, parseArgs, psql, sleep } from "./common.mjs";

const args = parseArgs(process.argv.slice(2));
const root = path.resolve(import.meta.dirname, "../..");
const deliveries = Number(args.deliveries ?? 20);
const serverBin = path.resolve(root, args.server ?? "target/release/server");
const site = path.resolve(root, args.site ?? "target/site");
const ADMIN = "measure-admin-token-0123456789abcdef";
const WEBHOOK = "measure-webhook-token-0123456789abcdef";
const database = `tf_live_across_${process.pid}`;

const percentile = (sorted, p) => sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))];

/** An instance on the shared database; resolves once it answers its health check. */
async function instance(scratch, name) {
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  const process_ = spawn(serverBin, ["serve"], {
    stdio: ["ignore", "ignore", "inherit"],
    env: {
      PATH: process.env.PATH,
      HOST: "127.0.0.1",
      PORT: String(port),
      DATABASE_URL: `postgres://postgres@127.0.0.1:5432/${database}`,
      DATA_DIR: path.join(scratch, name, "data"),
      LOG_DIR: path.join(scratch, name, "logs"),
      LEPTOS_SITE_ROOT: site,
      BRIGHTDATA_WEBHOOK_TOKEN: WEBHOOK,
      WEBHOOK_ADMIN_TOKEN: ADMIN,
      WEBHOOK_RATE_LIMIT: "1000000",
      RUST_LOG: "warn",
    },
  });
  for (let i = 0; ; i++) {
    try {
      if ((await fetch(`${base}/api/health/`)).ok) break;
    } catch {}
    if (i > 300) throw new Error(`instance ${name} did not start`);
    await sleep(100);
  }
  return { base, process: process_ };
}

psql(`CREATE DATABASE ${database}`);
const scratch = fs.mkdtempSync(path.join(os.tmpdir(), "tf-live-across-"));
const running = [];
let browser;
try {
  // One after the other: the first migrates the database.
  const a = await instance(scratch, "a");
  running.push(a);
  const b = await instance(scratch, "b");
  running.push(b);

  browser = await chromium.launch({
    executablePath: process.env.CHROMIUM_PATH ?? "/usr/bin/chromium",
    args: CHROMIUM_ARGS,
  });
  const context = await browser.newContext();
  const login = await context.request.post(`${a.base}/api/auth/login`, { data: { token: ADMIN } });
  if (login.status() !== 200) throw new Error(`login answered ${login.status()}`);
  const page = await context.newPage();
  await page.goto(`${a.base}/webhook-monitor/events`);
  await page.locator('[data-testid="live-indicator"][data-state="live"]').waitFor();
  const table = page.getByTestId("events-table");

  const delays = [];
  for (let n = 0; n < deliveries; n++) {
    const snapshot = `s_across_${n}`;
    const record = {
      url: `https://www.instagram.com/p/across${n}/`,
      post_id: `across_${n}`,
      user_posted: "researcher",
      description: "a post seen across instances",
      likes: n,
      date_posted: new Date().toISOString(),
    };
    const sent = performance.now();
    const answer = await fetch(`${b.base}/api/brightdata/webhook/`, {
      method: "POST",
      headers: {
        authorization: `Bearer ${WEBHOOK}`,
        "content-type": "application/json",
        "snapshot-id": snapshot,
      },
      body: JSON.stringify([record]),
    });
    if (answer.status !== 200) throw new Error(`delivery answered ${answer.status}`);
    await table.locator("tbody tr", { hasText: snapshot }).first().waitFor({ timeout: 10_000 });
    delays.push(performance.now() - sent);
    // Apart, so each delivery is its own update (the page reloads at most so often).
    await sleep(1200);
  }
  delays.sort((x, y) => x - y);
  console.log(
    `${deliveries} deliveries to instance B, each until its row in A's events page: ` +
      `p50 ${percentile(delays, 0.5).toFixed(0)} ms, p95 ${percentile(delays, 0.95).toFixed(0)} ms, ` +
      `max ${delays[delays.length - 1].toFixed(0)} ms`,
  );
} finally {
  await browser?.close();
  for (const { process: p } of running) {
    p.kill("SIGTERM");
    await new Promise((r) => p.once("exit", r));
  }
  psql(`DROP DATABASE IF EXISTS ${database} WITH (FORCE)`);
  fs.rmSync(scratch, { recursive: true, force: true });
}
