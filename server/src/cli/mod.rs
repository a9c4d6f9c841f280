//! The command-line tools of the one binary (`server <command> --help`): what they share. Each
//! command prints what it did on stdout, the reason of a failure on stderr, and exits with a code
//! scripts can tell apart.

pub mod brightdata;
pub mod check_setup;
pub mod export;

/// Exit code: the command ran and something failed (the message says what).
pub const EXIT_FAILED: u8 = 1;
/// Exit code: the command cannot run as asked (configuration, arguments).
pub const EXIT_USAGE: u8 = 2;
/// Exit code: there is nothing to report on or stop (no ngrok started by this helper runs).
pub const EXIT_NOT_RUNNING: u8 = 3;
/// Exit code: a program the command drives is not installed (ngrok).
pub const EXIT_NOT_INSTALLED: u8 = 4;

/// Why a command failed, with its exit code.
#[derive(Debug)]
pub struct Failure {
    pub code: u8,
    pub message: String,
}

pub fn failure(code: u8, message: impl Into<String>) -> Failure {
    Failure {
        code,
        message: message.into(),
    }
}

/// The service's database, migrated (a first command may run before the first start).
pub async fn open_database(
    config: &crate::config::Config,
) -> Result<sea_orm::DatabaseConnection, Failure> {
    let db = crate::db::connect(&config.storage.database_url, &config.storage.pool)
        .await
        .map_err(|e| failed(format!("opening the database: {e}")))?;
    crate::db::migrate(&db)
        .await
        .map_err(|e| failed(format!("migrating the database: {e}")))?;
    Ok(db)
}

/// The common case: the command failed.
/// An ngrok command's failure, with its exit code.
impl From<crate::ngrok::NgrokError> for Failure {
    fn from(error: crate::ngrok::NgrokError) -> Self {
        use crate::ngrok::NgrokError::*;
        match error {
            NotInstalled(message) => failure(EXIT_NOT_INSTALLED, message),
            NotRunning(message) => failure(EXIT_NOT_RUNNING, message),
            Usage(message) => failure(EXIT_USAGE, message),
            Failed(message) => failed(message),
        }
    }
}

pub fn failed(message: impl Into<String>) -> Failure {
    failure(EXIT_FAILED, message)
}

/// Every secret a command could come to hold: the webhook tokens, the admin token (from the
/// environment or the files under `DATA_DIR`), the signing secrets and the BrightData API key.
pub fn secrets(config: &crate::config::Config) -> Vec<String> {
    let security = &config.security;
    let mut secrets: Vec<String> = security
        .webhook_tokens
        .iter()
        .chain(&security.admin_token)
        .chain(&security.signing_secrets)
        .chain(&config.brightdata.api_token)
        .map(|secret| secret.expose().to_owned())
        .collect();
    if let Ok(stored) =
        crate::credentials::Credentials::existing(security, &config.storage.data_dir)
    {
        secrets.extend(
            stored
                .webhook_tokens
                .iter()
                .chain([&stored.admin_token])
                .map(|secret| secret.expose().to_owned()),
        );
    }
    secrets
}

pub use crate::credentials::redact;
