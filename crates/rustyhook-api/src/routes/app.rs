//! Applications: `/api/v1/app`.

use std::collections::BTreeMap;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use rustyhook_core::id::AppId;
use rustyhook_core::model::App;
use rustyhook_core::names::Uid;
use rustyhook_core::signing::HeaderStyle;
use rustyhook_core::time::{now_millis, to_rfc3339};
use rustyhook_store::Order;
use rustyhook_store::page::Listed;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::common::{check_rate_limit, finish, load_app, nullable, one_rate, refuse_operational};
use crate::http::auth::Principal;
use crate::http::error::{ApiError, ApiResult, ValidationItem};
use crate::http::extract::{JsonBody, QueryParams};
use crate::http::list::{ListParams, ListResponse};
use crate::state::ApiState;

/// `ApplicationIn`, plus rustyhook's `headerStyle`: the signature header names of this app's
/// endpoints that choose none (Svix's SDKs drop it, so it is set with plain HTTP; absent on a
/// PUT, the app keeps its current style).
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ApplicationIn {
    name: String,
    #[serde(default)]
    uid: Option<Uid>,
    #[serde(default)]
    rate_limit: Option<u32>,
    /// The newer SDKs' name for `rateLimit`.
    #[serde(default)]
    throttle_rate: Option<u32>,
    #[serde(default)]
    metadata: BTreeMap<String, String>,
    #[serde(default)]
    header_style: Option<HeaderStyle>,
    /// An `https://` URL of the app's logo, shown with its name in the app portal. Svix's
    /// SDKs drop it; set it with plain HTTP (absent on a PUT, the app keeps its logo).
    #[serde(default)]
    logo_url: Option<String>,
}

impl ApplicationIn {
    /// The uid asked for, if any.
    pub fn uid(&self) -> Option<&Uid> {
        self.uid.as_ref()
    }

    /// The same request with `uid` set.
    pub fn with_uid(self, uid: Uid) -> Self {
        Self {
            uid: Some(uid),
            ..self
        }
    }

    fn validate(&self) -> ApiResult<()> {
        let mut errors = Vec::new();
        if self.name.is_empty() {
            errors.push(ValidationItem::new(
                &["body", "name"],
                "name must not be empty",
            ));
        }
        check_rate_limit(
            one_rate(self.rate_limit, self.throttle_rate, &mut errors),
            &mut errors,
        );
        check_logo_url(self.logo_url.as_deref(), &mut errors);
        finish(errors)
    }

    /// The app this describes, new at `now`.
    pub fn into_new_app(self, now: i64) -> ApiResult<App> {
        self.validate()?;
        Ok(App {
            id: AppId::generate(now),
            uid: self.uid,
            name: self.name,
            rate_limit: self.rate_limit.or(self.throttle_rate),
            metadata: self.metadata,
            header_style: self.header_style,
            logo_url: self.logo_url,
            created_at: now,
            updated_at: now,
        })
    }
}

/// `ApplicationPatch`: only the fields given change.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
struct ApplicationPatch {
    name: Option<String>,
    #[serde(default, deserialize_with = "nullable")]
    uid: Option<Option<Uid>>,
    #[serde(default, deserialize_with = "nullable")]
    rate_limit: Option<Option<u32>>,
    #[serde(default, deserialize_with = "nullable")]
    throttle_rate: Option<Option<u32>>,
    metadata: Option<BTreeMap<String, String>>,
    /// `null` returns the app to the server's default.
    #[serde(default, deserialize_with = "nullable")]
    header_style: Option<Option<HeaderStyle>>,
    /// `null` removes the logo.
    #[serde(default, deserialize_with = "nullable")]
    logo_url: Option<Option<String>>,
}

/// The longest logo URL taken.
const MAX_LOGO_URL: usize = 2048;

/// Checks a logo URL: an absolute `https://` URL with a host, at most 2048 characters (the
/// app portal loads it in the customer's browser, so never plain HTTP or a script URL).
fn check_logo_url(value: Option<&str>, errors: &mut Vec<ValidationItem>) {
    let Some(v) = value else { return };
    let ok = v.len() <= MAX_LOGO_URL
        && url::Url::parse(v)
            .is_ok_and(|u| u.scheme() == "https" && u.host_str().is_some_and(|h| !h.is_empty()));
    if !ok {
        errors.push(ValidationItem::new(
            &["body", "logoUrl"],
            format!("logoUrl must be an https:// URL of at most {MAX_LOGO_URL} characters"),
        ));
    }
}

/// `ApplicationOut`.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ApplicationOut {
    id: String,
    uid: Option<String>,
    name: String,
    rate_limit: Option<u32>,
    /// The newer Svix API's name for `rateLimit`.
    throttle_rate: Option<u32>,
    metadata: BTreeMap<String, String>,
    /// The app's own header style; `null` follows the server's `delivery.header_style`.
    header_style: Option<HeaderStyle>,
    /// The app's logo (`https://`), shown in the app portal; `null` when none.
    logo_url: Option<String>,
    created_at: String,
    updated_at: String,
}

impl From<App> for ApplicationOut {
    fn from(a: App) -> Self {
        Self {
            id: a.id.into(),
            uid: a.uid.map(String::from),
            name: a.name,
            rate_limit: a.rate_limit,
            throttle_rate: a.rate_limit,
            metadata: a.metadata,
            header_style: a.header_style,
            logo_url: a.logo_url,
            created_at: to_rfc3339(a.created_at),
            updated_at: to_rfc3339(a.updated_at),
        }
    }
}

/// `GET /app`'s query: the page, and Svix's `exclude_apps_with_no_endpoints`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct ListAppsParams {
    #[serde(flatten)]
    #[param(ignore)]
    page: ListParams,
    /// Leave out apps that have no endpoint.
    #[serde(default, deserialize_with = "crate::http::query::flag")]
    exclude_apps_with_no_endpoints: bool,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct CreateParams {
    /// With a `uid` that exists already: answer 200 with that app instead of 409.
    #[serde(default, deserialize_with = "crate::http::query::flag")]
    get_if_exists: bool,
}

/// The application routes.
pub fn router() -> OpenApiRouter<ApiState> {
    OpenApiRouter::new()
        .routes(routes!(list, create))
        .routes(routes!(fetch, update, patch, delete))
}

const TAG: &str = "Application";

/// List Applications
#[utoipa::path(get, path = "/api/v1/app", tag = TAG, operation_id = "v1.application.list",
    params(ListParams, ListAppsParams),
    responses((status = 200, body = ListResponse<ApplicationOut>)))]
async fn list(
    State(state): State<ApiState>,
    principal: Option<Extension<Principal>>,
    QueryParams(params): QueryParams<ListAppsParams>,
) -> ApiResult<Json<ListResponse<ApplicationOut>>> {
    let page = params
        .page
        .page(Order::Ascending, |k| AppId::parse(k).is_some())?;
    let listed = match principal.as_ref().and_then(|p| p.app_scope()) {
        // A token limited to one app sees that app alone.
        Some(own) => {
            let app = state.store.get_app(own.as_str()).await?;
            let past_cursor = page.cursor.is_some();
            Listed {
                items: app.into_iter().filter(|_| !past_cursor).collect(),
                done: true,
            }
        }
        None => {
            state
                .store
                .list_apps(page, params.exclude_apps_with_no_endpoints)
                .await?
        }
    };
    Ok(Json(ListResponse::from_listed(
        listed,
        |a| a.id.to_string(),
        ApplicationOut::from,
    )))
}

/// Create Application
#[utoipa::path(post, path = "/api/v1/app", tag = TAG, operation_id = "v1.application.create",
    params(CreateParams), request_body = ApplicationIn,
    responses((status = 201, body = ApplicationOut, description = "created"),
        (status = 200, body = ApplicationOut, description = "`get_if_exists`: the existing app")))]
async fn create(
    State(state): State<ApiState>,
    QueryParams(params): QueryParams<CreateParams>,
    JsonBody(body): JsonBody<ApplicationIn>,
) -> ApiResult<Response> {
    if params.get_if_exists
        && let Some(uid) = &body.uid
        && let Some(existing) = state.store.get_app(uid.as_str()).await?
    {
        return Ok((StatusCode::OK, Json(ApplicationOut::from(existing))).into_response());
    }
    let app = body.into_new_app(now_millis())?;
    let app = state.store.create_app(app).await.map_err(|e| match e {
        rustyhook_store::StoreError::Conflict(_) => {
            ApiError::conflict("an application with this uid already exists")
        }
        other => other.into(),
    })?;
    Ok((StatusCode::CREATED, Json(ApplicationOut::from(app))).into_response())
}

/// Get Application
#[utoipa::path(get, path = "/api/v1/app/{app_id}", tag = TAG, operation_id = "v1.application.get",
    responses((status = 200, body = ApplicationOut)))]
async fn fetch(
    State(state): State<ApiState>,
    Path(app_id): Path<String>,
) -> ApiResult<Json<ApplicationOut>> {
    Ok(Json(load_app(&state, &app_id).await?.into()))
}

/// Update Application
///
/// Creates the app, with the path's id as its uid, when none has it.
#[utoipa::path(put, path = "/api/v1/app/{app_id}", tag = TAG, operation_id = "v1.application.update",
    request_body = ApplicationIn,
    responses((status = 200, body = ApplicationOut, description = "updated"),
        (status = 201, body = ApplicationOut, description = "created")))]
async fn update(
    State(state): State<ApiState>,
    Path(app_id): Path<String>,
    JsonBody(body): JsonBody<ApplicationIn>,
) -> ApiResult<Response> {
    body.validate()?;
    let now = now_millis();
    match state.store.get_app(&app_id).await? {
        Some(mut app) => {
            refuse_operational(&app, "changed")?;
            app.name = body.name;
            app.uid = body.uid;
            app.rate_limit = body.rate_limit.or(body.throttle_rate);
            app.metadata = body.metadata;
            if let Some(style) = body.header_style {
                app.header_style = Some(style);
            }
            if let Some(logo) = body.logo_url {
                app.logo_url = Some(logo);
            }
            app.updated_at = now;
            let app = state.store.update_app(app).await?;
            Ok((StatusCode::OK, Json(ApplicationOut::from(app))).into_response())
        }
        None => {
            // Upsert: the path names the app's uid.
            let uid = Uid::parse(app_id.as_str())
                .map_err(|e| ApiError::invalid(&["path", "app_id"], e.to_string()))?;
            let mut app = body.into_new_app(now)?;
            app.uid.get_or_insert(uid);
            let app = state.store.create_app(app).await?;
            Ok((StatusCode::CREATED, Json(ApplicationOut::from(app))).into_response())
        }
    }
}

/// Patch Application
#[utoipa::path(patch, path = "/api/v1/app/{app_id}", tag = TAG, operation_id = "v1.application.patch",
    request_body = ApplicationPatch,
    responses((status = 200, body = ApplicationOut)))]
async fn patch(
    State(state): State<ApiState>,
    Path(app_id): Path<String>,
    JsonBody(body): JsonBody<ApplicationPatch>,
) -> ApiResult<Json<ApplicationOut>> {
    let mut errors = Vec::new();
    let rate = one_rate(body.rate_limit, body.throttle_rate, &mut errors);
    check_logo_url(body.logo_url.clone().flatten().as_deref(), &mut errors);
    finish(errors)?;
    let mut app = load_app(&state, &app_id).await?;
    refuse_operational(&app, "changed")?;
    if let Some(name) = body.name {
        app.name = name;
    }
    if let Some(uid) = body.uid {
        app.uid = uid;
    }
    if let Some(rate_limit) = rate {
        app.rate_limit = rate_limit.filter(|r| *r > 0);
    }
    if let Some(metadata) = body.metadata {
        app.metadata = metadata;
    }
    if let Some(style) = body.header_style {
        app.header_style = style;
    }
    if let Some(logo) = body.logo_url {
        app.logo_url = logo;
    }
    app.updated_at = now_millis();
    Ok(Json(state.store.update_app(app).await?.into()))
}

/// Delete Application
#[utoipa::path(delete, path = "/api/v1/app/{app_id}", tag = TAG, operation_id = "v1.application.delete",
    responses((status = 204)))]
async fn delete(
    State(state): State<ApiState>,
    Path(app_id): Path<String>,
) -> ApiResult<StatusCode> {
    let app = load_app(&state, &app_id).await?;
    refuse_operational(&app, "deleted")?;
    state.store.delete_app(&app.id).await?;
    Ok(StatusCode::NO_CONTENT)
}
