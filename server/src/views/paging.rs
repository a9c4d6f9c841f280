//! Reading a list's parameters (empty means unset; times as Unix ms or RFC 3339) and paging its
//! answer: a page is the rows below an id, newest first, read one longer than asked so the next
//! cursor is known without a COUNT.

use sea_orm::sea_query::LikeExpr;
use sea_orm::{ColumnTrait, Condition, EntityTrait, QueryFilter, QueryOrder, QuerySelect, Select};

use super::error::{ViewError, ViewResult};

/// A filter's value, with an empty one (an unset field of the dashboard's form) taken as unset.
pub fn given(value: &Option<String>) -> Option<&str> {
    value.as_deref().map(str::trim).filter(|v| !v.is_empty())
}

/// A time parameter: Unix milliseconds or RFC 3339.
pub fn time_param(name: &str, value: &str) -> ViewResult<i64> {
    value
        .parse::<i64>()
        .ok()
        .or_else(|| {
            chrono::DateTime::parse_from_rfc3339(value)
                .ok()
                .map(|t| t.timestamp_millis())
        })
        .ok_or_else(|| {
            ViewError::invalid(
                "invalid_time",
                format!("{name} must be Unix milliseconds or RFC 3339, not {value:?}"),
            )
        })
}

/// A LIKE pattern matching `text` anywhere, literally: LIKE's wildcards in it are escaped.
pub fn contains(text: &str) -> LikeExpr {
    let escaped = text
        .replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_");
    LikeExpr::new(format!("%{escaped}%")).escape('\\')
}

/// The id a page starts below (the previous page's `next_cursor`), if any.
pub fn cursor(value: &Option<String>) -> ViewResult<Option<i64>> {
    given(value)
        .map(|c| {
            c.parse::<i64>()
                .map_err(|_| ViewError::invalid("invalid_cursor", format!("invalid cursor {c:?}")))
        })
        .transpose()
}

/// Cuts `rows` (read `limit + 1`) to the page, and says where the next one starts.
pub fn next_cursor<T>(rows: &mut Vec<T>, limit: u64, id_of: fn(&T) -> i64) -> Option<String> {
    let more = rows.len() as u64 > limit;
    rows.truncate(limit as usize);
    more.then(|| rows.last().map(|row| id_of(row).to_string()))
        .flatten()
}

/// A page's query: the rows of `E` that `condition` matches below the id `before`, newest first,
/// `limit` of them. `id` is the table's id column.
pub fn page_query<E: EntityTrait>(
    id: E::Column,
    condition: Condition,
    before: Option<i64>,
    limit: u64,
) -> Select<E> {
    let mut select = E::find().filter(condition);
    if let Some(before) = before {
        select = select.filter(id.lt(before));
    }
    select.order_by_desc(id).limit(limit)
}
