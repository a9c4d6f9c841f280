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
    let db = crate::db::connect(&config.storage.database_url)
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

/// `text` with every secret, as written and as a URL's query encodes it, replaced by
/// `[redacted]`: the last guard before anything a command prints (an error can quote a URL, an
/// answer can echo what it was sent).
pub fn redact(text: &str, secrets: &[String]) -> String {
    let mut text = text.to_owned();
    for secret in secrets.iter().filter(|s| s.len() >= 4) {
        let encoded: String = url::form_urlencoded::byte_serialize(secret.as_bytes()).collect();
        for form in [secret.as_str(), encoded.as_str()] {
            if text.contains(form) {
                text = text.replace(form, "[redacted]");
            }
        }
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redaction_covers_the_secret_as_written_and_as_a_query_encodes_it() {
        let secrets = vec!["tok/en+1 x".to_owned(), "key".to_owned()];
        assert_eq!(
            redact("a tok/en+1 x b tok%2Fen%2B1+x c", &secrets),
            "a [redacted] b [redacted] c"
        );
        // Secrets too short to be real are left alone rather than blanking ordinary words.
        assert_eq!(redact("a key", &secrets), "a key");
    }
}
