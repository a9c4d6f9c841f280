//! Scraper drift: each delivery's field coverage (which top-level fields its posts carried, filled
//! and by type; JSON), and each snapshot's coverage judged against the platform's usual: the
//! judgement (JSON), its verdict (`normal`, `drift`, `learning`, `not_judged`, or `accepted` when an
//! operator took a drifted shape as the new normal) and when it was judged.
use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Deliveries {
    Table,
    FieldCoverage,
}

#[derive(DeriveIden)]
enum Snapshots {
    Table,
    FieldCoverage,
    Drift,
    DriftCheckedMs,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(Deliveries::Table)
                    .add_column(text_null(Deliveries::FieldCoverage))
                    .to_owned(),
            )
            .await?;
        // One column per statement: SQLite adds one column per ALTER TABLE.
        for mut column in [
            text_null(Snapshots::FieldCoverage),
            string_len_null(Snapshots::Drift, 16),
            big_integer_null(Snapshots::DriftCheckedMs),
        ] {
            manager
                .alter_table(
                    Table::alter()
                        .table(Snapshots::Table)
                        .add_column(&mut column)
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(Deliveries::Table)
                    .drop_column(Deliveries::FieldCoverage)
                    .to_owned(),
            )
            .await?;
        for column in [
            Snapshots::FieldCoverage,
            Snapshots::Drift,
            Snapshots::DriftCheckedMs,
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
