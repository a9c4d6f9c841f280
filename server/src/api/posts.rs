//! `posts/` and `export-posts/`: the collected posts, filtered and paged, and streamed out as
//! CSV or NDJSON (`views::posts` decides both).

use app::types::PostFilter;
use axum::Json;
use axum::body::Body;
use axum::extract::{Query, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};

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

/// `GET export-posts/?format=csv|ndjson&bom=true&<list filters>`: every matching post, streamed
/// page by page (constant memory whatever the count); gzip or brotli when the client accepts it.
pub async fn export(
    State(state): State<AppState>,
    Query(filter): Query<PostFilter>,
) -> Result<Response, ApiError> {
    use futures_util::{StreamExt, TryStreamExt};
    let (format, chunks) = posts::export(state.db.clone(), &filter)?;
    let (content_type, name) = match format {
        posts::Format::Csv { .. } => ("text/csv; charset=utf-8", "posts.csv"),
        posts::Format::Ndjson => ("application/x-ndjson", "posts.ndjson"),
    };
    Ok((
        [
            (header::CONTENT_TYPE, content_type.to_owned()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{name}\""),
            ),
        ],
        // Fused: the compression layer's encoder polls its body once more after the end.
        Body::from_stream(chunks.map_ok(|(bytes, _)| bytes).fuse()),
    )
        .into_response())
}
