//! sea-orm entities, one file per table (the schema itself is in the `migrations` crate).
pub mod alerts;
pub mod deliveries;
pub mod delivery_chunks;
pub mod events;
pub mod input_errors;
pub mod leases;
pub mod notifications;
pub mod posts;
pub mod replay_keys;
pub mod revoked_sessions;
pub mod snapshots;
