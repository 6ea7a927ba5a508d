//! The pure steps around an attempt: building the signed request, and turning what came back
//! (from an endpoint or a handler's command) into the next state of the delivery or run. No
//! I/O, so both are tested exactly.

use std::time::Duration;

use bytes::Bytes;
use rustyhook_core::model::{DeliveryStatus, Endpoint};
use rustyhook_core::operational::{WebhookFormat, slack_body};
use rustyhook_core::outcome::OutcomeCode;
use rustyhook_core::retry::{RetryPolicy, apply_retry_after, parse_retry_after};
use rustyhook_core::signing::{is_reserved_header, signature_header};
use rustyhook_core::time::Millis;

use crate::targets::http::{SendRequest, SendResult};

/// The signed POST of `payload` for message `msg_id` to `endpoint` at `now` (ms). The caller
/// resolves the endpoint's header style first (the lane fills in its app's or the server's);
/// one still unset gets the Standard Webhooks names.
pub fn build_request(
    endpoint: &Endpoint,
    msg_id: &str,
    payload: &str,
    now: Millis,
    timeout: Duration,
) -> SendRequest {
    let timestamp = now / 1000;
    // The one place a body's format is decided: a Slack-format operational endpoint gets
    // `{"text": …}`, signed like any body.
    let body = match WebhookFormat::of(&endpoint.metadata) {
        WebhookFormat::Standard => Bytes::copy_from_slice(payload.as_bytes()),
        WebhookFormat::Slack => Bytes::from(slack_body(payload)),
    };
    let [id_name, ts_name, sig_name] = endpoint.header_style.unwrap_or_default().names();
    let mut headers: Vec<(String, String)> = endpoint
        .headers
        .iter()
        .filter(|(k, _)| !is_reserved_header(k))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    headers.push(("content-type".into(), "application/json".into()));
    headers.push((id_name.into(), msg_id.into()));
    headers.push((ts_name.into(), timestamp.to_string()));
    headers.push((
        sig_name.into(),
        signature_header(endpoint.live_secrets(now), msg_id, timestamp, &body),
    ));
    SendRequest {
        url: endpoint.url.clone(),
        headers,
        body,
        timeout,
    }
}

/// What follows an attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Decision {
    /// The delivery's new status.
    pub status: DeliveryStatus,
    /// When it is tried again, if it is.
    pub next_attempt_at: Option<Millis>,
    /// Whether the endpoint is to be disabled (it answered `410 Gone`).
    pub disable_endpoint: bool,
}

/// What an attempt came back with, whatever its target.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tried<'a> {
    /// How it ended.
    pub outcome: OutcomeCode,
    /// The HTTP status (0 for no response, or a command).
    pub status: u16,
    /// The receiver's `Retry-After`, if it sent one.
    pub retry_after: Option<&'a str>,
}

impl<'a> From<&'a SendResult> for Tried<'a> {
    fn from(r: &'a SendResult) -> Self {
        Self {
            outcome: r.outcome,
            status: r.status,
            retry_after: r.retry_after.as_deref(),
        }
    }
}

impl From<OutcomeCode> for Tried<'_> {
    /// A command's result: an outcome alone.
    fn from(outcome: OutcomeCode) -> Self {
        Self {
            outcome,
            status: 0,
            retry_after: None,
        }
    }
}

/// Decides the next state of a delivery or run that had `attempts_before` attempts before
/// this one, under `policy`. `jitter` is a sample from `[-1, 1]`.
pub fn decide(
    result: Tried<'_>,
    attempts_before: u32,
    policy: &RetryPolicy,
    now: Millis,
    jitter: f64,
) -> Decision {
    let end = |status| Decision {
        status,
        next_attempt_at: None,
        disable_endpoint: false,
    };
    if result.outcome == OutcomeCode::Ok {
        return end(DeliveryStatus::Succeeded);
    }
    if result.status == 410 {
        return Decision {
            disable_endpoint: true,
            ..end(DeliveryStatus::Dead)
        };
    }
    if !result.outcome.is_retryable() {
        return end(DeliveryStatus::Dead);
    }
    let Some(delay) = policy.next_delay(attempts_before + 1, jitter) else {
        return end(DeliveryStatus::Dead);
    };
    let asked = match result.status {
        429 | 503 => result
            .retry_after
            .and_then(|v| parse_retry_after(v, now / 1000)),
        _ => None,
    };
    let delay = apply_retry_after(delay, asked);
    Decision {
        status: DeliveryStatus::Failed,
        next_attempt_at: Some(now + delay.as_millis() as Millis),
        disable_endpoint: false,
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use rustyhook_core::id::{AppId, EndpointId};
    use rustyhook_core::model::EndpointSecret;
    use rustyhook_core::signing::{HeaderStyle, SigningSecret};

    use super::*;

    fn result(outcome: OutcomeCode, status: u16, retry_after: Option<&str>) -> SendResult {
        SendResult {
            outcome,
            status,
            body: String::new(),
            retry_after: retry_after.map(str::to_owned),
            took: Duration::ZERO,
        }
    }

    fn schedule() -> RetryPolicy {
        RetryPolicy::parse_list("1s,10s").expect("valid")
    }

    #[test]
    fn success_ends_the_delivery() {
        let d = decide(
            Tried::from(&result(OutcomeCode::Ok, 204, None)),
            0,
            &schedule(),
            0,
            0.0,
        );
        assert_eq!(d.status, DeliveryStatus::Succeeded);
        assert_eq!(d.next_attempt_at, None);
    }

    #[test]
    fn failures_follow_the_schedule_then_die() {
        let r = result(OutcomeCode::HttpStatus, 500, None);
        assert_eq!(
            decide(Tried::from(&r), 0, &schedule(), 0, 0.0).next_attempt_at,
            Some(1_000)
        );
        assert_eq!(
            decide(Tried::from(&r), 1, &schedule(), 0, 0.0).next_attempt_at,
            Some(10_000)
        );
        assert_eq!(
            decide(Tried::from(&r), 2, &schedule(), 0, 0.0).status,
            DeliveryStatus::Dead
        );
    }

    #[test]
    fn retry_after_on_429_pushes_the_next_attempt_later() {
        let r = result(OutcomeCode::HttpStatus, 429, Some("7"));
        assert_eq!(
            decide(Tried::from(&r), 0, &schedule(), 0, 0.0).next_attempt_at,
            Some(7_000)
        );
        // On a 500 the header is not honoured.
        let r = result(OutcomeCode::HttpStatus, 500, Some("7"));
        assert_eq!(
            decide(Tried::from(&r), 0, &schedule(), 0, 0.0).next_attempt_at,
            Some(1_000)
        );
    }

    #[test]
    fn a_command_failure_follows_a_backoff_exactly_then_dies() {
        let backoff: RetryPolicy = serde_json::from_str(
            r#"{"max_retries": 2, "delay_ms": 1000, "backoff_multiplier": 3.0}"#,
        )
        .expect("valid");
        let failed = Tried::from(OutcomeCode::ExitCode);
        let first = decide(failed, 0, &backoff, 0, 1.0);
        assert_eq!(
            (first.status, first.next_attempt_at),
            (DeliveryStatus::Failed, Some(1_000))
        );
        assert_eq!(
            decide(failed, 1, &backoff, 0, -1.0).next_attempt_at,
            Some(3_000)
        );
        assert_eq!(
            decide(failed, 2, &backoff, 0, 0.0).status,
            DeliveryStatus::Dead
        );
        let timed_out = decide(
            Tried::from(OutcomeCode::Timeout),
            0,
            &RetryPolicy::NONE,
            0,
            0.0,
        );
        assert_eq!(timed_out.status, DeliveryStatus::Dead);
    }

    #[test]
    fn gone_disables_the_endpoint_at_once() {
        let d = decide(
            Tried::from(&result(OutcomeCode::HttpStatus, 410, None)),
            0,
            &schedule(),
            0,
            0.0,
        );
        assert_eq!(d.status, DeliveryStatus::Dead);
        assert!(d.disable_endpoint);
    }

    #[test]
    fn requests_are_signed_with_every_live_secret_and_reserved_headers_are_ours() {
        let (current, old) = (SigningSecret::generate(), SigningSecret::generate());
        let endpoint = Endpoint {
            id: EndpointId::generate(0),
            app_id: AppId::generate(0),
            uid: None,
            url: "https://example.com".into(),
            description: String::new(),
            version: 1,
            disabled: false,
            rate_limit: None,
            filter_types: None,
            channels: None,
            metadata: BTreeMap::new(),
            headers: BTreeMap::from([
                ("X-Team".to_owned(), "a".to_owned()),
                ("Webhook-Signature".to_owned(), "forged".to_owned()),
            ]),
            secrets: vec![
                EndpointSecret {
                    secret: current.clone(),
                    expires_at: None,
                },
                EndpointSecret {
                    secret: old.clone(),
                    expires_at: Some(5_000),
                },
            ],
            header_style: Some(HeaderStyle::Standard),
            max_in_flight: 1,
            created_at: 0,
            updated_at: 0,
        };
        let get = |req: &SendRequest, name: &str| {
            req.headers
                .iter()
                .filter(|(k, _)| k.eq_ignore_ascii_case(name))
                .map(|(_, v)| v.clone())
                .collect::<Vec<_>>()
        };
        let during = build_request(&endpoint, "msg_1", "{}", 4_000, Duration::from_secs(1));
        let expected = format!(
            "{} {}",
            current.sign("msg_1", 4, b"{}"),
            old.sign("msg_1", 4, b"{}")
        );
        assert_eq!(get(&during, "webhook-signature"), vec![expected]);
        assert_eq!(get(&during, "x-team"), vec!["a".to_owned()]);
        let after = build_request(&endpoint, "msg_1", "{}", 6_000, Duration::from_secs(1));
        assert_eq!(
            get(&after, "webhook-signature"),
            vec![current.sign("msg_1", 6, b"{}")]
        );
    }
}
