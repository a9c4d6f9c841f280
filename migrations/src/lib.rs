//! Database schema, as sea-orm migrations written with backend-neutral `schema::*` helpers so the same
//! migrations run on SQLite and PostgreSQL. Times are stored as Unix milliseconds (`BIGINT`) so range
//! scans and bucketing are plain integer arithmetic on both backends.
pub use sea_orm_migration::prelude::*;

mod m20261129_000001_create_events;
mod m20261129_000002_create_ingestion;

pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20261129_000001_create_events::Migration),
            Box::new(m20261129_000002_create_ingestion::Migration),
        ]
    }
}
