//! `/api/v1/stats/...`: stats over time, shaped for a chart to plot directly.
//!
//! A series is one point per bucket (minute or hour) of a window, empty buckets included as
//! zeros, each with attempts by outcome, the success rate, p50/p95/p99 latency read from the
//! merged histogram, deliveries created, dead letters, broker messages taken, and the sampled
//! queue depth and oldest pending age; `total` merges the whole window. The summary is the
//! server's total over a window with the queue as it is now, and the busiest apps. An app token reads its own app's
//! and endpoints' series only (see [`crate::http::access`]).

use axum::extract::{Path, State};
use axum::routing::get;
use axum::{Json, Router};
use rustyhook_core::stats::{self, Bucket, Counts, Scope, Width};
use rustyhook_core::time::{Millis, now_millis, to_rfc3339};
use serde::{Deserialize, Serialize};

use super::common::{load_app, load_endpoint, time_param};
use crate::http::error::{ApiError, ApiResult};
use crate::http::extract::QueryParams;
use crate::state::ApiState;

/// The most points one series answers: a day of minutes.
pub const MAX_POINTS: i64 = 1440;

/// The routes.
pub fn router() -> Router<ApiState> {
    Router::new()
        .route("/api/v1/stats/summary", get(summary))
        .route("/api/v1/stats/server", get(server))
        .route("/api/v1/stats/app/{app_id}", get(app))
        .route(
            "/api/v1/stats/app/{app_id}/endpoint/{endpoint_id}",
            get(endpoint),
        )
        .route("/api/v1/stats/handler/{handler_id}", get(handler))
        .route("/api/v1/stats/source/{source_name}", get(source))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct WindowParams {
    since: Option<String>,
    until: Option<String>,
    bucket: Option<String>,
}

/// A checked window: whole buckets of one width.
#[derive(Debug, Clone, Copy)]
struct Window {
    width: Width,
    since: Millis,
    until: Millis,
}

impl WindowParams {
    /// The window asked for. Without `until`, it ends now; without `since`, it starts
    /// `default_span` before `until`; without `bucket`, `default_width` answers (given the
    /// span). At most `max_points` buckets.
    fn window(
        &self,
        default_span: impl Fn(Width) -> Millis,
        default_width: impl Fn(Millis) -> Width,
        max_points: Option<i64>,
    ) -> ApiResult<Window> {
        let bucket = self.bucket.as_deref().filter(|b| !b.is_empty());
        let width = bucket
            .map(|b| {
                Width::parse(b).ok_or_else(|| {
                    ApiError::invalid(
                        &["query", "bucket"],
                        format!("{b:?} is not a bucket size: minute or hour"),
                    )
                })
            })
            .transpose()?;
        let until = time_param("until", self.until.as_deref())?.unwrap_or_else(now_millis);
        let since = time_param("since", self.since.as_deref())?;
        let since = since.unwrap_or_else(|| until - default_span(width.unwrap_or(Width::Minute)));
        if since >= until {
            return Err(ApiError::invalid(
                &["query", "since"],
                format!(
                    "since ({}) must be before until ({})",
                    to_rfc3339(since),
                    to_rfc3339(until)
                ),
            ));
        }
        let width = width.unwrap_or_else(|| default_width(until - since));
        let points = stats::bucket_count(width, since, until);
        if let Some(max) = max_points
            && points > max
        {
            return Err(ApiError::invalid(
                &["query", "since"],
                format!(
                    "the window spans {points} {} buckets; at most {max} are answered: \
                     shorten it or use a wider bucket",
                    width.as_str()
                ),
            ));
        }
        let (since, until) = stats::align(width, since, until);
        Ok(Window {
            width,
            since,
            until,
        })
    }

    /// A series window: 60 minutes or 24 hours by default, minute buckets unless asked.
    fn series(&self) -> ApiResult<Window> {
        self.window(
            |w| match w {
                Width::Minute => 60 * w.millis(),
                Width::Hour => 24 * w.millis(),
            },
            |_| Width::Minute,
            Some(MAX_POINTS),
        )
    }
}

/// One bucket (or a whole window) as a chart reads it.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct StatsPointOut {
    /// When the bucket (or the window) starts, RFC 3339.
    start: String,
    /// Attempts that succeeded (2xx, exit code 0).
    succeeded: i64,
    /// Attempts answered with a failure (non-2xx status, non-zero exit code).
    failed_status: i64,
    /// Attempts that timed out.
    timed_out: i64,
    /// Attempts that failed otherwise (connection, DNS, TLS, a command that did not start).
    failed_other: i64,
    /// Every attempt.
    attempts: i64,
    /// `succeeded / attempts`; `null` without attempts.
    success_rate: Option<f64>,
    /// Latency percentiles in ms, from the merged histogram; `null` without attempts.
    p50_ms: Option<f64>,
    p95_ms: Option<f64>,
    p99_ms: Option<f64>,
    /// Deliveries (or runs) created.
    created: i64,
    /// Deliveries (or runs) that exhausted their attempts.
    dead: i64,
    /// Broker messages stored, rejected, and delivered again (source stats).
    messages_stored: i64,
    messages_rejected: i64,
    messages_duplicate: i64,
    /// The highest queue depth sampled (server-wide only); `null` when none was.
    queue_depth: Option<i64>,
    /// The oldest pending age sampled, in ms (server-wide only); `null` when none was.
    oldest_pending_ms: Option<i64>,
}

impl StatsPointOut {
    fn of(start: Millis, c: &Counts) -> Self {
        Self {
            start: to_rfc3339(start),
            succeeded: c.ok,
            failed_status: c.rejected,
            timed_out: c.timeout,
            failed_other: c.other,
            attempts: c.attempts(),
            success_rate: c.success_rate(),
            p50_ms: c.percentile(0.50),
            p95_ms: c.percentile(0.95),
            p99_ms: c.percentile(0.99),
            created: c.created,
            dead: c.dead,
            messages_stored: c.stored,
            messages_rejected: c.source_rejected,
            messages_duplicate: c.duplicate,
            queue_depth: c.depth,
            oldest_pending_ms: c.oldest_pending_ms,
        }
    }
}

/// A scope's series over a window.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct StatsSeriesOut {
    /// `server`, `app`, `endpoint`, `handler` or `source`.
    scope: &'static str,
    /// The app's, endpoint's or handler's id, or the source's name; `null` for the server.
    id: Option<String>,
    /// `minute` or `hour`.
    bucket: &'static str,
    /// The window, widened to whole buckets.
    since: String,
    until: String,
    /// One point per bucket, oldest first, empty buckets as zeros.
    data: Vec<StatsPointOut>,
    /// The whole window merged (gauges: their highest sample).
    total: StatsPointOut,
}

async fn series(state: &ApiState, scope: Scope, w: Window) -> ApiResult<Json<StatsSeriesOut>> {
    let stored = state
        .store
        .stats_series(&scope, w.width, w.since, w.until)
        .await?;
    let total = merged(&stored);
    let data = stats::fill(w.width, w.since, w.until, stored)
        .iter()
        .map(|b| StatsPointOut::of(b.start, &b.counts))
        .collect();
    Ok(Json(StatsSeriesOut {
        scope: scope.kind(),
        id: Some(scope.id().to_owned()).filter(|id| !id.is_empty()),
        bucket: w.width.as_str(),
        since: to_rfc3339(w.since),
        until: to_rfc3339(w.until),
        data,
        total: StatsPointOut::of(w.since, &total),
    }))
}

fn merged(buckets: &[Bucket]) -> Counts {
    buckets.iter().fold(Counts::default(), |mut all, b| {
        all.merge(&b.counts);
        all
    })
}

async fn server(
    State(state): State<ApiState>,
    QueryParams(p): QueryParams<WindowParams>,
) -> ApiResult<Json<StatsSeriesOut>> {
    series(&state, Scope::Server, p.series()?).await
}

async fn app(
    State(state): State<ApiState>,
    Path(app_id): Path<String>,
    QueryParams(p): QueryParams<WindowParams>,
) -> ApiResult<Json<StatsSeriesOut>> {
    let w = p.series()?;
    let app = load_app(&state, &app_id).await?;
    series(&state, Scope::App(app.id.to_string()), w).await
}

async fn endpoint(
    State(state): State<ApiState>,
    Path((app_id, endpoint_id)): Path<(String, String)>,
    QueryParams(p): QueryParams<WindowParams>,
) -> ApiResult<Json<StatsSeriesOut>> {
    let w = p.series()?;
    let app = load_app(&state, &app_id).await?;
    let e = load_endpoint(&state, &app, &endpoint_id).await?;
    series(&state, Scope::Endpoint(e.id.to_string()), w).await
}

async fn handler(
    State(state): State<ApiState>,
    Path(handler_id): Path<String>,
    QueryParams(p): QueryParams<WindowParams>,
) -> ApiResult<Json<StatsSeriesOut>> {
    let w = p.series()?;
    if state.automation.handlers().get(&handler_id).is_none() {
        return Err(ApiError::not_found("handler"));
    }
    series(&state, Scope::Handler(handler_id), w).await
}

async fn source(
    State(state): State<ApiState>,
    Path(name): Path<String>,
    QueryParams(p): QueryParams<WindowParams>,
) -> ApiResult<Json<StatsSeriesOut>> {
    let w = p.series()?;
    if !state.sources.iter().any(|s| s.name() == name) {
        return Err(ApiError::not_found("source"));
    }
    series(&state, Scope::Source(name), w).await
}

/// The server over a window, with the queue as it is now.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct StatsSummaryOut {
    /// The window, widened to whole buckets.
    since: String,
    until: String,
    /// The bucket size the totals were read from.
    bucket: &'static str,
    /// The window's totals (`start` is the window's).
    total: StatsPointOut,
    /// Work waiting to be attempted now.
    queue_depth: i64,
    /// How long the oldest waiting work has waited now, in ms; `null` when none waits.
    oldest_pending_ms: Option<i64>,
    /// The apps with the most attempts in the window, most first (at most [`TOP_APPS`]).
    top_apps: Vec<StatsTopOut>,
}

/// How many apps the summary lists.
pub const TOP_APPS: usize = 10;

/// One scope's totals over the window, in a top list.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct StatsTopOut {
    /// The app's id.
    id: String,
    /// Its totals (`start` is the window's).
    #[serde(flatten)]
    total: StatsPointOut,
}

async fn summary(
    State(state): State<ApiState>,
    QueryParams(p): QueryParams<WindowParams>,
) -> ApiResult<Json<StatsSummaryOut>> {
    // The past day by default; minute buckets while they cover the window, else hours.
    let w = p.window(
        |_| 24 * Width::Hour.millis(),
        |span| {
            if span <= MAX_POINTS * Width::Minute.millis() {
                Width::Minute
            } else {
                Width::Hour
            }
        },
        None,
    )?;
    let stored = state
        .store
        .stats_series(&Scope::Server, w.width, w.since, w.until)
        .await?;
    let queue = state.store.queue_now().await?;
    let top = state
        .store
        .stats_top("app", w.width, w.since, w.until, TOP_APPS)
        .await?;
    Ok(Json(StatsSummaryOut {
        since: to_rfc3339(w.since),
        until: to_rfc3339(w.until),
        bucket: w.width.as_str(),
        total: StatsPointOut::of(w.since, &merged(&stored)),
        queue_depth: queue.depth,
        oldest_pending_ms: queue.oldest_age(now_millis()),
        top_apps: top
            .into_iter()
            .map(|(id, counts)| StatsTopOut {
                id,
                total: StatsPointOut::of(w.since, &counts),
            })
            .collect(),
    }))
}
