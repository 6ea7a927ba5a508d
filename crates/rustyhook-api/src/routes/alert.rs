//! Alert rules and alerts: `/api/v1/alert/rule` (the rules, made through the API or loaded from
//! the config file, whose rules are read-only here) and `/api/v1/alert` (the alerts they fired,
//! firing and resolved, newest first). Admins write; admins and read-only tokens read; app
//! tokens are refused (see `http::access`).

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use rustyhook_core::alert::{
    self, Alert, AlertRule, DEFAULT_MIN_ATTEMPTS, RuleKind, RuleOrigin, RuleSpec,
};
use rustyhook_core::id::{AlertId, AlertRuleId, EndpointId};
use rustyhook_core::time::{now_millis, to_rfc3339};
use rustyhook_store::{AlertFilter, Order, StoreError};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::http::error::{ApiError, ApiResult, ValidationItem};
use crate::http::extract::{JsonBody, QueryParams};
use crate::http::list::{ListParams, ListResponse};
use crate::state::ApiState;

/// The routes.
pub fn router() -> OpenApiRouter<ApiState> {
    OpenApiRouter::new()
        .routes(routes!(list_rules, create_rule))
        .routes(routes!(get_rule, update_rule, delete_rule))
        .routes(routes!(list_alerts))
}

const TAG: &str = "Alert";

/// What a rule watches (see the rule kinds in docs/operations.md).
#[derive(Debug, Clone, Copy, Deserialize, Serialize, ToSchema)]
#[schema(as = AlertRuleKind)]
#[serde(rename_all = "snake_case")]
pub enum KindIn {
    /// Dead letters in the window.
    DeadLetters,
    /// Percent of attempts failed in the window.
    FailureRate,
    /// Seconds the oldest waiting work has waited.
    OldestPending,
    /// Messages waiting in a source's broker.
    SourceLag,
    /// Messages a source rejected in the window.
    SourceRejected,
    /// Seconds since a node's last heartbeat.
    NodeGone,
}

impl From<KindIn> for RuleKind {
    fn from(k: KindIn) -> Self {
        match k {
            KindIn::DeadLetters => Self::DeadLetters,
            KindIn::FailureRate => Self::FailureRate,
            KindIn::OldestPending => Self::OldestPending,
            KindIn::SourceLag => Self::SourceLag,
            KindIn::SourceRejected => Self::SourceRejected,
            KindIn::NodeGone => Self::NodeGone,
        }
    }
}

/// `AlertRuleIn`: a rule to create, or to replace one with.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AlertRuleIn {
    /// Unique among rules, 1 to 100 characters.
    name: String,
    /// What the rule watches.
    kind: KindIn,
    /// Over this the rule fires: dead letters, percent failed (0–100), seconds, messages.
    threshold: f64,
    /// How far back `dead_letters`, `failure_rate` and `source_rejected` count: whole minutes
    /// like `5m` or `1h` (at most 24h); `5m` when absent.
    #[serde(default)]
    window: Option<String>,
    /// Only this app (id or uid): its endpoints' attempts and dead letters together.
    #[serde(default)]
    app: Option<String>,
    /// Only this endpoint (id, or uid with `app`).
    #[serde(default)]
    endpoint: Option<String>,
    /// Only this handler (id).
    #[serde(default)]
    handler: Option<String>,
    /// Only this source (name).
    #[serde(default)]
    source: Option<String>,
    /// `failure_rate` only: fewer attempts in the window never fire; 10 when absent.
    #[serde(default)]
    min_attempts: Option<u32>,
    /// A disabled rule is not measured.
    #[serde(default)]
    disabled: bool,
}

/// `AlertRuleOut`: a rule with its defaults filled.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AlertRuleOut {
    /// `alr_…`.
    id: String,
    name: String,
    kind: KindIn,
    threshold: f64,
    /// Like `5m`.
    window: String,
    app: Option<String>,
    endpoint: Option<String>,
    handler: Option<String>,
    source: Option<String>,
    min_attempts: u32,
    disabled: bool,
    /// `config` (read-only here) or `api`.
    origin: &'static str,
    /// Alerts of this rule firing now.
    firing: u64,
    created_at: String,
    updated_at: String,
}

fn kind_out(k: RuleKind) -> KindIn {
    match k {
        RuleKind::DeadLetters => KindIn::DeadLetters,
        RuleKind::FailureRate => KindIn::FailureRate,
        RuleKind::OldestPending => KindIn::OldestPending,
        RuleKind::SourceLag => KindIn::SourceLag,
        RuleKind::SourceRejected => KindIn::SourceRejected,
        RuleKind::NodeGone => KindIn::NodeGone,
    }
}

impl From<AlertRule> for AlertRuleOut {
    fn from(r: AlertRule) -> Self {
        let s = r.spec;
        Self {
            id: r.id,
            name: s.name,
            kind: kind_out(s.kind),
            threshold: s.threshold,
            window: alert::window_text(s.window),
            app: s.app,
            endpoint: s.endpoint,
            handler: s.handler,
            source: s.source,
            min_attempts: s.min_attempts,
            disabled: s.disabled,
            origin: r.origin.as_str(),
            firing: r.firing,
            created_at: to_rfc3339(r.created_at),
            updated_at: to_rfc3339(r.updated_at),
        }
    }
}

/// `AlertOut`: one alert. Also the `data` of the `alert.fired` and `alert.resolved`
/// operational events.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AlertOut {
    /// `alt_…`.
    id: String,
    rule_id: String,
    rule_name: String,
    kind: KindIn,
    /// `server`, an endpoint, app or handler id, a source name, or a node's name.
    subject: String,
    /// `firing` or `resolved`.
    status: &'static str,
    /// What was measured when it fired.
    value: f64,
    threshold: f64,
    /// One sentence for a person.
    summary: String,
    fired_at: String,
    /// `null` while firing.
    resolved_at: Option<String>,
}

impl From<Alert> for AlertOut {
    fn from(a: Alert) -> Self {
        Self {
            status: a.status(),
            id: a.id,
            rule_id: a.rule_id,
            rule_name: a.rule_name,
            kind: kind_out(a.kind),
            subject: a.subject,
            value: a.value,
            threshold: a.threshold,
            summary: a.summary,
            fired_at: to_rfc3339(a.fired_at),
            resolved_at: a.resolved_at.map(to_rfc3339),
        }
    }
}

/// A rule's problems as the API names its fields.
fn camel(field: &str) -> &str {
    match field {
        "min_attempts" => "minAttempts",
        other => other,
    }
}

impl AlertRuleIn {
    /// The rule this asks for, checked, with its app and endpoint resolved to ids (so an
    /// endpoint's uid needs its app) and its handler and source known to this server.
    async fn spec(self, state: &ApiState) -> ApiResult<RuleSpec> {
        let mut errors = Vec::new();
        let window = match self.window.as_deref() {
            None => alert::DEFAULT_WINDOW,
            Some(text) => alert::parse_window(text).unwrap_or_else(|e| {
                errors.push(ValidationItem::new(&["body", "window"], e));
                alert::DEFAULT_WINDOW
            }),
        };
        let mut spec = RuleSpec {
            name: self.name.trim().to_owned(),
            kind: self.kind.into(),
            threshold: self.threshold,
            window,
            app: self.app,
            endpoint: self.endpoint,
            handler: self.handler,
            source: self.source,
            min_attempts: self.min_attempts.unwrap_or(DEFAULT_MIN_ATTEMPTS),
            disabled: self.disabled,
        };
        for p in spec.check() {
            errors.push(ValidationItem::new(&["body", camel(p.field)], p.message));
        }
        if !errors.is_empty() {
            return Err(ApiError::Validation(errors));
        }
        resolve_subject(state, &mut spec, &mut errors).await?;
        crate::routes::common::finish(errors)?;
        Ok(spec)
    }
}

/// Resolves the app and endpoint of `spec` to ids, and checks its handler and source exist.
async fn resolve_subject(
    state: &ApiState,
    spec: &mut RuleSpec,
    errors: &mut Vec<ValidationItem>,
) -> ApiResult<()> {
    let mut app_id = None;
    if let Some(app) = &spec.app {
        match state.store.get_app(app).await? {
            Some(a) => app_id = Some(a.id),
            None => errors.push(ValidationItem::new(
                &["body", "app"],
                format!("there is no app {app:?}"),
            )),
        }
    }
    if let Some(endpoint) = &spec.endpoint {
        let found = match &app_id {
            Some(app) => state.store.get_endpoint(app, endpoint).await?,
            None => match EndpointId::parse(endpoint) {
                Some(id) => state.store.get_endpoint_by_id(&id).await?,
                None => None,
            },
        };
        match found {
            Some(e) => spec.endpoint = Some(e.id.into()),
            None if spec.app.is_none() && EndpointId::parse(endpoint).is_none() => {
                errors.push(ValidationItem::new(
                    &["body", "endpoint"],
                    "an endpoint's uid needs its app: give app too, or the endpoint's id",
                ))
            }
            None => errors.push(ValidationItem::new(
                &["body", "endpoint"],
                format!("there is no endpoint {endpoint:?}"),
            )),
        }
    }
    spec.app = app_id.map(String::from);
    if let Some(h) = &spec.handler
        && state.automation.handlers().get(h).is_none()
    {
        errors.push(ValidationItem::new(
            &["body", "handler"],
            format!("there is no handler {h:?} in the config"),
        ));
    }
    if let Some(s) = &spec.source
        && !state.sources.iter().any(|c| c.name() == *s)
    {
        errors.push(ValidationItem::new(
            &["body", "source"],
            format!("there is no source {s:?} in the config"),
        ));
    }
    Ok(())
}

/// A name taken, as the API says it.
fn name_taken(e: StoreError) -> ApiError {
    match e {
        StoreError::Conflict(_) => {
            ApiError::conflict("an alert rule with this name already exists")
        }
        other => other.into(),
    }
}

/// The rule `id`, or 404.
async fn load_rule(state: &ApiState, id: &str) -> ApiResult<AlertRule> {
    state
        .store
        .get_alert_rule(id)
        .await?
        .ok_or_else(|| ApiError::not_found("alert rule"))
}

/// A rule from the config file may not be changed here: 409 `config_rule`.
fn writable(rule: &AlertRule) -> ApiResult<()> {
    if rule.origin == RuleOrigin::Config {
        return Err(ApiError::Http {
            status: StatusCode::CONFLICT,
            code: "config_rule",
            detail: format!(
                "the alert rule {:?} comes from the config file: change it there",
                rule.spec.name
            ),
        });
    }
    Ok(())
}

/// List Alert Rules
#[utoipa::path(get, path = "/api/v1/alert/rule", tag = TAG, operation_id = "v1.alert.rule.list",
    params(ListParams), responses((status = 200, body = ListResponse<AlertRuleOut>)))]
async fn list_rules(
    State(state): State<ApiState>,
    QueryParams(params): QueryParams<ListParams>,
) -> ApiResult<Json<ListResponse<AlertRuleOut>>> {
    let page = params.page(Order::Ascending, |k| AlertRuleId::parse(k).is_some())?;
    let listed = state.store.list_alert_rules(page).await?;
    Ok(Json(ListResponse::from_listed(
        listed,
        |r| r.id.clone(),
        AlertRuleOut::from,
    )))
}

/// Create Alert Rule
#[utoipa::path(post, path = "/api/v1/alert/rule", tag = TAG, operation_id = "v1.alert.rule.create",
    request_body = AlertRuleIn, responses((status = 201, body = AlertRuleOut)))]
async fn create_rule(
    State(state): State<ApiState>,
    JsonBody(body): JsonBody<AlertRuleIn>,
) -> ApiResult<(StatusCode, Json<AlertRuleOut>)> {
    let spec = body.spec(&state).await?;
    let now = now_millis();
    let rule = AlertRule {
        id: AlertRuleId::generate(now).into(),
        spec,
        origin: RuleOrigin::Api,
        firing: 0,
        created_at: now,
        updated_at: now,
    };
    let rule = state
        .store
        .create_alert_rule(rule)
        .await
        .map_err(name_taken)?;
    Ok((StatusCode::CREATED, Json(rule.into())))
}

/// Get Alert Rule
#[utoipa::path(get, path = "/api/v1/alert/rule/{rule_id}", tag = TAG,
    operation_id = "v1.alert.rule.get", responses((status = 200, body = AlertRuleOut)))]
async fn get_rule(
    State(state): State<ApiState>,
    Path(rule_id): Path<String>,
) -> ApiResult<Json<AlertRuleOut>> {
    Ok(Json(load_rule(&state, &rule_id).await?.into()))
}

/// Update Alert Rule
///
/// Replaces every field. A rule from the config file answers 409 `config_rule`.
#[utoipa::path(put, path = "/api/v1/alert/rule/{rule_id}", tag = TAG,
    operation_id = "v1.alert.rule.update", request_body = AlertRuleIn,
    responses((status = 200, body = AlertRuleOut)))]
async fn update_rule(
    State(state): State<ApiState>,
    Path(rule_id): Path<String>,
    JsonBody(body): JsonBody<AlertRuleIn>,
) -> ApiResult<Json<AlertRuleOut>> {
    let mut rule = load_rule(&state, &rule_id).await?;
    writable(&rule)?;
    rule.spec = body.spec(&state).await?;
    rule.updated_at = now_millis();
    let rule = state
        .store
        .update_alert_rule(rule)
        .await
        .map_err(name_taken)?;
    Ok(Json(rule.into()))
}

/// Delete Alert Rule
///
/// Deletes the rule and its alerts. A rule from the config file answers 409 `config_rule`.
#[utoipa::path(delete, path = "/api/v1/alert/rule/{rule_id}", tag = TAG,
    operation_id = "v1.alert.rule.delete", responses((status = 204)))]
async fn delete_rule(
    State(state): State<ApiState>,
    Path(rule_id): Path<String>,
) -> ApiResult<StatusCode> {
    let rule = load_rule(&state, &rule_id).await?;
    writable(&rule)?;
    state.store.delete_alert_rule(&rule.id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `firing` or `resolved`.
#[derive(Debug, Clone, Copy, Deserialize, ToSchema)]
#[schema(as = AlertStatus)]
#[serde(rename_all = "lowercase")]
pub enum StatusIn {
    /// Over the threshold now.
    Firing,
    /// Back under it.
    Resolved,
}

/// The filters of the alert list, beside `limit` and `iterator`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AlertQuery {
    #[serde(flatten)]
    #[param(ignore)]
    list: ListParams,
    /// Only alerts in this status.
    #[serde(default)]
    #[param(inline)]
    status: Option<StatusIn>,
    /// Only alerts of this rule (`alr_…`).
    #[serde(default)]
    rule: Option<String>,
}

/// List Alerts
///
/// Newest first.
#[utoipa::path(get, path = "/api/v1/alert", tag = TAG, operation_id = "v1.alert.list",
    params(ListParams, AlertQuery), responses((status = 200, body = ListResponse<AlertOut>)))]
async fn list_alerts(
    State(state): State<ApiState>,
    QueryParams(q): QueryParams<AlertQuery>,
) -> ApiResult<Json<ListResponse<AlertOut>>> {
    if let Some(rule) = &q.rule
        && AlertRuleId::parse(rule).is_none()
    {
        return Err(ApiError::invalid(
            &["query", "rule"],
            "rule must be an alert rule id (alr_…)",
        ));
    }
    let page = q
        .list
        .page(Order::Descending, |k| AlertId::parse(k).is_some())?;
    let filter = AlertFilter {
        firing: q.status.map(|s| matches!(s, StatusIn::Firing)),
        rule_id: q.rule,
    };
    let listed = state.store.list_alerts(filter, page).await?;
    Ok(Json(ListResponse::from_listed(
        listed,
        |a| a.id.clone(),
        AlertOut::from,
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_alert_out_is_the_data_its_events_carry() {
        let a = Alert {
            id: "alt_1".into(),
            rule_id: "alr_1".into(),
            rule_name: "ep failing".into(),
            kind: RuleKind::FailureRate,
            subject: "ep_1".into(),
            value: 62.5,
            threshold: 50.0,
            summary: "Endpoint ep_1 failed".into(),
            fired_at: 1_000,
            resolved_at: Some(2_000),
        };
        let out = serde_json::to_value(AlertOut::from(a.clone())).expect("json");
        assert_eq!(out, a.data());
    }
}
