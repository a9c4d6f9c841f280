//! The `posts` table: posts upserted by (platform, post id), counted when delivered again.

use std::collections::{HashMap, HashSet};

use sea_orm::{ConnectionTrait, DatabaseTransaction, DbErr};

use crate::store::multirow;
use delivery::records::Post;

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
/// Returns the (platform, post id) of the posts that were stored before: the upsert returns each
/// row's `times_delivered`, which is more than this call added only if the row existed. One
/// statement both writes and tells, so no lookup precedes it, and on PostgreSQL two instances
/// storing the same new post cannot both count it as new (the row lock orders them).
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
    let statements = multirow::insert_statements(
        txn.get_database_backend(),
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
        "ON CONFLICT (platform, post_id) DO UPDATE SET snapshot_id = excluded.snapshot_id, \
         delivery_id = excluded.delivery_id, url = excluded.url, author = excluded.author, \
         posted_ms = excluded.posted_ms, likes = excluded.likes, comments = excluded.comments, \
         shares = excluded.shares, views = excluded.views, data = excluded.data, \
         updated_ms = excluded.updated_ms, \
         times_delivered = posts.times_delivered + excluded.times_delivered \
         RETURNING platform, post_id, times_delivered",
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
    );
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
