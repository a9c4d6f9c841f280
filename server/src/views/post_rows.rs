//! A post as an export's query returns it, read where it lies: its texts are borrowed from the
//! database's row, each column found by its place in the query. Built as a `posts::Model`, every
//! row was looked up column by column by name, copied into owned strings once more and dropped
//! again after its page, on the export's one rendering thread.

use sea_orm::QueryResult;
use sea_orm::sqlx::{ColumnIndex, Decode, Error, Row, Type};

use crate::store::entities::posts;

/// The columns an export of posts selects, in the order [`PostRow::of`] reads them.
pub const COLUMNS: [posts::Column; 16] = [
    posts::Column::Id,
    posts::Column::Platform,
    posts::Column::PostId,
    posts::Column::SnapshotId,
    posts::Column::DeliveryId,
    posts::Column::Url,
    posts::Column::Author,
    posts::Column::PostedMs,
    posts::Column::Likes,
    posts::Column::Comments,
    posts::Column::Shares,
    posts::Column::Views,
    posts::Column::Data,
    posts::Column::FirstSeenMs,
    posts::Column::UpdatedMs,
    posts::Column::TimesDelivered,
];

/// A stored post, its texts borrowed from the query's row (the fields of `posts::Model`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PostRow<'r> {
    pub id: i64,
    pub platform: &'r str,
    pub post_id: &'r str,
    pub snapshot_id: Option<&'r str>,
    pub delivery_id: i64,
    pub url: Option<&'r str>,
    pub author: Option<&'r str>,
    pub posted_ms: Option<i64>,
    pub likes: Option<i64>,
    pub comments: Option<i64>,
    pub shares: Option<i64>,
    pub views: Option<i64>,
    pub data: &'r str,
    pub first_seen_ms: i64,
    pub updated_ms: i64,
    pub times_delivered: i32,
}

impl<'r> PostRow<'r> {
    /// The post in `row`, a row of a query that selected [`COLUMNS`].
    pub fn of(row: &'r QueryResult) -> Result<Self, String> {
        let read = if let Some(row) = row.try_as_sqlite_row() {
            read(row)
        } else if let Some(row) = row.try_as_pg_row() {
            read(row)
        } else {
            return Err("an export's row came from neither SQLite nor PostgreSQL".into());
        };
        read.map_err(|e| format!("reading a post's row: {e}"))
    }
}

/// The columns of `row` in the order of [`COLUMNS`], by place (a column found by name costs a
/// lookup in a map of its names).
fn read<'r, R>(row: &'r R) -> Result<PostRow<'r>, Error>
where
    R: Row,
    usize: ColumnIndex<R>,
    &'r str: Decode<'r, R::Database> + Type<R::Database>,
    i64: Decode<'r, R::Database> + Type<R::Database>,
    i32: Decode<'r, R::Database> + Type<R::Database>,
{
    Ok(PostRow {
        id: row.try_get(0)?,
        platform: row.try_get(1)?,
        post_id: row.try_get(2)?,
        snapshot_id: row.try_get(3)?,
        delivery_id: row.try_get(4)?,
        url: row.try_get(5)?,
        author: row.try_get(6)?,
        posted_ms: row.try_get(7)?,
        likes: row.try_get(8)?,
        comments: row.try_get(9)?,
        shares: row.try_get(10)?,
        views: row.try_get(11)?,
        data: row.try_get(12)?,
        first_seen_ms: row.try_get(13)?,
        updated_ms: row.try_get(14)?,
        times_delivered: row.try_get(15)?,
    })
}

#[cfg(test)]
mod tests {
    use sea_orm::{ActiveModelTrait, ConnectionTrait, EntityTrait, QuerySelect};
    use sea_orm::{IntoActiveModel, QueryOrder, QueryTrait};

    use super::*;

    fn expected(p: &posts::Model) -> PostRow<'_> {
        PostRow {
            id: p.id,
            platform: &p.platform,
            post_id: &p.post_id,
            snapshot_id: p.snapshot_id.as_deref(),
            delivery_id: p.delivery_id,
            url: p.url.as_deref(),
            author: p.author.as_deref(),
            posted_ms: p.posted_ms,
            likes: p.likes,
            comments: p.comments,
            shares: p.shares,
            views: p.views,
            data: &p.data,
            first_seen_ms: p.first_seen_ms,
            updated_ms: p.updated_ms,
            times_delivered: p.times_delivered,
        }
    }

    #[tokio::test]
    async fn a_row_reads_as_the_model_of_its_post_with_every_field_in_place() {
        let db = crate::store::test_db_with_deliveries(&[(7, "stored")]).await;
        // Every field distinct, so a column read from the wrong place shows; and a post with
        // every optional field empty.
        let full = posts::Model {
            id: 11,
            platform: "instagram".into(),
            post_id: "C1x".into(),
            snapshot_id: Some("s_abc".into()),
            delivery_id: 7,
            url: Some("https://www.instagram.com/p/C1x/".into()),
            author: Some("nasa".into()),
            posted_ms: Some(1_700_000_000_001),
            likes: Some(2),
            comments: Some(3),
            shares: Some(4),
            views: Some(5),
            data: r#"{"post_id":"C1x","description":"é \" ,"}"#.into(),
            first_seen_ms: 1_700_000_000_006,
            updated_ms: 1_700_000_000_007,
            times_delivered: 8,
        };
        let bare = posts::Model {
            id: 12,
            post_id: "C2y".into(),
            snapshot_id: None,
            url: None,
            author: None,
            posted_ms: None,
            likes: None,
            comments: None,
            shares: None,
            views: None,
            data: "{}".into(),
            ..full.clone()
        };
        for post in [&full, &bare] {
            post.clone()
                .into_active_model()
                .reset_all()
                .insert(&db)
                .await
                .unwrap();
        }

        let query = posts::Entity::find()
            .select_only()
            .columns(COLUMNS)
            .order_by_asc(posts::Column::Id)
            .build(db.get_database_backend());
        let rows = db.query_all_raw(query).await.unwrap();
        let read = rows.iter().map(PostRow::of).collect::<Result<Vec<_>, _>>();
        assert_eq!(read.unwrap(), vec![expected(&full), expected(&bare)]);
    }
}
