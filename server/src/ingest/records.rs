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

use serde_json::{Map, Value};

use super::csv_rows::{CsvRows, Row};

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

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Skipping leading blanks (and a UTF-8 byte order mark) to find the format.
    Start,
    /// Inside `[ ... ]`, between or inside elements.
    Array,
    /// After the closing `]`: only blanks may follow.
    AfterArray,
    Lines,
    Csv,
}

/// Splits a byte stream into records. Feed pieces with [`RecordSplitter::feed`], then call
/// [`RecordSplitter::finish`].
pub struct RecordSplitter {
    state: State,
    /// Bytes of the record being assembled.
    current: Vec<u8>,
    /// JSON-array scanning state for `current`.
    depth: usize,
    in_string: bool,
    escaped: bool,
    index: u64,
    seen_any: bool,
    /// The platform to assume when a record's URL does not tell (from the snapshot's dataset).
    default_platform: Option<String>,
    mode: Mode,
    /// The request declared CSV.
    declared_csv: bool,
    /// The CSV parser, once the body turned out to be CSV.
    csv: Option<Box<CsvRows>>,
}

impl RecordSplitter {
    pub fn new(default_platform: Option<String>, mode: Mode, declared_csv: bool) -> Self {
        Self {
            mode,
            declared_csv,
            csv: None,
            state: State::Start,
            current: Vec::new(),
            depth: 0,
            in_string: false,
            escaped: false,
            index: 0,
            seen_any: false,
            default_platform,
        }
    }

    pub fn format(&self) -> Format {
        match self.state {
            State::Start => Format::Empty,
            State::Array | State::AfterArray => Format::JsonArray,
            State::Lines => Format::Ndjson,
            State::Csv => Format::Csv,
        }
    }

    pub fn feed(
        &mut self,
        mut bytes: &[u8],
        emit: &mut impl FnMut(Record),
    ) -> Result<(), PayloadError> {
        while !bytes.is_empty() {
            bytes = match self.state {
                State::Start => self.feed_start(bytes),
                State::Array => self.feed_array(bytes, emit)?,
                State::AfterArray => {
                    if bytes.iter().all(u8::is_ascii_whitespace) {
                        &[]
                    } else {
                        return Err(PayloadError::TrailingData);
                    }
                }
                State::Lines => self.feed_lines(bytes, emit)?,
                State::Csv => self.feed_csv(bytes, emit)?,
            };
        }
        Ok(())
    }

    pub fn finish(mut self, emit: &mut impl FnMut(Record)) -> Result<Format, PayloadError> {
        match self.state {
            State::Start | State::AfterArray => {}
            State::Array => return Err(PayloadError::Truncated),
            State::Lines => {
                let line = std::mem::take(&mut self.current);
                self.emit_line(&line, emit);
            }
            State::Csv => self.with_csv(emit, |csv, row| csv.finish(row))?,
        }
        Ok(self.format())
    }

    fn feed_start<'b>(&mut self, bytes: &'b [u8]) -> &'b [u8] {
        let skip = bytes
            .iter()
            .take_while(|b| b.is_ascii_whitespace() || matches!(b, 0xEF | 0xBB | 0xBF))
            .count();
        let rest = &bytes[skip..];
        match rest.first() {
            None => rest,
            Some(b'[') => {
                self.state = State::Array;
                self.depth = 1;
                &rest[1..]
            }
            Some(b) if self.declared_csv && *b != b'{' => {
                self.state = State::Csv;
                self.csv = Some(Box::default());
                rest
            }
            Some(_) => {
                self.state = State::Lines;
                rest
            }
        }
    }

    fn feed_lines<'b>(
        &mut self,
        bytes: &'b [u8],
        emit: &mut impl FnMut(Record),
    ) -> Result<&'b [u8], PayloadError> {
        match memchr::memchr(b'\n', bytes) {
            Some(end) => {
                if self.current.is_empty() {
                    self.emit_line(&bytes[..end], emit);
                } else {
                    self.push_current(&bytes[..end])?;
                    let line = std::mem::take(&mut self.current);
                    self.emit_line(&line, emit);
                }
                Ok(&bytes[end + 1..])
            }
            None => {
                self.push_current(bytes)?;
                Ok(&[])
            }
        }
    }

    fn feed_csv<'b>(
        &mut self,
        bytes: &'b [u8],
        emit: &mut impl FnMut(Record),
    ) -> Result<&'b [u8], PayloadError> {
        self.with_csv(emit, |csv, row| csv.feed(bytes, row))?;
        Ok(&[])
    }

    /// Runs `step` on the CSV parser, classifying each row it completes.
    fn with_csv(
        &mut self,
        emit: &mut impl FnMut(Record),
        step: impl FnOnce(&mut CsvRows, &mut dyn FnMut(Row)) -> Result<(), PayloadError>,
    ) -> Result<(), PayloadError> {
        let mut csv = self.csv.take().expect("a CSV body has its parser");
        let result = step(&mut csv, &mut |row| {
            let index = self.next_index();
            emit(match row {
                // The row is already an object: classified as it is, not parsed back from its text.
                Ok(fields) => {
                    let text = serde_json::to_string(&fields).expect("a map of JSON values");
                    classify(
                        &fields,
                        &text,
                        index,
                        self.default_platform.as_deref(),
                        self.mode,
                    )
                }
                Err(reason) => Record::Malformed { index, reason },
            });
        });
        self.csv = Some(csv);
        result
    }

    fn emit_line(&mut self, line: &[u8], emit: &mut impl FnMut(Record)) {
        let line = line.trim_ascii();
        if line.is_empty() {
            return;
        }
        let index = self.next_index();
        match self.record(line, index) {
            Ok(record) => emit(record),
            Err(error) => emit(Record::Malformed {
                index,
                reason: format!("not valid JSON: {error}"),
            }),
        }
    }

    /// One record's bytes, classified (and extracted, in `Extract` mode).
    fn record(&self, bytes: &[u8], index: u64) -> Result<Record, serde_json::Error> {
        let text = std::str::from_utf8(bytes).map_err(|e| {
            <serde_json::Error as serde::de::Error>::custom(format!(
                "invalid UTF-8 at byte {} of the record",
                e.valid_up_to()
            ))
        })?;
        read_record(text, index, self.default_platform.as_deref(), self.mode)
    }

    /// Scans array bytes, tracking strings and nesting, and emits each element at depth 1.
    fn feed_array<'b>(
        &mut self,
        bytes: &'b [u8],
        emit: &mut impl FnMut(Record),
    ) -> Result<&'b [u8], PayloadError> {
        let mut element_start = if self.current.is_empty() {
            None
        } else {
            Some(0)
        };
        let mut i = 0;
        while i < bytes.len() {
            let byte = bytes[i];
            if self.in_string {
                if self.escaped {
                    self.escaped = false;
                } else {
                    // Jump to the next quote or backslash: strings are most of a record.
                    match memchr::memchr2(b'"', b'\\', &bytes[i..]) {
                        None => {
                            i = bytes.len();
                            continue;
                        }
                        Some(offset) => {
                            i += offset;
                            if bytes[i] == b'\\' {
                                self.escaped = true;
                            } else {
                                self.in_string = false;
                            }
                        }
                    }
                }
                i += 1;
                continue;
            }
            let at_top = self.depth == 1;
            match byte {
                b',' | b']' if at_top => {
                    if let Some(start) = element_start.take() {
                        self.push_current(&bytes[start..i])?;
                        let element = std::mem::take(&mut self.current);
                        self.emit_element(&element, emit)?;
                    } else if byte == b',' || self.seen_any {
                        // `[,` or `,,` or `,]`: an empty element.
                        return Err(PayloadError::InvalidJson(
                            "empty element in the array".into(),
                        ));
                    }
                    if byte == b']' {
                        self.depth = 0;
                        self.state = State::AfterArray;
                        return Ok(&bytes[i + 1..]);
                    }
                }
                b if at_top && b.is_ascii_whitespace() => {}
                _ => {
                    if at_top && element_start.is_none() {
                        element_start = Some(i);
                    }
                    match byte {
                        b'"' => self.in_string = true,
                        b'[' | b'{' => self.depth += 1,
                        b']' | b'}' => {
                            self.depth =
                                self.depth
                                    .checked_sub(1)
                                    .filter(|d| *d >= 1)
                                    .ok_or_else(|| {
                                        PayloadError::InvalidJson("unbalanced brackets".into())
                                    })?
                        }
                        _ => {}
                    }
                }
            }
            i += 1;
        }
        if let Some(start) = element_start {
            self.push_current(&bytes[start..])?;
        }
        Ok(&[])
    }

    fn emit_element(
        &mut self,
        element: &[u8],
        emit: &mut impl FnMut(Record),
    ) -> Result<(), PayloadError> {
        self.seen_any = true;
        let index = self.next_index();
        let record = self
            .record(element.trim_ascii(), index)
            .map_err(|e| PayloadError::InvalidJson(e.to_string()))?;
        emit(record);
        Ok(())
    }

    fn push_current(&mut self, bytes: &[u8]) -> Result<(), PayloadError> {
        if self.current.len() + bytes.len() > MAX_RECORD_BYTES {
            return Err(PayloadError::RecordTooLarge);
        }
        self.current.extend_from_slice(bytes);
        Ok(())
    }

    fn next_index(&mut self) -> u64 {
        let index = self.index;
        self.index += 1;
        index
    }
}

/// What a record is, decided from a few of its fields.
enum Kind {
    Post { platform: String, post_id: String },
    InputError { kind: &'static str },
    Malformed(String),
}

/// The one place records are classified, in both modes.
fn kind<'v>(get: impl Fn(&str) -> Option<&'v Value>, default_platform: Option<&str>) -> Kind {
    for (kind, text_key, code_key) in [
        ("error", "error", "error_code"),
        ("warning", "warning", "warning_code"),
    ] {
        if get(text_key).is_some() || get(code_key).is_some() {
            return Kind::InputError { kind };
        }
    }
    let Some(post_id) = ["post_id", "id"].iter().find_map(|k| text_value(get(k))) else {
        return Kind::Malformed("record has no post_id or id".into());
    };
    let platform = text_value(get("url"))
        .as_deref()
        .and_then(platform_of_url)
        .map(str::to_owned)
        .or_else(|| default_platform.map(str::to_owned));
    match platform {
        Some(platform) => Kind::Post { platform, post_id },
        None => Kind::Malformed(
            "cannot tell the platform: no recognised url and no dataset platform".into(),
        ),
    }
}

/// The fields `kind` reads: all that counting needs.
pub(crate) const CLASSIFIED: &[&str] = &[
    "post_id",
    "id",
    "url",
    "warning",
    "warning_code",
    "error",
    "error_code",
];

/// Where `post` finds each column, first key present wins.
const POSTED_AT: &[&str] = &["date_posted", "create_time", "created_at"];
const AUTHOR: &[&str] = &[
    "user_posted",
    "profile_username",
    "user_username_raw",
    "page_name",
    "user_id",
    "author",
];
const LIKES: &[&str] = &["likes", "num_likes", "digg_count"];
const COMMENTS: &[&str] = &["num_comments", "comment_count", "comments"];
const SHARES: &[&str] = &["num_shares", "share_count", "shares"];
const VIEWS: &[&str] = &[
    "video_view_count",
    "play_count",
    "video_play_count",
    "views",
];

/// All fields extraction reads (`input` holds an input error's URL). Only these are built; the
/// stored record is its original text.
const EXTRACTED: &[&[&str]] = &[
    CLASSIFIED,
    &["input"],
    POSTED_AT,
    AUTHOR,
    LIKES,
    COMMENTS,
    SHARES,
    VIEWS,
];

/// Sorts one record (its JSON text) into post, input error or malformed; in `Extract` mode with
/// what is stored, in `Count` mode only what it is. Err: the text is not JSON.
pub fn read_record(
    text: &str,
    index: u64,
    default_platform: Option<&str>,
    mode: Mode,
) -> Result<Record, serde_json::Error> {
    let keys: &[&[&str]] = match mode {
        Mode::Extract => EXTRACTED,
        Mode::Count => &[CLASSIFIED],
    };
    Ok(match only_fields(text, keys)? {
        Ok(fields) => classify(&fields, text, index, default_platform, mode),
        Err(kind) => Record::Malformed {
            index,
            reason: format!("record is a JSON {kind}, not an object"),
        },
    })
}

/// Sorts a record, given its fields (at least those `mode` reads) and its text.
fn classify(
    fields: &Map<String, Value>,
    text: &str,
    index: u64,
    default_platform: Option<&str>,
    mode: Mode,
) -> Record {
    match (mode, kind(|k| fields.get(k), default_platform)) {
        (_, Kind::Malformed(reason)) => Record::Malformed { index, reason },
        (Mode::Count, Kind::Post { platform, .. }) => Record::CountedPost { platform },
        (Mode::Count, Kind::InputError { .. }) => Record::CountedInputError,
        (Mode::Extract, Kind::InputError { kind }) => {
            Record::InputError(input_error(fields, kind, text))
        }
        (Mode::Extract, Kind::Post { platform, post_id }) => {
            Record::Post(Box::new(post(fields, platform, post_id, text)))
        }
    }
}

fn input_error(record: &Map<String, Value>, kind: &'static str, text: &str) -> InputError {
    let (text_key, code_key) = if kind == "error" {
        ("error", "error_code")
    } else {
        ("warning", "warning_code")
    };
    InputError {
        kind,
        code: self::text(record, code_key),
        message: self::text(record, text_key).unwrap_or_default(),
        input_url: record
            .get("input")
            .and_then(|input| input.get("url"))
            .and_then(Value::as_str)
            .map(str::to_owned),
        data: text.to_owned(),
    }
}

fn post(record: &Map<String, Value>, platform: String, post_id: String, text: &str) -> Post {
    Post {
        platform,
        post_id,
        posted_at_ms: POSTED_AT
            .iter()
            .find_map(|k| self::text(record, k))
            .and_then(|t| chrono::DateTime::parse_from_rfc3339(&t).ok())
            .map(|t| t.timestamp_millis()),
        author: AUTHOR.iter().find_map(|k| self::text(record, k)),
        likes: first_count(record, LIKES),
        comments: first_count(record, COMMENTS),
        shares: first_count(record, SHARES),
        views: first_count(record, VIEWS),
        url: self::text(record, "url"),
        data: text.to_owned(),
    }
}

/// The fields of a JSON object named in `keys`; every other field is skipped without being built
/// (most of a record is text we store but never read). Ok(Err(kind)): valid JSON, but not an
/// object. A repeated key keeps its last value, as a full parse would.
fn only_fields(
    text: &str,
    keys: &'static [&'static [&'static str]],
) -> Result<Result<Map<String, Value>, &'static str>, serde_json::Error> {
    if !text.trim_start().starts_with('{') {
        let value: Value = serde_json::from_str(text)?;
        return Ok(Err(kind_of(&value)));
    }
    let mut deserializer = serde_json::Deserializer::from_str(text);
    let fields = serde::de::DeserializeSeed::deserialize(OnlyFields(keys), &mut deserializer)?;
    deserializer.end()?;
    Ok(Ok(fields))
}

struct OnlyFields(&'static [&'static [&'static str]]);

impl<'de> serde::de::DeserializeSeed<'de> for OnlyFields {
    type Value = Map<String, Value>;

    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> serde::de::Visitor<'de> for OnlyFields {
    type Value = Map<String, Value>;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a JSON object")
    }

    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut fields = Map::new();
        while let Some(Key(key)) = map.next_key()? {
            if self.0.iter().any(|keys| keys.contains(&key.as_ref())) {
                fields.insert(key.into_owned(), map.next_value()?);
            } else {
                map.next_value::<serde::de::IgnoredAny>()?;
            }
        }
        Ok(fields)
    }
}

/// An object key, borrowed from the text unless it holds escapes.
struct Key<'de>(std::borrow::Cow<'de, str>);

impl<'de> serde::Deserialize<'de> for Key<'de> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct KeyVisitor;
        impl<'de> serde::de::Visitor<'de> for KeyVisitor {
            type Value = Key<'de>;

            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a string key")
            }

            fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Key<'de>, E> {
                Ok(Key(v.into()))
            }

            fn visit_str<E>(self, v: &str) -> Result<Key<'de>, E> {
                Ok(Key(v.to_owned().into()))
            }
        }
        d.deserialize_str(KeyVisitor)
    }
}

/// The platform a post URL belongs to, from its host.
pub fn platform_of_url(url: &str) -> Option<&'static str> {
    let host = url::Url::parse(url).ok()?.host_str()?.to_ascii_lowercase();
    let is = |domain: &str| {
        host.strip_suffix(domain)
            .is_some_and(|rest| rest.is_empty() || rest.ends_with('.'))
    };
    [
        ("instagram.com", "instagram"),
        ("facebook.com", "facebook"),
        ("fb.com", "facebook"),
        ("linkedin.com", "linkedin"),
        ("tiktok.com", "tiktok"),
        ("youtube.com", "youtube"),
        ("x.com", "x"),
        ("twitter.com", "x"),
    ]
    .into_iter()
    .find(|(domain, _)| is(domain))
    .map(|(_, platform)| platform)
}

fn text(record: &Map<String, Value>, key: &str) -> Option<String> {
    text_value(record.get(key))
}

fn text_value(value: Option<&Value>) -> Option<String> {
    match value? {
        Value::String(s) if !s.trim().is_empty() => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

fn first_count(record: &Map<String, Value>, keys: &[&str]) -> Option<i64> {
    keys.iter().find_map(|k| match record.get(*k)? {
        Value::Number(n) => n.as_i64().or_else(|| n.as_f64().map(|f| f as i64)),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    })
}

fn kind_of(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Splits `body` fed in pieces of `piece` bytes.
    fn split(body: &[u8], piece: usize) -> Result<(Format, Vec<Record>), PayloadError> {
        split_declared(body, piece, false)
    }

    fn split_declared(
        body: &[u8],
        piece: usize,
        declared_csv: bool,
    ) -> Result<(Format, Vec<Record>), PayloadError> {
        let mut splitter = RecordSplitter::new(None, Mode::Extract, declared_csv);
        let mut records = Vec::new();
        for chunk in body.chunks(piece.max(1)) {
            splitter.feed(chunk, &mut |r| records.push(r))?;
        }
        let format = splitter.finish(&mut |r| records.push(r))?;
        Ok((format, records))
    }

    fn classify(value: Value, index: u64, default_platform: Option<&str>) -> Record {
        read_record(&value.to_string(), index, default_platform, Mode::Extract).unwrap()
    }

    fn post(id: &str) -> String {
        format!(r#"{{"post_id":"{id}","url":"https://www.instagram.com/p/{id}/","likes":3}}"#)
    }

    #[test]
    fn arrays_split_identically_whatever_the_piece_size() {
        let body = format!(
            "[ {}, {} ,\n{{\"url\":\"https://www.tiktok.com/@a/video/1\",\"post_id\":\"t1\",\"description\":\"brackets ] and }} and \\\" in text\"}} ]\n",
            post("a"),
            post("b")
        );
        let (format, whole) = split(body.as_bytes(), usize::MAX).unwrap();
        assert_eq!(format, Format::JsonArray);
        assert_eq!(whole.len(), 3);
        for piece in [1, 2, 3, 7, 64] {
            assert_eq!(
                split(body.as_bytes(), piece).unwrap().1,
                whole,
                "piece {piece}"
            );
        }
        let Record::Post(p) = &whole[2] else { panic!() };
        assert_eq!(p.platform, "tiktok");
        assert_eq!(p.post_id, "t1");
    }

    #[test]
    fn empty_bodies_and_empty_arrays_are_valid() {
        assert_eq!(split(b"", 8).unwrap(), (Format::Empty, vec![]));
        assert_eq!(split(b" \n ", 8).unwrap(), (Format::Empty, vec![]));
        assert_eq!(split(b"[]", 8).unwrap(), (Format::JsonArray, vec![]));
        assert_eq!(
            split(b" [ \n ] \n", 1).unwrap(),
            (Format::JsonArray, vec![])
        );
    }

    #[test]
    fn broken_arrays_reject_the_whole_delivery() {
        let truncated = format!("[{},{}", post("a"), &post("b")[..20]);
        assert_eq!(split(truncated.as_bytes(), 5), Err(PayloadError::Truncated));
        assert_eq!(split(b"[{\"a\":1}] x", 4), Err(PayloadError::TrailingData));
        assert!(matches!(
            split(b"[{\"a\":1},,{}]", 4),
            Err(PayloadError::InvalidJson(_))
        ));
        assert!(matches!(
            split(b"[{\"a\":1},]", 4),
            Err(PayloadError::InvalidJson(_))
        ));
        assert!(matches!(
            split(b"[{\"a\":}]", 4),
            Err(PayloadError::InvalidJson(_))
        ));
        assert!(matches!(
            split(b"[{\"a\":1}}]", 4),
            Err(PayloadError::InvalidJson(_))
        ));
        let latin1 =
            b"[{\"post_id\":\"1\",\"url\":\"https://instagram.com/p/1\",\"t\":\"caf\xe9\"}]";
        assert!(matches!(
            split(latin1, 4),
            Err(PayloadError::InvalidJson(_))
        ));
    }

    #[test]
    fn declared_csv_is_csv_unless_the_body_is_json() {
        let csv = b"\xef\xbb\xbfpost_id,url,likes\n7,https://www.instagram.com/p/7/,3\n";
        let (format, records) = split_declared(csv, 3, true).unwrap();
        assert_eq!(format, Format::Csv);
        let [Record::Post(stored)] = records.as_slice() else {
            panic!("{records:?}")
        };
        assert_eq!((stored.post_id.as_str(), stored.likes), ("7", Some(3)));
        assert_eq!(stored.platform, "instagram");
        // Mislabelled JSON is still read as JSON.
        let array = format!("[{}]", post("1"));
        assert_eq!(
            split_declared(array.as_bytes(), 2, true).unwrap().0,
            Format::JsonArray
        );
        let lines = format!("{}\n{}\n", post("1"), post("2"));
        assert_eq!(
            split_declared(lines.as_bytes(), 2, true).unwrap().0,
            Format::Ndjson
        );
        // Undeclared, a CSV body is not guessed: its lines are malformed NDJSON.
        let (format, records) = split_declared(csv, 3, false).unwrap();
        assert_eq!(format, Format::Ndjson);
        assert!(
            records
                .iter()
                .all(|r| matches!(r, Record::Malformed { .. }))
        );
        assert!(matches!(
            split_declared(b"name,age\nann,3\n", 4, true),
            Err(PayloadError::InvalidCsv(_))
        ));
    }

    #[test]
    fn ndjson_lines_stand_alone() {
        let body = format!(
            "{}\r\n\n{{not json}}\n{}\n[1,2]\n\"text\"\n{}",
            post("a"),
            post("b"),
            &post("c")[..12]
        );
        let (format, records) = split(body.as_bytes(), 3).unwrap();
        assert_eq!(format, Format::Ndjson);
        let kinds: Vec<&str> = records
            .iter()
            .map(|r| match r {
                Record::Post(_) | Record::CountedPost { .. } => "post",
                Record::InputError(_) | Record::CountedInputError => "input_error",
                Record::Malformed { .. } => "malformed",
            })
            .collect();
        assert_eq!(
            kinds,
            [
                "post",
                "malformed",
                "post",
                "malformed",
                "malformed",
                "malformed"
            ]
        );
        let Record::Malformed { index, reason } = &records[3] else {
            panic!()
        };
        assert_eq!(*index, 3);
        assert!(reason.contains("array"));
    }

    #[test]
    fn a_giant_record_is_refused_not_buffered() {
        let mut body = b"[{\"post_id\":\"x\",\"pad\":\"".to_vec();
        body.resize(MAX_RECORD_BYTES + 10, b'a');
        assert_eq!(split(&body, 1 << 20), Err(PayloadError::RecordTooLarge));
    }

    #[test]
    fn classification() {
        let warning = serde_json::json!({
            "timestamp": "2025-06-16T03:20:51.000Z",
            "input": {"url": "https://www.instagram.com/gone/"},
            "warning": "Page not found",
            "warning_code": "dead_page"
        });
        let Record::InputError(e) = classify(warning, 0, None) else {
            panic!()
        };
        assert_eq!((e.kind, e.code.as_deref()), ("warning", Some("dead_page")));
        assert_eq!(
            e.input_url.as_deref(),
            Some("https://www.instagram.com/gone/")
        );

        let error =
            serde_json::json!({"error": "Crawl failed", "error_code": "crawl_failed", "input": {}});
        assert!(matches!(
            classify(error, 0, None),
            Record::InputError(InputError { kind: "error", .. })
        ));

        let linkedin = serde_json::json!({
            "id": "7300000000000000001",
            "url": "https://www.linkedin.com/posts/x",
            "user_id": "someone",
            "date_posted": "2025-06-01T10:00:00.000Z",
            "num_likes": 12,
            "num_comments": 3
        });
        let Record::Post(p) = classify(linkedin, 0, None) else {
            panic!()
        };
        assert_eq!(p.platform, "linkedin");
        assert_eq!(p.post_id, "7300000000000000001");
        assert_eq!(p.author.as_deref(), Some("someone"));
        assert_eq!(p.likes, Some(12));
        assert_eq!(p.comments, Some(3));
        assert_eq!(p.posted_at_ms, Some(1_748_772_000_000));

        let no_url = serde_json::json!({"post_id": "1"});
        assert!(matches!(
            classify(no_url.clone(), 0, None),
            Record::Malformed { .. }
        ));
        let Record::Post(p) = classify(no_url, 0, Some("facebook")) else {
            panic!()
        };
        assert_eq!(p.platform, "facebook");
        assert!(matches!(
            classify(serde_json::json!({"test": true}), 0, None),
            Record::Malformed { .. }
        ));
        assert!(matches!(
            classify(serde_json::json!(null), 0, None),
            Record::Malformed { .. }
        ));
    }

    #[test]
    fn a_record_is_stored_as_sent_and_read_through_escaped_keys() {
        let text = r#"{ "zeta": [1, {"deep": "x"}], "p\u006fst_id": "9", "url": "https://www.tiktok.com/@a/video/9", "likes": "12" }"#;
        let Record::Post(p) = read_record(text, 0, None, Mode::Extract).unwrap() else {
            panic!()
        };
        assert_eq!((p.post_id.as_str(), p.likes), ("9", Some(12)));
        assert_eq!(
            p.data, text,
            "the original text, key order and spacing kept"
        );
        assert!(read_record(r#"{"post_id": "1", "x": }"#, 0, None, Mode::Count).is_err());
        assert!(read_record(r#"{"post_id": "1"} {}"#, 0, None, Mode::Extract).is_err());
        let Record::Malformed { reason, .. } =
            read_record(" [1] ", 3, None, Mode::Extract).unwrap()
        else {
            panic!()
        };
        assert_eq!(reason, "record is a JSON array, not an object");
    }

    #[test]
    fn invalid_utf8_anywhere_in_a_record_is_not_json() {
        let mut splitter = RecordSplitter::new(None, Mode::Extract, false);
        let mut records = Vec::new();
        let line = b"{\"post_id\":\"1\",\"url\":\"https://www.instagram.com/p/1/\",\"skipped\":\"caf\xe9\"}\n";
        splitter.feed(line, &mut |r| records.push(r)).unwrap();
        let Record::Malformed { reason, .. } = &records[0] else {
            panic!("{records:?}")
        };
        assert!(reason.contains("invalid UTF-8"), "{reason}");
    }

    #[test]
    fn counting_mode_agrees_with_extraction() {
        let body = br#"[{"post_id":"1","url":"https://www.instagram.com/p/1/","likes":3},
            {"warning":"gone","warning_code":"dead_page","input":{"url":"x"}},
            {"id":7,"url":"https://www.linkedin.com/posts/7"},
            {"post_id":"2"}, 5, {"post_id":{"nested":true},"url":"https://www.tiktok.com/v"},
            {"post_id":"3","post_id":"4","url":"https://www.tiktok.com/v/3"}]"#;
        let run = |mode| {
            let mut splitter = RecordSplitter::new(None, mode, false);
            let mut out = Vec::new();
            splitter.feed(body, &mut |r| out.push(r)).unwrap();
            splitter.finish(&mut |r| out.push(r)).unwrap();
            out.into_iter()
                .map(|r| match r {
                    Record::Post(p) => format!("post {}", p.platform),
                    Record::CountedPost { platform } => format!("post {platform}"),
                    Record::InputError(_) | Record::CountedInputError => "input error".into(),
                    Record::Malformed { reason, .. } => format!("malformed: {reason}"),
                })
                .collect::<Vec<_>>()
        };
        let extracted = run(Mode::Extract);
        assert_eq!(extracted.len(), 7);
        assert_eq!(extracted, run(Mode::Count));
        let mut splitter = RecordSplitter::new(None, Mode::Count, false);
        assert!(splitter.feed(br#"[{"post_id": }]"#, &mut |_| {}).is_err());
    }

    #[test]
    fn platforms_from_hosts() {
        assert_eq!(
            platform_of_url("https://www.instagram.com/p/x/"),
            Some("instagram")
        );
        assert_eq!(
            platform_of_url("https://m.facebook.com/story"),
            Some("facebook")
        );
        assert_eq!(
            platform_of_url("https://www.tiktok.com/@u/video/1"),
            Some("tiktok")
        );
        assert_eq!(platform_of_url("https://notinstagram.com/p/x"), None);
        assert_eq!(platform_of_url("not a url"), None);
    }
}
