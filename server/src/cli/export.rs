//! `server export-events --format csv|json --output FILE [filters]`: the monitor API's export,
//! read from the database directly (it works while the server runs: SQLite readers never block the
//! writer), with a progress bar on a terminal. The file appears whole or not at all: it is written
//! beside the target and renamed when complete.

use std::io::Write;
use std::path::PathBuf;

use futures_util::StreamExt;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use super::{EXIT_USAGE, Failure, failed, failure};
use crate::config::Config;
use crate::views::events::Filter;
use crate::views::export;

pub struct Options {
    pub output: PathBuf,
    pub filter: Filter,
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

/// Returns how many events were written.
pub async fn run(config: &Config, options: &Options) -> Result<u64, Failure> {
    let db = super::open_database(config).await?;
    let refused = |e: crate::views::ViewError| match e {
        crate::views::ViewError::Internal(_) => failed(e.to_string()),
        _ => failure(EXIT_USAGE, e.to_string()),
    };
    let total = export::count(&db, &options.filter).await.map_err(refused)?;
    let (_, mut chunks) = export::chunks(db.clone(), &options.filter).map_err(refused)?;

    // On a terminal a bar; elsewhere (logs, CI), with --progress, a line per page.
    let bar = match options.progress {
        Progress::Bar => {
            let bar = ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::stderr());
            bar.set_style(
                ProgressStyle::with_template("{bar:40} {pos}/{len} events  {per_sec}  eta {eta}")
                    .expect("a valid template"),
            );
            Some(bar)
        }
        Progress::Lines | Progress::Off => None,
    };

    let dir = options
        .output
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(std::path::Path::new("."));
    let partial = tempfile::NamedTempFile::new_in(dir)
        .map_err(|e| failure(EXIT_USAGE, format!("writing in {}: {e}", dir.display())))?;
    let mut out = std::io::BufWriter::new(partial);
    let mut written = 0;
    while let Some(chunk) = chunks.next().await {
        let (bytes, rows) = chunk.map_err(|e| failed(format!("reading events: {e}")))?;
        out.write_all(&bytes)
            .map_err(|e| failed(format!("writing {}: {e}", options.output.display())))?;
        written += rows;
        match (&bar, options.progress) {
            (Some(bar), _) => bar.set_position(written),
            (None, Progress::Lines) => eprintln!("{written}/{total} events"),
            _ => {}
        }
    }
    if let Some(bar) = bar {
        bar.finish();
    }
    let file = out
        .into_inner()
        .map_err(|e| failed(format!("writing {}: {e}", options.output.display())))?;
    file.as_file()
        .sync_all()
        .map_err(|e| failed(format!("writing {}: {e}", options.output.display())))?;
    file.persist(&options.output)
        .map_err(|e| failed(format!("writing {}: {e}", options.output.display())))?;
    let _ = db.close().await;
    Ok(written)
}
