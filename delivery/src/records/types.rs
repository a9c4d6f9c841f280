//! What the splitter produces: records, the formats they come in, and why a delivery fails.

/// A single record larger than this rejects the delivery (it bounds the memory of one record).
pub const MAX_RECORD_BYTES: usize = 32 * 1024 * 1024;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Empty,
    JsonArray,
    Ndjson,
    Csv,
}

impl Format {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Empty => "empty",
            Self::JsonArray => "json",
            Self::Ndjson => "ndjson",
            Self::Csv => "csv",
        }
    }
}

/// A post, reduced to the columns we query, plus the full record.
#[derive(Debug, Clone, PartialEq)]
pub struct Post {
    pub platform: String,
    pub post_id: String,
    pub url: Option<String>,
    pub author: Option<String>,
    /// Unix milliseconds.
    pub posted_at_ms: Option<i64>,
    pub likes: Option<i64>,
    pub comments: Option<i64>,
    pub shares: Option<i64>,
    pub views: Option<i64>,
    /// The record as it came (its JSON text).
    pub data: String,
}

/// A `warning`/`error` record: an input that produced no post.
#[derive(Debug, Clone, PartialEq)]
pub struct InputError {
    pub kind: &'static str,
    pub code: Option<String>,
    pub message: String,
    pub input_url: Option<String>,
    /// The record as it came (its JSON text).
    pub data: String,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Record {
    Post(Box<Post>),
    InputError(InputError),
    Malformed {
        index: u64,
        reason: String,
    },
    /// In counting mode: a post of this platform (nothing else is extracted).
    CountedPost {
        platform: String,
    },
    /// In counting mode: an input error report.
    CountedInputError,
}

/// What the splitter does with each record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Full records, ready to store.
    Extract,
    /// Only what each record is, read without building it (validates and counts a body while it
    /// streams in; its records are extracted later).
    Count,
}

/// The whole delivery could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PayloadError {
    #[error("the JSON array is not valid JSON: {0}")]
    InvalidJson(String),
    #[error("the JSON array ends before its closing `]` (truncated body?)")]
    Truncated,
    #[error("unexpected data after the closing `]` of the JSON array")]
    TrailingData,
    #[error("a record is larger than {} MiB", MAX_RECORD_BYTES / (1024 * 1024))]
    RecordTooLarge,
    #[error("the CSV cannot be read: {0}")]
    InvalidCsv(String),
}
