//! What turns a BrightData delivery's bytes into records, with nothing else around it: no HTTP
//! framework, no database, no async runtime. The server, the benchmark and the tests share it.
//!
//! - `decode`: a body (gzip or not) fed in pieces, split into records as it inflates;
//! - `records`: the splitter (JSON array, NDJSON, CSV) and each record's classification;
//! - `coverage`: which fields a delivery's posts carried (tallied while they are split);
//! - `drift`: a snapshot's field coverage judged against the platform's usual;
//! - `platforms`: which platform a BrightData dataset id scrapes;
//! - `verify`: the bearer token, body signatures and timestamps of a request;
//! - `lifecycle`: a snapshot's status and a delivery's state;
//! - `samples`: BrightData-shaped records generated for tests, demos and benchmarks;
//! - `secret`: a string that must never be printed.

pub mod coverage;
pub mod decode;
pub mod drift;
pub mod lifecycle;
pub mod platforms;
pub mod records;
pub mod samples;
pub mod secret;
pub mod verify;
