//! The product's questions and actions, whichever door asks: the REST API (`api`), the dashboard's
//! server functions (`dashboard`) and the CLI (`cli`) are thin adapters over these. Each answers
//! with the app's view types or a [`ViewError`]; none knows HTTP.

mod error;

pub mod alerts;
pub mod drift;
pub mod events;
pub mod export;
pub mod monitor;
pub mod overview;
pub mod paging;
pub mod post_rows;
pub mod posts;
pub mod posts_parquet;
pub mod setup;
pub mod snapshots;
pub mod storage;

pub use error::{ViewError, ViewResult};

/// A migrated SQLite database in memory holding one stored delivery, `delivery`, for the posts a
/// test stores to refer to.
#[cfg(test)]
pub(crate) async fn test_db_with_delivery(delivery: i64) -> sea_orm::DatabaseConnection {
    use migrations::MigratorTrait;
    use sea_orm::ConnectionTrait;

    let db = sea_orm::Database::connect("sqlite::memory:").await.unwrap();
    migrations::Migrator::up(&db, None).await.unwrap();
    db.execute_unprepared(&format!(
        "INSERT INTO deliveries (id, state, format, compressed, wire_bytes, inflated_bytes, \
         posts, input_errors, malformed, received_ms, body_kept) \
         VALUES ({delivery}, 'stored', 'json', false, 10, 10, 0, 0, 0, 0, true)"
    ))
    .await
    .unwrap();
    db
}
