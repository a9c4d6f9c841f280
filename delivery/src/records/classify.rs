//! What a record is (post, input error, malformed) and the columns kept of a post.

use serde_json::{Map, Value};

use super::types::{InputError, Mode, Post, Record};
use crate::coverage::{FieldTally, Shape};

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
pub(super) const CLASSIFIED: &[&str] = &[
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
/// what is stored, in `Count` mode only what it is. With a `tally`, a post's fields are counted
/// into it as the record is read. Err: the text is not JSON.
pub fn read_record(
    text: &str,
    index: u64,
    default_platform: Option<&str>,
    mode: Mode,
    mut tally: Option<&mut FieldTally>,
) -> Result<Record, serde_json::Error> {
    let keys: &[&[&str]] = match mode {
        Mode::Extract => EXTRACTED,
        Mode::Count => &[CLASSIFIED],
    };
    let record = match only_fields(text, keys, tally.as_deref_mut()) {
        Err(error) => {
            if let Some(tally) = tally {
                tally.discard();
            }
            return Err(error);
        }
        Ok(Ok(fields)) => classify(&fields, text, index, default_platform, mode),
        Ok(Err(kind)) => Record::Malformed {
            index,
            reason: format!("record is a JSON {kind}, not an object"),
        },
    };
    if let Some(tally) = tally {
        settle(tally, &record);
    }
    Ok(record)
}

/// Counts the fields just walked if the record is a post.
pub(super) fn settle(tally: &mut FieldTally, record: &Record) {
    match record {
        Record::Post(post) => tally.commit(&post.platform),
        _ => tally.discard(),
    }
}

/// The fields the service reads of a post (the key fields of a coverage table).
pub fn is_key_field(name: &str) -> bool {
    ["url", "post_id", "id"].contains(&name)
        || [POSTED_AT, AUTHOR, LIKES, COMMENTS, SHARES, VIEWS, TEXT]
            .iter()
            .any(|keys| keys.contains(&name))
}

/// Sorts a record, given its fields (at least those `mode` reads) and its text.
pub(super) fn classify(
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
    tally: Option<&mut FieldTally>,
) -> Result<Result<Map<String, Value>, &'static str>, serde_json::Error> {
    if !text.trim_start().starts_with('{') {
        let value: Value = serde_json::from_str(text)?;
        return Ok(Err(kind_of(&value)));
    }
    let mut deserializer = serde_json::Deserializer::from_str(text);
    let fields =
        serde::de::DeserializeSeed::deserialize(OnlyFields(keys, tally), &mut deserializer)?;
    deserializer.end()?;
    Ok(Ok(fields))
}

/// The named fields; with a tally, every key's shape is counted too (the others are walked
/// without being built).
struct OnlyFields<'t>(
    &'static [&'static [&'static str]],
    Option<&'t mut FieldTally>,
);

impl<'de> serde::de::DeserializeSeed<'de> for OnlyFields<'_> {
    type Value = Map<String, Value>;

    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> serde::de::Visitor<'de> for OnlyFields<'_> {
    type Value = Map<String, Value>;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a JSON object")
    }

    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let OnlyFields(wanted, mut tally) = self;
        let mut fields = Map::new();
        while let Some(Key(key)) = map.next_key()? {
            let read = wanted.iter().any(|keys| keys.contains(&key.as_ref()));
            match (read, tally.as_deref_mut()) {
                (true, tally) => {
                    let value: Value = map.next_value()?;
                    if let Some(tally) = tally {
                        tally.see(&key, Shape::of_value(&value));
                    }
                    fields.insert(key.into_owned(), value);
                }
                (false, Some(tally)) => {
                    let raw: &serde_json::value::RawValue = map.next_value()?;
                    tally.see(&key, Shape::of_json(raw.get()));
                }
                (false, None) => {
                    map.next_value::<serde::de::IgnoredAny>()?;
                }
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

/// Where a post's text is, first key present and not blank wins: Instagram and TikTok say
/// `description`, Facebook `content`, LinkedIn `post_text` (its `title` is a headline).
const TEXT: &[&str] = &[
    "description",
    "caption",
    "content",
    "post_text",
    "text",
    "title",
];

/// A post's text, read from its record's JSON text; `None` when the record has none (or is not a
/// JSON object).
pub fn post_text(record: &str) -> Option<String> {
    if !record.trim_start().starts_with('{') {
        return None;
    }
    // Only the text fields are read; the rest of the record is skipped without being built (an
    // export reads the text of every post). A record that repeats one of them is read whole.
    match serde_json::from_str::<TextFields>(record) {
        Ok(fields) => fields.first(),
        Err(_) => {
            let Ok(Value::Object(record)) = serde_json::from_str::<Value>(record) else {
                return None;
            };
            TEXT.iter().find_map(|key| match record.get(*key)? {
                Value::String(s) if !s.trim().is_empty() => Some(s.clone()),
                _ => None,
            })
        }
    }
}

/// The [`TEXT`] fields of a record, in that order.
#[derive(serde::Deserialize)]
struct TextFields {
    #[serde(default)]
    description: TextField,
    #[serde(default)]
    caption: TextField,
    #[serde(default)]
    content: TextField,
    #[serde(default)]
    post_text: TextField,
    #[serde(default)]
    text: TextField,
    #[serde(default)]
    title: TextField,
}

impl TextFields {
    fn first(self) -> Option<String> {
        [
            self.description,
            self.caption,
            self.content,
            self.post_text,
            self.text,
            self.title,
        ]
        .into_iter()
        .find_map(|field| field.0.filter(|s| !s.trim().is_empty()))
    }
}

/// A field kept when it is a string; any other value is skipped without being built.
#[derive(Default)]
struct TextField(Option<String>);

impl<'de> serde::Deserialize<'de> for TextField {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        use serde::de::{IgnoredAny, MapAccess, SeqAccess, Visitor};
        struct Skip;
        impl<'de> Visitor<'de> for Skip {
            type Value = TextField;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("any JSON value")
            }
            fn visit_str<E>(self, v: &str) -> Result<TextField, E> {
                Ok(TextField(Some(v.to_owned())))
            }
            fn visit_string<E>(self, v: String) -> Result<TextField, E> {
                Ok(TextField(Some(v)))
            }
            fn visit_bool<E>(self, _: bool) -> Result<TextField, E> {
                Ok(TextField(None))
            }
            fn visit_i64<E>(self, _: i64) -> Result<TextField, E> {
                Ok(TextField(None))
            }
            fn visit_u64<E>(self, _: u64) -> Result<TextField, E> {
                Ok(TextField(None))
            }
            fn visit_f64<E>(self, _: f64) -> Result<TextField, E> {
                Ok(TextField(None))
            }
            fn visit_unit<E>(self) -> Result<TextField, E> {
                Ok(TextField(None))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<TextField, A::Error> {
                while seq.next_element::<IgnoredAny>()?.is_some() {}
                Ok(TextField(None))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<TextField, A::Error> {
                while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
                Ok(TextField(None))
            }
        }
        deserializer.deserialize_any(Skip)
    }
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
