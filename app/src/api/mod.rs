//! The dashboard's door to the server, by job: the server functions (`functions`) (their error is
//! `crate::error`), what both ends agree on (`protocol`), the browser's client of the writes (`client`), and what the server
//! provides behind them (`backend`, server only).

#[cfg(feature = "ssr")]
pub mod backend;
pub mod client;
mod functions;
mod protocol;

pub use crate::error::{DashboardError, ErrorKind};
pub use functions::*;
pub use protocol::*;
