// What the measurement scripts share: their `--name value` arguments, psql on the local
// PostgreSQL, a free port, a pause, and Chromium as the tests launch it.
import { execFileSync } from "node:child_process";
import * as net from "node:net";

/** `--name value` pairs of the command line, as an object. */
export const parseArgs = (argv) =>
  Object.fromEntries(
    argv.reduce((pairs, word, i, all) => {
      if (word.startsWith("--")) pairs.push([word.slice(2), all[i + 1]]);
      return pairs;
    }, []),
  );

/** What psql prints for `sql` on database `db` of the local PostgreSQL, trimmed. */
export const psql = (sql, db = "postgres") =>
  execFileSync("psql", ["-h", "127.0.0.1", "-U", "postgres", "-d", db, "-Atqc", sql]).toString().trim();

/** A port nothing listens on now. */
export const freePort = () =>
  new Promise((resolve) => {
    const server = net.createServer();
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Chromium's command line for a measurement: headless, quiet, nothing fetched on its own. */
export const CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
  "--disable-background-networking", "--disable-component-update", "--disable-sync"];
