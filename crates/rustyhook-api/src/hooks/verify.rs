//! Checks an incoming webhook against its handler's options: source address, basic auth, token,
//! HMAC signature, Standard Webhooks / Svix signature. Every comparison of a secret is constant
//! time. The first failure is the answer.

use std::net::IpAddr;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, Mac};
use http::{HeaderMap, StatusCode};
use rustyhook_core::handlers::options::{HmacAlgorithm, WebhookOptions};
use rustyhook_core::signing::SigningSecret;

/// Why a request was refused, with the status to answer.
pub struct Refused {
    /// 401, 403.
    pub status: StatusCode,
    /// Said to the caller.
    pub reason: &'static str,
}

fn refuse<T>(status: StatusCode, reason: &'static str) -> Result<T, Refused> {
    Err(Refused { status, reason })
}

/// The checks that need no body (address, basic auth, token): made before the body is read, so
/// a caller refused by them costs no more than its headers.
pub fn check_caller(o: &WebhookOptions, peer: IpAddr, headers: &HeaderMap) -> Result<(), Refused> {
    let peer = match peer {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(peer, IpAddr::V4),
        v4 => v4,
    };
    if !o.allowed_ips.is_empty() && !o.allowed_ips.iter().any(|r| r.0.contains(&peer)) {
        return refuse(StatusCode::FORBIDDEN, "this address may not call this hook");
    }
    if let Some(b) = &o.basic_auth {
        let expected = format!(
            "Basic {}",
            STANDARD.encode(format!("{}:{}", b.username, b.password))
        );
        if !header(headers, "authorization")
            .is_some_and(|h| ct_eq(h.as_bytes(), expected.as_bytes()))
        {
            return refuse(
                StatusCode::UNAUTHORIZED,
                "basic auth credentials are missing or wrong",
            );
        }
    }
    if let Some(token) = &o.auth_token
        && !header(headers, "x-auth-token").is_some_and(|h| ct_eq(h.as_bytes(), token.as_bytes()))
    {
        return refuse(
            StatusCode::UNAUTHORIZED,
            "the X-Auth-Token header is missing or wrong",
        );
    }
    Ok(())
}

/// The signature checks, over the body. Returns the delivery id the signature vouches for, by
/// which a replay is recognised: Standard Webhooks' `webhook-id` (or `svix-id`), signed with the
/// body; else, with an HMAC, GitHub's `X-GitHub-Delivery`; `None` without a signature.
pub fn check_signature(
    o: &WebhookOptions,
    headers: &HeaderMap,
    body: &[u8],
    now_secs: i64,
) -> Result<Option<String>, Refused> {
    let mut delivery = None;
    if let Some(secret) = &o.hmac_secret {
        let name = o.hmac_header.as_deref().unwrap_or("x-hub-signature-256");
        let Some(given) = header(headers, name) else {
            return refuse(StatusCode::UNAUTHORIZED, "the signature header is missing");
        };
        if !hmac_matches(o.hmac_algorithm, name, given, secret.as_bytes(), body) {
            return refuse(
                StatusCode::UNAUTHORIZED,
                "the signature does not match the body",
            );
        }
        delivery = header(headers, "x-github-delivery").map(str::to_owned);
    }
    if let Some(secret) = &o.signing_secret {
        let secret = SigningSecret::parse(secret).map_err(|_| Refused {
            status: StatusCode::INTERNAL_SERVER_ERROR,
            reason: "bad signing secret",
        })?;
        let id = standard_webhooks(
            &secret,
            headers,
            body,
            now_secs,
            o.signature_tolerance.as_secs(),
        )?;
        delivery = Some(id);
    }
    Ok(delivery.filter(|d| !d.is_empty() && d.len() <= 256))
}

fn header<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

/// `sha256=<hex>`, `sha1=<hex>` or bare hex; the algorithm from the option, the prefix, or the
/// header name (`…-256`, `…-512`, else SHA-1 for GitHub's old `X-Hub-Signature`).
fn hmac_matches(
    alg: Option<HmacAlgorithm>,
    header_name: &str,
    given: &str,
    key: &[u8],
    body: &[u8],
) -> bool {
    let (prefix_alg, hex_part) = match given.split_once('=') {
        Some(("sha1", h)) => (Some(HmacAlgorithm::Sha1), h),
        Some(("sha256", h)) => (Some(HmacAlgorithm::Sha256), h),
        Some(("sha512", h)) => (Some(HmacAlgorithm::Sha512), h),
        _ => (None, given),
    };
    let name = header_name.to_ascii_lowercase();
    let alg = alg.or(prefix_alg).unwrap_or(if name.ends_with("512") {
        HmacAlgorithm::Sha512
    } else if name.ends_with("256") || !name.contains("hub-signature") {
        HmacAlgorithm::Sha256
    } else {
        HmacAlgorithm::Sha1
    });
    let Ok(given) = hex::decode(hex_part.trim()) else {
        return false;
    };
    macro_rules! verify {
        ($d:ty) => {{
            let mut mac = Hmac::<$d>::new_from_slice(key).expect("HMAC accepts keys of any length");
            mac.update(body);
            mac.verify_slice(&given).is_ok()
        }};
    }
    match alg {
        HmacAlgorithm::Sha1 => verify!(sha1::Sha1),
        HmacAlgorithm::Sha256 => verify!(sha2::Sha256),
        HmacAlgorithm::Sha512 => verify!(sha2::Sha512),
    }
}

/// `webhook-id`/`-timestamp`/`-signature` (or the `svix-` names): one of the space-separated
/// `v1,<base64>` signatures must match, and the timestamp must be within the tolerance, either
/// side of now. Returns the `webhook-id`.
fn standard_webhooks(
    secret: &SigningSecret,
    headers: &HeaderMap,
    body: &[u8],
    now: i64,
    tolerance: u64,
) -> Result<String, Refused> {
    let get = |n: &str| {
        header(headers, &format!("webhook-{n}")).or_else(|| header(headers, &format!("svix-{n}")))
    };
    let (Some(id), Some(ts), Some(sigs)) = (get("id"), get("timestamp"), get("signature")) else {
        return refuse(
            StatusCode::UNAUTHORIZED,
            "the webhook-id, webhook-timestamp or webhook-signature header is missing",
        );
    };
    let Ok(ts) = ts.trim().parse::<i64>() else {
        return refuse(
            StatusCode::UNAUTHORIZED,
            "the webhook-timestamp header is not a number",
        );
    };
    // abs_diff: no overflow for timestamps near i64::MIN or i64::MAX.
    if now.abs_diff(ts) > tolerance {
        return refuse(
            StatusCode::UNAUTHORIZED,
            "the webhook-timestamp is too far from now",
        );
    }
    let expected = secret.sign(id, ts, body);
    if sigs
        .split_whitespace()
        .any(|s| ct_eq(s.as_bytes(), expected.as_bytes()))
    {
        Ok(id.to_owned())
    } else {
        refuse(
            StatusCode::UNAUTHORIZED,
            "no webhook-signature matches the body",
        )
    }
}

/// Compares without stopping at the first difference.
fn ct_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}
