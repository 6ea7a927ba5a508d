//! Lookups and field helpers shared by the resource modules.

use rustyhook_core::model::{App, Endpoint, Message};
use rustyhook_core::operational::OPERATIONAL_APP_UID;
use rustyhook_core::time::{Millis, parse_rfc3339};
use serde::{Deserialize, Deserializer};

use crate::http::error::{ApiError, ApiResult};
use crate::state::ApiState;

/// For PATCH fields where `null` (clear) differs from absent (leave alone): absent is `None`,
/// `null` is `Some(None)`. Use with `#[serde(default, deserialize_with = "nullable")]`.
pub fn nullable<'de, T: Deserialize<'de>, D: Deserializer<'de>>(
    d: D,
) -> Result<Option<Option<T>>, D::Error> {
    Option::<T>::deserialize(d).map(Some)
}

/// Finds an app by id or uid, or 404.
pub async fn load_app(state: &ApiState, app_id: &str) -> ApiResult<App> {
    state
        .store
        .get_app(app_id)
        .await?
        .ok_or_else(|| ApiError::not_found("application"))
}

/// Refuses changing the operational app (rustyhook's own) through the app and message routes:
/// its endpoints are managed under `/api/v1/operational-webhook`, its messages are rustyhook's.
pub fn refuse_operational(app: &App, what: &str) -> ApiResult<()> {
    if app.uid.as_ref().map(|u| u.as_str()) != Some(OPERATIONAL_APP_UID) {
        return Ok(());
    }
    Err(ApiError::Http {
        status: axum::http::StatusCode::FORBIDDEN,
        code: "reserved_app",
        detail: format!(
            "the app {OPERATIONAL_APP_UID:?} is rustyhook's own, for operational webhooks: it \
             cannot be {what}; manage its endpoints under /api/v1/operational-webhook/endpoint"
        ),
    })
}

/// Finds an endpoint of an app by id or uid, or 404.
pub async fn load_endpoint(state: &ApiState, app: &App, endpoint_id: &str) -> ApiResult<Endpoint> {
    state
        .store
        .get_endpoint(&app.id, endpoint_id)
        .await?
        .ok_or_else(|| ApiError::not_found("endpoint"))
}

/// Finds a message of an app by id or event id, or 404.
pub async fn load_message(state: &ApiState, app: &App, msg_id: &str) -> ApiResult<Message> {
    state
        .store
        .get_message(&app.id, msg_id)
        .await?
        .ok_or_else(|| ApiError::not_found("message"))
}

/// Reads an optional RFC 3339 query value, naming the parameter when it is malformed.
pub fn time_param(name: &str, value: Option<&str>) -> ApiResult<Option<Millis>> {
    value
        .filter(|v| !v.is_empty())
        .map(|v| {
            parse_rfc3339(v).ok_or_else(|| {
                ApiError::invalid(
                    &["query", name],
                    format!("{v:?} is not an RFC 3339 date-time"),
                )
            })
        })
        .transpose()
}

/// Checks a rate limit: Svix allows 1..=65535 requests per second.
pub fn check_rate_limit(value: Option<u32>, errors: &mut Vec<crate::http::error::ValidationItem>) {
    if let Some(r) = value
        && !(1..=u16::MAX as u32).contains(&r)
    {
        errors.push(crate::http::error::ValidationItem::new(
            &["body", "rateLimit"],
            "rateLimit must be between 1 and 65535",
        ));
    }
}

/// `rateLimit` and `throttleRate` name one setting (Svix's server schema and its newer SDKs).
/// Both may be sent when they agree; when they differ the request is refused naming both,
/// rather than one silently winning. Returns the value to use.
pub fn one_rate<T: PartialEq + Copy + std::fmt::Debug>(
    rate_limit: Option<T>,
    throttle_rate: Option<T>,
    errors: &mut Vec<crate::http::error::ValidationItem>,
) -> Option<T> {
    if let (Some(a), Some(b)) = (rate_limit, throttle_rate)
        && a != b
    {
        errors.push(crate::http::error::ValidationItem::new(
            &["body", "throttleRate"],
            format!(
                "rateLimit ({a:?}) and throttleRate ({b:?}) are two names for one setting and \
                 differ: send one of them, or the same value in both"
            ),
        ));
    }
    rate_limit.or(throttle_rate)
}

/// Ends validation: `Ok` if nothing was found wrong, else 422 with every problem.
pub fn finish(errors: Vec<crate::http::error::ValidationItem>) -> ApiResult<()> {
    if errors.is_empty() {
        Ok(())
    } else {
        Err(ApiError::Validation(errors))
    }
}
