//! Whether a snapshot arrived whole: what BrightData says it produced (records and errors, from its
//! progress API), what was received for it, the verdict (`complete`, `incomplete`, `unverified`)
//! with the reason when it cannot be judged, and when a redelivery was asked for.
use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Snapshots {
    Table,
    Completeness,
    ExpectedRecords,
    ExpectedErrors,
    ReceivedRecords,
    CompletenessNote,
    CheckedMs,
    RedeliveryMs,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // One column per statement: SQLite adds one column per ALTER TABLE.
        let columns = [
            string_len_null(Snapshots::Completeness, 16),
            big_integer_null(Snapshots::ExpectedRecords),
            big_integer_null(Snapshots::ExpectedErrors),
            big_integer_null(Snapshots::ReceivedRecords),
            text_null(Snapshots::CompletenessNote),
            big_integer_null(Snapshots::CheckedMs),
            big_integer_null(Snapshots::RedeliveryMs),
        ];
        for mut column in columns {
            manager
                .alter_table(
                    Table::alter()
                        .table(Snapshots::Table)
                        .add_column(&mut column)
                        .to_owned(),
                )
                .await?;
        }
        crate::create_index(
            manager,
            "idx_snapshots_completeness",
            Snapshots::Table,
            vec![Snapshots::Completeness.into_iden()],
            false,
        )
        .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for column in [
            Snapshots::Completeness,
            Snapshots::ExpectedRecords,
            Snapshots::ExpectedErrors,
            Snapshots::ReceivedRecords,
            Snapshots::CompletenessNote,
            Snapshots::CheckedMs,
            Snapshots::RedeliveryMs,
        ] {
            manager
                .alter_table(
                    Table::alter()
                        .table(Snapshots::Table)
                        .drop_column(column)
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }
}
