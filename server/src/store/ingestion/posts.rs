//! The `posts` table: posts upserted by (platform, post id), counted when delivered again.

use std::collections::{HashMap, HashSet};

use sea_orm::{ConnectionTrait, DatabaseBackend, DatabaseTransaction, DbErr, TransactionTrait};

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
///   From `ALL_NEW_AT_LEAST` posts on, the posts are first inserted as new (`insert_if_all_new`),
///   and looked up only if some were stored before.
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
    let statements = |tail: &str| {
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
            tail,
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
        if unique.len() >= ALL_NEW_AT_LEAST {
            let step = unique.len() / SAMPLE;
            let sample: Vec<_> = unique.iter().step_by(step).take(SAMPLE).copied().collect();
            if existing(txn, &sample).await?.is_empty()
                && insert_if_all_new(txn, statements(INSERT_NEW), unique.len()).await?
            {
                return Ok(HashSet::new());
            }
        }
        let stored_before = existing(txn, &unique).await?;
        multirow::execute_all(txn, statements(UPSERT)).await?;
        return Ok(stored_before);
    }
    let statements = statements(&format!(
        "{UPSERT} RETURNING platform, post_id, times_delivered"
    ));
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

/// What a post delivered again updates: its last version, and one more delivery.
const UPSERT: &str = "ON CONFLICT (platform, post_id) DO UPDATE SET snapshot_id = excluded.snapshot_id, \
     delivery_id = excluded.delivery_id, url = excluded.url, author = excluded.author, \
     posted_ms = excluded.posted_ms, likes = excluded.likes, comments = excluded.comments, \
     shares = excluded.shares, views = excluded.views, data = excluded.data, \
     updated_ms = excluded.updated_ms, \
     times_delivered = posts.times_delivered + excluded.times_delivered";

/// The same rows inserted only where none is stored yet (`insert_if_all_new`).
const INSERT_NEW: &str = "ON CONFLICT (platform, post_id) DO NOTHING";

/// SQLite: from this many posts at once, they are first inserted as new, and looked up only if
/// some were not. The lookup probes the unique index once per post, while a large delivery's
/// posts are all new but for redeliveries: `bench large --mb 100` extracted 8–9% faster without
/// it (nine interleaved pairs, README "The extraction: posts inserted as new first"). A batch
/// with a post stored before wastes the rows tried until the first statement short of rows
/// (where the attempt stops), then is looked up and upserted as before. The attempt costs a
/// lookup of `SAMPLE` posts and the savepoint's two round trips to SQLite's thread, more than
/// the lookup of a few posts (an inline delivery's batch, ~1 post a delivery), so those keep the
/// lookup alone.
const ALL_NEW_AT_LEAST: usize = 64;

/// SQLite: posts of a large batch looked up before it is inserted as new, spread over it. A
/// redelivery's batch (all stored before) shows in them and goes to the lookup at once: trying
/// its first statement and undoing it cost ~12% of a redelivery's extraction (364,000 posts
/// delivered a second time, three runs each: 5.8–6.0 s against 5.1–5.4 s).
const SAMPLE: usize = 8;

/// SQLite: runs `statements` (`INSERT_NEW`, `rows` rows in all) in a savepoint and keeps them
/// only if every row was inserted: true then. If any row was already stored, DO NOTHING skipped
/// it, so the savepoint is rolled back (nothing written) and the caller upserts the usual way:
/// false. A batch's posts are unique by (platform, post id), so a row can only be skipped for a
/// post stored before.
async fn insert_if_all_new(
    txn: &DatabaseTransaction,
    statements: Vec<sea_orm::Statement>,
    rows: usize,
) -> Result<bool, DbErr> {
    let savepoint = txn.begin().await?;
    let sizes = multirow::statement_sizes(txn.get_database_backend(), rows);
    let mut all_new = true;
    for (statement, size) in statements.into_iter().zip(sizes) {
        let inserted = match savepoint.execute_raw(statement).await {
            Ok(result) => result.rows_affected(),
            Err(error) => {
                let _ = savepoint.rollback().await;
                return Err(error);
            }
        };
        // One statement short is enough to know: the rest is not tried.
        if inserted != size as u64 {
            all_new = false;
            break;
        }
    }
    if all_new {
        savepoint.commit().await?;
    } else {
        savepoint.rollback().await?;
    }
    Ok(all_new)
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

#[cfg(test)]
mod tests {
    use sea_orm::{DatabaseConnection, Statement, TransactionTrait};

    use super::*;

    fn post(id: &str, version: u32) -> Post {
        Post {
            platform: "instagram".into(),
            post_id: id.into(),
            url: None,
            author: Some(format!("author_{id}")),
            posted_at_ms: None,
            likes: Some(version.into()),
            comments: None,
            shares: None,
            views: None,
            data: format!(r#"{{"id":"{id}","version":{version}}}"#),
        }
    }

    fn posts(prefix: char, range: std::ops::Range<u32>, version: u32) -> Vec<Post> {
        range
            .map(|n| post(&format!("{prefix}{n:04}"), version))
            .collect()
    }

    /// Upserts `batch` as delivery `delivery`'s, committed: the duplicates counted.
    async fn upsert(db: &DatabaseConnection, delivery: i64, batch: &[Post]) -> i64 {
        let txn = db.begin().await.unwrap();
        let duplicates = upsert_posts(&txn, Some("s_1"), delivery, batch, 0)
            .await
            .unwrap();
        txn.commit().await.unwrap();
        duplicates
    }

    /// (post id, times delivered, its record's version, delivery) of every stored post.
    async fn stored(db: &DatabaseConnection) -> Vec<(String, i32, i64, i64)> {
        let rows = db
            .query_all_raw(Statement::from_string(
                DatabaseBackend::Sqlite,
                "SELECT post_id, times_delivered, json_extract(data, '$.version') AS version, \
                 delivery_id FROM posts ORDER BY post_id",
            ))
            .await
            .unwrap();
        rows.iter()
            .map(|row| {
                (
                    row.try_get("", "post_id").unwrap(),
                    row.try_get("", "times_delivered").unwrap(),
                    row.try_get("", "version").unwrap(),
                    row.try_get("", "delivery_id").unwrap(),
                )
            })
            .collect()
    }

    fn find<'s>(
        stored: &'s [(String, i32, i64, i64)],
        id: &str,
    ) -> Option<&'s (String, i32, i64, i64)> {
        stored.iter().find(|row| row.0 == id)
    }

    #[tokio::test]
    async fn large_batches_count_and_update_what_was_stored_before_wherever_it_sorts() {
        let db = crate::store::test_db_with_deliveries(&[(1, "stored"), (2, "stored")]).await;

        // All new: inserted as they are.
        assert_eq!(upsert(&db, 1, &posts('p', 0..200, 1)).await, 0);
        let now = stored(&db).await;
        assert_eq!(now.len(), 200);
        assert!(
            now.iter().all(|(_, times, version, delivery)| {
                (*times, *version, *delivery) == (1, 1, 1)
            })
        );

        // 50 stored before, first in the statements' order, and one post twice in the batch.
        let mut batch = posts('p', 150..350, 2);
        batch.push(post("p0300", 3));
        assert_eq!(upsert(&db, 2, &batch).await, 51);
        let now = stored(&db).await;
        assert_eq!(now.len(), 350);
        assert_eq!(
            find(&now, "p0149"),
            Some(&("p0149".into(), 1, 1, 1)),
            "not in the batch"
        );
        assert_eq!(find(&now, "p0150"), Some(&("p0150".into(), 2, 2, 2)));
        assert_eq!(
            find(&now, "p0300"),
            Some(&("p0300".into(), 2, 3, 2)),
            "its last version"
        );
        assert_eq!(find(&now, "p0349"), Some(&("p0349".into(), 1, 2, 2)));

        // One stored before, last in the statements' order: the 100 new posts before it were
        // inserted and then undone, and are stored once, as new.
        let mut batch = posts('o', 0..100, 4);
        batch.push(post("p0349", 4));
        assert_eq!(upsert(&db, 1, &batch).await, 1);
        let now = stored(&db).await;
        assert_eq!(now.len(), 450);
        assert!(now[..100].iter().all(|(id, times, version, delivery)| {
            id.starts_with('o') && (*times, *version, *delivery) == (1, 4, 1)
        }));
        assert_eq!(find(&now, "p0349"), Some(&("p0349".into(), 2, 4, 1)));

        // A redelivery of everything: all counted, nothing added.
        let mut everything = posts('o', 0..100, 5);
        everything.extend(posts('p', 0..350, 5));
        assert_eq!(upsert(&db, 2, &everything).await, 450);
        let now = stored(&db).await;
        assert_eq!(now.len(), 450);
        assert!(
            now.iter()
                .all(|(_, _, version, delivery)| (*version, *delivery) == (5, 2))
        );
        assert_eq!(find(&now, "p0150").unwrap().1, 3);

        // A few posts (the lookup alone): one stored before.
        let batch = [post("p0000", 6), post("q0000", 6)];
        assert_eq!(upsert(&db, 1, &batch).await, 1);
        let now = stored(&db).await;
        assert_eq!(now.len(), 451);
        assert_eq!(find(&now, "p0000"), Some(&("p0000".into(), 3, 6, 1)));
        assert_eq!(find(&now, "q0000"), Some(&("q0000".into(), 1, 6, 1)));
    }
}
