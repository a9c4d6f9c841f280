//! Database schema, as sea-orm migrations written with backend-neutral `schema::*` helpers so the same
//! migrations run on SQLite and PostgreSQL. Times are stored as Unix milliseconds (`BIGINT`) so range
//! scans and bucketing are plain integer arithmetic on both backends.
pub use sea_orm_migration::prelude::*;

mod m20261129_000001_create_events;
mod m20261129_000002_create_ingestion;
mod m20261129_000003_create_monitoring;
mod m20261203_000004_create_revoked_sessions;
mod m20261203_000005_snapshot_completeness;
mod m20261203_000006_events_by_delivery;
mod m20261204_000007_field_coverage;
mod m20261205_000008_leases;
mod m20261205_000009_rollup_shards;
mod m20261205_000010_posts_snapshot_index;
mod m20261207_000011_posts_platform_index;

pub struct Migrator;

/// Creates an index (if missing) on `columns` of `table`.
pub(crate) async fn create_index(
    manager: &SchemaManager<'_>,
    name: &str,
    table: impl IntoTableRef,
    columns: Vec<DynIden>,
    unique: bool,
) -> Result<(), DbErr> {
    let mut index = Index::create();
    index.name(name).table(table).if_not_exists();
    if unique {
        index.unique();
    }
    for column in columns {
        index.col(column);
    }
    manager.create_index(index.to_owned()).await
}

/// Drops the index `name` of `table`, if it exists.
pub(crate) async fn drop_index(
    manager: &SchemaManager<'_>,
    name: &str,
    table: impl IntoTableRef,
) -> Result<(), DbErr> {
    let index = Index::drop().if_exists().name(name).table(table).to_owned();
    manager.drop_index(index).await
}

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20261129_000001_create_events::Migration),
            Box::new(m20261129_000002_create_ingestion::Migration),
            Box::new(m20261129_000003_create_monitoring::Migration),
            Box::new(m20261203_000004_create_revoked_sessions::Migration),
            Box::new(m20261203_000005_snapshot_completeness::Migration),
            Box::new(m20261203_000006_events_by_delivery::Migration),
            Box::new(m20261204_000007_field_coverage::Migration),
            Box::new(m20261205_000008_leases::Migration),
            Box::new(m20261205_000009_rollup_shards::Migration),
            Box::new(m20261205_000010_posts_snapshot_index::Migration),
            Box::new(m20261207_000011_posts_platform_index::Migration),
        ]
    }
}
