//! Splitting a byte stream into records: a JSON array, NDJSON lines or CSV rows.

use super::classify::{classify, read_record, settle};
use super::csv_rows::{CsvRows, Row};
use super::types::{Format, MAX_RECORD_BYTES, Mode, PayloadError, Record};
use crate::coverage::{FieldTally, PlatformCoverage, Shape};

/// Where the splitter is in the body.
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
    /// The posts' field coverage, when asked for (`Extract` mode only).
    tally: Option<Box<FieldTally>>,
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
            tally: None,
        }
    }

    /// Tallies the posts' field coverage as they are extracted (see `coverage`).
    pub fn count_coverage(&mut self) {
        if self.mode == Mode::Extract {
            self.tally = Some(Box::default());
        }
    }

    /// The field coverage of the posts split so far (none unless asked for).
    pub fn coverage(&mut self) -> Option<Vec<PlatformCoverage>> {
        self.tally.take().map(|tally| tally.finish())
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

    pub fn finish(&mut self, emit: &mut impl FnMut(Record)) -> Result<Format, PayloadError> {
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
                    let record = classify(
                        &fields,
                        &text,
                        index,
                        self.default_platform.as_deref(),
                        self.mode,
                    );
                    if let Some(tally) = self.tally.as_deref_mut() {
                        for (key, value) in &fields {
                            tally.see(key, Shape::of_cell(value));
                        }
                        settle(tally, &record);
                    }
                    record
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
    fn record(&mut self, bytes: &[u8], index: u64) -> Result<Record, serde_json::Error> {
        let text = std::str::from_utf8(bytes).map_err(|e| {
            <serde_json::Error as serde::de::Error>::custom(format!(
                "invalid UTF-8 at byte {} of the record",
                e.valid_up_to()
            ))
        })?;
        read_record(
            text,
            index,
            self.default_platform.as_deref(),
            self.mode,
            self.tally.as_deref_mut(),
        )
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
