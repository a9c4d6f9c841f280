//! Several instances on one PostgreSQL: who extracts a queued delivery (the instance holding its
//! lease, until the lease runs out unrenewed), and who runs the once-per-service rounds (alerts,
//! retention, completeness, drift: the holder of the `leader` row's lease). Times are Unix ms.
//! An extraction's progress is committed with each of its batches (records consumed, and the
//! posts, input errors and duplicates they made), so an instance that takes a delivery over (or
//! a restart) goes on from there with exact counts instead of storing it all a second time.
use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Deliveries {
    Table,
    LeaseHolder,
    LeaseUntilMs,
    ExtractedRecords,
    ExtractedPosts,
    ExtractedInputErrors,
    ExtractedDuplicates,
}

#[derive(DeriveIden)]
enum Leases {
    Table,
    Name,
    Holder,
    UntilMs,
    SinceMs,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // One column per statement: SQLite adds one column per ALTER TABLE.
        for mut column in [
            string_len_null(Deliveries::LeaseHolder, 128),
            big_integer_null(Deliveries::LeaseUntilMs),
            big_integer(Deliveries::ExtractedRecords)
                .default(0)
                .to_owned(),
            big_integer(Deliveries::ExtractedPosts)
                .default(0)
                .to_owned(),
            big_integer(Deliveries::ExtractedInputErrors)
                .default(0)
                .to_owned(),
            big_integer(Deliveries::ExtractedDuplicates)
                .default(0)
                .to_owned(),
        ] {
            manager
                .alter_table(
                    Table::alter()
                        .table(Deliveries::Table)
                        .add_column(&mut column)
                        .to_owned(),
                )
                .await?;
        }
        manager
            .create_table(
                Table::create()
                    .table(Leases::Table)
                    .if_not_exists()
                    .col(string_len(Leases::Name, 64).primary_key())
                    .col(string_len(Leases::Holder, 128))
                    .col(big_integer(Leases::UntilMs))
                    .col(big_integer(Leases::SinceMs))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(Leases::Table).to_owned())
            .await?;
        for column in [
            Deliveries::LeaseHolder,
            Deliveries::LeaseUntilMs,
            Deliveries::ExtractedRecords,
            Deliveries::ExtractedPosts,
            Deliveries::ExtractedInputErrors,
            Deliveries::ExtractedDuplicates,
        ] {
            manager
                .alter_table(
                    Table::alter()
                        .table(Deliveries::Table)
                        .drop_column(column)
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }
}
