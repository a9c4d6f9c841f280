//! The product's questions and actions, whichever door asks: the REST API (`api`), the dashboard's
//! server functions (`dashboard`) and the CLI (`cli`) are thin adapters over these. Each answers
//! with the app's view types or a [`ViewError`]; none knows HTTP.

mod error;

pub mod alerts;
pub mod drift;
pub mod events;
pub mod export;
pub mod monitor;
pub mod overview;
pub mod paging;
pub mod post_rows;
pub mod posts;
pub mod posts_parquet;
pub mod setup;
pub mod snapshots;
pub mod storage;

pub use error::{ViewError, ViewResult};
