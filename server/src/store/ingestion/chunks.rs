//! The `delivery_chunks` table: a delivery's raw body, in order.

use sea_orm::{ConnectionTrait, DatabaseTransaction, DbErr};

use crate::store::multirow;

/// Raw body chunks (delivery, seq, bytes), several per statement up to a few MiB.
pub(super) async fn insert_chunks<'r>(
    txn: &DatabaseTransaction,
    chunks: impl Iterator<Item = (i64, i32, &'r [u8])>,
) -> Result<(), DbErr> {
    let mut pending: Vec<(i64, i32, &[u8])> = Vec::new();
    let mut pending_bytes = 0;
    for chunk in chunks {
        pending_bytes += chunk.2.len();
        pending.push(chunk);
        if pending_bytes > 4 << 20 || pending.len() >= multirow::MAX_ROWS {
            write_chunks(txn, &std::mem::take(&mut pending)).await?;
            pending_bytes = 0;
        }
    }
    write_chunks(txn, &pending).await
}

pub(super) async fn write_chunks(
    txn: &DatabaseTransaction,
    chunks: &[(i64, i32, &[u8])],
) -> Result<(), DbErr> {
    let statements = multirow::insert_statements(
        txn.get_database_backend(),
        "delivery_chunks",
        &["delivery_id", "seq", "data"],
        "",
        chunks,
        |(delivery_id, seq, data), values| {
            values.push((*delivery_id).into());
            values.push((*seq).into());
            values.push(data.to_vec().into());
        },
    );
    multirow::execute_all(txn, statements).await
}

pub async fn insert_chunk(
    txn: &DatabaseTransaction,
    delivery_id: i64,
    seq: i32,
    data: Vec<u8>,
) -> Result<(), DbErr> {
    write_chunks(txn, &[(delivery_id, seq, &data)]).await
}
