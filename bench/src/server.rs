//! Starts the release server as a child process with a fresh data directory.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

/// The admin token every bench server starts with (the monitor API, the dashboard's stream).
pub const ADMIN_TOKEN: &str = "bench-admin-token-0123456789";

pub struct Server {
    child: Child,
    pub port: u16,
    dir: tempfile::TempDir,
    /// The PostgreSQL database it runs on, if not its SQLite file.
    database_url: Option<String>,
}

/// A PostgreSQL database created for one run and dropped when it ends.
pub struct PgDatabase {
    server: String,
    name: String,
    pub url: String,
}

impl PgDatabase {
    /// Creates `bench_<pid>` on `server` (e.g. postgres://postgres@127.0.0.1:5432, or with
    /// connection options after a `?`, such as `?sslmode=disable`, kept for every connection).
    pub fn create(server: &str) -> anyhow::Result<Self> {
        let server = server.to_owned();
        let name = format!("bench_{}", std::process::id());
        psql(
            &database_url(&server, "postgres"),
            &format!("CREATE DATABASE {name}"),
        )?;
        Ok(Self {
            url: database_url(&server, &name),
            server,
            name,
        })
    }
}

impl Drop for PgDatabase {
    fn drop(&mut self) {
        let _ = psql(
            &database_url(&self.server, "postgres"),
            &format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name),
        );
    }
}

/// `server`'s URL naming `database`, its options (after `?`) kept.
fn database_url(server: &str, database: &str) -> String {
    let (base, options) = match server.split_once('?') {
        Some((base, options)) => (base, format!("?{options}")),
        None => (server, String::new()),
    };
    format!("{}/{database}{options}", base.trim_end_matches('/'))
}

/// What `psql` prints for `sql` on `url`, trimmed.
fn psql(url: &str, sql: &str) -> anyhow::Result<String> {
    let output = Command::new("psql")
        .args([url, "-tAc", sql])
        .output()
        .map_err(|e| anyhow::anyhow!("psql is needed for PostgreSQL runs ({e})"))?;
    anyhow::ensure!(
        output.status.success(),
        "psql: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    Ok(String::from_utf8_lossy(&output.stdout).trim().to_owned())
}

impl Server {
    pub fn start(binary: &str, vars: &[(&str, &str)]) -> anyhow::Result<Self> {
        Self::start_in(binary, tempfile::tempdir()?, vars)
    }

    /// Starts on an existing data directory (`<dir>/data`), e.g. one seeded beforehand.
    pub fn start_in(
        binary: &str,
        dir: tempfile::TempDir,
        vars: &[(&str, &str)],
    ) -> anyhow::Result<Self> {
        let mut command = Command::new(binary);
        command
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("HOST", "127.0.0.1")
            .env("PORT", "0")
            .env("DATA_DIR", dir.path().join("data"))
            .env("LOG_DIR", dir.path().join("logs"))
            .env("LOG_FORMAT", "json")
            .env("RUST_LOG", "info")
            .env("WEBHOOK_ADMIN_TOKEN", ADMIN_TOKEN)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit());
        for (name, value) in vars {
            command.env(name, value);
        }
        let mut child = command.spawn().map_err(|e| {
            anyhow::anyhow!("starting {binary}: {e} (build it: cargo build --release -p server)")
        })?;
        let mut reader = BufReader::new(child.stdout.take().expect("piped"));
        let port = loop {
            let mut line = String::new();
            if reader.read_line(&mut line)? == 0 {
                let status = child.wait()?;
                anyhow::bail!("the server exited before listening: {status}");
            }
            let json: serde_json::Value = serde_json::from_str(&line).unwrap_or_default();
            if json["message"] == "listening" {
                let address = json["address"].as_str().unwrap_or_default();
                break address.rsplit(':').next().unwrap_or_default().parse()?;
            }
        };
        std::thread::spawn(move || std::io::copy(&mut reader, &mut std::io::sink()));
        let database_url = vars
            .iter()
            .find(|(name, _)| *name == "DATABASE_URL")
            .map(|(_, url)| (*url).to_owned());
        Ok(Self {
            child,
            port,
            dir,
            database_url,
        })
    }

    /// Resets the peak resident memory (VmHWM) to the current one (Linux: `clear_refs` 5).
    pub fn reset_peak_rss(&self) -> anyhow::Result<()> {
        std::fs::write(format!("/proc/{}/clear_refs", self.child.id()), "5")?;
        Ok(())
    }

    fn status_kb(&self, field: &str) -> anyhow::Result<u64> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id()))?;
        let line = status
            .lines()
            .find(|l| l.starts_with(field))
            .ok_or_else(|| anyhow::anyhow!("{field} missing"))?;
        Ok(line.split_whitespace().nth(1).unwrap_or("0").parse()?)
    }

    /// Peak resident memory so far (VmHWM).
    pub fn peak_rss_kb(&self) -> anyhow::Result<u64> {
        self.status_kb("VmHWM:")
    }

    pub fn rss_kb(&self) -> anyhow::Result<u64> {
        self.status_kb("VmRSS:")
    }

    /// See [`cpu_ticks_by_thread`].
    pub fn cpu_ticks_by_thread(&self) -> anyhow::Result<BTreeMap<String, u64>> {
        cpu_ticks_by_thread(self.child.id())
    }

    /// Context switches of all the server's threads so far: (voluntary, involuntary). Voluntary
    /// ones are the hand-offs (a thread waiting for another: the writer for SQLite's thread, a
    /// request for the writer), which depend on the code more than on the machine's load.
    pub fn context_switches(&self) -> anyhow::Result<(u64, u64)> {
        let (mut voluntary, mut involuntary) = (0, 0);
        let number = |l: &str| l.split_whitespace().nth(1)?.parse::<u64>().ok();
        for status in thread_files(self.child.id(), "status")? {
            for line in status.lines() {
                if line.starts_with("voluntary_ctxt_switches:") {
                    voluntary += number(line).unwrap_or(0);
                } else if line.starts_with("nonvoluntary_ctxt_switches:") {
                    involuntary += number(line).unwrap_or(0);
                }
            }
        }
        Ok((voluntary, involuntary))
    }

    /// A count from the server's SQLite database, read with the sqlite3 command line tool.
    /// The server's own directory (`data/`, `logs/`).
    pub fn dir(&self) -> &std::path::Path {
        self.dir.path()
    }

    pub fn count(&self, sql: &str) -> anyhow::Result<i64> {
        Ok(self.text(sql)?.parse()?)
    }

    /// What `sqlite3` (or `psql`, on PostgreSQL) prints for `sql`, trimmed.
    pub fn text(&self, sql: &str) -> anyhow::Result<String> {
        if let Some(url) = &self.database_url {
            return psql(url, sql);
        }
        let db = self.dir.path().join("data/track-futura.db");
        let output = Command::new("sqlite3").arg(&db).arg(sql).output();
        match output {
            Ok(output) if output.status.success() => {
                Ok(String::from_utf8_lossy(&output.stdout).trim().to_owned())
            }
            Ok(output) => anyhow::bail!("sqlite3: {}", String::from_utf8_lossy(&output.stderr)),
            Err(e) => {
                anyhow::bail!("sqlite3 is needed to read results ({e}): apt-get install sqlite3")
            }
        }
    }
}

/// The file `name` (`stat`, `status`) of each thread of process `pid` still running.
fn thread_files(pid: u32, name: &str) -> anyhow::Result<Vec<String>> {
    let mut files = Vec::new();
    for task in std::fs::read_dir(format!("/proc/{pid}/task"))? {
        // A thread may end between listing and reading.
        if let Ok(text) = std::fs::read_to_string(task?.path().join(name)) {
            files.push(text);
        }
    }
    Ok(files)
}

/// CPU time (user + system, in clock ticks) each thread of process `pid` has used so far, summed
/// per thread name (`tokio-rt-worker`, `db-writer`, `sqlx-sqlite-wor`...). Threads that ended are
/// not counted: take it while the load runs.
pub fn cpu_ticks_by_thread(pid: u32) -> anyhow::Result<BTreeMap<String, u64>> {
    let mut by_name = BTreeMap::new();
    for stat in thread_files(pid, "stat")? {
        if let Some((name, ticks)) = name_and_cpu_ticks(&stat) {
            *by_name.entry(name.to_owned()).or_insert(0) += ticks;
        }
    }
    Ok(by_name)
}

/// The name and CPU time (user + system, clock ticks) in a `/proc/.../stat` line: "pid (name) state
/// ...", where the name may hold spaces; utime and stime are fields 14 and 15 of stat(5).
pub fn name_and_cpu_ticks(stat: &str) -> Option<(&str, u64)> {
    let (open, close) = (stat.find('(')?, stat.rfind(')')?);
    let fields: Vec<&str> = stat.get(close + 2..)?.split(' ').collect();
    let ticks = fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?;
    Some((&stat[open + 1..close], ticks))
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[cfg(test)]
mod tests {
    use super::database_url;

    #[test]
    fn a_database_is_named_before_the_options() {
        let server = "postgres://postgres@127.0.0.1:5432";
        assert_eq!(
            database_url(server, "bench_1"),
            "postgres://postgres@127.0.0.1:5432/bench_1"
        );
        assert_eq!(
            database_url(&format!("{server}/?sslmode=disable"), "postgres"),
            "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"
        );
    }
}
