//! Ingestion storage: snapshots and their notifications, deliveries (with their raw body in chunks),
//! the posts and input errors extracted from them, and the replay keys that make retries idempotent.
use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Snapshots {
    Table,
    Id,
    DatasetId,
    Platform,
    Status,
    Error,
    Posts,
    InputErrors,
    Deliveries,
    CreatedMs,
    UpdatedMs,
    NotifiedMs,
    ReadyMs,
    DeliveredMs,
    FinishedMs,
}

#[derive(DeriveIden)]
enum Notifications {
    Table,
    Id,
    SnapshotId,
    StatusRaw,
    Status,
    Error,
    ReceivedMs,
    Payload,
}

#[derive(DeriveIden)]
enum Deliveries {
    Table,
    Id,
    DeliveryKey,
    SnapshotId,
    Filename,
    State,
    Format,
    Compressed,
    WireBytes,
    InflatedBytes,
    Posts,
    InputErrors,
    Malformed,
    Duplicates,
    ReceivedMs,
    ProcessedMs,
    ClientIp,
    Error,
    BodyKept,
}

#[derive(DeriveIden)]
enum DeliveryChunks {
    Table,
    DeliveryId,
    Seq,
    Data,
}

#[derive(DeriveIden)]
enum Posts {
    Table,
    Id,
    Platform,
    PostId,
    SnapshotId,
    DeliveryId,
    Url,
    Author,
    PostedMs,
    Likes,
    Comments,
    Shares,
    Views,
    Data,
    FirstSeenMs,
    UpdatedMs,
    TimesDelivered,
}

#[derive(DeriveIden)]
enum InputErrors {
    Table,
    Id,
    SnapshotId,
    DeliveryId,
    Kind,
    Code,
    Message,
    InputUrl,
    Data,
    AtMs,
}

#[derive(DeriveIden)]
enum ReplayKeys {
    Table,
    Key,
    Endpoint,
    DeliveryId,
    SeenMs,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Snapshots::Table)
                    .if_not_exists()
                    .col(string_len(Snapshots::Id, 128).primary_key())
                    .col(string_len_null(Snapshots::DatasetId, 128))
                    .col(string_len_null(Snapshots::Platform, 32))
                    .col(string_len(Snapshots::Status, 16))
                    .col(text_null(Snapshots::Error))
                    .col(big_integer(Snapshots::Posts).default(0))
                    .col(big_integer(Snapshots::InputErrors).default(0))
                    .col(big_integer(Snapshots::Deliveries).default(0))
                    .col(big_integer(Snapshots::CreatedMs))
                    .col(big_integer(Snapshots::UpdatedMs))
                    .col(big_integer_null(Snapshots::NotifiedMs))
                    .col(big_integer_null(Snapshots::ReadyMs))
                    .col(big_integer_null(Snapshots::DeliveredMs))
                    .col(big_integer_null(Snapshots::FinishedMs))
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(Notifications::Table)
                    .if_not_exists()
                    .col(big_pk_auto(Notifications::Id))
                    .col(string_len(Notifications::SnapshotId, 128))
                    .col(string_len(Notifications::StatusRaw, 64))
                    .col(string_len(Notifications::Status, 16))
                    .col(text_null(Notifications::Error))
                    .col(big_integer(Notifications::ReceivedMs))
                    .col(text(Notifications::Payload))
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(Deliveries::Table)
                    .if_not_exists()
                    .col(big_pk_auto(Deliveries::Id))
                    .col(string_len_null(Deliveries::DeliveryKey, 512))
                    .col(string_len_null(Deliveries::SnapshotId, 128))
                    .col(string_len_null(Deliveries::Filename, 255))
                    .col(string_len(Deliveries::State, 16))
                    .col(string_len(Deliveries::Format, 16))
                    .col(boolean(Deliveries::Compressed))
                    .col(big_integer(Deliveries::WireBytes))
                    .col(big_integer(Deliveries::InflatedBytes))
                    .col(big_integer(Deliveries::Posts))
                    .col(big_integer(Deliveries::InputErrors))
                    .col(big_integer(Deliveries::Malformed))
                    .col(big_integer_null(Deliveries::Duplicates))
                    .col(big_integer(Deliveries::ReceivedMs))
                    .col(big_integer_null(Deliveries::ProcessedMs))
                    .col(string_len_null(Deliveries::ClientIp, 64))
                    .col(text_null(Deliveries::Error))
                    .col(boolean(Deliveries::BodyKept))
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(DeliveryChunks::Table)
                    .if_not_exists()
                    .col(big_integer(DeliveryChunks::DeliveryId))
                    .col(integer(DeliveryChunks::Seq))
                    .col(blob(DeliveryChunks::Data))
                    .primary_key(
                        Index::create()
                            .col(DeliveryChunks::DeliveryId)
                            .col(DeliveryChunks::Seq),
                    )
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(Posts::Table)
                    .if_not_exists()
                    .col(big_pk_auto(Posts::Id))
                    .col(string_len(Posts::Platform, 32))
                    .col(string_len(Posts::PostId, 256))
                    .col(string_len_null(Posts::SnapshotId, 128))
                    .col(big_integer(Posts::DeliveryId))
                    .col(text_null(Posts::Url))
                    .col(text_null(Posts::Author))
                    .col(big_integer_null(Posts::PostedMs))
                    .col(big_integer_null(Posts::Likes))
                    .col(big_integer_null(Posts::Comments))
                    .col(big_integer_null(Posts::Shares))
                    .col(big_integer_null(Posts::Views))
                    .col(text(Posts::Data))
                    .col(big_integer(Posts::FirstSeenMs))
                    .col(big_integer(Posts::UpdatedMs))
                    .col(integer(Posts::TimesDelivered).default(1))
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(InputErrors::Table)
                    .if_not_exists()
                    .col(big_pk_auto(InputErrors::Id))
                    .col(string_len_null(InputErrors::SnapshotId, 128))
                    .col(big_integer(InputErrors::DeliveryId))
                    .col(string_len(InputErrors::Kind, 16))
                    .col(string_len_null(InputErrors::Code, 128))
                    .col(text(InputErrors::Message))
                    .col(text_null(InputErrors::InputUrl))
                    .col(text(InputErrors::Data))
                    .col(big_integer(InputErrors::AtMs))
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(ReplayKeys::Table)
                    .if_not_exists()
                    .col(string_len(ReplayKeys::Key, 600).primary_key())
                    .col(string_len(ReplayKeys::Endpoint, 16))
                    .col(big_integer_null(ReplayKeys::DeliveryId))
                    .col(big_integer(ReplayKeys::SeenMs))
                    .to_owned(),
            )
            .await?;

        let indexes: [(&str, TableRef, Vec<DynIden>, bool); 8] = [
            (
                "ux_posts_platform_post",
                Posts::Table.into_table_ref(),
                vec![Posts::Platform.into_iden(), Posts::PostId.into_iden()],
                true,
            ),
            (
                "idx_posts_snapshot",
                Posts::Table.into_table_ref(),
                vec![Posts::SnapshotId.into_iden()],
                false,
            ),
            (
                "idx_input_errors_snapshot",
                InputErrors::Table.into_table_ref(),
                vec![InputErrors::SnapshotId.into_iden()],
                false,
            ),
            (
                "idx_deliveries_snapshot",
                Deliveries::Table.into_table_ref(),
                vec![Deliveries::SnapshotId.into_iden()],
                false,
            ),
            (
                "idx_deliveries_state",
                Deliveries::Table.into_table_ref(),
                vec![Deliveries::State.into_iden()],
                false,
            ),
            (
                "idx_notifications_snapshot",
                Notifications::Table.into_table_ref(),
                vec![Notifications::SnapshotId.into_iden()],
                false,
            ),
            (
                "idx_replay_keys_seen",
                ReplayKeys::Table.into_table_ref(),
                vec![ReplayKeys::SeenMs.into_iden()],
                false,
            ),
            (
                "idx_snapshots_updated",
                Snapshots::Table.into_table_ref(),
                vec![Snapshots::UpdatedMs.into_iden()],
                false,
            ),
        ];
        for (name, table, columns, unique) in indexes {
            crate::create_index(manager, name, table, columns, unique).await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            ReplayKeys::Table.into_iden(),
            InputErrors::Table.into_iden(),
            Posts::Table.into_iden(),
            DeliveryChunks::Table.into_iden(),
            Deliveries::Table.into_iden(),
            Notifications::Table.into_iden(),
            Snapshots::Table.into_iden(),
        ] {
            manager
                .drop_table(Table::drop().table(table).to_owned())
                .await?;
        }
        Ok(())
    }
}
