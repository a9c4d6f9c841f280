//! Rollup rows per writer shard. On PostgreSQL every writer adds its batches to rows of its own
//! (`shard`: a number the writer picks at start, two per writer so that the batch written while
//! the last one commits does not wait for its locks): several instances, and a writer's two
//! batches in flight, no longer queue on the same row of the current minute. Readers sum every
//! shard of a key, as they summed every key already. SQLite has one writer: its shard is 0.
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
enum Rollup {
    BucketMs,
    Endpoint,
    Outcome,
    Platform,
    Shard,
}

fn key(shard: bool) -> Vec<DynIden> {
    let mut key = vec![
        Rollup::BucketMs.into_iden(),
        Rollup::Endpoint.into_iden(),
        Rollup::Outcome.into_iden(),
        Rollup::Platform.into_iden(),
    ];
    if shard {
        key.push(Rollup::Shard.into_iden());
    }
    key
}

/// The two rollup tables with the name of their unique key's index.
fn tables() -> [(DynIden, &'static str); 2] {
    [
        (RollupsMinute::Table.into_iden(), "ux_rollups_minute"),
        (RollupsHour::Table.into_iden(), "ux_rollups_hour"),
    ]
}

async fn rekey(
    manager: &SchemaManager<'_>,
    table: DynIden,
    index: &str,
    shard: bool,
) -> Result<(), DbErr> {
    manager
        .drop_index(Index::drop().name(index).table(table.clone()).to_owned())
        .await?;
    crate::create_index(manager, index, table, key(shard), true).await
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for (table, index) in tables() {
            manager
                .alter_table(
                    Table::alter()
                        .table(table.clone())
                        .add_column(big_integer(Rollup::Shard).default(0))
                        .to_owned(),
                )
                .await?;
            rekey(manager, table, index, true).await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // Shards of one key would collide under the old key: their sums are not kept.
        for (table, index) in tables() {
            manager
                .exec_stmt(
                    Query::delete()
                        .from_table(table.clone())
                        .and_where(Expr::col(Rollup::Shard).ne(0))
                        .to_owned(),
                )
                .await?;
            rekey(manager, table.clone(), index, false).await?;
            manager
                .alter_table(
                    Table::alter()
                        .table(table)
                        .drop_column(Rollup::Shard)
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }
}
