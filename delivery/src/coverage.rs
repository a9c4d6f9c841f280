//! Field coverage: for each platform in a delivery, how many of its posts carried each top-level
//! field, how many had it filled (not null, not a blank string, not an empty array or object), and
//! the JSON types its values had. Tallied while the records are extracted (the splitter feeds every
//! key it walks past), so a large snapshot is never read a second time. `drift` compares a
//! snapshot's coverage with the platform's usual.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Distinct field names tallied per delivery at most: a hostile body with a new key in every record
/// must not grow the tally without bound. Keys past the cap are counted in `overflow`.
pub const MAX_FIELDS: usize = 512;

/// The JSON types a field's values are counted by (null is "not filled", not a type).
pub const TYPES: [&str; 5] = ["string", "number", "boolean", "array", "object"];

/// What one value was: its type (an index into [`TYPES`], or `None` for null) and whether it is
/// filled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shape {
    pub kind: Option<u8>,
    pub filled: bool,
}

impl Shape {
    pub const NULL: Shape = Shape {
        kind: None,
        filled: false,
    };
    const fn of(kind: u8, filled: bool) -> Shape {
        Shape {
            kind: Some(kind),
            filled,
        }
    }
    pub fn string(s: &str) -> Shape {
        Shape::of(0, !s.trim().is_empty())
    }
    pub const NUMBER: Shape = Shape::of(1, true);
    pub const BOOLEAN: Shape = Shape::of(2, true);
    pub fn array(filled: bool) -> Shape {
        Shape::of(3, filled)
    }
    pub fn object(filled: bool) -> Shape {
        Shape::of(4, filled)
    }

    pub fn of_value(value: &Value) -> Shape {
        match value {
            Value::Null => Shape::NULL,
            Value::String(s) => Shape::string(s),
            Value::Number(_) => Shape::NUMBER,
            Value::Bool(_) => Shape::BOOLEAN,
            Value::Array(a) => Shape::array(!a.is_empty()),
            Value::Object(o) => Shape::object(!o.is_empty()),
        }
    }

    /// A CSV cell: every cell is text, so one that reads as a number or a boolean counts as that
    /// type (a dataset delivered as JSON one day and CSV the next must not look like a type change).
    pub fn of_cell(value: &Value) -> Shape {
        match value {
            Value::String(s) if s.trim().parse::<f64>().is_ok() => Shape::NUMBER,
            Value::String(s) if matches!(s.trim(), "true" | "false") => Shape::BOOLEAN,
            other => Shape::of_value(other),
        }
    }

    /// The shape of a value given as its JSON text (valid JSON, as the parser handed it over):
    /// read off its first bytes, so a field the service does not otherwise read is never built.
    pub fn of_json(text: &str) -> Shape {
        // The parser hands a value over from its first byte, without the blanks before it.
        let inner = |open: usize| text[open..].trim_ascii_start();
        let bytes = text.as_bytes();
        match bytes.first() {
            Some(b'"') => match bytes.get(1) {
                // Most strings start with a visible character: no need to look further.
                Some(c) if c.is_ascii_graphic() && !matches!(c, b'"' | b'\\') => Shape::of(0, true),
                _ => Shape::of(0, !blank_json_string(&text[1..])),
            },
            Some(b'[') => Shape::array(!inner(1).starts_with(']')),
            Some(b'{') => Shape::object(!inner(1).starts_with('}')),
            Some(b't' | b'f') => Shape::BOOLEAN,
            Some(b'n') | None => Shape::NULL,
            Some(_) => Shape::NUMBER,
        }
    }
}

/// How one field fared over a set of records.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FieldCoverage {
    pub name: String,
    /// Records that had the key at all (null included).
    pub seen: u64,
    /// Records where it was filled.
    pub filled: u64,
    /// Non-null values per type, in the order of [`TYPES`].
    pub types: [u64; 5],
}

/// One platform's posts in a delivery or a snapshot.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlatformCoverage {
    pub platform: String,
    pub records: u64,
    /// Field names past [`MAX_FIELDS`] that were not tallied.
    #[serde(default)]
    pub overflow: u64,
    /// By name.
    pub fields: Vec<FieldCoverage>,
}

impl PlatformCoverage {
    pub fn field(&self, name: &str) -> Option<&FieldCoverage> {
        self.fields
            .binary_search_by(|f| f.name.as_str().cmp(name))
            .ok()
            .map(|i| &self.fields[i])
    }
}

/// Adds `more` into `into`, platform by platform and field by field.
pub fn merge(into: &mut Vec<PlatformCoverage>, more: Vec<PlatformCoverage>) {
    for platform in more {
        match into.iter_mut().find(|p| p.platform == platform.platform) {
            None => into.push(platform),
            Some(sum) => {
                sum.records += platform.records;
                sum.overflow += platform.overflow;
                for field in platform.fields {
                    match sum.fields.binary_search_by(|f| f.name.cmp(&field.name)) {
                        Err(at) => sum.fields.insert(at, field),
                        Ok(at) => {
                            let f = &mut sum.fields[at];
                            f.seen += field.seen;
                            f.filled += field.filled;
                            for (t, n) in f.types.iter_mut().zip(field.types) {
                                *t += n;
                            }
                        }
                    }
                }
            }
        }
    }
    into.sort_by(|a, b| a.platform.cmp(&b.platform));
}

#[derive(Debug, Clone, Copy, Default)]
struct Counts {
    seen: u64,
    filled: u64,
    types: [u64; 5],
}

#[derive(Debug, Default)]
struct PlatformTally {
    records: u64,
    overflow: u64,
    /// By field number.
    fields: Vec<Counts>,
}

/// Tallies records as the splitter walks them: [`FieldTally::see`] for each key of a record, then
/// [`FieldTally::commit`] once the record turned out to be a post (or [`FieldTally::discard`]).
#[derive(Debug, Default)]
pub struct FieldTally {
    names: Vec<Box<str>>,
    numbers: HashMap<Box<str>, u16>,
    /// The record being walked: field number and shape.
    record: Vec<(u16, Shape)>,
    /// Keys past the cap in the record being walked.
    record_overflow: u64,
    /// The previous record's field numbers in order: records of one scraper list their keys in
    /// the same order, so most keys are found by position without hashing.
    previous: Vec<u16>,
    /// Per field number, the last record it was counted in (a key repeated in a record counts once).
    stamps: Vec<u64>,
    committed: u64,
    platforms: Vec<(String, PlatformTally)>,
}

impl FieldTally {
    pub fn see(&mut self, key: &str, shape: Shape) {
        let position = self.record.len();
        let number = match self.previous.get(position) {
            Some(&n) if *self.names[n as usize] == *key => n,
            _ => match self.numbers.get(key) {
                Some(&n) => n,
                None if self.names.len() >= MAX_FIELDS => {
                    self.record_overflow += 1;
                    return;
                }
                None => {
                    let n = self.names.len() as u16;
                    self.names.push(key.into());
                    self.numbers.insert(key.into(), n);
                    self.stamps.push(u64::MAX);
                    n
                }
            },
        };
        self.record.push((number, shape));
    }

    /// The record just walked is a post of `platform`.
    pub fn commit(&mut self, platform: &str) {
        let at = match self.platforms.iter().position(|(p, _)| p == platform) {
            Some(at) => at,
            None => {
                self.platforms
                    .push((platform.to_owned(), PlatformTally::default()));
                self.platforms.len() - 1
            }
        };
        let tally = &mut self.platforms[at].1;
        tally.records += 1;
        tally.overflow += self.record_overflow;
        if tally.fields.len() < self.names.len() {
            tally.fields.resize(self.names.len(), Counts::default());
        }
        let stamp = self.committed;
        for &(number, shape) in &self.record {
            let n = number as usize;
            if self.stamps[n] == stamp {
                continue;
            }
            self.stamps[n] = stamp;
            let counts = &mut tally.fields[n];
            counts.seen += 1;
            counts.filled += u64::from(shape.filled);
            if let Some(kind) = shape.kind {
                counts.types[kind as usize] += 1;
            }
        }
        self.committed += 1;
        self.discard();
    }

    /// The record just walked is not a post: it is not counted.
    pub fn discard(&mut self) {
        self.previous.clear();
        self.previous.extend(self.record.iter().map(|(n, _)| *n));
        self.record.clear();
        self.record_overflow = 0;
    }

    /// The coverage of every platform seen, fields by name.
    pub fn finish(self) -> Vec<PlatformCoverage> {
        let mut out: Vec<PlatformCoverage> = self
            .platforms
            .into_iter()
            .map(|(platform, tally)| {
                let mut fields: Vec<FieldCoverage> = tally
                    .fields
                    .iter()
                    .enumerate()
                    .filter(|(_, c)| c.seen > 0)
                    .map(|(n, c)| FieldCoverage {
                        name: self.names[n].to_string(),
                        seen: c.seen,
                        filled: c.filled,
                        types: c.types,
                    })
                    .collect();
                fields.sort_by(|a, b| a.name.cmp(&b.name));
                PlatformCoverage {
                    platform,
                    records: tally.records,
                    overflow: tally.overflow,
                    fields,
                }
            })
            .collect();
        out.sort_by(|a, b| a.platform.cmp(&b.platform));
        out
    }
}

/// Whether a JSON string's text (after its opening quote) holds only whitespace, escaped or not.
/// Most strings are decided by their first character.
fn blank_json_string(rest: &str) -> bool {
    let mut chars = rest.chars();
    while let Some(c) = chars.next() {
        match c {
            '"' => return true,
            '\\' => match chars.next() {
                Some('n' | 't' | 'r') => {}
                Some('u') => {
                    let code: String = chars.by_ref().take(4).collect();
                    let blank = u32::from_str_radix(&code, 16)
                        .ok()
                        .and_then(char::from_u32)
                        .is_some_and(char::is_whitespace);
                    if !blank {
                        return false;
                    }
                }
                _ => return false,
            },
            c if c.is_whitespace() => {}
            _ => return false,
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    fn walk(tally: &mut FieldTally, record: &str, platform: Option<&str>) {
        let Value::Object(fields) = serde_json::from_str::<Value>(record).unwrap() else {
            panic!("an object")
        };
        for (key, value) in &fields {
            tally.see(key, Shape::of_value(value));
        }
        match platform {
            Some(p) => tally.commit(p),
            None => tally.discard(),
        }
    }

    #[test]
    fn counts_each_field_of_posts_only_by_filled_and_type() {
        let mut tally = FieldTally::default();
        walk(&mut tally, r#"{"id":"1","likes":3,"text":"hi"}"#, Some("x"));
        walk(
            &mut tally,
            r#"{"id":"2","likes":null,"text":" "}"#,
            Some("x"),
        );
        walk(&mut tally, r#"{"id":"3","likes":"7","tags":[]}"#, Some("x"));
        walk(&mut tally, r#"{"error":"no such page"}"#, None);
        walk(&mut tally, r#"{"id":"9","likes":1}"#, Some("tiktok"));
        let coverage = tally.finish();
        assert_eq!(coverage.len(), 2);
        let x = coverage.iter().find(|p| p.platform == "x").unwrap();
        assert_eq!(x.records, 3);
        assert!(x.field("error").is_none(), "an error report is not a post");
        let likes = x.field("likes").unwrap();
        assert_eq!((likes.seen, likes.filled), (3, 2));
        assert_eq!(likes.types, [1, 1, 0, 0, 0]);
        let text = x.field("text").unwrap();
        assert_eq!((text.seen, text.filled), (2, 1));
        let tags = x.field("tags").unwrap();
        assert_eq!((tags.seen, tags.filled, tags.types[3]), (1, 0, 1));
    }

    #[test]
    fn a_repeated_key_counts_once_and_new_keys_stop_at_the_cap() {
        let mut tally = FieldTally::default();
        tally.see("a", Shape::NUMBER);
        tally.see("a", Shape::NUMBER);
        tally.commit("x");
        for i in 0..MAX_FIELDS + 10 {
            tally.see(&format!("k{i}"), Shape::NUMBER);
        }
        tally.commit("x");
        let x = &tally.finish()[0];
        assert_eq!(x.field("a").unwrap().seen, 1);
        assert_eq!(x.fields.len(), MAX_FIELDS);
        assert_eq!(x.overflow, 11);
    }

    #[test]
    fn merging_adds_field_by_field() {
        let mut a = FieldTally::default();
        walk(&mut a, r#"{"id":"1","likes":3}"#, Some("x"));
        let mut b = FieldTally::default();
        walk(&mut b, r#"{"id":"2","views":5}"#, Some("x"));
        walk(&mut b, r#"{"id":"3","likes":5}"#, Some("y"));
        let mut sum = a.finish();
        merge(&mut sum, b.finish());
        assert_eq!(sum.len(), 2);
        assert_eq!(sum[0].records, 2);
        assert_eq!(sum[0].field("id").unwrap().filled, 2);
        let names: Vec<&str> = sum[0].fields.iter().map(|f| f.name.as_str()).collect();
        assert_eq!(names, ["id", "likes", "views"]);
    }

    #[test]
    fn a_value_is_read_off_its_text_as_if_it_were_built() {
        for text in [
            r#""  ""#,
            r#""""#,
            r#"" \n\t\u00a0 ""#,
            r#""\u0041""#,
            r#""a\nb""#,
            r#"" é""#,
            "[]",
            "[ ]",
            r#"[{"a":1}]"#,
            "{}",
            "{ \n }",
            r#"{"a":null}"#,
            "-1.5e3",
            "0",
            "true",
            "false",
            "null",
        ] {
            let built: Value = serde_json::from_str(text).unwrap();
            assert_eq!(Shape::of_json(text), Shape::of_value(&built), "{text}");
        }
        assert_eq!(Shape::of_cell(&Value::String("12".into())), Shape::NUMBER);
        assert_eq!(
            Shape::of_cell(&Value::String("true".into())),
            Shape::BOOLEAN
        );
    }
}
