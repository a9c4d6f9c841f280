//! Writes of the ingestion path, one module per table. Each function runs inside the writer's
//! transaction (see `writer`), so a delivery, its posts, its input errors, its snapshot and its
//! replay key commit together or not at all.

mod chunks;
mod deliveries;
mod inline;
mod input_errors;
mod posts;
mod replay_keys;
mod snapshots;

pub use chunks::insert_chunk;
pub use deliveries::{
    BodySummary, DeliveryMeta, DeliveryOutcome, Extracted, Lease, ParsedBody, Progress,
    ReceivedOutcome, Requeue, begin_receiving, claim_queued, complete_processing, discard_delivery,
    finish_receiving, mark_failed, recover_after_restart, renew_lease, requeue, reset_extraction,
    save_progress,
};
pub use inline::{InlineDelivery, store_deliveries};
pub use input_errors::insert_input_errors;
pub use posts::{LARGE_DELIVERY_POSTS, refresh_statistics, upsert_posts};
pub use replay_keys::{claim_replay_key, link_replay_key, replay_key_delivery};
pub use snapshots::{
    Notification, NotifyOutcome, apply_notification, snapshot_add_counts, snapshot_received,
    snapshot_triggered,
};
