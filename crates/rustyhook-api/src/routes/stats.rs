//! `/api/v1/stats/...`: stats over time, shaped for a chart to plot directly.
//!
//! A series is one point per bucket (minute or hour) of a window, empty buckets included as
//! zeros, each with attempts by outcome, the success rate, p50/p95/p99 latency read from the
//! merged histogram, deliveries created, dead letters, broker messages taken, and the sampled
//! queue depth and oldest pending age; `total` merges the whole window. The summary is the
//! server's total over a window with the queue as it is now, and the busiest apps. An app token reads its own app's
//! and endpoints' series only (see [`crate::http::access`]).

use axum::Json;
use axum::extract::{Path, State};
use rustyhook_core::stats::{self, Bucket, Counts, Scope, Width};
use rustyhook_core::time::{Millis, now_millis, to_rfc3339};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::common::{load_app, load_endpoint, time_param};
use crate::http::error::{ApiError, ApiResult};
use crate::http::extract::QueryParams;
use crate::state::ApiState;

/// The most points one series answers: a day of minutes.
pub const MAX_POINTS: i64 = 1440;

/// The routes.
pub fn router() -> OpenApiRouter<ApiState> {
    OpenApiRouter::new()
        .routes(routes!(summary))
        .routes(routes!(server))
        .routes(routes!(app))
        .routes(routes!(endpoint))
        .routes(routes!(handler))
        .routes(routes!(source))
}

const TAG: &str = "Stats";

/// The window every stats route reads.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
struct WindowParams {
    /// The window's start, RFC 3339. Defaults to `until` less 60 minutes (minute buckets) or
    /// 24 hours (hour buckets) for a series, and less a day for the summary.
    since: Option<String>,
    /// The window's end, RFC 3339; defaults to now.
    until: Option<String>,
    /// The bucket size, `minute` or `hour`. A series defaults to `minute`; the summary reads
    /// minutes for windows up to a day and hours beyond. At most 1,440 buckets per series.
    #[param(value_type = Option<Width>)]
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
#[derive(Debug, Serialize, ToSchema)]
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
    /// The median latency in ms, from the merged histogram; `null` without attempts.
    p50_ms: Option<f64>,
    /// The 95th percentile latency in ms, from the merged histogram; `null` without attempts.
    p95_ms: Option<f64>,
    /// The 99th percentile latency in ms, from the merged histogram; `null` without attempts.
    p99_ms: Option<f64>,
    /// Deliveries (or runs) created.
    created: i64,
    /// Deliveries (or runs) that exhausted their attempts.
    dead: i64,
    /// Broker messages stored (source stats).
    messages_stored: i64,
    /// Broker messages rejected: not parsed or not stored (source stats).
    messages_rejected: i64,
    /// Broker messages delivered again, already stored (source stats).
    messages_duplicate: i64,
    /// The highest queue depth sampled (the server's), or for a source its broker lag (the
    /// highest sample of any node); `null` when none was.
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
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct StatsSeriesOut {
    /// `server`, `app`, `endpoint`, `handler` or `source`.
    scope: &'static str,
    /// The app's, endpoint's or handler's id, or the source's name; `null` for the server.
    id: Option<String>,
    /// `minute` or `hour`.
    #[schema(value_type = Width)]
    bucket: &'static str,
    /// The window's start, widened to a whole bucket, RFC 3339.
    since: String,
    /// The window's end, widened to a whole bucket, RFC 3339.
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

/// Server Stats Series
///
/// Everything the server did (endpoints' deliveries and handlers' runs), one point per bucket,
/// with the sampled queue depth and oldest pending age.
#[utoipa::path(get, path = "/api/v1/stats/server", tag = TAG, operation_id = "v1.stats.server",
    params(WindowParams), responses((status = 200, body = StatsSeriesOut)))]
async fn server(
    State(state): State<ApiState>,
    QueryParams(p): QueryParams<WindowParams>,
) -> ApiResult<Json<StatsSeriesOut>> {
    series(&state, Scope::Server, p.series()?).await
}

/// Application Stats Series
///
/// The deliveries of an app's endpoints, one point per bucket. An `app` token may read its own
/// app's.
#[utoipa::path(get, path = "/api/v1/stats/app/{app_id}", tag = TAG, operation_id = "v1.stats.app",
    params(WindowParams), responses((status = 200, body = StatsSeriesOut)))]
async fn app(
    State(state): State<ApiState>,
    Path(app_id): Path<String>,
    QueryParams(p): QueryParams<WindowParams>,
) -> ApiResult<Json<StatsSeriesOut>> {
    let w = p.series()?;
    let app = load_app(&state, &app_id).await?;
    series(&state, Scope::App(app.id.to_string()), w).await
}

/// Endpoint Stats Series
///
/// One endpoint's deliveries, one point per bucket. An `app` token may read its own app's
/// endpoints'.
#[utoipa::path(get, path = "/api/v1/stats/app/{app_id}/endpoint/{endpoint_id}", tag = TAG,
    operation_id = "v1.stats.endpoint", params(WindowParams),
    responses((status = 200, body = StatsSeriesOut)))]
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

/// Handler Stats Series
///
/// One handler's runs and the attempts (requests or commands) they made, one point per bucket.
#[utoipa::path(get, path = "/api/v1/stats/handler/{handler_id}", tag = TAG,
    operation_id = "v1.stats.handler", params(WindowParams),
    responses((status = 200, body = StatsSeriesOut)))]
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

/// Source Stats Series
///
/// The messages one broker source stored, rejected and saw again, one point per bucket.
#[utoipa::path(get, path = "/api/v1/stats/source/{source_name}", tag = TAG,
    operation_id = "v1.stats.source", params(WindowParams),
    responses((status = 200, body = StatsSeriesOut)))]
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
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct StatsSummaryOut {
    /// The window's start, widened to a whole bucket, RFC 3339.
    since: String,
    /// The window's end, widened to a whole bucket, RFC 3339.
    until: String,
    /// The bucket size the totals were read from.
    #[schema(value_type = Width)]
    bucket: &'static str,
    /// The window's totals (`start` is the window's).
    total: StatsPointOut,
    /// Work waiting to be attempted now.
    queue_depth: i64,
    /// How long the oldest waiting work has waited now, in ms; `null` when none waits.
    oldest_pending_ms: Option<i64>,
    /// The apps with the most attempts in the window, most first (at most 10).
    top_apps: Vec<StatsTopOut>,
}

/// How many apps the summary lists.
pub const TOP_APPS: usize = 10;

/// One scope's totals over the window, in a top list.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct StatsTopOut {
    /// The app's id.
    id: String,
    /// Its totals (`start` is the window's).
    #[serde(flatten)]
    total: StatsPointOut,
}

/// Server Stats Summary
///
/// The server's totals over a window (the past day by default), the queue as it is now, and
/// the apps with the most attempts in the window.
#[utoipa::path(get, path = "/api/v1/stats/summary", tag = TAG, operation_id = "v1.stats.summary",
    params(WindowParams), responses((status = 200, body = StatsSummaryOut)))]
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

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    #[test]
    fn every_stats_route_is_in_the_openapi_document_with_its_window_and_answer() {
        let doc = crate::openapi::document();
        let series = "#/components/schemas/StatsSeriesOut";
        for (path, id, path_params, out) in [
            (
                "/api/v1/stats/summary",
                "v1.stats.summary",
                &[][..],
                "#/components/schemas/StatsSummaryOut",
            ),
            ("/api/v1/stats/server", "v1.stats.server", &[][..], series),
            (
                "/api/v1/stats/app/{app_id}",
                "v1.stats.app",
                &["app_id"][..],
                series,
            ),
            (
                "/api/v1/stats/app/{app_id}/endpoint/{endpoint_id}",
                "v1.stats.endpoint",
                &["app_id", "endpoint_id"][..],
                series,
            ),
            (
                "/api/v1/stats/handler/{handler_id}",
                "v1.stats.handler",
                &["handler_id"][..],
                series,
            ),
            (
                "/api/v1/stats/source/{source_name}",
                "v1.stats.source",
                &["source_name"][..],
                series,
            ),
        ] {
            let op = &doc["paths"][path]["get"];
            assert_eq!(op["operationId"], id, "{path}");
            assert_eq!(op["tags"], json!(["Stats"]), "{path}");
            let params: Vec<(&str, &str)> = op["parameters"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|p| {
                    (
                        p["in"].as_str().expect("in"),
                        p["name"].as_str().expect("a name"),
                    )
                })
                .collect();
            for name in path_params {
                assert!(params.contains(&("path", name)), "{path}: {params:?}");
            }
            for name in ["since", "until", "bucket"] {
                assert!(params.contains(&("query", name)), "{path}: {params:?}");
            }
            assert_eq!(params.len(), path_params.len() + 3, "{path}: {params:?}");
            let answer = &op["responses"]["200"]["content"]["application/json"]["schema"];
            assert_eq!(answer["$ref"], out, "{path}");
        }
        let schemas = &doc["components"]["schemas"];
        let point = &schemas["StatsPointOut"]["properties"];
        for field in [
            "start",
            "succeeded",
            "failedStatus",
            "timedOut",
            "failedOther",
            "attempts",
            "successRate",
            "p50Ms",
            "p95Ms",
            "p99Ms",
            "created",
            "dead",
            "messagesStored",
            "messagesRejected",
            "messagesDuplicate",
            "queueDepth",
            "oldestPendingMs",
        ] {
            assert!(point[field].is_object(), "StatsPointOut lacks {field}");
            assert!(
                point[field]["description"].is_string(),
                "StatsPointOut.{field} is not described"
            );
        }
        let refers_to_point =
            |v: &Value| v.to_string().contains("#/components/schemas/StatsPointOut");
        assert!(refers_to_point(
            &schemas["StatsSeriesOut"]["properties"]["data"]
        ));
        assert!(refers_to_point(
            &schemas["StatsSeriesOut"]["properties"]["total"]
        ));
        assert!(refers_to_point(
            &schemas["StatsSummaryOut"]["properties"]["total"]
        ));
        // A top entry is a point plus the app's id, flattened as the server sends it.
        let top = &schemas["StatsTopOut"];
        assert!(refers_to_point(top), "{top}");
        assert!(top.to_string().contains("\"id\""), "{top}");
        // The bucket size is one of two words, asked and answered.
        assert_eq!(
            schemas["StatsBucket"]["enum"],
            json!(["minute", "hour"]),
            "{}",
            schemas["StatsBucket"]
        );
        let bucket = &doc["paths"]["/api/v1/stats/server"]["get"]["parameters"]
            .as_array()
            .expect("parameters")
            .iter()
            .find(|p| p["name"] == "bucket")
            .expect("a bucket parameter")["schema"];
        assert!(bucket.to_string().contains("StatsBucket"), "{bucket}");
        for out in ["StatsSeriesOut", "StatsSummaryOut"] {
            let answered = &schemas[out]["properties"]["bucket"];
            assert!(
                answered.to_string().contains("StatsBucket"),
                "{out}: {answered}"
            );
        }
    }
}
