//! Monitoring: per-minute and per-hour rollups of events (counts, bytes, records and a latency
//! histogram per endpoint, outcome and platform; counts per snapshot), which keep metrics and
//! long-range charts cheap and outlive the raw events; and alerts, one row per rule and subject
//! while it holds.
use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum RollupsMinute {
    Table,
}

#[derive(DeriveIden)]
enum RollupsHour {
    Table,
}

#[derive(DeriveIden)]
enum SnapshotRollupsMinute {
    Table,
}

#[derive(DeriveIden)]
enum SnapshotRollupsHour {
    Table,
}

#[derive(DeriveIden)]
enum Rollup {
    BucketMs,
    Endpoint,
    Outcome,
    Platform,
    SnapshotId,
    Requests,
    Bytes,
    Records,
    LatencySumUs,
    LatencyMaxUs,
    LatencyHistogram,
}

#[derive(DeriveIden)]
enum Alerts {
    Table,
    Id,
    Rule,
    Subject,
    Severity,
    Message,
    Status,
    FirstSeenMs,
    LastSeenMs,
    Count,
    ResolvedMs,
    AcknowledgedBy,
    AcknowledgedMs,
}

fn rollup_table(table: impl IntoTableRef) -> TableCreateStatement {
    Table::create()
        .table(table)
        .if_not_exists()
        .col(big_integer(Rollup::BucketMs))
        .col(string_len(Rollup::Endpoint, 16))
        .col(string_len(Rollup::Outcome, 32))
        // '' rather than NULL: NULLs never match in a unique index, so upserts would not either.
        .col(string_len(Rollup::Platform, 32))
        .col(big_integer(Rollup::Requests))
        .col(big_integer(Rollup::Bytes))
        .col(big_integer(Rollup::Records))
        .col(big_integer(Rollup::LatencySumUs))
        .col(big_integer(Rollup::LatencyMaxUs))
        .col(blob(Rollup::LatencyHistogram))
        .to_owned()
}

fn rollup_key() -> Vec<DynIden> {
    vec![
        Rollup::BucketMs.into_iden(),
        Rollup::Endpoint.into_iden(),
        Rollup::Outcome.into_iden(),
        Rollup::Platform.into_iden(),
    ]
}

fn snapshot_rollup_table(table: impl IntoTableRef) -> TableCreateStatement {
    Table::create()
        .table(table)
        .if_not_exists()
        .col(big_integer(Rollup::BucketMs))
        .col(string_len(Rollup::SnapshotId, 128))
        .col(big_integer(Rollup::Requests))
        .col(big_integer(Rollup::Records))
        .col(big_integer(Rollup::Bytes))
        .to_owned()
}

fn snapshot_rollup_key() -> Vec<DynIden> {
    vec![Rollup::BucketMs.into_iden(), Rollup::SnapshotId.into_iden()]
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(rollup_table(RollupsMinute::Table))
            .await?;
        manager
            .create_table(rollup_table(RollupsHour::Table))
            .await?;
        crate::create_index(
            manager,
            "ux_rollups_minute",
            RollupsMinute::Table,
            rollup_key(),
            true,
        )
        .await?;
        crate::create_index(
            manager,
            "ux_rollups_hour",
            RollupsHour::Table,
            rollup_key(),
            true,
        )
        .await?;
        manager
            .create_table(snapshot_rollup_table(SnapshotRollupsMinute::Table))
            .await?;
        manager
            .create_table(snapshot_rollup_table(SnapshotRollupsHour::Table))
            .await?;
        crate::create_index(
            manager,
            "ux_snapshot_rollups_minute",
            SnapshotRollupsMinute::Table,
            snapshot_rollup_key(),
            true,
        )
        .await?;
        crate::create_index(
            manager,
            "ux_snapshot_rollups_hour",
            SnapshotRollupsHour::Table,
            snapshot_rollup_key(),
            true,
        )
        .await?;

        manager
            .create_table(
                Table::create()
                    .table(Alerts::Table)
                    .if_not_exists()
                    .col(big_pk_auto(Alerts::Id))
                    .col(string_len(Alerts::Rule, 32))
                    .col(string_len(Alerts::Subject, 128))
                    .col(string_len(Alerts::Severity, 16))
                    .col(text(Alerts::Message))
                    .col(string_len(Alerts::Status, 16))
                    .col(big_integer(Alerts::FirstSeenMs))
                    .col(big_integer(Alerts::LastSeenMs))
                    .col(big_integer(Alerts::Count))
                    .col(big_integer_null(Alerts::ResolvedMs))
                    .col(string_len_null(Alerts::AcknowledgedBy, 128))
                    .col(big_integer_null(Alerts::AcknowledgedMs))
                    .to_owned(),
            )
            .await?;
        crate::create_index(
            manager,
            "idx_alerts_status",
            Alerts::Table,
            vec![Alerts::Status.into_iden(), Alerts::Rule.into_iden()],
            false,
        )
        .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            Alerts::Table.into_iden(),
            SnapshotRollupsHour::Table.into_iden(),
            SnapshotRollupsMinute::Table.into_iden(),
            RollupsHour::Table.into_iden(),
            RollupsMinute::Table.into_iden(),
        ] {
            manager
                .drop_table(Table::drop().table(table).to_owned())
                .await?;
        }
        Ok(())
    }
}
