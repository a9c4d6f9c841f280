//! `posts/` and `export-posts/`: the collected posts, filtered and paged, and streamed out as
//! CSV, NDJSON or Parquet (`views::posts` decides both).

use app::types::PostFilter;
use axum::Json;
use axum::extract::{Query, State};
use axum::response::{IntoResponse, Response};

use super::events::download;
use crate::error::ApiError;
use crate::state::AppState;
use crate::views::posts;

/// `GET posts/?snapshot=&platform=&author=&from=&to=&q=&delivery=&cursor=&limit=`
pub async fn list(
    State(state): State<AppState>,
    Query(filter): Query<PostFilter>,
) -> Result<Response, ApiError> {
    Ok(Json(posts::list(&state.db, &filter).await?).into_response())
}

/// `GET export-posts/?format=csv|ndjson|parquet&bom=true&<list filters>`: every matching post, streamed
/// page by page (constant memory whatever the count); gzip or brotli when the client accepts it.
pub async fn export(
    State(state): State<AppState>,
    Query(filter): Query<PostFilter>,
) -> Result<Response, ApiError> {
    let (format, chunks) = posts::export(state.db.clone(), &filter)?;
    Ok(match format {
        posts::Format::Csv { .. } => download("text/csv; charset=utf-8", "posts.csv", chunks),
        posts::Format::Ndjson => download("application/x-ndjson", "posts.ndjson", chunks),
        posts::Format::Parquet => {
            download("application/vnd.apache.parquet", "posts.parquet", chunks)
        }
    })
}
