//! The ngrok helper for local development: starts the `ngrok` agent on the service's port, reads its
//! local API (`NGROK_API_URL`, default `http://127.0.0.1:4040/api/tunnels`) for the https public URL,
//! and stops only the process it started (its pid file names it, with the process's start time so a
//! reused pid is never signalled).

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde::Deserialize;

use crate::config::{Config, NgrokRegion};

/// Why an ngrok command failed; the CLI gives each kind its exit code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NgrokError {
    /// No ngrok executable was found.
    NotInstalled(String),
    /// No agent started by `server ngrok start` is running.
    NotRunning(String),
    /// The options cannot work together.
    Usage(String),
    Failed(String),
}

impl NgrokError {
    fn not_installed(message: impl Into<String>) -> Self {
        Self::NotInstalled(message.into())
    }

    fn not_running(message: impl Into<String>) -> Self {
        Self::NotRunning(message.into())
    }

    fn usage(message: impl Into<String>) -> Self {
        Self::Usage(message.into())
    }

    fn failed(message: impl Into<String>) -> Self {
        Self::Failed(message.into())
    }
}

/// The pid file under `DATA_DIR`.
pub const PID_FILE: &str = "ngrok.pid";
/// The agent's output under `LOG_DIR`.
pub const LOG_FILE: &str = "ngrok.log";

#[derive(Debug, Deserialize)]
struct TunnelList {
    tunnels: Vec<Tunnel>,
}

#[derive(Debug, Deserialize)]
struct Tunnel {
    public_url: String,
    #[serde(default)]
    proto: String,
    #[serde(default)]
    config: TunnelConfig,
}

#[derive(Debug, Default, Deserialize)]
struct TunnelConfig {
    /// What the tunnel forwards to: `http://localhost:8000`, `localhost:8000` or `8000`.
    #[serde(default)]
    addr: String,
}

/// The https public URL of the agent's tunnel to `port` (else of any https tunnel), `None` when
/// the agent runs without one, an error when no agent answers.
pub async fn https_tunnel(
    api: &str,
    port: u16,
    timeout: Duration,
) -> Result<Option<String>, String> {
    let url = format!("{}/api/tunnels", api.trim_end_matches('/'));
    let client = crate::outbound::builder()
        .timeout(timeout)
        .no_proxy()
        .build()
        .map_err(|e| e.to_string())?;
    let answer = client.get(&url).send().await.map_err(|e| {
        if e.is_connect() {
            "connection refused".to_owned()
        } else {
            e.to_string()
        }
    })?;
    if !answer.status().is_success() {
        return Err(format!("{url} answered {}", answer.status()));
    }
    let list: TunnelList = answer
        .json()
        .await
        .map_err(|e| format!("{url} did not answer a tunnel list ({e})"))?;
    Ok(pick_tunnel(&list.tunnels, port))
}

fn pick_tunnel(tunnels: &[Tunnel], port: u16) -> Option<String> {
    let https: Vec<&Tunnel> = tunnels
        .iter()
        .filter(|t| t.proto == "https" || t.public_url.starts_with("https://"))
        .collect();
    let forwards_to_port = |t: &&&Tunnel| {
        t.config
            .addr
            .rsplit(':')
            .next()
            .and_then(|p| p.trim_end_matches('/').parse::<u16>().ok())
            == Some(port)
    };
    https
        .iter()
        .find(forwards_to_port)
        .or(https.first())
        .map(|t| t.public_url.trim_end_matches('/').to_owned())
}

/// What `ngrok start` was asked for.
#[derive(Debug, Clone)]
pub struct StartOptions {
    pub port: u16,
    pub subdomain: Option<String>,
    pub region: NgrokRegion,
}

/// The ngrok executable: `NGROK_BIN`, else `ngrok` on the `PATH`.
pub fn find_binary(config: &Config) -> Result<PathBuf, NgrokError> {
    let missing = |what: String| {
        NgrokError::not_installed(format!(
            "{what}: install ngrok (https://ngrok.com/download; `snap install ngrok`, `brew install ngrok`) or set NGROK_BIN to its path"
        ))
    };
    if let Some(bin) = &config.ngrok.bin {
        return if is_executable(bin) {
            Ok(bin.clone())
        } else {
            Err(missing(format!(
                "NGROK_BIN={} is not an executable file",
                bin.display()
            )))
        };
    }
    std::env::var_os("PATH")
        .iter()
        .flat_map(std::env::split_paths)
        .map(|dir| dir.join("ngrok"))
        .find(|candidate| is_executable(candidate))
        .ok_or_else(|| missing("ngrok is not on the PATH".to_owned()))
}

fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    fs::metadata(path).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

/// The process this helper started, as its pid file records it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Started {
    pid: i32,
    /// `/proc/<pid>/stat` field 22: tells a reused pid from ours.
    start_time: u64,
}

/// The agent's local API, without a trailing slash.
fn api_url(config: &Config) -> String {
    config
        .ngrok
        .api_url
        .as_str()
        .trim_end_matches('/')
        .to_owned()
}

fn pid_path(config: &Config) -> PathBuf {
    config.storage.data_dir.join(PID_FILE)
}

fn read_pid_file(path: &Path) -> Option<Started> {
    let text = fs::read_to_string(path).ok()?;
    let mut parts = text.split_whitespace();
    Some(Started {
        pid: parts.next()?.parse().ok()?,
        start_time: parts.next()?.parse().ok()?,
    })
}

/// The start time of a live process, `None` when there is none (or only a zombie).
fn process_start_time(pid: i32) -> Option<u64> {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // `pid (comm) state ...`: comm may hold spaces and parentheses, so split after the last ')'.
    let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    if fields.first() == Some(&"Z") {
        return None;
    }
    fields.get(19)?.parse().ok()
}

/// The process of the pid file, if it is still the one this helper started.
fn running(config: &Config) -> Option<Started> {
    let started = read_pid_file(&pid_path(config))?;
    (process_start_time(started.pid) == Some(started.start_time)).then_some(started)
}

/// Starts the agent (unless one this helper started runs already) and waits for its https tunnel.
/// Returns the public URL.
pub async fn start(config: &Config, options: &StartOptions) -> Result<String, NgrokError> {
    let api = api_url(config);
    if let Some(started) = running(config) {
        return match https_tunnel(&api, options.port, Duration::from_secs(2)).await {
            Ok(Some(url)) => Ok(url),
            _ => Err(NgrokError::failed(format!(
                "ngrok (pid {}) is running but its API at {api} shows no https tunnel: `server ngrok stop`, then start again",
                started.pid
            ))),
        };
    }
    let binary = find_binary(config)?;
    if options.subdomain.is_some() && config.ngrok.auth_token.is_none() {
        return Err(NgrokError::usage(
            "a custom subdomain needs an ngrok account: set NGROK_AUTH_TOKEN",
        ));
    }
    fs::create_dir_all(&config.storage.data_dir)
        .and_then(|()| fs::create_dir_all(&config.logging.dir))
        .map_err(|e| NgrokError::failed(format!("creating DATA_DIR / LOG_DIR: {e}")))?;
    let log_path = config.logging.dir.join(LOG_FILE);
    let log = fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&log_path)
        .map_err(|e| NgrokError::failed(format!("opening {}: {e}", log_path.display())))?;
    let mut command = Command::new(&binary);
    command
        .arg("http")
        .arg(options.port.to_string())
        .arg(format!("--region={}", options.region.code()))
        .args(["--log=stdout", "--log-format=json"]);
    if let Some(subdomain) = &options.subdomain {
        command.arg(format!("--subdomain={subdomain}"));
    }
    if let Some(token) = &config.ngrok.auth_token {
        // The agent reads its credential from the environment: it never appears in `ps`.
        command.env("NGROK_AUTHTOKEN", token.expose());
    }
    {
        use std::os::unix::process::CommandExt;
        // Its own process group: a Ctrl-C in this terminal later does not take the tunnel down.
        command.process_group(0);
    }
    let stderr = log
        .try_clone()
        .map_err(|e| NgrokError::failed(format!("opening {}: {e}", log_path.display())))?;
    let mut child = command
        .stdin(Stdio::null())
        .stdout(log)
        .stderr(stderr)
        .spawn()
        .map_err(|e| NgrokError::failed(format!("starting {}: {e}", binary.display())))?;
    let pid = child.id() as i32;
    let start_time = process_start_time(pid).unwrap_or_default();
    let pid_file = pid_path(config);
    fs::write(&pid_file, format!("{pid} {start_time}\n"))
        .map_err(|e| NgrokError::failed(format!("writing {}: {e}", pid_file.display())))?;

    let deadline = Instant::now() + Duration::from_secs(20);
    let mut last = String::from("no answer yet");
    while Instant::now() < deadline {
        if let Ok(Some(status)) = child.try_wait() {
            let _ = fs::remove_file(&pid_file);
            return Err(NgrokError::failed(format!(
                "ngrok exited ({status}) before opening a tunnel; its output is in {}:\n{}",
                log_path.display(),
                tail(&log_path, 10)
            )));
        }
        match https_tunnel(&api, options.port, Duration::from_secs(1)).await {
            Ok(Some(url)) => return Ok(url),
            Ok(None) => last = "the agent answers but has no https tunnel yet".to_owned(),
            Err(error) => last = error,
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    Err(NgrokError::failed(format!(
        "ngrok (pid {pid}) opened no https tunnel within 20 s ({last}); it is still running: `server ngrok stop`. Its output is in {}",
        log_path.display()
    )))
}

/// The public URL of the running agent, or why there is none.
pub async fn status(config: &Config, port: u16) -> Result<(i32, String), NgrokError> {
    let api = api_url(config);
    let Some(started) = running(config) else {
        return Err(NgrokError::not_running(
            "no ngrok started by `server ngrok start` is running",
        ));
    };
    match https_tunnel(&api, port, Duration::from_secs(2)).await {
        Ok(Some(url)) => Ok((started.pid, url)),
        Ok(None) => Err(NgrokError::failed(format!(
            "ngrok (pid {}) runs but has no https tunnel",
            started.pid
        ))),
        Err(error) => Err(NgrokError::failed(format!(
            "ngrok (pid {}) runs but its API at {api} failed: {error}",
            started.pid
        ))),
    }
}

/// Stops the agent this helper started (never another process named ngrok). Returns its pid.
pub async fn stop(config: &Config) -> Result<i32, NgrokError> {
    let pid_file = pid_path(config);
    let Some(recorded) = read_pid_file(&pid_file) else {
        return Err(NgrokError::not_running(format!(
            "no pid file at {}: nothing this helper started",
            pid_file.display()
        )));
    };
    if process_start_time(recorded.pid) != Some(recorded.start_time) {
        let _ = fs::remove_file(&pid_file);
        return Err(NgrokError::not_running(format!(
            "ngrok (pid {}) is no longer running; removed the stale pid file",
            recorded.pid
        )));
    }
    let pid = rustix::process::Pid::from_raw(recorded.pid)
        .ok_or_else(|| NgrokError::failed("the pid file holds an invalid pid"))?;
    let signal = |signal| rustix::process::kill_process(pid, signal);
    signal(rustix::process::Signal::TERM)
        .map_err(|e| NgrokError::failed(format!("signalling pid {}: {e}", recorded.pid)))?;
    let deadline = Instant::now() + Duration::from_secs(5);
    while process_start_time(recorded.pid) == Some(recorded.start_time) {
        if Instant::now() > deadline {
            let _ = signal(rustix::process::Signal::KILL);
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let _ = fs::remove_file(&pid_file);
    Ok(recorded.pid)
}

fn tail(path: &Path, lines: usize) -> String {
    let text = fs::read_to_string(path).unwrap_or_default();
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tunnels(json: &str) -> Vec<Tunnel> {
        serde_json::from_str::<TunnelList>(json).unwrap().tunnels
    }

    #[test]
    fn picks_the_https_tunnel_to_our_port() {
        // As ngrok v3's agent answers GET /api/tunnels.
        let list = tunnels(
            r#"{"tunnels":[
              {"name":"other","ID":"1","uri":"/api/tunnels/other","public_url":"https://other.ngrok-free.app","proto":"https","config":{"addr":"http://localhost:3000","inspect":true},"metrics":{}},
              {"name":"command_line (http)","ID":"2","uri":"/api/tunnels/x","public_url":"http://abc.ngrok-free.app","proto":"http","config":{"addr":"http://localhost:8000","inspect":true}},
              {"name":"command_line","ID":"3","uri":"/api/tunnels/command_line","public_url":"https://abc.ngrok-free.app","proto":"https","config":{"addr":"http://localhost:8000","inspect":true}}
            ],"uri":"/api/tunnels"}"#,
        );
        assert_eq!(
            pick_tunnel(&list, 8000).as_deref(),
            Some("https://abc.ngrok-free.app")
        );
        // No tunnel to our port: any https tunnel is better than none.
        assert_eq!(
            pick_tunnel(&list, 9000).as_deref(),
            Some("https://other.ngrok-free.app")
        );
        let http_only = tunnels(
            r#"{"tunnels":[{"public_url":"http://abc.ngrok.io","proto":"http","config":{"addr":"8000"}}]}"#,
        );
        assert_eq!(pick_tunnel(&http_only, 8000), None);
        assert_eq!(pick_tunnel(&[], 8000), None);
    }

    #[test]
    fn reads_the_start_time_of_a_live_process_only() {
        let me = std::process::id() as i32;
        let start = process_start_time(me).expect("this process runs");
        assert!(start > 0);
        assert_eq!(process_start_time(me), Some(start));
        assert_eq!(process_start_time(i32::MAX), None);
    }

    #[test]
    fn pid_files_round_trip_and_garbage_is_none() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(PID_FILE);
        fs::write(&path, "123 456\n").unwrap();
        assert_eq!(
            read_pid_file(&path),
            Some(Started {
                pid: 123,
                start_time: 456
            })
        );
        fs::write(&path, "123\n").unwrap();
        assert_eq!(read_pid_file(&path), None);
        fs::write(&path, "ngrok").unwrap();
        assert_eq!(read_pid_file(&path), None);
    }
}
