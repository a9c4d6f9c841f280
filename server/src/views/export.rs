//! The events export: every event a filter matches, newest first, as CSV or JSON text in chunks of
//! a page each (constant memory whatever the count). One implementation for `GET export-events/`
//! and `server export-events`.

use bytes::Bytes;
use sea_orm::{ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter};

use super::error::{ViewError, ViewResult};
use super::events::{Filter, before_id, condition, page};
use crate::events::view;
use crate::store::entities::events;

/// Rows fetched per page while exporting.
const EXPORT_PAGE: u64 = 2000;

/// The export's columns, in order (documented in the README and the OpenAPI document).
pub const EXPORT_COLUMNS: [&str; 15] = [
    "id",
    "at",
    "at_ms",
    "endpoint",
    "outcome",
    "status",
    "latency_ms",
    "bytes",
    "client_ip",
    "user_agent",
    "snapshot_id",
    "platform",
    "records",
    "delivery_id",
    "error",
];

/// A cell a spreadsheet would run as a formula (first character `=`, `+`, `-`, `@`, tab or CR)
/// gets a `'` in front, as OWASP advises against CSV injection: the text a client chose (its user
/// agent, a reason quoting its headers) is read in a spreadsheet, never evaluated.
fn spreadsheet_text(value: &str) -> std::borrow::Cow<'_, str> {
    if value.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{value}").into()
    } else {
        value.into()
    }
}

/// One page of the export as CSV rows (the header row first when `header`), CRLF-terminated.
fn csv_rows(rows: &[events::Model], header: bool) -> Result<Vec<u8>, csv::Error> {
    let mut out = csv::WriterBuilder::new()
        .terminator(csv::Terminator::CRLF)
        .from_writer(Vec::with_capacity(256 * rows.len() + 256));
    if header {
        out.write_record(EXPORT_COLUMNS)?;
    }
    for e in rows {
        let at = chrono::DateTime::from_timestamp_millis(e.at_ms)
            .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true))
            .unwrap_or_default();
        let text = |value: &Option<String>| {
            spreadsheet_text(value.as_deref().unwrap_or_default()).into_owned()
        };
        out.write_record([
            e.id.to_string(),
            at,
            e.at_ms.to_string(),
            spreadsheet_text(&e.endpoint).into_owned(),
            spreadsheet_text(&e.outcome).into_owned(),
            e.status.to_string(),
            format!("{:.3}", e.latency_us as f64 / 1000.0),
            e.bytes.to_string(),
            text(&e.client_ip),
            text(&e.user_agent),
            text(&e.snapshot_id),
            text(&e.platform),
            e.records.map(|r| r.to_string()).unwrap_or_default(),
            e.delivery_id.map(|d| d.to_string()).unwrap_or_default(),
            text(&e.error),
        ])?;
    }
    out.into_inner().map_err(|e| e.into_error().into())
}

/// An export in progress: its chunks of bytes, each with the number of events it holds.
pub type ExportChunks = std::pin::Pin<
    Box<dyn futures_util::Stream<Item = Result<(Bytes, u64), std::io::Error>> + Send>,
>;

/// Every event matching `filter`, newest first, as CSV or JSON text in chunks of a page each:
/// constant memory whatever the count. One implementation for `GET export-events/` and
/// `server export-events`. Returns whether it is JSON, and the chunks.
pub fn chunks(db: DatabaseConnection, filter: &Filter) -> ViewResult<(bool, ExportChunks)> {
    let json_format = match filter.format.as_deref().unwrap_or("csv") {
        "csv" => false,
        "json" => true,
        other => {
            return Err(ViewError::invalid(
                "invalid_format",
                format!("format must be csv or json, not {other:?}"),
            ));
        }
    };
    let condition = condition(filter)?;
    let start = before_id(filter)?;

    struct Cursor {
        before: Option<i64>,
        first: bool,
        done: bool,
    }
    let stream = futures_util::stream::unfold(
        Cursor {
            before: start,
            first: true,
            done: false,
        },
        move |mut cursor| {
            let db = db.clone();
            let condition = condition.clone();
            async move {
                if cursor.done {
                    return None;
                }
                let rows = match page(&db, condition, cursor.before, EXPORT_PAGE).await {
                    Ok(rows) => rows,
                    Err(error) => {
                        tracing::error!(%error, "export stopped");
                        cursor.done = true;
                        return Some((Err(std::io::Error::other(error.to_string())), cursor));
                    }
                };
                let mut out = Vec::new();
                if json_format {
                    if cursor.first {
                        out.push(b'[');
                    }
                    for (i, row) in rows.iter().enumerate() {
                        if !(cursor.first && i == 0) {
                            out.push(b',');
                        }
                        out.extend(serde_json::to_vec(&view(row.clone())).unwrap_or_default());
                    }
                } else {
                    match csv_rows(&rows, cursor.first) {
                        Ok(csv) => out = csv,
                        Err(error) => {
                            tracing::error!(%error, "export stopped");
                            cursor.done = true;
                            return Some((Err(std::io::Error::other(error.to_string())), cursor));
                        }
                    }
                }
                cursor.first = cursor.first && rows.is_empty();
                cursor.before = rows.last().map(|r| r.id).or(cursor.before);
                if (rows.len() as u64) < EXPORT_PAGE {
                    cursor.done = true;
                    if json_format {
                        out.push(b']');
                    }
                }
                Some((Ok((Bytes::from(out), rows.len() as u64)), cursor))
            }
        },
    );
    Ok((json_format, Box::pin(stream)))
}

/// How many events `filter` matches (for a progress bar: a COUNT, so not for every page view).
pub async fn count(db: &DatabaseConnection, filter: &Filter) -> ViewResult<u64> {
    use sea_orm::PaginatorTrait;
    let mut select = events::Entity::find().filter(condition(filter)?);
    if let Some(before) = before_id(filter)? {
        select = select.filter(events::Column::Id.lt(before));
    }
    select
        .count(db)
        .await
        .map_err(|e| ViewError::internal("counting events", e))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(user_agent: &str, error: &str) -> events::Model {
        events::Model {
            id: 7,
            at_ms: 1_764_650_000_000,
            endpoint: "webhook".into(),
            outcome: "rejected_auth".into(),
            status: 401,
            latency_us: 1_500,
            bytes: 2,
            client_ip: Some("203.0.113.9".into()),
            user_agent: Some(user_agent.into()),
            snapshot_id: None,
            platform: None,
            records: None,
            delivery_id: None,
            error: Some(error.into()),
            headers: None,
        }
    }

    #[test]
    fn cells_a_spreadsheet_would_evaluate_are_neutralised() {
        for formula in ["=1+1", "+1", "-1", "@SUM(A1)", "\tx", "\rx"] {
            assert_eq!(spreadsheet_text(formula), format!("'{formula}"));
        }
        for text in ["curl/8", "a=b", "", "1-2", "'quoted"] {
            assert_eq!(spreadsheet_text(text), text);
        }
    }

    #[test]
    fn csv_rows_are_quoted_crlf_terminated_and_parse_back() {
        let rows = [
            event(
                "odd, \"quoted\"\nagent",
                "invalid_token: the token is not valid",
            ),
            event("=HYPERLINK(\"x\")", "-rm"),
        ];
        let bytes = csv_rows(&rows, true).unwrap();
        let text = String::from_utf8(bytes).unwrap();
        assert!(text.starts_with("id,at,at_ms,endpoint,outcome,status,latency_ms,"));
        assert!(text.ends_with("\r\n"));
        let mut reader = csv::Reader::from_reader(text.as_bytes());
        let parsed: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
        assert_eq!(parsed.len(), 2);
        assert_eq!(&parsed[0][9], "odd, \"quoted\"\nagent");
        assert_eq!(&parsed[0][6], "1.500");
        assert_eq!(&parsed[1][9], "'=HYPERLINK(\"x\")");
        assert_eq!(&parsed[1][14], "'-rm");
        assert_eq!(&parsed[1][1], "2025-12-02T04:33:20.000Z");
        let body_only = csv_rows(&rows[..1], false).unwrap();
        assert!(body_only.starts_with(b"7,"));
    }
}
