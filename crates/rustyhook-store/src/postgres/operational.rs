//! Operational events on PostgreSQL: the outbox, the facts an event names, an endpoint's
//! `failing_since`, and disabling endpoints that failed too long. Every function but
//! [`pending`] runs inside the caller's transaction, so an event is queued exactly when its
//! change commits.

use rustyhook_core::id::{AppId, MessageId};
use rustyhook_core::model::{Attempt, Endpoint};
use rustyhook_core::operational::{EndpointRef, OperationalEvent, OperationalKind};
use rustyhook_core::run::RunAttempt;
use rustyhook_core::time::Millis;
use sqlx::{PgConnection, PgPool, Row};

use super::conn::db_err;
use crate::operational::{self as decide, DeliveryFacts, FailingChanges, FailingWrite};
use crate::{AttemptRecord, StoreResult};

/// Queues `events`, in one statement.
pub(crate) async fn insert(
    conn: &mut PgConnection,
    events: &[OperationalEvent],
) -> StoreResult<()> {
    if events.is_empty() {
        return Ok(());
    }
    let text = |f: fn(&OperationalEvent) -> &str| {
        events.iter().map(f).map(str::to_owned).collect::<Vec<_>>()
    };
    sqlx::query(
        r#"INSERT INTO operational_events (id, event_type, payload, created_at)
        SELECT *
        FROM UNNEST($1::TEXT[], $2::TEXT[], $3::TEXT[], $4::BIGINT[])"#,
    )
    .bind(text(|e| e.id.as_str()))
    .bind(text(|e| e.event_type.as_str()))
    .bind(text(|e| e.payload.as_str()))
    .bind(events.iter().map(|e| e.created_at).collect::<Vec<_>>())
    .execute(&mut *conn)
    .await
    .map_err(db_err)?;
    insert_changes(conn, &crate::feed::changes_of(events)).await
}

/// Records endpoint changes for the live feed, in one statement.
async fn insert_changes(
    conn: &mut PgConnection,
    changes: &[crate::feed::EndpointChange],
) -> StoreResult<()> {
    if changes.is_empty() {
        return Ok(());
    }
    let text = |f: fn(&crate::feed::EndpointChange) -> &str| {
        changes.iter().map(f).map(str::to_owned).collect::<Vec<_>>()
    };
    sqlx::query(&format!(
        "INSERT INTO endpoint_changes ({})\n\
         SELECT *\n\
         FROM UNNEST($1::TEXT[], $2::TEXT[], $3::TEXT[], $4::TEXT[], $5::TEXT[], $6::BIGINT[])",
        crate::feed::CHANGE_COLS
    ))
    .bind(text(|c| c.id.as_str()))
    .bind(text(|c| c.app_id.as_str()))
    .bind(text(|c| c.endpoint_id.as_str()))
    .bind(text(|c| c.change.as_str()))
    .bind(changes.iter().map(|c| c.detail.clone()).collect::<Vec<_>>())
    .bind(changes.iter().map(|c| c.created_at).collect::<Vec<_>>())
    .execute(conn)
    .await
    .map_err(db_err)?;
    Ok(())
}

/// The oldest `limit` queued events.
pub(crate) async fn pending(pool: &PgPool, limit: usize) -> StoreResult<Vec<OperationalEvent>> {
    let rows = sqlx::query(
        r#"SELECT id, event_type, payload, created_at
        FROM operational_events
        ORDER BY id
        LIMIT $1"#,
    )
    .bind(limit as i64)
    .fetch_all(pool)
    .await
    .map_err(db_err)?;
    rows.iter()
        .map(|r| {
            Ok(OperationalEvent {
                id: MessageId::from_trusted(r.try_get(0)?),
                event_type: r.try_get(1)?,
                payload: r.try_get(2)?,
                created_at: r.try_get(3)?,
            })
        })
        .collect::<Result<_, sqlx::Error>>()
        .map_err(db_err)
}

/// Forgets published events.
pub(crate) async fn forget(pool: &PgPool, ids: &[MessageId]) -> StoreResult<()> {
    let ids: Vec<&str> = ids.iter().map(MessageId::as_str).collect();
    sqlx::query(
        r#"DELETE FROM operational_events
        WHERE id = ANY ($1)"#,
    )
    .bind(&ids)
    .execute(pool)
    .await
    .map_err(db_err)?;
    Ok(())
}

async fn app_uid(conn: &mut PgConnection, app: &AppId) -> StoreResult<Option<String>> {
    sqlx::query_scalar::<_, Option<String>>(
        r#"SELECT uid
        FROM apps
        WHERE id = $1"#,
    )
    .bind(app.as_str())
    .fetch_optional(conn)
    .await
    .map(Option::flatten)
    .map_err(db_err)
}

/// Queues an `endpoint.*` event of each kind about `e`, unless it is the operational app's.
pub(crate) async fn endpoint_events(
    conn: &mut PgConnection,
    kinds: &[OperationalKind],
    e: &Endpoint,
    now: Millis,
) -> StoreResult<()> {
    let uid = app_uid(conn, &e.app_id).await?;
    if !decide::reported(uid.as_deref()) {
        return Ok(());
    }
    let about = decide::endpoint_ref(e, uid);
    let events: Vec<_> = kinds
        .iter()
        .map(|k| OperationalEvent::endpoint(*k, &about, now))
        .collect();
    insert(conn, &events).await
}

/// Whether the endpoint is disabled now (`None` if there is none), read, and locked, before an
/// update.
pub(crate) async fn was_disabled(
    conn: &mut PgConnection,
    e: &Endpoint,
) -> StoreResult<Option<bool>> {
    sqlx::query_scalar(
        r#"SELECT disabled
        FROM endpoints
        WHERE id = $1
        FOR UPDATE"#,
    )
    .bind(e.id.as_str())
    .fetch_optional(conn)
    .await
    .map_err(db_err)
}

/// Clears an endpoint's `failing_since` (it was enabled again: its clock starts afresh).
pub(crate) async fn clear_failing(conn: &mut PgConnection, e: &Endpoint) -> StoreResult<()> {
    sqlx::query(
        r#"UPDATE endpoints
        SET failing_since = NULL
        WHERE id = $1"#,
    )
    .bind(e.id.as_str())
    .execute(conn)
    .await
    .map_err(db_err)?;
    Ok(())
}

/// Queues the events an endpoint attempt's record makes, given the delivery's attempts so far
/// (`None`: the record did not move it on). Reads what the events name only when there are
/// some, so an ordinary success costs nothing more.
pub(crate) async fn after_endpoint_attempt(
    conn: &mut PgConnection,
    rec: &AttemptRecord,
    a: &Attempt,
    attempts: Option<u32>,
) -> StoreResult<()> {
    if !decide::may_report(rec, a.outcome, attempts) {
        return Ok(());
    }
    let row = sqlx::query(
        r#"SELECT ap.uid, m.event_id, d.attempts, e.uid
        FROM deliveries d
        JOIN apps ap ON ap.id = d.app_id
        LEFT JOIN messages m ON m.id = d.msg_id
        LEFT JOIN endpoints e ON e.id = d.endpoint_id
        WHERE d.id = $1"#,
    )
    .bind(a.delivery_id.as_str())
    .fetch_optional(&mut *conn)
    .await
    .map_err(db_err)?;
    let Some(r) = row else { return Ok(()) };
    let facts = DeliveryFacts {
        app_uid: r.try_get(0).map_err(db_err)?,
        msg_event_id: r.try_get(1).map_err(db_err)?,
        attempts: r.try_get::<i64, _>(2).map_err(db_err)? as u32,
        endpoint_uid: r.try_get(3).map_err(db_err)?,
    };
    insert(conn, &decide::attempt_events(rec, a, facts)).await
}

/// Writes a batch's `failing_since` changes: at most three statements, whatever its size.
pub(crate) async fn apply_failing(
    conn: &mut PgConnection,
    changes: FailingChanges,
) -> StoreResult<()> {
    let (mut clear, mut set_if_unset, mut set) = (Vec::new(), Vec::new(), Vec::new());
    for (endpoint, write) in changes.by_endpoint {
        match write {
            FailingWrite::Clear => clear.push(endpoint),
            FailingWrite::SetIfUnset(at) => set_if_unset.push((endpoint, at)),
            FailingWrite::Set(at) => set.push((endpoint, at)),
        }
    }
    if !clear.is_empty() {
        sqlx::query(
            r#"UPDATE endpoints
            SET failing_since = NULL
            WHERE id = ANY ($1) AND failing_since IS NOT NULL"#,
        )
        .bind(&clear)
        .execute(&mut *conn)
        .await
        .map_err(db_err)?;
    }
    for (writes, only_unset) in [(set_if_unset, true), (set, false)] {
        if writes.is_empty() {
            continue;
        }
        let (ids, ats): (Vec<String>, Vec<Millis>) = writes.into_iter().unzip();
        sqlx::query(
            r#"UPDATE endpoints e
            SET failing_since = w.at
            FROM UNNEST($1::TEXT[], $2::BIGINT[]) AS w (id, at)
            WHERE e.id = w.id AND (NOT $3 OR e.failing_since IS NULL)"#,
        )
        .bind(&ids)
        .bind(&ats)
        .bind(only_unset)
        .execute(&mut *conn)
        .await
        .map_err(db_err)?;
    }
    Ok(())
}

/// Queues what a handler run's record makes.
pub(crate) async fn after_run_attempt(
    conn: &mut PgConnection,
    rec: &AttemptRecord,
    a: &RunAttempt,
) -> StoreResult<()> {
    insert(conn, &decide::run_events(rec, a)).await
}

/// Disables every enabled endpoint failing since before `failing_before`, queuing one
/// `endpoint.disabled` for each (none for the operational app's own), in one transaction.
/// The conditional update locks each row it changes, so of several nodes doing this at once,
/// one disables (and reports) a given endpoint. Returns what this call disabled.
pub(crate) async fn disable_failing(
    pool: &PgPool,
    failing_before: Millis,
    now: Millis,
) -> StoreResult<Vec<EndpointRef>> {
    let mut tx = pool.begin().await.map_err(db_err)?;
    let rows = sqlx::query(
        r#"UPDATE endpoints e
        SET disabled = TRUE, updated_at = $1
        FROM apps a
        WHERE a.id = e.app_id
          AND NOT e.disabled
          AND e.failing_since IS NOT NULL
          AND e.failing_since < $2
        RETURNING e.app_id, e.id, e.uid, e.failing_since, a.uid"#,
    )
    .bind(now)
    .bind(failing_before)
    .fetch_all(&mut *tx)
    .await
    .map_err(db_err)?;
    let disabled = rows
        .iter()
        .map(|r| {
            Ok(EndpointRef {
                app_id: r.try_get(0)?,
                endpoint_id: r.try_get(1)?,
                endpoint_uid: r.try_get(2)?,
                failing_since: r.try_get(3)?,
                app_uid: r.try_get(4)?,
            })
        })
        .collect::<Result<Vec<_>, sqlx::Error>>()
        .map_err(db_err)?;
    let events: Vec<_> = disabled
        .iter()
        .filter(|e| decide::reported(e.app_uid.as_deref()))
        .map(|e| OperationalEvent::endpoint(OperationalKind::EndpointDisabled, e, now))
        .collect();
    insert(&mut tx, &events).await?;
    tx.commit().await.map_err(db_err)?;
    Ok(disabled)
}
