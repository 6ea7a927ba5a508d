//! Leadership: a session-level advisory lock per name, all held on one dedicated connection
//! (not the pool's, whose connections come and go). The lock lives exactly as long as that
//! session: when the node stops or the connection breaks, the server frees it and another node's
//! next try wins.

use std::collections::HashSet;

use sqlx::postgres::PgConnectOptions;
use sqlx::{Connection, PgConnection};
use tokio::sync::Mutex;

use super::conn::{db_err, describe, fault};
use crate::StoreResult;

/// The first key of every leadership lock ("RH"); the name's `hashtext` is the second. The
/// two-key form cannot collide with the one-key migration lock.
const LOCK_SPACE: i32 = 0x5248;

/// The leadership connection and the names it holds.
pub(crate) struct Leadership {
    opts: PgConnectOptions,
    held: Mutex<Option<Session>>,
}

struct Session {
    conn: PgConnection,
    names: HashSet<String>,
}

impl Leadership {
    /// No connection yet: the first call to [`Self::hold`] opens it.
    pub fn new(opts: PgConnectOptions) -> Self {
        Self {
            opts,
            held: Mutex::new(None),
        }
    }

    /// True while this node holds `name`'s lock; tries to take it when not held. A held lock is
    /// confirmed by checking its session is alive; if it is not, the session is replaced (the
    /// server freed its locks) and the lock tried afresh.
    pub async fn hold(&self, name: &str) -> StoreResult<bool> {
        let mut held = self.held.lock().await;
        if let Some(session) = held.as_mut() {
            let alive = sqlx::query("SELECT 1")
                .execute(&mut session.conn)
                .await
                .is_ok();
            if alive && session.names.contains(name) {
                return Ok(true);
            }
            if !alive {
                tracing::warn!("the leadership connection to PostgreSQL broke; reconnecting");
                *held = None;
            }
        }
        let session = match held.as_mut() {
            Some(session) => session,
            None => held.insert(Session {
                conn: PgConnection::connect_with(&self.opts).await.map_err(|e| {
                    fault(
                        format!(
                            "could not connect to PostgreSQL at {}",
                            describe(&self.opts)
                        ),
                        e,
                    )
                })?,
                names: HashSet::new(),
            }),
        };
        let tried: Result<bool, _> =
            sqlx::query_scalar("SELECT pg_try_advisory_lock($1, hashtext($2))")
                .bind(LOCK_SPACE)
                .bind(name)
                .fetch_one(&mut session.conn)
                .await;
        match tried {
            Ok(won) => {
                if won {
                    session.names.insert(name.to_owned());
                }
                Ok(won)
            }
            Err(e) => {
                // Whatever broke, the next call starts from a fresh session.
                *held = None;
                Err(db_err(e))
            }
        }
    }
}
