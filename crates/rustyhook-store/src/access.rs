//! Who may use the API and what they did with it: API tokens with roles, and the audit log of
//! writes. Both backends store them alike, read back by the shared readers here.

use rustyhook_core::id::AppId;
use rustyhook_core::time::Millis;

use crate::rows::Columns;

/// What a token may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenRole {
    /// Everything, including managing tokens.
    Admin,
    /// Every read (`GET`) of the whole API; no write.
    ReadOnly,
    /// Every route of one app (see [`ApiToken::app_id`]); nothing outside it.
    App,
}

impl TokenRole {
    /// The role's name in the API and the store.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Admin => "admin",
            Self::ReadOnly => "read-only",
            Self::App => "app",
        }
    }

    /// The role named `name`, if it is one.
    pub fn parse(name: &str) -> Option<Self> {
        match name {
            "admin" => Some(Self::Admin),
            "read-only" => Some(Self::ReadOnly),
            "app" => Some(Self::App),
            _ => None,
        }
    }
}

/// An API token other than the admin token. The secret itself is never stored: only its
/// SHA-256, which is enough for a high-entropy random token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiToken {
    /// `tok_…`, sortable by creation time; what the audit log names the token by.
    pub id: String,
    /// A label for people ("CI deploys").
    pub name: String,
    /// What it may do.
    pub role: TokenRole,
    /// The one app an [`TokenRole::App`] token is limited to; `None` for the other roles.
    pub app_id: Option<AppId>,
    /// An app token that may only read (the app portal's `readOnly`).
    pub read_only: bool,
    /// Hex SHA-256 of the secret; unique, so a request's token is found by one indexed lookup.
    pub token_hash: String,
    /// When it was made.
    pub created_at: Millis,
    /// After this it is refused; `None` never expires.
    pub expires_at: Option<Millis>,
    /// Last time a request used it, written at most about once a minute.
    pub last_used_at: Option<Millis>,
    /// When it was revoked; a revoked token is refused at once.
    pub revoked_at: Option<Millis>,
}

impl ApiToken {
    /// Whether the token may be used at `now`: neither revoked nor expired.
    pub fn is_live(&self, now: Millis) -> bool {
        self.revoked_at.is_none() && self.expires_at.is_none_or(|at| now < at)
    }
}

/// One write through the API.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditEntry {
    /// `aud_…`, sortable by time.
    pub id: String,
    /// Who: a token id, or `admin` for the admin token.
    pub actor: String,
    /// The HTTP method.
    pub method: String,
    /// The route template (`/api/v1/app/{app_id}/endpoint`), so entries group by operation.
    pub route: String,
    /// The route's parameters as a JSON object (`{"app_id": "app_…"}`): which resources.
    pub resource: String,
    /// The caller's address: the peer, or `X-Forwarded-For` when the proxy is trusted.
    pub address: String,
    /// The response's status.
    pub status: u16,
    /// When the request was answered.
    pub created_at: Millis,
}

/// Filters for listing the audit log.
#[derive(Debug, Clone, Default)]
pub struct AuditFilter {
    /// Only writes by this actor (token id or `admin`).
    pub actor: Option<String>,
    /// Only writes with this method.
    pub method: Option<String>,
    /// Only writes before this time.
    pub before: Option<Millis>,
    /// Only writes after this time.
    pub after: Option<Millis>,
}

pub(crate) const TOKEN_COLS: &str = "id, name, role, app_id, read_only, token_hash, created_at, \
     expires_at, last_used_at, revoked_at";
pub(crate) const AUDIT_COLS: &str =
    "id, actor, method, route, resource, address, status, created_at";

pub(crate) fn token<R: Columns>(row: &R) -> Result<ApiToken, R::Error> {
    let role = row.text(2)?;
    Ok(ApiToken {
        id: row.text(0)?,
        name: row.text(1)?,
        role: TokenRole::parse(&role).ok_or_else(|| R::corrupt("an unknown token role"))?,
        app_id: row.opt_text(3)?.map(AppId::from_trusted),
        read_only: row.flag(4)?,
        token_hash: row.text(5)?,
        created_at: row.int(6)?,
        expires_at: row.opt_int(7)?,
        last_used_at: row.opt_int(8)?,
        revoked_at: row.opt_int(9)?,
    })
}

pub(crate) fn audit<R: Columns>(row: &R) -> Result<AuditEntry, R::Error> {
    Ok(AuditEntry {
        id: row.text(0)?,
        actor: row.text(1)?,
        method: row.text(2)?,
        route: row.text(3)?,
        resource: row.text(4)?,
        address: row.text(5)?,
        status: row.num(6)?,
        created_at: row.int(7)?,
    })
}

/// The shared list query of the audit log, with its filters.
pub(crate) fn audit_query(filter: AuditFilter) -> crate::query::Query {
    crate::query::Query::new(format!("SELECT {AUDIT_COLS}\nFROM audit_log"))
        .and_opt("actor = ?", filter.actor)
        .and_opt("method = ?", filter.method)
        .and_opt("created_at < ?", filter.before)
        .and_opt("created_at > ?", filter.after)
}
