//! Revoked dashboard sessions (`revoked_sessions`): written at logout, read by every instance.

use sea_orm::sea_query::OnConflict;
use sea_orm::{ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter, Set};

use super::entities::revoked_sessions;

/// Records that the session with this payload hash ended before `expires_ms`.
pub async fn revoke(
    db: &impl ConnectionTrait,
    session_hash: &str,
    expires_ms: i64,
    now_ms: i64,
) -> Result<(), DbErr> {
    revoked_sessions::Entity::insert(revoked_sessions::ActiveModel {
        session_hash: Set(session_hash.to_owned()),
        expires_ms: Set(expires_ms),
        revoked_ms: Set(now_ms),
    })
    .on_conflict(
        OnConflict::column(revoked_sessions::Column::SessionHash)
            .do_nothing()
            .to_owned(),
    )
    .exec_without_returning(db)
    .await?;
    Ok(())
}

/// Revocations recorded at or after `since_ms` whose sessions have not expired by `now_ms`:
/// (hash, expiry).
pub async fn revoked_since(
    db: &impl ConnectionTrait,
    since_ms: i64,
    now_ms: i64,
) -> Result<Vec<(String, i64)>, DbErr> {
    Ok(revoked_sessions::Entity::find()
        .filter(revoked_sessions::Column::RevokedMs.gte(since_ms))
        .filter(revoked_sessions::Column::ExpiresMs.gt(now_ms))
        .all(db)
        .await?
        .into_iter()
        .map(|row| (row.session_hash, row.expires_ms))
        .collect())
}

/// Forgets revocations of sessions that have expired anyway.
pub async fn prune(db: &impl ConnectionTrait, now_ms: i64) -> Result<u64, DbErr> {
    Ok(revoked_sessions::Entity::delete_many()
        .filter(revoked_sessions::Column::ExpiresMs.lte(now_ms))
        .exec(db)
        .await?
        .rows_affected)
}
