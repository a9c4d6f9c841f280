//! SQLite: an index on the posts' platform. Its only index starting with the platform was the
//! unique (platform, post id) one, in post id order, so a page of one platform's posts, newest
//! first, read every post of the platform and sorted them: 2 s for a page of 50 among 364,000
//! posts, minutes for an export. An index on the platform alone ends with the row id, so it
//! gives the platform's posts in id order. PostgreSQL has `idx_posts_platform_id` (platform, id)
//! since `m20261203_000006`.
use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Posts {
    Table,
    Platform,
}

const INDEX: &str = "idx_posts_platform";

fn sqlite(manager: &SchemaManager) -> bool {
    manager.get_database_backend() == sea_orm::DatabaseBackend::Sqlite
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        if !sqlite(manager) {
            return Ok(());
        }
        crate::create_index(
            manager,
            INDEX,
            Posts::Table,
            vec![Posts::Platform.into_iden()],
            false,
        )
        .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        if !sqlite(manager) {
            return Ok(());
        }
        crate::drop_index(manager, INDEX, Posts::Table).await
    }
}
