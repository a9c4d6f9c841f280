//! Append-only JSON-lines files: `webhook_security.log` (every rejection, credential changes) and
//! `webhook_monitor.log` (service and alert lifecycle). Writes go through a bounded channel to one
//! writer task, so a flood of rejected requests never blocks a request on disk I/O; if the channel is
//! full the line is dropped and counted rather than growing memory without bound.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use serde::Serialize;
use tokio::io::AsyncWriteExt;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

const QUEUE_LINES: usize = 16_384;

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
        stop: CancellationToken,
    ) -> std::io::Result<(Self, JoinHandle<()>)> {
        if let Some(dir) = path.parent() {
            tokio::fs::create_dir_all(dir).await?;
        }
        let mut file = tokio::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .await?;
        let (sender, mut receiver) = mpsc::channel::<String>(QUEUE_LINES);
        let shown = path.display().to_string();
        let writer = tokio::spawn(async move {
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
                buffer.clear();
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
        dir: &Path,
        stop: CancellationToken,
    ) -> std::io::Result<(Self, Vec<JoinHandle<()>>)> {
        let (security, security_task) =
            LogFile::open(&dir.join("webhook_security.log"), stop.clone()).await?;
        let (monitor, monitor_task) = LogFile::open(&dir.join("webhook_monitor.log"), stop).await?;
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
        let (log, task) = LogFile::open(&path, stop.clone()).await.unwrap();
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
}
