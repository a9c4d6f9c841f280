//! Storage: the data directory and the database.

use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;

use url::Url;

use super::ConfigError;
use super::vars::{Vars, parse_positive_seconds};

const SECONDS: &str = "a whole number of seconds, at least 1";

#[derive(Debug, Clone)]
pub struct StorageConfig {
    /// `DATA_DIR` (default `./data`): the SQLite file and the generated tokens live here.
    pub data_dir: PathBuf,
    /// `DATABASE_URL` (default: `sqlite://<DATA_DIR>/track-futura.db`).
    pub database_url: DatabaseUrl,
    pub pool: PoolConfig,
    /// `CLUSTER_LEASE` (default 10 s): how long an instance's hold on the leadership (alerts,
    /// retention, completeness and drift rounds) or on a delivery it extracts lasts unrenewed.
    /// Holders renew at a third of it; when an instance dies, another takes over after at most this
    /// long. Matters only with several instances on one PostgreSQL.
    pub lease: Duration,
}

/// The connection pool of the readers (the writer has one connection of its own).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PoolConfig {
    /// `DATABASE_POOL_SIZE`: connections at most (default 8 on SQLite, 16 on PostgreSQL). Each
    /// instance on a PostgreSQL holds up to this many plus one for its writer and one for its
    /// live feed: keep the sum over instances under the server's `max_connections`.
    pub size: u32,
    /// `DATABASE_CONNECT_TIMEOUT` (default 5 s): how long opening one connection may take.
    pub connect_timeout: Duration,
    /// `DATABASE_ACQUIRE_TIMEOUT` (default 10 s): how long a query waits for a free connection
    /// (or a new one) before it fails; a request then answers 503.
    pub acquire_timeout: Duration,
}

impl PoolConfig {
    /// The defaults for this database.
    pub fn default_for(url: &DatabaseUrl) -> Self {
        Self {
            size: if url.is_sqlite() { 8 } else { 16 },
            connect_timeout: Duration::from_secs(5),
            acquire_timeout: Duration::from_secs(10),
        }
    }
}

impl StorageConfig {
    pub(super) fn read(vars: &Vars) -> Result<Self, ConfigError> {
        let data_dir = vars.parse("DATA_DIR", "a directory path", PathBuf::from("data"), |v| {
            Some(PathBuf::from(v))
        })?;
        let default_db = format!("sqlite://{}/track-futura.db", data_dir.display());
        let database_url = vars.parse(
            "DATABASE_URL",
            "sqlite://<path> or postgres://user@host:port/database",
            DatabaseUrl(default_db),
            DatabaseUrl::parse,
        )?;
        let defaults = PoolConfig::default_for(&database_url);
        let pool = PoolConfig {
            size: vars.parse(
                "DATABASE_POOL_SIZE",
                "a whole number of connections, 1 to 1000",
                defaults.size,
                |v| v.parse::<u32>().ok().filter(|n| (1..=1000).contains(n)),
            )?,
            connect_timeout: vars.parse(
                "DATABASE_CONNECT_TIMEOUT",
                SECONDS,
                defaults.connect_timeout,
                parse_positive_seconds,
            )?,
            acquire_timeout: vars.parse(
                "DATABASE_ACQUIRE_TIMEOUT",
                SECONDS,
                defaults.acquire_timeout,
                parse_positive_seconds,
            )?,
        };
        Ok(Self {
            database_url,
            pool,
            lease: vars.parse(
                "CLUSTER_LEASE",
                "a whole number of seconds, 3 or more",
                Duration::from_secs(10),
                |v| parse_positive_seconds(v).filter(|d| d.as_secs() >= 3),
            )?,
            data_dir,
        })
    }
}

/// A database URL; `Debug` hides the password.
#[derive(Clone, PartialEq, Eq)]
pub struct DatabaseUrl(String);

impl DatabaseUrl {
    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn is_sqlite(&self) -> bool {
        self.0.starts_with("sqlite:")
    }

    /// The URL with any password replaced, safe to log.
    /// The URL with its password masked, in the user part and in any query parameter that
    /// carries a secret (`?password=`, `sslpassword=`, `passfile=`, `token=`, `secret=`, …).
    pub fn redacted(&self) -> String {
        let Ok(mut url) = Url::parse(&self.0) else {
            return self.0.clone();
        };
        let mut masked = false;
        if url.password().is_some() {
            let _ = url.set_password(Some("***"));
            masked = true;
        }
        let secret = |name: &str| {
            let name = name.to_ascii_lowercase();
            ["pass", "pwd", "secret", "token", "key"]
                .iter()
                .any(|word| name.contains(word))
        };
        if url.query_pairs().any(|(name, _)| secret(&name)) {
            let pairs: Vec<(String, String)> = url
                .query_pairs()
                .map(|(name, value)| {
                    let value = if secret(&name) {
                        "***".into()
                    } else {
                        value.into_owned()
                    };
                    (name.into_owned(), value)
                })
                .collect();
            url.query_pairs_mut().clear().extend_pairs(pairs);
            masked = true;
        }
        if !masked {
            return self.0.clone();
        }
        // Keep the asterisks readable (the query encoder writes them as they are; the user part
        // may not).
        url.to_string().replace("%2A%2A%2A", "***")
    }

    fn parse(value: &str) -> Option<Self> {
        let scheme_ok = ["sqlite:", "postgres://", "postgresql://"]
            .iter()
            .any(|prefix| value.starts_with(prefix));
        let parses = value.starts_with("sqlite:") || Url::parse(value).is_ok();
        (scheme_ok && parses).then(|| Self(value.to_owned()))
    }
}

impl FromStr for DatabaseUrl {
    type Err = ConfigError;

    fn from_str(value: &str) -> Result<Self, ConfigError> {
        Self::parse(value).ok_or(ConfigError {
            var: "DATABASE_URL",
            value: None,
            expected: "sqlite://<path> or postgres://user@host:port/database",
        })
    }
}

impl fmt::Debug for DatabaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "DatabaseUrl({})", self.redacted())
    }
}
