//! Reaching the server: parsing the URL, naming the target in errors without its password,
//! mapping errors, and the notification channels that wake other nodes.

use std::str::FromStr;

use sqlx::PgConnection;
use sqlx::postgres::PgConnectOptions;

use crate::{StoreError, StoreResult};

/// The channel notified when work (deliveries and runs) becomes due unleased.
pub(crate) const DUE_CHANNEL: &str = "rustyhook_due";

/// A failure with what the store was doing when it happened; the driver's error is its source.
#[derive(Debug, thiserror::Error)]
#[error("{what}")]
pub(crate) struct PgFault {
    what: String,
    #[source]
    source: sqlx::Error,
}

/// Wraps `source` as a database error that says what failed.
pub(crate) fn fault(what: impl Into<String>, source: sqlx::Error) -> StoreError {
    StoreError::Database(Box::new(PgFault {
        what: what.into(),
        source,
    }))
}

/// Maps a driver error: unique and foreign-key violations (SQLSTATE 23505, 23503: a row that
/// now exists, or one that no longer does, such as an endpoint for an app deleted meanwhile) are
/// [`StoreError::Conflict`], as SQLite reports them; a full disk is [`StoreError::Full`]; a
/// server that cannot be reached or went away, and a pool with no connection in time, are
/// [`StoreError::Unavailable`]; a closed pool is [`StoreError::Closed`]; anything else is
/// [`StoreError::Database`].
pub(crate) fn db_err(e: sqlx::Error) -> StoreError {
    match &e {
        sqlx::Error::Database(d) if matches!(d.code().as_deref(), Some("23505" | "23503")) => {
            StoreError::Conflict(d.message().to_owned())
        }
        // disk_full, out_of_memory: the server is up but cannot write.
        sqlx::Error::Database(d) if matches!(d.code().as_deref(), Some("53100" | "53200")) => {
            StoreError::Full(Box::new(e))
        }
        // Connection failures and the server going away (class 08, admin shutdown 57P01-03).
        sqlx::Error::Database(d)
            if d.code()
                .as_deref()
                .is_some_and(|c| c.starts_with("08") || c.starts_with("57P")) =>
        {
            StoreError::Unavailable(Box::new(e))
        }
        sqlx::Error::PoolTimedOut
        | sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::Protocol(_)
        | sqlx::Error::WorkerCrashed => StoreError::Unavailable(Box::new(e)),
        sqlx::Error::PoolClosed => StoreError::Closed,
        _ => StoreError::Database(Box::new(e)),
    }
}

/// Parses a `postgres://` URL. The error never repeats the URL, which may hold a password.
pub(crate) fn parse_url(url: &str) -> StoreResult<PgConnectOptions> {
    PgConnectOptions::from_str(url).map_err(|e| fault("the PostgreSQL URL is not valid", e))
}

/// `host:port/database` (or the socket path), for messages: never the user's password.
pub(crate) fn describe(opts: &PgConnectOptions) -> String {
    let database = opts.get_database().unwrap_or(opts.get_username());
    match opts.get_socket() {
        Some(socket) => format!("{}/{database}", socket.display()),
        None => format!("{}:{}/{database}", opts.get_host(), opts.get_port()),
    }
}

/// Queues a notification on `channel`; the server sends it when the transaction commits, and
/// drops it if the transaction rolls back.
pub(crate) async fn notify(conn: &mut PgConnection, channel: &str) -> StoreResult<()> {
    sqlx::query("SELECT pg_notify($1, '')")
        .bind(channel)
        .execute(conn)
        .await
        .map_err(db_err)?;
    Ok(())
}
