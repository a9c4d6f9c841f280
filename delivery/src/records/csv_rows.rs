//! CSV deliveries (`format=csv`): a header row names the fields, then each row is one record.
//!
//! Rows arrive in arbitrary pieces like every other format, so this is a push parser
//! (`csv_core`, RFC 4180 quoting, quoted newlines, `\n` or `\r\n`); a row is bounded by
//! `MAX_RECORD_BYTES` like any record. Each row becomes the JSON object a JSON delivery would have
//! carried, and from there it is classified like any record:
//! - an empty cell is no field at all (a CSV cannot tell empty from missing, and an empty `error`
//!   column must not make every row an error report);
//! - a cell holding a JSON array or object (how nested fields such as `input` travel in a CSV) is
//!   that value; any other cell is a string. Numbers stay strings: the counters read both.
//!
//! Rows stand alone, like NDJSON lines: a row with the wrong number of cells or invalid UTF-8 is
//! malformed and counted, the rest is kept. The header must be readable and must name a column
//! records are told apart by, or the whole delivery is refused: a body that is not a BrightData
//! CSV must not pass as an empty delivery.

use csv_core::{ReadRecordResult, Reader};
use serde_json::{Map, Value};

use super::classify::CLASSIFIED;
use super::types::{MAX_RECORD_BYTES, PayloadError};

/// Cells in one row at most (bounds the field-end buffer the way `MAX_RECORD_BYTES` bounds the text).
const MAX_FIELDS: usize = 65_536;

/// One parsed data row: the object it stands for, or why it is malformed.
pub type Row = Result<Map<String, Value>, String>;

pub struct CsvRows {
    reader: Reader,
    header: Option<Vec<String>>,
    /// The unescaped cells of the row being read, back to back; `ends[i]` is where cell `i` ends.
    cells: Vec<u8>,
    ends: Vec<usize>,
    cells_len: usize,
    ends_len: usize,
}

impl Default for CsvRows {
    fn default() -> Self {
        Self {
            reader: Reader::new(),
            header: None,
            cells: vec![0; 4096],
            ends: vec![0; 64],
            cells_len: 0,
            ends_len: 0,
        }
    }
}

impl CsvRows {
    /// Reads `input`, a piece of the body; each complete data row goes to `row`.
    pub fn feed(&mut self, input: &[u8], row: &mut dyn FnMut(Row)) -> Result<(), PayloadError> {
        // An empty input means "end of data" to the reader: never pass one here.
        if input.is_empty() {
            return Ok(());
        }
        self.read(input, row, false)
    }

    /// The body has ended: the last row may lack its line end.
    pub fn finish(&mut self, row: &mut dyn FnMut(Row)) -> Result<(), PayloadError> {
        self.read(&[], row, true)?;
        if self.header.is_none() {
            return Err(PayloadError::InvalidCsv(
                "the body has no header row".into(),
            ));
        }
        Ok(())
    }

    fn read(
        &mut self,
        mut input: &[u8],
        row: &mut dyn FnMut(Row),
        at_end: bool,
    ) -> Result<(), PayloadError> {
        loop {
            let (result, read, written, ended) = self.reader.read_record(
                input,
                &mut self.cells[self.cells_len..],
                &mut self.ends[self.ends_len..],
            );
            input = &input[read..];
            self.cells_len += written;
            self.ends_len += ended;
            match result {
                ReadRecordResult::InputEmpty => {
                    if !at_end {
                        return Ok(());
                    }
                }
                ReadRecordResult::OutputFull => {
                    if self.cells.len() >= MAX_RECORD_BYTES {
                        return Err(PayloadError::RecordTooLarge);
                    }
                    let grown = (self.cells.len() * 2).min(MAX_RECORD_BYTES);
                    self.cells.resize(grown, 0);
                }
                ReadRecordResult::OutputEndsFull => {
                    if self.ends.len() >= MAX_FIELDS {
                        return Err(PayloadError::InvalidCsv(format!(
                            "a row has more than {MAX_FIELDS} cells"
                        )));
                    }
                    let grown = (self.ends.len() * 2).min(MAX_FIELDS);
                    self.ends.resize(grown, 0);
                }
                ReadRecordResult::Record => {
                    self.complete_row(row)?;
                    self.cells_len = 0;
                    self.ends_len = 0;
                    if input.is_empty() && !at_end {
                        return Ok(());
                    }
                }
                ReadRecordResult::End => return Ok(()),
            }
        }
    }

    fn cell(&self, i: usize) -> &[u8] {
        let start = if i == 0 { 0 } else { self.ends[i - 1] };
        &self.cells[start..self.ends[i]]
    }

    fn complete_row(&mut self, row: &mut dyn FnMut(Row)) -> Result<(), PayloadError> {
        let count = self.ends_len;
        // A blank line is a row of one empty cell: nothing was sent.
        if count == 1 && self.cell(0).is_empty() {
            return Ok(());
        }
        let Some(header) = &self.header else {
            self.header = Some(self.read_header()?);
            return Ok(());
        };
        if count != header.len() {
            row(Err(format!(
                "the row has {count} cells, the header has {}",
                header.len()
            )));
            return Ok(());
        }
        let mut object = Map::new();
        for (i, name) in header.iter().enumerate() {
            let cell = self.cell(i);
            if name.is_empty() || cell.is_empty() {
                continue;
            }
            let Ok(text) = std::str::from_utf8(cell) else {
                row(Err(format!("the `{name}` cell is not valid UTF-8")));
                return Ok(());
            };
            object.insert(name.clone(), cell_value(text));
        }
        row(Ok(object));
        Ok(())
    }

    fn read_header(&self) -> Result<Vec<String>, PayloadError> {
        let names = (0..self.ends_len)
            .map(|i| {
                std::str::from_utf8(self.cell(i))
                    .map(|name| name.trim().to_owned())
                    .map_err(|_| {
                        PayloadError::InvalidCsv("the header row is not valid UTF-8".into())
                    })
            })
            .collect::<Result<Vec<String>, _>>()?;
        if !names.iter().any(|name| CLASSIFIED.contains(&name.as_str())) {
            return Err(PayloadError::InvalidCsv(format!(
                "the header row names none of the columns {}",
                CLASSIFIED.join(", ")
            )));
        }
        Ok(names)
    }
}

/// A cell's value: the JSON array or object it holds, else its text.
fn cell_value(text: &str) -> Value {
    let trimmed = text.trim();
    let nested = (trimmed.starts_with('[') && trimmed.ends_with(']'))
        || (trimmed.starts_with('{') && trimmed.ends_with('}'));
    if nested && let Ok(value) = serde_json::from_str::<Value>(trimmed) {
        return value;
    }
    Value::String(text.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Rows of `body` fed in pieces of `piece` bytes.
    fn rows(body: &[u8], piece: usize) -> Result<Vec<Row>, PayloadError> {
        let mut parser = CsvRows::default();
        let mut out = Vec::new();
        for chunk in body.chunks(piece.max(1)) {
            parser.feed(chunk, &mut |row| out.push(row))?;
        }
        parser.finish(&mut |row| out.push(row))?;
        Ok(out)
    }

    fn object(row: &Row) -> Map<String, Value> {
        row.clone().expect("a good row")
    }

    #[test]
    fn rows_become_objects_whatever_the_piece_size() {
        let body = "post_id,url,likes,description\r\n\
                    1,https://www.instagram.com/p/1/,10,\"quoted, with comma\"\r\n\
                    2,https://www.instagram.com/p/2/,,\"two\nlines and \"\"quotes\"\"\"\r\n";
        let whole = rows(body.as_bytes(), body.len()).unwrap();
        for piece in [1, 2, 3, 7, 64] {
            assert_eq!(
                rows(body.as_bytes(), piece).unwrap(),
                whole,
                "piece {piece}"
            );
        }
        assert_eq!(whole.len(), 2);
        let first = object(&whole[0]);
        assert_eq!(first["post_id"], "1");
        assert_eq!(first["likes"], "10");
        assert_eq!(first["description"], "quoted, with comma");
        let second = object(&whole[1]);
        assert!(!second.contains_key("likes"), "an empty cell is no field");
        assert_eq!(second["description"], "two\nlines and \"quotes\"");
    }

    #[test]
    fn nested_json_cells_are_values_and_other_cells_text() {
        let body = "url,error,error_code,input,tags,note\n\
                    https://x.y/,Page not found,dead_page,\"{\"\"url\"\":\"\"https://www.instagram.com/gone\"\"}\",\"[\"\"a\"\",\"\"b\"\"]\",[not json]\n";
        let out = rows(body.as_bytes(), 5).unwrap();
        let row = object(&out[0]);
        assert_eq!(row["input"]["url"], "https://www.instagram.com/gone");
        assert_eq!(row["tags"], serde_json::json!(["a", "b"]));
        assert_eq!(row["note"], "[not json]");
    }

    #[test]
    fn ragged_rows_and_bad_utf8_are_malformed_the_rest_kept() {
        let mut body = b"post_id,url\n1,https://www.instagram.com/p/1/\n2\n3,a,b\n".to_vec();
        body.extend_from_slice(b"4,\xff\xfe\n\n5,https://www.instagram.com/p/5/");
        let out = rows(&body, 4).unwrap();
        assert_eq!(out.len(), 5, "{out:?}");
        assert!(out[0].is_ok());
        assert_eq!(out[1], Err("the row has 1 cells, the header has 2".into()));
        assert_eq!(out[2], Err("the row has 3 cells, the header has 2".into()));
        assert_eq!(out[3], Err("the `url` cell is not valid UTF-8".into()));
        assert_eq!(
            object(&out[4])["post_id"],
            "5",
            "the last row needs no line end"
        );
    }

    #[test]
    fn the_header_must_be_readable_and_name_a_known_column() {
        assert!(matches!(
            rows(b"hello world\n", 4),
            Err(PayloadError::InvalidCsv(_))
        ));
        assert!(matches!(
            rows(b"\xffpost_id,url\n1,2\n", 4),
            Err(PayloadError::InvalidCsv(_))
        ));
        assert!(matches!(rows(b"", 4), Err(PayloadError::InvalidCsv(_))));
        assert_eq!(rows(b" post_id , url \n", 3).unwrap(), Vec::<Row>::new());
    }

    #[test]
    fn a_giant_row_is_refused_not_buffered() {
        let mut body = b"post_id,data\n1,".to_vec();
        body.extend(std::iter::repeat_n(b'x', MAX_RECORD_BYTES + 1));
        assert_eq!(rows(&body, 1 << 20), Err(PayloadError::RecordTooLarge));
    }
}
