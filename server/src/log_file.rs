//! Append-only JSON-lines files: `webhook_security.log` (rejections, credential changes) and
//! `webhook_monitor.log` (service and alert lifecycle). Writes go through a bounded channel to one
//! writer task, so a flood of rejected requests never blocks a request on disk I/O; if the channel is
//! full the line is dropped and counted rather than growing memory without bound. A file that
//! reaches its size limit is rotated (`name.1` the newest, up to `name.<keep>`), so the logs take at
//! most `(keep + 1) x limit` of disk each.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use serde::Serialize;
use tokio::io::AsyncWriteExt;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::config::LoggingConfig;

const QUEUE_LINES: usize = 16_384;

/// When a log file is rotated, and how many rotated files are kept.
#[derive(Debug, Clone, Copy)]
pub struct Rotation {
    pub max_bytes: u64,
    pub keep: u32,
}

impl Rotation {
    /// `path.1` (newest) to `path.<keep>`.
    fn rotated(path: &Path, n: u32) -> PathBuf {
        let mut name = path.as_os_str().to_owned();
        name.push(format!(".{n}"));
        PathBuf::from(name)
    }

    /// Shifts the rotated files up by one (the oldest is overwritten) and moves `path` to `.1`.
    async fn rotate(&self, path: &Path) -> std::io::Result<()> {
        for n in (1..self.keep).rev() {
            let from = Self::rotated(path, n);
            if tokio::fs::try_exists(&from).await.unwrap_or(false) {
                tokio::fs::rename(&from, Self::rotated(path, n + 1)).await?;
            }
        }
        tokio::fs::rename(path, Self::rotated(path, 1)).await
    }
}

#[derive(Clone)]
pub struct LogFile {
    path: Arc<PathBuf>,
    sender: mpsc::Sender<String>,
    dropped: Arc<AtomicU64>,
}

impl LogFile {
    /// Opens (creating the directory and file if needed) and starts the writer task. The task ends,
    /// after writing everything queued, when `stop` is cancelled or every clone is dropped.
    pub async fn open(
        path: &Path,
        rotation: Rotation,
        stop: CancellationToken,
    ) -> std::io::Result<(Self, JoinHandle<()>)> {
        if let Some(dir) = path.parent() {
            tokio::fs::create_dir_all(dir).await?;
        }
        let open = |path: PathBuf| async move {
            tokio::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(path)
                .await
        };
        let mut file = open(path.to_owned()).await?;
        let mut size = file.metadata().await?.len();
        let (sender, mut receiver) = mpsc::channel::<String>(QUEUE_LINES);
        let shown = path.display().to_string();
        let owned_path = path.to_owned();
        let writer = tokio::spawn(async move {
            let path = owned_path;
            let mut buffer = Vec::with_capacity(64 * 1024);
            loop {
                let line = tokio::select! {
                    line = receiver.recv() => line,
                    _ = stop.cancelled() => {
                        // No new lines from now on; what is queued is still written.
                        receiver.close();
                        receiver.recv().await
                    }
                };
                let Some(line) = line else { break };
                buffer.extend_from_slice(line.as_bytes());
                // Take whatever else is queued so a burst becomes one write.
                while let Ok(line) = receiver.try_recv() {
                    buffer.extend_from_slice(line.as_bytes());
                    if buffer.len() > 1 << 20 {
                        break;
                    }
                }
                if let Err(error) = file.write_all(&buffer).await {
                    tracing::error!(file = %shown, %error, "cannot write log file");
                }
                size += buffer.len() as u64;
                buffer.clear();
                if size >= rotation.max_bytes {
                    let _ = file.flush().await;
                    let reopened = match rotation.rotate(&path).await {
                        Ok(()) => open(path.clone()).await,
                        Err(error) => Err(error),
                    };
                    match reopened {
                        Ok(new) => {
                            file = new;
                            size = 0;
                        }
                        // Keep appending to the file we have rather than lose lines.
                        Err(error) => {
                            tracing::error!(file = %shown, %error, "cannot rotate log file")
                        }
                    }
                }
            }
            let _ = file.flush().await;
        });
        Ok((
            Self {
                path: Arc::new(path.to_owned()),
                sender,
                dropped: Arc::new(AtomicU64::new(0)),
            },
            writer,
        ))
    }

    /// Appends one JSON line `{"ts": <RFC 3339>, "event": <event>, ...fields}`.
    pub fn write(&self, event: &str, fields: impl Serialize) {
        let mut line = serde_json::json!({
            "ts": chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
            "event": event,
        });
        if let (Some(line), Ok(serde_json::Value::Object(extra))) =
            (line.as_object_mut(), serde_json::to_value(fields))
        {
            line.extend(extra);
        }
        let mut text = line.to_string();
        text.push('\n');
        if self.sender.try_send(text).is_err() {
            self.dropped.fetch_add(1, Ordering::Relaxed);
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Lines lost because the writer could not keep up.
    pub fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }
}

/// The two files of the original guide.
#[derive(Clone)]
pub struct AuditLogs {
    pub security: LogFile,
    pub monitor: LogFile,
}

impl AuditLogs {
    pub async fn open(
        config: &LoggingConfig,
        stop: CancellationToken,
    ) -> std::io::Result<(Self, Vec<JoinHandle<()>>)> {
        let dir = &config.dir;
        let rotation = Rotation {
            max_bytes: config.max_file_bytes,
            keep: config.keep_files,
        };
        let (security, security_task) =
            LogFile::open(&dir.join("webhook_security.log"), rotation, stop.clone()).await?;
        let (monitor, monitor_task) =
            LogFile::open(&dir.join("webhook_monitor.log"), rotation, stop).await?;
        Ok((
            Self { security, monitor },
            vec![security_task, monitor_task],
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn writes_json_lines_and_flushes_when_stopped() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("nested/security.log");
        let stop = CancellationToken::new();
        let rotation = Rotation {
            max_bytes: 1 << 20,
            keep: 2,
        };
        let (log, task) = LogFile::open(&path, rotation, stop.clone()).await.unwrap();
        log.write(
            "rejected",
            serde_json::json!({"ip": "10.0.0.1", "reason": "bad token"}),
        );
        log.write("rejected", serde_json::json!({"ip": "10.0.0.2"}));
        stop.cancel();
        task.await.unwrap();
        // After stopping, writes are dropped (and counted), never blocking.
        log.write("late", serde_json::json!({}));
        assert_eq!(log.dropped(), 1);
        let text = std::fs::read_to_string(&path).unwrap();
        let lines: Vec<serde_json::Value> = text
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(lines.len(), 2);
        assert_eq!(lines[0]["event"], "rejected");
        assert_eq!(lines[0]["ip"], "10.0.0.1");
        assert_eq!(lines[0]["reason"], "bad token");
        assert!(lines[1]["ts"].as_str().unwrap().ends_with('Z'));
    }

    #[tokio::test]
    async fn a_full_file_is_rotated_and_only_the_newest_files_are_kept() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("security.log");
        let rotation = Rotation {
            max_bytes: 4096,
            keep: 2,
        };
        let stop = CancellationToken::new();
        let (log, task) = LogFile::open(&path, rotation, stop.clone()).await.unwrap();
        let mut sent = 0;
        for n in 0..400 {
            log.write(
                "rejected",
                serde_json::json!({ "n": n, "pad": "x".repeat(40) }),
            );
            sent += 1;
            // Let the writer take the lines in several writes, as a real trickle would.
            if n % 20 == 0 {
                tokio::time::sleep(std::time::Duration::from_millis(2)).await;
            }
        }
        stop.cancel();
        task.await.unwrap();
        assert_eq!(log.dropped(), 0);
        let read = |p: &Path| std::fs::read_to_string(p).unwrap_or_default();
        let files = [
            path.clone(),
            Rotation::rotated(&path, 1),
            Rotation::rotated(&path, 2),
        ];
        for file in &files {
            assert!(file.exists(), "{}", file.display());
            // A file is rotated once a write takes it past the limit: at most one burst above.
            assert!(read(file).len() < 4096 + (1 << 20), "{}", file.display());
        }
        assert!(!Rotation::rotated(&path, 3).exists());
        // The newest lines are in the live file, older ones in `.1`, then `.2`; the oldest are gone.
        let numbers = |p: &Path| -> Vec<i64> {
            read(p)
                .lines()
                .map(|l| {
                    serde_json::from_str::<serde_json::Value>(l).unwrap()["n"]
                        .as_i64()
                        .unwrap()
                })
                .collect()
        };
        // Oldest first: `.2`, `.1`, then the live file (empty when the last write just rotated).
        let kept: Vec<i64> = [&files[2], &files[1], &files[0]]
            .into_iter()
            .flat_map(|f| numbers(f))
            .collect();
        assert!(kept.windows(2).all(|w| w[0] + 1 == w[1]), "{kept:?}");
        assert_eq!(kept.last(), Some(&(sent - 1)));
        assert!(kept[0] > 0, "the oldest lines were deleted");
    }
}
