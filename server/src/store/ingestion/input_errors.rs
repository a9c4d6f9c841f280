//! The `input_errors` table: the inputs BrightData reported it could not scrape.

use sea_orm::{ConnectionTrait, DatabaseTransaction, DbErr};

use crate::store::multirow;
use delivery::records::InputError;

pub async fn insert_input_errors(
    txn: &DatabaseTransaction,
    snapshot_id: Option<&str>,
    delivery_id: i64,
    errors: &[InputError],
    now: i64,
) -> Result<(), DbErr> {
    let rows: Vec<_> = errors
        .iter()
        .map(|e| (e, snapshot_id, delivery_id, now))
        .collect();
    write_input_errors(txn, &rows).await
}

/// Inserts input errors (error, snapshot, delivery, time).
pub(super) async fn write_input_errors(
    txn: &DatabaseTransaction,
    errors: &[(&InputError, Option<&str>, i64, i64)],
) -> Result<(), DbErr> {
    let statements = multirow::insert_statements(
        txn.get_database_backend(),
        "input_errors",
        &[
            "snapshot_id",
            "delivery_id",
            "kind",
            "code",
            "message",
            "input_url",
            "data",
            "at_ms",
        ],
        "",
        errors,
        |(error, snapshot, delivery_id, at), values| {
            values.extend([
                snapshot.map(str::to_owned).into(),
                (*delivery_id).into(),
                error.kind.into(),
                error.code.clone().into(),
                error.message.clone().into(),
                error.input_url.clone().into(),
                error.data.clone().into(),
                (*at).into(),
            ]);
        },
    );
    multirow::execute_all(txn, statements).await
}
