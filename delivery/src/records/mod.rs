//! From delivery bytes to records, incrementally: bytes arrive in arbitrary pieces (already
//! inflated), whole records come out.
//!
//! Three formats, told apart by the first non-blank byte:
//! - `[` — a JSON array (`format=json`). The array is one document: a syntax error anywhere, a missing
//!   `]` (truncated body) or invalid UTF-8 rejects the whole delivery, so nothing half is stored.
//! - anything else — NDJSON / JSONL (`format=ndjson`), one record per line. Lines stand alone: a line
//!   that is not valid JSON is counted as malformed and the rest is kept.
//! - ... unless the request declared CSV (`format=csv`: its media type or file name) and the body
//!   does not start with `{`: a header row, then one record per row (`csv_rows`).
//!
//! An empty body is an empty delivery (BrightData's NDJSON for a snapshot with no results).
//! Each record is then classified: a post, an input error report (`warning` / `error`), or malformed
//! (valid JSON but no post id, not an object, ...).
//!
//! The parts: `types`, `splitter` (bytes to records), `classify` (what a record is and the
//! columns kept of it), `csv_rows` (CSV rows as JSON objects).

mod classify;
mod csv_rows;
mod splitter;
mod types;

pub use classify::{is_key_field, platform_of_url, post_text, read_record};
pub use splitter::RecordSplitter;

pub use types::{Format, InputError, MAX_RECORD_BYTES, Mode, PayloadError, Post, Record};

#[cfg(test)]
mod tests;
