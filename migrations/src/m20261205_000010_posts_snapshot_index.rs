//! PostgreSQL: the index on the posts' snapshot alone goes. `idx_posts_snapshot_id` (snapshot,
//! id) serves every lookup it served, and each stored post paid for both. SQLite keeps it: there
//! it is the only one (its indexes end with the row id already).
use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Posts {
    Table,
    SnapshotId,
}

const INDEX: &str = "idx_posts_snapshot";

fn postgres(manager: &SchemaManager) -> bool {
    manager.get_database_backend() == sea_orm::DatabaseBackend::Postgres
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        if !postgres(manager) {
            return Ok(());
        }
        crate::drop_index(manager, INDEX, Posts::Table).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        if !postgres(manager) {
            return Ok(());
        }
        crate::create_index(
            manager,
            INDEX,
            Posts::Table,
            vec![Posts::SnapshotId.into_iden()],
            false,
        )
        .await
    }
}
