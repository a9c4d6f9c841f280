//! The `posts` table: posts upserted by (platform, post id), counted when delivered again.

use std::collections::{HashMap, HashSet};

use sea_orm::{ConnectionTrait, DatabaseBackend, DatabaseTransaction, DbErr};

use crate::store::multirow;
use delivery::records::Post;

/// A delivery with at least this many posts refreshes PostgreSQL's statistics of the table.
pub const LARGE_DELIVERY_POSTS: i64 = 10_000;

/// Refreshes PostgreSQL's statistics of the posts table (SQLite needs none). PostgreSQL plans
/// each query from them, and autovacuum refreshes them only a minute or more after a bulk load.
/// Until then it took a 364,000-post snapshot for a few hundred rows, and each page of an export
/// sorted the rest of the snapshot: 180 to 280 ms a page, against 0.5 ms once analysed (measured
/// with `EXPLAIN ANALYZE` after `bench large --postgres`). ANALYZE reads a sample of the table.
/// Unlike the rest of this module it runs outside the writer, once a delivery is committed.
pub async fn refresh_statistics(db: &impl ConnectionTrait) -> Result<(), DbErr> {
    if db.get_database_backend() == DatabaseBackend::Postgres {
        db.execute_unprepared("ANALYZE posts").await?;
    }
    Ok(())
}

/// Inserts or updates the posts of one delivery by (platform, post id). Returns how many were
/// already stored or repeated within the batch: those are updated, never duplicated.
pub async fn upsert_posts(
    txn: &DatabaseTransaction,
    snapshot_id: Option<&str>,
    delivery_id: i64,
    batch: &[Post],
    now: i64,
) -> Result<i64, DbErr> {
    let rows: Vec<PostRow<'_>> = batch
        .iter()
        .map(|p| (p, snapshot_id, delivery_id))
        .collect();
    let mut seen = write_posts(txn, &rows, now).await?;
    Ok(batch
        .iter()
        .filter(|p| !seen.insert((p.platform.as_str(), p.post_id.as_str())))
        .count() as i64)
}

/// A post to store, with its snapshot and delivery.
pub(super) type PostRow<'a> = (&'a Post, Option<&'a str>, i64);

/// Upserts posts (post, snapshot, delivery). A post given several times counts as delivered that
/// many times and keeps its last version (one statement may not touch a row twice).
///
/// Returns the (platform, post id) of the posts that were stored before.
/// - On PostgreSQL the upsert returns each row's `times_delivered`, which is more than this call
///   added only if the row existed. One statement both writes and tells, so two instances storing
///   the same new post cannot both count it as new (the row lock orders them).
/// - On SQLite one lookup per statement finds the rows that exist, then the upsert returns
///   nothing. SQLite has one writer at a time (the transaction holds the write lock, or fails), so
///   nothing can come between the two. Returning every row cost more than the lookup: each
///   returned row crosses from SQLite's thread to the runtime on its own (a wake-up per post),
///   about a fifth of the extraction's time on SQLite's thread in a profile of `bench large`.
pub(super) async fn write_posts<'p>(
    txn: &DatabaseTransaction,
    posts: &[PostRow<'p>],
    now: i64,
) -> Result<HashSet<(&'p str, &'p str)>, DbErr> {
    let mut latest: HashMap<(&str, &str), (PostRow<'_>, i32)> = HashMap::with_capacity(posts.len());
    for entry in posts {
        let key = (entry.0.platform.as_str(), entry.0.post_id.as_str());
        let times = latest.get(&key).map_or(0, |(_, times)| *times) + 1;
        latest.insert(key, (*entry, times));
    }
    let mut unique: Vec<_> = latest.into_values().collect();
    // A stable order keeps concurrent writers (several instances) from deadlocking on row locks.
    unique.sort_unstable_by(|a, b| {
        (&a.0.0.platform, &a.0.0.post_id).cmp(&(&b.0.0.platform, &b.0.0.post_id))
    });
    let backend = txn.get_database_backend();
    let upsert = |returning: &str| {
        multirow::insert_statements(
            backend,
            "posts",
            &[
                "platform",
                "post_id",
                "snapshot_id",
                "delivery_id",
                "url",
                "author",
                "posted_ms",
                "likes",
                "comments",
                "shares",
                "views",
                "data",
                "first_seen_ms",
                "updated_ms",
                "times_delivered",
            ],
            &format!(
                "ON CONFLICT (platform, post_id) DO UPDATE SET snapshot_id = excluded.snapshot_id, \
                 delivery_id = excluded.delivery_id, url = excluded.url, author = excluded.author, \
                 posted_ms = excluded.posted_ms, likes = excluded.likes, comments = excluded.comments, \
                 shares = excluded.shares, views = excluded.views, data = excluded.data, \
                 updated_ms = excluded.updated_ms, \
                 times_delivered = posts.times_delivered + excluded.times_delivered{returning}"
            ),
            &unique,
            |((post, snapshot, delivery_id), times), values| {
                values.extend([
                    post.platform.as_str().into(),
                    post.post_id.as_str().into(),
                    snapshot.map(str::to_owned).into(),
                    (*delivery_id).into(),
                    post.url.clone().into(),
                    post.author.clone().into(),
                    post.posted_at_ms.into(),
                    post.likes.into(),
                    post.comments.into(),
                    post.shares.into(),
                    post.views.into(),
                    post.data.as_str().into(),
                    now.into(),
                    now.into(),
                    (*times).into(),
                ]);
            },
        )
    };
    if backend == DatabaseBackend::Sqlite {
        let stored_before = existing(txn, &unique).await?;
        multirow::execute_all(txn, upsert("")).await?;
        return Ok(stored_before);
    }
    let statements = upsert(" RETURNING platform, post_id, times_delivered");
    // Which row each returned post is (a statement does not keep their order).
    let index: HashMap<(&str, &str), usize> = unique
        .iter()
        .enumerate()
        .map(|(i, ((post, _, _), _))| ((post.platform.as_str(), post.post_id.as_str()), i))
        .collect();
    let mut stored_before = HashSet::new();
    for statement in statements {
        for row in txn.query_all_raw(statement).await? {
            let platform: String = row.try_get("", "platform")?;
            let post_id: String = row.try_get("", "post_id")?;
            let times: i32 = row.try_get("", "times_delivered")?;
            if let Some(&i) = index.get(&(platform.as_str(), post_id.as_str())) {
                let ((post, _, _), added) = &unique[i];
                if times > *added {
                    stored_before.insert((post.platform.as_str(), post.post_id.as_str()));
                }
            }
        }
    }
    Ok(stored_before)
}

/// The (platform, post id) of `posts` already in the table: indexed lookups of a power of two of
/// posts each, as the upserts (so their few texts stay in the statement cache), which answer
/// only the rows found.
async fn existing<'p>(
    txn: &DatabaseTransaction,
    posts: &[(PostRow<'p>, i32)],
) -> Result<HashSet<(&'p str, &'p str)>, DbErr> {
    let backend = txn.get_database_backend();
    let index: HashMap<(&str, &str), &Post> = posts
        .iter()
        .map(|((post, _, _), _)| ((post.platform.as_str(), post.post_id.as_str()), *post))
        .collect();
    let mut found = HashSet::new();
    let mut start = 0;
    for size in multirow::statement_sizes(backend, posts.len()) {
        let chunk = &posts[start..start + size];
        start += size;
        let mut sql = String::from("SELECT p.platform, p.post_id FROM posts p JOIN (VALUES ");
        let mut values = Vec::with_capacity(2 * chunk.len());
        for (i, ((post, _, _), _)) in chunk.iter().enumerate() {
            sql.push_str(if i == 0 { "(?, ?)" } else { ", (?, ?)" });
            values.push(post.platform.as_str().into());
            values.push(post.post_id.as_str().into());
        }
        sql.push_str(") v ON p.platform = v.column1 AND p.post_id = v.column2");
        let statement = sea_orm::Statement::from_sql_and_values(backend, sql, values);
        for row in txn.query_all_raw(statement).await? {
            let platform: String = row.try_get("", "platform")?;
            let post_id: String = row.try_get("", "post_id")?;
            if let Some(post) = index.get(&(platform.as_str(), post_id.as_str())) {
                found.insert((post.platform.as_str(), post.post_id.as_str()));
            }
        }
    }
    Ok(found)
}
