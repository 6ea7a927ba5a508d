//! A cron handler's ticks. Each tick is one run whose event id names the tick, so the run
//! history shows which tick it was. Only the node leading the schedules fires, and a tick is
//! stored at most once even if two nodes fire it. With `misfire: run_once`, a tick missed while
//! no node was running runs once when a node takes the lead.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use rustyhook_core::handlers::options::CronOptions;
use rustyhook_core::handlers::{Handler, Misfire, Trigger};
use rustyhook_core::run::Event;
use tokio_util::sync::CancellationToken;

use crate::automation::Automation;
use crate::cluster::Leader;

/// Fires `handler` on its schedule until `token` is cancelled, on the node that leads the
/// schedules. Each tick is stored once across the cluster ([`Automation::trigger_tick`]).
pub async fn run(
    automation: Automation,
    handler: Arc<Handler>,
    leader: Leader,
    token: CancellationToken,
) {
    let Trigger::Cron(opts) = &handler.trigger else {
        return;
    };
    let tz = opts.timezone.map_or(Tz::UTC, |t| t.0);
    let key = format!("cron.last_tick.{}", handler.id);
    // With `misfire: run_once`, the first time this node leads it runs a tick missed since the
    // last one stored (downtime, or a leader that died).
    let mut caught_up = opts.misfire != Misfire::RunOnce;
    // The last tick this loop reached: the next is computed from it, so a tick that fired late
    // (a busy machine) does not make the loop skip the one after.
    let mut last: Option<DateTime<Utc>> = None;
    loop {
        if !caught_up && leader.is_leader() {
            caught_up = true;
            if let Some(missed) = missed_tick(&automation, &key, opts, tz).await {
                tracing::info!(handler = %handler.id, missed = %missed, "a cron tick was missed; running it once");
                fire(&automation, &handler, &key, missed, "misfire").await;
            }
        }
        let now = Utc::now();
        let from = last.filter(|l| now - *l < CATCH_UP).unwrap_or(now);
        let Some(next) = opts.cron_expression.next_after(from, tz) else {
            tracing::info!(handler = %handler.id, "the cron schedule fires no more");
            return;
        };
        let wait = (next - now).to_std().unwrap_or_default();
        tokio::select! {
            () = token.cancelled() => return,
            () = tokio::time::sleep(wait) => {}
        }
        last = Some(next);
        if leader.is_leader() {
            fire(&automation, &handler, &key, next, "cron").await;
        }
    }
}

/// How far behind the clock the loop may fall and still fire every tick it passed; beyond
/// this (a suspended machine), it goes on from now and `misfire` decides.
const CATCH_UP: chrono::Duration = chrono::Duration::seconds(30);

/// The first tick after the last one stored, if it is already past.
async fn missed_tick(
    automation: &Automation,
    key: &str,
    opts: &CronOptions,
    tz: Tz,
) -> Option<DateTime<Utc>> {
    let last = automation.store().get_meta(key).await.ok()??;
    // Stored as milliseconds; earlier versions stored RFC 3339.
    let last = match last.parse::<i64>() {
        Ok(ms) => DateTime::from_timestamp_millis(ms)?,
        Err(_) => DateTime::parse_from_rfc3339(&last)
            .ok()?
            .with_timezone(&Utc),
    };
    opts.cron_expression
        .next_after(last, tz)
        .filter(|missed| *missed < Utc::now())
}

async fn fire(
    automation: &Automation,
    handler: &Handler,
    key: &str,
    tick: DateTime<Utc>,
    why: &str,
) {
    let stamp = tick.to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let mut event = Event {
        id: format!("cron:{}:{stamp}", handler.id),
        event_type: "cron".into(),
        payload: String::new(),
        ..Event::default()
    };
    event.vars.insert("RUSTYHOOK_CRON_TIME".into(), stamp);
    let tick = tick.timestamp_millis();
    match automation
        .trigger_tick(&handler.id, event, why, key, tick)
        .await
    {
        Ok(Some(_)) => {}
        Ok(None) => {
            tracing::debug!(handler = %handler.id, "the tick was already stored by another node")
        }
        Err(e) => tracing::error!(handler = %handler.id, error = %e, "could not queue a cron run"),
    }
}
