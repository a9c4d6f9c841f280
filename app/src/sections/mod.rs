//! The monitor's sections, one module each; the frame around them is `shell`.

pub mod alerts;
pub mod events;
pub mod fields;
pub mod overview;
pub mod posts;
pub mod setup;
pub mod snapshots;
