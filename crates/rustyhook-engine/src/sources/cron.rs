//! A cron handler's ticks. Each tick is one run whose event id names the tick, so the run
//! history shows which tick it was. With `misfire: run_once`, a tick missed while the server
//! was down runs once at start-up.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use rustyhook_core::handlers::{Handler, Misfire, Trigger};
use rustyhook_core::run::Event;
use tokio_util::sync::CancellationToken;

use crate::automation::Automation;

/// Fires `handler` on its schedule until `token` is cancelled.
pub async fn run(automation: Automation, handler: Arc<Handler>, token: CancellationToken) {
    let Trigger::Cron(opts) = &handler.trigger else {
        return;
    };
    let tz = opts.timezone.map_or(Tz::UTC, |t| t.0);
    let key = format!("cron.last_tick.{}", handler.id);
    let store = automation.store();
    if opts.misfire == Misfire::RunOnce
        && let Ok(Some(last)) = store.get_meta(&key).await
        && let Ok(last) = DateTime::parse_from_rfc3339(&last)
        && let Some(missed) = opts
            .cron_expression
            .next_after(last.with_timezone(&Utc), tz)
        && missed < Utc::now()
    {
        tracing::info!(handler = %handler.id, missed = %missed, "a cron tick was missed while stopped; running once");
        fire(&automation, &handler, missed, "misfire").await;
    }
    loop {
        let now = Utc::now();
        let Some(next) = opts.cron_expression.next_after(now, tz) else {
            tracing::info!(handler = %handler.id, "the cron schedule fires no more");
            return;
        };
        let wait = (next - now).to_std().unwrap_or_default();
        tokio::select! {
            () = token.cancelled() => return,
            () = tokio::time::sleep(wait) => {}
        }
        fire(&automation, &handler, next, "cron").await;
        if let Err(e) = store.set_meta(&key, &next.to_rfc3339()).await {
            tracing::warn!(handler = %handler.id, error = %e, "could not save the last cron tick");
        }
    }
}

async fn fire(automation: &Automation, handler: &Handler, tick: DateTime<Utc>, why: &str) {
    let stamp = tick.to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let mut event = Event {
        id: format!("cron:{}:{stamp}", handler.id),
        event_type: "cron".into(),
        payload: String::new(),
        ..Event::default()
    };
    event.vars.insert("RUSTYHOOK_CRON_TIME".into(), stamp);
    if let Err(e) = automation.trigger(&handler.id, event, why).await {
        tracing::error!(handler = %handler.id, error = %e, "could not queue a cron run");
    }
}
