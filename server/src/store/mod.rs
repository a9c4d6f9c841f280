//! Storage: entities, the single group-committing writer, and the queries of each area.
pub mod checkpoint;
pub mod completeness;
pub mod drift;
pub mod entities;
pub mod events;
pub mod histogram;
pub mod ids;
pub mod ingestion;
pub mod leases;
pub mod multirow;
pub mod outcome;
pub mod rollups;
pub mod sessions;
pub mod storage;
pub mod writer;

pub use writer::{StoreError, Writer};

/// A migrated SQLite database in memory holding these deliveries (id, state), for the tests of
/// the code that reads or writes what refers to them.
#[cfg(test)]
pub(crate) async fn test_db_with_deliveries(
    deliveries: &[(i64, &str)],
) -> sea_orm::DatabaseConnection {
    use migrations::MigratorTrait;
    use sea_orm::ConnectionTrait;

    let db = sea_orm::Database::connect("sqlite::memory:").await.unwrap();
    migrations::Migrator::up(&db, None).await.unwrap();
    for (id, state) in deliveries {
        db.execute_unprepared(&format!(
            "INSERT INTO deliveries (id, state, format, compressed, wire_bytes, inflated_bytes, \
             posts, input_errors, malformed, received_ms, body_kept) \
             VALUES ({id}, '{state}', 'json', false, 10, 10, 0, 0, 0, 0, true)"
        ))
        .await
        .unwrap();
    }
    db
}
