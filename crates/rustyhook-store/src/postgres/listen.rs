//! Wake-ups from other nodes: a background task LISTENs on the channels that transactions
//! notify when they make unleased work due, and pokes the matching [`Notify`]. It holds its own
//! connection (a pool of one, apart from the store's), reconnects with backoff when the
//! connection drops, and after a reconnect pokes both, since notifications sent meanwhile are
//! lost. It stops when the store that started it is dropped.

use std::sync::Arc;
use std::time::Duration;

use sqlx::PgPool;
use sqlx::postgres::{PgConnectOptions, PgListener, PgPoolOptions};
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use super::conn::{DUE_CHANNEL, describe, fault};
use crate::{StoreResult, Wakeups};

/// The first wait before reconnecting; doubled after each failure.
const FIRST_BACKOFF: Duration = Duration::from_millis(100);
/// The longest wait between reconnection attempts.
const MAX_BACKOFF: Duration = Duration::from_secs(30);

/// Connects the listener and starts its task; returns once this node is listening, so no
/// notification committed after the store opened is missed.
pub(crate) async fn start(
    opts: &PgConnectOptions,
    stop: CancellationToken,
) -> StoreResult<Wakeups> {
    let pool = PgPoolOptions::new()
        .max_connections(1)
        .min_connections(0)
        .idle_timeout(None)
        .max_lifetime(None)
        .connect_lazy_with(opts.clone());
    let listener = listen(&pool).await.map_err(|e| {
        fault(
            format!("could not LISTEN on PostgreSQL at {}", describe(opts)),
            e,
        )
    })?;
    let wakeups = Wakeups {
        due: Arc::new(Notify::new()),
    };
    tokio::spawn(run(pool, listener, wakeups.clone(), stop));
    Ok(wakeups)
}

async fn listen(pool: &PgPool) -> Result<PgListener, sqlx::Error> {
    let mut listener = PgListener::connect_with(pool).await?;
    // Reconnection is this module's, with backoff and a wake-up afterwards.
    listener.eager_reconnect(false);
    listener.ignore_pool_close_event(true);
    listener.listen(DUE_CHANNEL).await?;
    Ok(listener)
}

async fn run(pool: PgPool, first: PgListener, wakeups: Wakeups, stop: CancellationToken) {
    let mut listener = Some(first);
    let mut backoff = FIRST_BACKOFF;
    loop {
        let Some(current) = listener.as_mut() else {
            tokio::select! {
                () = stop.cancelled() => return,
                () = tokio::time::sleep(backoff) => {}
            }
            match listen(&pool).await {
                Ok(fresh) => {
                    tracing::info!("listening for other nodes' work again");
                    listener = Some(fresh);
                    backoff = FIRST_BACKOFF;
                    wakeups.due.notify_one();
                }
                Err(e) => {
                    tracing::warn!(error = %e, retry_in = ?backoff, "could not LISTEN on PostgreSQL");
                    backoff = (backoff * 2).min(MAX_BACKOFF);
                }
            }
            continue;
        };
        let received = tokio::select! {
            () = stop.cancelled() => return,
            received = current.try_recv() => received,
        };
        match received {
            Ok(Some(n)) if n.channel() == DUE_CHANNEL => wakeups.due.notify_one(),
            Ok(Some(_)) => {}
            Ok(None) => {
                tracing::warn!("lost the PostgreSQL connection that listens for other nodes");
                listener = None;
            }
            Err(e) => {
                tracing::warn!(error = %e, "the PostgreSQL listener failed");
                listener = None;
            }
        }
    }
}
