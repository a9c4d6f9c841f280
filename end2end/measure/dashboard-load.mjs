// What open dashboards cost the database: the release server on a PostgreSQL database of its own,
// a steady stream of deliveries (the same rate in every phase), first with no dashboard open, then
// with N overview pages open in Chromium (logged in, live). PostgreSQL counts the transactions
// (pg_stat_database.xact_commit; every read a page causes is one), so the figure is the
// database's own count, not the server's idea of it.
//
// Usage (after scripts/build-site):
//   node end2end/measure/dashboard-load.mjs [--pages 20] [--seconds 20] [--rate 100]
//        [--server target/release/server] [--site target/site]
import { chromium } from "@playwright/test";
import { spawn } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { CHROMIUM_ARGS, freePort, parseArgs, psql, sleep } from "./common.mjs";

const args = parseArgs(process.argv.slice(2));
const root = path.resolve(import.meta.dirname, "../..");
const pages = Number(args.pages ?? 20);
const seconds = Number(args.seconds ?? 20);
const rate = Number(args.rate ?? 100);
const serverBin = path.resolve(root, args.server ?? "target/release/server");
const site = path.resolve(root, args.site ?? "target/site");
const ADMIN = "measure-admin-token-0123456789abcdef";
const WEBHOOK = "measure-webhook-token-0123456789abcdef";
const database = `tf_dashload_${process.pid}`;

const commits = () =>
  Number(psql(`SELECT xact_commit + xact_rollback FROM pg_stat_database WHERE datname = '${database}'`));


psql(`CREATE DATABASE ${database}`);
const scratch = fs.mkdtempSync(path.join(os.tmpdir(), "tf-dashload-"));
const port = await freePort();
const base = `http://127.0.0.1:${port}`;
const server = spawn(serverBin, ["serve"], {
  stdio: ["ignore", "ignore", "inherit"],
  env: {
    PATH: process.env.PATH,
    HOST: "127.0.0.1",
    PORT: String(port),
    DATABASE_URL: `postgres://postgres@127.0.0.1:5432/${database}`,
    DATA_DIR: path.join(scratch, "data"),
    LOG_DIR: path.join(scratch, "logs"),
    LEPTOS_SITE_ROOT: site,
    BRIGHTDATA_WEBHOOK_TOKEN: WEBHOOK,
    WEBHOOK_ADMIN_TOKEN: ADMIN,
    WEBHOOK_RATE_LIMIT: "1000000",
    RUST_LOG: "warn",
  },
});
let browser;
try {
  for (let i = 0; ; i++) {
    try {
      if ((await fetch(`${base}/api/health/`)).ok) break;
    } catch {}
    if (i > 300) throw new Error("the server did not start");
    await sleep(100);
  }

  // ~1 KB Instagram-shaped records, a new post id each, five snapshots taking turns.
  let sent = 0;
  const deliver = async () => {
    const n = sent++;
    const record = {
      url: `https://www.instagram.com/p/load${n}/`,
      post_id: `load_${n}`,
      user_posted: `researcher_${n % 50}`,
      description: "a post of the measured load ".repeat(24),
      likes: n % 1000,
      num_comments: n % 97,
      date_posted: new Date(Date.now() - n * 1000).toISOString(),
    };
    const snapshot = `s_load_${n % 5}`;
    const answer = await fetch(`${base}/api/brightdata/webhook/`, {
      method: "POST",
      headers: {
        authorization: `Bearer ${WEBHOOK}`,
        "content-type": "application/json",
        "snapshot-id": snapshot,
        "dca-filename": `${snapshot}_${n}.json`,
      },
      body: JSON.stringify([record]),
    });
    if (answer.status !== 200) throw new Error(`delivery answered ${answer.status}`);
  };
  // `rate` deliveries a second for `seconds`, then the transactions counted meanwhile.
  const phase = async () => {
    const before = commits();
    const started = Date.now();
    const inFlight = new Set();
    for (let i = 0; i < seconds * rate; i++) {
      const due = started + (i * 1000) / rate;
      if (due > Date.now()) await sleep(due - Date.now());
      const p = deliver().finally(() => inFlight.delete(p));
      inFlight.add(p);
    }
    await Promise.all(inFlight);
    const elapsed = (Date.now() - started) / 1000;
    await sleep(1500); // the server's backends report their counts at most once a second
    return (commits() - before) / elapsed;
  };

  await phase(); // warm-up: pools open, rows exist
  const idle = await phase();

  browser = await chromium.launch({
    executablePath: process.env.CHROMIUM_PATH ?? "/usr/bin/chromium",
    args: CHROMIUM_ARGS,
  });
  const context = await browser.newContext();
  const login = await context.request.post(`${base}/api/auth/login`, { data: { token: ADMIN } });
  if (login.status() !== 200) throw new Error(`login answered ${login.status()}`);
  for (let i = 0; i < pages; i++) {
    const page = await context.newPage();
    await page.goto(`${base}/webhook-monitor`);
    await page.locator('[data-testid="live-indicator"][data-state="live"]').waitFor();
  }
  const watched = await phase();
  const share = watched - idle;
  console.log(
    `${rate} deliveries/s for ${seconds} s: ${idle.toFixed(0)} database transactions/s with no dashboard, ` +
      `${watched.toFixed(0)} with ${pages} overview pages open: ` +
      `${share.toFixed(0)}/s for the dashboards (${(share / pages).toFixed(1)} per page)`,
  );
} finally {
  await browser?.close();
  server.kill("SIGTERM");
  await new Promise((r) => server.once("exit", r));
  psql(`DROP DATABASE IF EXISTS ${database} WITH (FORCE)`);
  fs.rmSync(scratch, { recursive: true, force: true });
}
