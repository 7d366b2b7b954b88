//! What can go wrong with the ledger, and with which input.

use std::path::PathBuf;
use std::sync::Arc;

#[derive(Debug, thiserror::Error)]
pub enum LedgerError {
    #[error("database url {url:?} is not sqlite://..., postgres://... or postgresql://...")]
    UnsupportedUrl { url: String },
    #[error("bad database url {url}: {source}")]
    BadUrl {
        url: String,
        #[source]
        source: sqlx::Error,
    },
    #[error("cannot create {path}, the directory of the SQLite database: {source}")]
    CreateDir {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot open the database {url}: {source}")]
    Connect {
        url: String,
        #[source]
        source: sqlx::Error,
    },
    #[error("ledger migration {version} ({name}) failed: {source}")]
    Migration {
        version: i64,
        name: &'static str,
        #[source]
        source: sqlx::Error,
    },
    /// Refused before writing, so it cannot fail the rest of its batch.
    #[error("{record} not recorded: {field} {reason}")]
    Invalid {
        record: &'static str,
        field: &'static str,
        reason: &'static str,
    },
    /// The transaction holding this record failed: it is not in the ledger.
    #[error("ledger write failed, {records} record(s) of the transaction not recorded: {source}")]
    Write {
        records: usize,
        #[source]
        source: Arc<sqlx::Error>,
    },
    /// The ledger already holds a share with this header hash: the same
    /// work, submitted again (under another job id, on another
    /// connection, or to another node). Not credited a second time.
    #[error("duplicate share: the ledger already holds this work")]
    DuplicateShare,
    #[error("ledger query failed: {0}")]
    Query(#[source] sqlx::Error),
    #[error("{table} row {id} holds an impossible {column}: {value}")]
    Corrupt {
        table: &'static str,
        id: i64,
        column: &'static str,
        value: String,
    },
    #[error("cannot take the payout lock file {path}: {source}")]
    Lock {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("the ledger is closed (its writer has stopped)")]
    Closed,
}

/// `url` with its password, if any, replaced by `***` (for logs and errors).
pub(super) fn redact_url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_string();
    };
    let authority_end = rest.find(['/', '?']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(authority_end);
    let Some((credentials, host)) = authority.rsplit_once('@') else {
        return url.to_string();
    };
    match credentials.split_once(':') {
        Some((user, _password)) => format!("{scheme}://{user}:***@{host}{tail}"),
        None => url.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::redact_url;

    #[test]
    fn passwords_never_reach_logs() {
        assert_eq!(
            redact_url("postgres://pool:s3cret@db:5432/pool?sslmode=disable"),
            "postgres://pool:***@db:5432/pool?sslmode=disable"
        );
        assert_eq!(
            redact_url("postgresql://pool@db/pool"),
            "postgresql://pool@db/pool"
        );
        assert_eq!(redact_url("sqlite://pool.db"), "sqlite://pool.db");
        assert_eq!(redact_url("sqlite::memory:"), "sqlite::memory:");
    }
}
