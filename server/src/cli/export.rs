//! `server export-events` and `server export-posts`: the monitor API's exports, read from the
//! database directly (they work while the server runs: SQLite readers never block the writer),
//! with a progress bar on a terminal. The file appears whole or not at all: it is written beside
//! the target and renamed when complete. A target ending in `.gz` is gzip-compressed.

use std::io::Write;
use std::path::{Path, PathBuf};

use app::types::PostFilter;
use flate2::write::GzEncoder;
use futures_util::StreamExt;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use super::{EXIT_USAGE, Failure, failed, failure};
use crate::config::Config;
use crate::views::events::Filter;
use crate::views::export::ExportChunks;
use crate::views::{ViewError, export, posts};

/// Where an export goes and how it reports progress.
pub struct Target {
    pub output: PathBuf,
    pub progress: Progress,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Progress {
    Off,
    /// A bar redrawn in place (stderr is a terminal).
    Bar,
    /// A line per page written (`--progress` without a terminal).
    Lines,
}

fn refused(error: ViewError) -> Failure {
    match error {
        ViewError::Internal(_) => failed(error.to_string()),
        _ => failure(EXIT_USAGE, error.to_string()),
    }
}

/// Writes the events `filter` matches; how many.
pub async fn events(config: &Config, filter: &Filter, target: &Target) -> Result<u64, Failure> {
    let db = super::open_database(config).await?;
    let total = export::count(&db, filter).await.map_err(refused)?;
    let (_, chunks) = export::chunks(db.clone(), filter).map_err(refused)?;
    let written = write(chunks, total, "events", target).await;
    let _ = db.close().await;
    written
}

/// Writes the posts `filter` matches, in its format (CSV, NDJSON or Parquet); how many.
pub async fn posts(config: &Config, filter: &PostFilter, target: &Target) -> Result<u64, Failure> {
    let db = super::open_database(config).await?;
    let total = posts::count(&db, filter).await.map_err(refused)?;
    let (_, chunks) = posts::export(db.clone(), filter).map_err(refused)?;
    let written = write(chunks, total, "posts", target).await;
    let _ = db.close().await;
    written
}

/// The file being written, plain or through gzip.
enum Out {
    Plain(std::io::BufWriter<std::fs::File>),
    Gzip(Box<GzEncoder<std::io::BufWriter<std::fs::File>>>),
}

impl Out {
    fn write_all(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        match self {
            Self::Plain(file) => file.write_all(bytes),
            Self::Gzip(gzip) => gzip.write_all(bytes),
        }
    }

    /// Ends the gzip stream (its trailer) and flushes everything to the file.
    fn finish(self) -> std::io::Result<()> {
        match self {
            Self::Plain(mut file) => file.flush(),
            Self::Gzip(gzip) => gzip.finish()?.flush(),
        }
    }
}

/// Writes the chunks to the target (through gzip for a `.gz` name), showing progress.
async fn write(
    mut chunks: ExportChunks,
    total: u64,
    unit: &str,
    target: &Target,
) -> Result<u64, Failure> {
    let output = &target.output;
    let failed_writing = |e: std::io::Error| failed(format!("writing {}: {e}", output.display()));
    // On a terminal a bar; elsewhere (logs, CI), with --progress, a line per page.
    let bar = match target.progress {
        Progress::Bar => {
            let bar = ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::stderr());
            bar.set_style(
                ProgressStyle::with_template(&format!(
                    "{{bar:40}} {{pos}}/{{len}} {unit}  {{per_sec}}  eta {{eta}}"
                ))
                .expect("a valid template"),
            );
            Some(bar)
        }
        Progress::Lines | Progress::Off => None,
    };

    let dir = output
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let partial = tempfile::NamedTempFile::new_in(dir)
        .map_err(|e| failure(EXIT_USAGE, format!("writing in {}: {e}", dir.display())))?;
    let file = std::io::BufWriter::new(partial.reopen().map_err(failed_writing)?);
    let mut out = if output.extension().is_some_and(|e| e == "gz") {
        Out::Gzip(Box::new(GzEncoder::new(
            file,
            flate2::Compression::default(),
        )))
    } else {
        Out::Plain(file)
    };
    let mut written = 0;
    while let Some(chunk) = chunks.next().await {
        let (bytes, rows) = chunk.map_err(|e| failed(format!("reading {unit}: {e}")))?;
        out.write_all(&bytes).map_err(failed_writing)?;
        written += rows;
        match (&bar, target.progress) {
            (Some(bar), _) => bar.set_position(written),
            (None, Progress::Lines) => eprintln!("{written}/{total} {unit}"),
            _ => {}
        }
    }
    if let Some(bar) = bar {
        bar.finish();
    }
    out.finish().map_err(failed_writing)?;
    partial.as_file().sync_all().map_err(failed_writing)?;
    partial
        .persist(output)
        .map_err(|e| failed_writing(e.error))?;
    Ok(written)
}
