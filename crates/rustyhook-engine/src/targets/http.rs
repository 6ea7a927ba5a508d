//! The HTTP target: POSTs a signed payload and classifies what came back.

use std::error::Error as _;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use reqwest::redirect::Policy;
use rustyhook_core::address::is_restricted;
use rustyhook_core::outcome::OutcomeCode;

use super::resolver::{GuardedResolver, ResolveError};

/// The `User-Agent` of every request.
pub const USER_AGENT: &str = concat!("rustyhook/", env!("CARGO_PKG_VERSION"));

/// One request to send.
#[derive(Debug)]
pub struct SendRequest {
    /// The endpoint URL.
    pub url: String,
    /// Headers, signature included.
    pub headers: Vec<(String, String)>,
    /// The body.
    pub body: Bytes,
    /// How long to wait for the whole response.
    pub timeout: Duration,
}

/// What happened to one request.
#[derive(Debug, Clone)]
pub struct SendResult {
    /// The outcome's stable code.
    pub outcome: OutcomeCode,
    /// HTTP status, or 0 when no response arrived.
    pub status: u16,
    /// The response body (capped), or the reason for a failure.
    pub body: String,
    /// The `Retry-After` header, if any.
    pub retry_after: Option<String>,
    /// Time from sending to the end of the response.
    pub took: Duration,
}

/// A shared HTTP client that refuses private destinations unless allowed, never follows
/// redirects, and keeps connections alive per host.
///
/// Proxy environment variables (`HTTP_PROXY`, `HTTPS_PROXY`, `ALL_PROXY`) are ignored: a proxy
/// resolves the target's name itself, out of reach of the guarded resolver, so honouring them
/// silently would let `localhost` or an internal name through. A proxy is used only when
/// [`TargetPolicy::proxy`] names one, and then the target's host is resolved and checked here
/// before the request goes to the proxy.
#[derive(Clone)]
pub struct HttpTarget {
    client: reqwest::Client,
    allow_private: bool,
    proxied: bool,
    max_response_bytes: usize,
}

/// How the HTTP target reaches endpoints.
#[derive(Debug, Clone, Default)]
pub struct TargetPolicy {
    /// Whether loopback, private and link-local destinations may be reached.
    pub allow_private: bool,
    /// The proxy every request goes through (`http://host:port`), or `None` for direct
    /// connections. The proxy's own address is the operator's choice and is not checked.
    pub proxy: Option<String>,
    /// Response bodies longer than this are truncated.
    pub max_response_bytes: usize,
}

/// The client could not be built (TLS roots unreadable).
#[derive(Debug, thiserror::Error)]
#[error("could not build the HTTP client")]
pub struct BuildError(#[source] reqwest::Error);

impl HttpTarget {
    /// A target with the given policy.
    pub fn new(policy: TargetPolicy) -> Result<Self, BuildError> {
        let TargetPolicy {
            allow_private,
            proxy,
            max_response_bytes,
        } = policy;
        let proxy_host = proxy
            .as_deref()
            .and_then(|p| url::Url::parse(p).ok())
            .and_then(|u| u.host_str().map(str::to_owned));
        let mut builder = reqwest::Client::builder().no_proxy();
        if let Some(p) = &proxy {
            builder = builder.proxy(reqwest::Proxy::all(p.as_str()).map_err(BuildError)?);
        }
        let client = builder
            .redirect(Policy::none())
            .dns_resolver(Arc::new(GuardedResolver {
                allow_private,
                trusted_host: proxy_host,
            }))
            .user_agent(USER_AGENT)
            .connect_timeout(Duration::from_secs(10))
            .pool_idle_timeout(Duration::from_secs(60))
            .pool_max_idle_per_host(64)
            .tcp_nodelay(true)
            .build()
            .map_err(BuildError)?;
        Ok(Self {
            client,
            allow_private,
            proxied: proxy.is_some(),
            max_response_bytes,
        })
    }

    /// Sends one request. Never fails: every failure is an outcome.
    pub async fn send(&self, req: SendRequest) -> SendResult {
        let started = Instant::now();
        if let Some(reason) = self.refuse_literal(&req.url) {
            return failure(OutcomeCode::BlockedAddress, reason, started);
        }
        if let Err(e) = self.check_proxied_host(&req.url).await {
            let code = match e {
                ResolveError::Blocked { .. } => OutcomeCode::BlockedAddress,
                ResolveError::Lookup { .. } => OutcomeCode::Dns,
            };
            return failure(code, e.to_string(), started);
        }
        let mut builder = self
            .client
            .post(&req.url)
            .timeout(req.timeout)
            .body(req.body);
        for (name, value) in &req.headers {
            builder = builder.header(name, value);
        }
        let mut response = match builder.send().await {
            Ok(r) => r,
            Err(e) => return failure(classify(&e), describe(&e), started),
        };
        let status = response.status();
        let retry_after = response
            .headers()
            .get(reqwest::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let mut body = Vec::new();
        loop {
            match response.chunk().await {
                Ok(Some(chunk)) => {
                    let room = self.max_response_bytes.saturating_sub(body.len());
                    body.extend_from_slice(&chunk[..chunk.len().min(room)]);
                    if body.len() >= self.max_response_bytes {
                        break;
                    }
                }
                Ok(None) => break,
                Err(e) if e.is_timeout() => {
                    return failure(OutcomeCode::Timeout, describe(&e), started);
                }
                // A body cut short still tells us the status; keep what arrived.
                Err(_) => break,
            }
        }
        SendResult {
            outcome: if status.is_success() {
                OutcomeCode::Ok
            } else {
                OutcomeCode::HttpStatus
            },
            status: status.as_u16(),
            body: String::from_utf8_lossy(&body).into_owned(),
            retry_after,
            took: started.elapsed(),
        }
    }

    /// Through a proxy, the guarded resolver sees only the proxy's name, so the target's name is
    /// resolved here and refused if any of its addresses is restricted (the proxy may pick any
    /// of them). A name that changes its answer between this check and the proxy's own lookup
    /// (DNS rebinding) is out of reach: a proxy that must never reach internal hosts should
    /// enforce that itself, as docs/security.md says.
    async fn check_proxied_host(&self, url: &str) -> Result<(), ResolveError> {
        if !self.proxied || self.allow_private {
            return Ok(());
        }
        let Some(host) = url::Url::parse(url).ok().and_then(|u| match u.host()? {
            url::Host::Domain(d) => Some(d.to_owned()),
            _ => None,
        }) else {
            return Ok(());
        };
        let found = tokio::net::lookup_host((host.as_str(), 0))
            .await
            .map_err(|source| ResolveError::Lookup {
                host: host.clone(),
                source,
            })?;
        let found: Vec<_> = found.collect();
        match found.iter().find(|a| is_restricted(a.ip())) {
            Some(a) => Err(ResolveError::Blocked { host, ip: a.ip() }),
            None => Ok(()),
        }
    }

    /// An IP-literal URL never reaches the resolver, so its address is checked here.
    fn refuse_literal(&self, url: &str) -> Option<String> {
        if self.allow_private {
            return None;
        }
        let parsed = url::Url::parse(url).ok()?;
        let ip: IpAddr = match parsed.host()? {
            url::Host::Ipv4(v4) => v4.into(),
            url::Host::Ipv6(v6) => v6.into(),
            url::Host::Domain(_) => return None,
        };
        is_restricted(ip).then(|| {
            format!(
                "{ip} is a private, loopback or link-local address; set \
                 RUSTYHOOK_ALLOW_PRIVATE_NETWORKS=true (delivery.allow_private_networks) to allow it"
            )
        })
    }
}

fn failure(outcome: OutcomeCode, reason: String, started: Instant) -> SendResult {
    SendResult {
        outcome,
        status: 0,
        body: reason,
        retry_after: None,
        took: started.elapsed(),
    }
}

fn resolve_error(e: &reqwest::Error) -> Option<&ResolveError> {
    let mut source = e.source();
    while let Some(s) = source {
        if let Some(r) = s.downcast_ref::<ResolveError>() {
            return Some(r);
        }
        source = s.source();
    }
    None
}

fn classify(e: &reqwest::Error) -> OutcomeCode {
    if e.is_timeout() {
        return OutcomeCode::Timeout;
    }
    match resolve_error(e) {
        Some(ResolveError::Blocked { .. }) => return OutcomeCode::BlockedAddress,
        Some(ResolveError::Lookup { .. }) => return OutcomeCode::Dns,
        None => {}
    }
    let text = describe(e).to_ascii_lowercase();
    if text.contains("certificate") || text.contains("tls") || text.contains("handshake") {
        OutcomeCode::Tls
    } else if e.is_connect() {
        OutcomeCode::Connect
    } else {
        OutcomeCode::Request
    }
}

/// The error and its causes on one line, for the attempt record.
fn describe(e: &reqwest::Error) -> String {
    if let Some(r) = resolve_error(e) {
        return r.to_string();
    }
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}
