//! Storage: entities, the single group-committing writer, and the queries of each area.
pub mod checkpoint;
pub mod completeness;
pub mod drift;
pub mod entities;
pub mod events;
pub mod histogram;
pub mod ids;
pub mod ingestion;
pub mod leases;
pub mod multirow;
pub mod outcome;
pub mod rollups;
pub mod sessions;
pub mod storage;
pub mod writer;

pub use writer::{StoreError, Writer};
