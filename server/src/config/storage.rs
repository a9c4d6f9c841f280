//! Storage: the data directory and the database.

use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;

use url::Url;

use super::ConfigError;
use super::vars::Vars;

#[derive(Debug, Clone)]
pub struct StorageConfig {
    /// `DATA_DIR` (default `./data`): the SQLite file and the generated tokens live here.
    pub data_dir: PathBuf,
    /// `DATABASE_URL` (default: `sqlite://<DATA_DIR>/track-futura.db`).
    pub database_url: DatabaseUrl,
}

impl StorageConfig {
    pub(super) fn read(vars: &Vars) -> Result<Self, ConfigError> {
        let data_dir = vars.parse("DATA_DIR", "a directory path", PathBuf::from("data"), |v| {
            Some(PathBuf::from(v))
        })?;
        let default_db = format!("sqlite://{}/track-futura.db", data_dir.display());
        Ok(Self {
            database_url: vars.parse(
                "DATABASE_URL",
                "sqlite://<path> or postgres://user@host:port/database",
                DatabaseUrl(default_db),
                DatabaseUrl::parse,
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
