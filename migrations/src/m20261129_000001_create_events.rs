//! `events`: one row per request to the ingestion endpoints, accepted or rejected. The monitor's raw
//! material: metrics, alerts, analytics and export are all derived from it.
use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
pub enum Events {
    Table,
    Id,
    AtMs,
    Endpoint,
    Outcome,
    Status,
    LatencyUs,
    Bytes,
    ClientIp,
    UserAgent,
    SnapshotId,
    Platform,
    Records,
    DeliveryId,
    Error,
    Headers,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Events::Table)
                    .if_not_exists()
                    .col(big_pk_auto(Events::Id))
                    .col(big_integer(Events::AtMs))
                    .col(string_len(Events::Endpoint, 16))
                    .col(string_len(Events::Outcome, 32))
                    .col(small_integer(Events::Status))
                    .col(big_integer(Events::LatencyUs))
                    .col(big_integer(Events::Bytes))
                    .col(string_len_null(Events::ClientIp, 64))
                    .col(text_null(Events::UserAgent))
                    .col(string_len_null(Events::SnapshotId, 128))
                    .col(string_len_null(Events::Platform, 32))
                    .col(big_integer_null(Events::Records))
                    .col(big_integer_null(Events::DeliveryId))
                    .col(text_null(Events::Error))
                    .col(text_null(Events::Headers))
                    .to_owned(),
            )
            .await?;
        for (name, columns) in [
            ("idx_events_at", vec![Events::AtMs.into_iden()]),
            // Filtered lists go newest first by id: (outcome, id) serves them without sorting.
            (
                "idx_events_outcome_id",
                vec![Events::Outcome.into_iden(), Events::Id.into_iden()],
            ),
            ("idx_events_snapshot", vec![Events::SnapshotId.into_iden()]),
        ] {
            crate::create_index(manager, name, Events::Table, columns, false).await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(Events::Table).to_owned())
            .await
    }
}
