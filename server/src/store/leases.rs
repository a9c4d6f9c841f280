//! The `leases` table: a named lease held by one instance at a time until it runs out unrenewed
//! (the leadership; see `leadership`). Backend-neutral statements; the row lock of an `UPDATE`
//! (PostgreSQL) or the single writer (SQLite) orders two instances asking at once.

use sea_orm::sea_query::{Expr, OnConflict};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, Condition, ConnectionTrait, DbErr, EntityTrait, QueryFilter,
};

use super::entities::leases;

/// Takes or renews the lease `name` for `holder` until `until_ms`; `true` when `holder` holds it
/// now: it held it already, or nobody did, or the last holder's lease ran out (it died, or gave it
/// up).
pub async fn hold(
    db: &impl ConnectionTrait,
    name: &str,
    holder: &str,
    now: i64,
    until_ms: i64,
) -> Result<bool, DbErr> {
    let renewed = leases::Entity::update_many()
        .col_expr(leases::Column::Holder, Expr::value(holder))
        .col_expr(leases::Column::UntilMs, Expr::value(until_ms))
        .col_expr(
            leases::Column::SinceMs,
            Expr::case(
                leases::Column::Holder.eq(holder),
                Expr::col(leases::Column::SinceMs),
            )
            .finally(now)
            .into(),
        )
        .filter(leases::Column::Name.eq(name))
        .filter(
            Condition::any()
                .add(leases::Column::Holder.eq(holder))
                .add(leases::Column::UntilMs.lt(now)),
        )
        .exec(db)
        .await?;
    if renewed.rows_affected == 1 {
        return Ok(true);
    }
    // No row yet, or another holder's lease runs: only the first row is taken.
    let inserted = leases::Entity::insert(leases::ActiveModel {
        name: Set(name.to_owned()),
        holder: Set(holder.to_owned()),
        until_ms: Set(until_ms),
        since_ms: Set(now),
    })
    .on_conflict(
        OnConflict::column(leases::Column::Name)
            .do_nothing()
            .to_owned(),
    )
    .exec_without_returning(db)
    .await?;
    Ok(inserted == 1)
}

/// Gives the lease up at once (a stopping holder), so the next instance to ask takes it without
/// waiting for it to run out.
pub async fn release(db: &impl ConnectionTrait, name: &str, holder: &str) -> Result<(), DbErr> {
    leases::Entity::update_many()
        .col_expr(leases::Column::UntilMs, Expr::value(0))
        .filter(leases::Column::Name.eq(name))
        .filter(leases::Column::Holder.eq(holder))
        .exec(db)
        .await?;
    Ok(())
}

/// The holder of `name` and since when, while its lease runs.
pub async fn holder(
    db: &impl ConnectionTrait,
    name: &str,
    now: i64,
) -> Result<Option<leases::Model>, DbErr> {
    leases::Entity::find_by_id(name.to_owned())
        .filter(leases::Column::UntilMs.gte(now))
        .one(db)
        .await
}

#[cfg(test)]
mod tests {
    use migrations::MigratorTrait;
    use sea_orm::Database;

    use super::*;

    async fn database() -> sea_orm::DatabaseConnection {
        let db = Database::connect("sqlite::memory:").await.unwrap();
        migrations::Migrator::up(&db, None).await.unwrap();
        db
    }

    #[tokio::test]
    async fn one_holder_until_its_lease_runs_out_or_is_given_up() {
        let db = database().await;
        assert!(hold(&db, "leader", "a", 1_000, 2_000).await.unwrap());
        // b cannot take it while a's runs; a renews it, keeping since when it holds it.
        assert!(!hold(&db, "leader", "b", 1_500, 2_500).await.unwrap());
        assert!(hold(&db, "leader", "a", 1_900, 2_900).await.unwrap());
        let held = holder(&db, "leader", 2_000).await.unwrap().unwrap();
        assert_eq!((held.holder.as_str(), held.since_ms), ("a", 1_000));
        // a stops renewing: once it ran out, b takes it.
        assert!(!hold(&db, "leader", "b", 2_900, 3_900).await.unwrap());
        assert!(hold(&db, "leader", "b", 2_901, 3_901).await.unwrap());
        assert!(!hold(&db, "leader", "a", 3_000, 4_000).await.unwrap());
        let held = holder(&db, "leader", 3_000).await.unwrap().unwrap();
        assert_eq!((held.holder.as_str(), held.since_ms), ("b", 2_901));
        // b gives it up: a takes it at once.
        release(&db, "leader", "b").await.unwrap();
        assert_eq!(holder(&db, "leader", 3_100).await.unwrap(), None);
        assert!(hold(&db, "leader", "a", 3_100, 4_100).await.unwrap());
        // Another name is another lease.
        assert!(hold(&db, "other", "b", 3_100, 4_100).await.unwrap());
    }
}
