//! Events by the delivery they stored: the posts view links each post to the request that
//! brought it, a page of posts at a time. On PostgreSQL also the posts of a snapshot or a platform
//! in id order: the exports page through them newest first, and an index on the snapshot alone
//! made every page sort all of the snapshot's posts (an export of 364,000 posts ran at ~5,000
//! rows/s). SQLite's indexes end with the row id already (the platform's came only with
//! `m20261207_000011`).
use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Events {
    Table,
    DeliveryId,
}

#[derive(DeriveIden)]
enum Posts {
    Table,
    Id,
    SnapshotId,
    Platform,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        crate::create_index(
            manager,
            "idx_events_delivery",
            Events::Table,
            vec![Events::DeliveryId.into_iden()],
            false,
        )
        .await?;
        if manager.get_database_backend() == sea_orm::DatabaseBackend::Postgres {
            for (name, column) in [
                ("idx_posts_snapshot_id", Posts::SnapshotId),
                ("idx_posts_platform_id", Posts::Platform),
            ] {
                crate::create_index(
                    manager,
                    name,
                    Posts::Table,
                    vec![column.into_iden(), Posts::Id.into_iden()],
                    false,
                )
                .await?;
            }
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for (name, table) in [
            ("idx_events_delivery", Events::Table.into_iden()),
            ("idx_posts_snapshot_id", Posts::Table.into_iden()),
            ("idx_posts_platform_id", Posts::Table.into_iden()),
        ] {
            crate::drop_index(manager, name, table).await?;
        }
        Ok(())
    }
}
