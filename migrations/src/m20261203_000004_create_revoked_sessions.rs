//! Dashboard sessions ended by a logout before they expired. Kept in the database, not only in
//! the process that saw the logout: a copy of the cookie stays refused after a restart and on
//! every instance sharing the database. A row can go once its session would have expired anyway.
use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum RevokedSessions {
    Table,
    /// SHA-256 (hex) of the session's signed payload: the cookie itself is never stored.
    SessionHash,
    ExpiresMs,
    RevokedMs,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(RevokedSessions::Table)
                    .if_not_exists()
                    .col(string_len(RevokedSessions::SessionHash, 64).primary_key())
                    .col(big_integer(RevokedSessions::ExpiresMs))
                    .col(big_integer(RevokedSessions::RevokedMs))
                    .to_owned(),
            )
            .await?;
        crate::create_index(
            manager,
            "idx_revoked_sessions_revoked_ms",
            RevokedSessions::Table,
            vec![RevokedSessions::RevokedMs.into_iden()],
            false,
        )
        .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(RevokedSessions::Table).to_owned())
            .await
    }
}
