//! Events by the delivery they stored: the posts view links each post to the request that
//! brought it, a page of posts at a time.
use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Events {
    Table,
    DeliveryId,
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
        .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_index(
                Index::drop()
                    .name("idx_events_delivery")
                    .table(Events::Table)
                    .to_owned(),
            )
            .await
    }
}
