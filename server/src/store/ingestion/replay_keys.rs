//! The `replay_keys` table: each signed request's key, claimed once, so a replay is answered as a
//! duplicate of the delivery it repeats.

use std::collections::HashSet;

use sea_orm::sea_query::{Expr, OnConflict};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, DatabaseTransaction, DbErr, EntityTrait,
    QueryFilter,
};

use crate::store::entities::replay_keys;
use crate::store::multirow;

/// Claims a replay key. `false` when it was already taken (the request is a replay).
pub async fn claim_replay_key(
    txn: &DatabaseTransaction,
    key: &str,
    endpoint: &str,
    now_ms: i64,
) -> Result<bool, DbErr> {
    let inserted = replay_keys::Entity::insert(replay_keys::ActiveModel {
        key: Set(key.to_owned()),
        endpoint: Set(endpoint.to_owned()),
        delivery_id: Set(None),
        seen_ms: Set(now_ms),
    })
    .on_conflict(
        OnConflict::column(replay_keys::Column::Key)
            .do_nothing()
            .to_owned(),
    )
    .exec_without_returning(txn)
    .await?;
    Ok(inserted == 1)
}

/// The delivery a replay key points to, if the key was seen.
pub async fn replay_key_delivery(
    db: &impl ConnectionTrait,
    key: &str,
) -> Result<Option<Option<i64>>, DbErr> {
    Ok(replay_keys::Entity::find_by_id(key.to_owned())
        .one(db)
        .await?
        .map(|row| row.delivery_id))
}

/// Claims replay keys in one statement; returns the keys this statement inserted (the others were
/// taken before — also by another instance on PostgreSQL, which is why RETURNING decides).
pub(super) async fn claim_replay_keys(
    txn: &DatabaseTransaction,
    claims: &[(&str, i64, i64)],
) -> Result<HashSet<String>, DbErr> {
    let statements = multirow::insert_statements(
        txn.get_database_backend(),
        "replay_keys",
        &["key", "endpoint", "delivery_id", "seen_ms"],
        "ON CONFLICT (\"key\") DO NOTHING RETURNING \"key\"",
        claims,
        |(key, delivery_id, seen_ms), values| {
            values.extend([
                (*key).into(),
                "webhook".into(),
                Some(*delivery_id).into(),
                (*seen_ms).into(),
            ]);
        },
    );
    let mut claimed = HashSet::new();
    for statement in statements {
        for row in txn.query_all_raw(statement).await? {
            claimed.insert(row.try_get::<String>("", "key")?);
        }
    }
    Ok(claimed)
}

pub async fn link_replay_key(
    txn: &DatabaseTransaction,
    key: &str,
    delivery_id: i64,
) -> Result<(), DbErr> {
    replay_keys::Entity::update_many()
        .col_expr(replay_keys::Column::DeliveryId, Expr::value(delivery_id))
        .filter(replay_keys::Column::Key.eq(key))
        .exec(txn)
        .await?;
    Ok(())
}
