//! Standard Webhooks signing. A signature is `v1,` and the base64 of HMAC-SHA256 over
//! `{webhook-id}.{webhook-timestamp}.{body}` keyed with the endpoint's secret. While a secret is
//! being rotated, one signature per live secret is sent, separated by spaces; receivers accept the
//! request if any matches.

use std::fmt;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, Mac};
use rand::RngCore;
use sha2::Sha256;

const PREFIX: &str = "whsec_";

/// An endpoint's signing secret: raw key bytes, shown to users as `whsec_<base64>`.
/// `Debug` never prints the key, so secrets cannot leak through logs.
#[derive(Clone, PartialEq, Eq)]
#[cfg_attr(
    feature = "openapi",
    derive(utoipa::ToSchema),
    schema(value_type = String, example = "whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD")
)]
pub struct SigningSecret(Vec<u8>);

/// Why a secret was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SecretError {
    /// Wrong characters or length.
    #[error("secret must be 'whsec_' followed by 32 to 100 base64 characters")]
    Format,
}

impl SigningSecret {
    /// A new random 24-byte secret, as Svix generates.
    pub fn generate() -> Self {
        let mut key = vec![0u8; 24];
        rand::rng().fill_bytes(&mut key);
        Self(key)
    }

    /// Accepts `whsec_<base64>` or bare base64 of 32 to 100 characters.
    pub fn parse(text: &str) -> Result<Self, SecretError> {
        let b64 = text.strip_prefix(PREFIX).unwrap_or(text);
        let well_formed = (32..=100).contains(&b64.len())
            && b64
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"+/=".contains(&b));
        if !well_formed {
            return Err(SecretError::Format);
        }
        STANDARD
            .decode(b64)
            .map(Self)
            .map_err(|_| SecretError::Format)
    }

    /// The secret as users see it: `whsec_<base64>`.
    pub fn expose(&self) -> String {
        format!("{PREFIX}{}", STANDARD.encode(&self.0))
    }

    /// The `v1,<base64>` signature of one request.
    pub fn sign(&self, msg_id: &str, timestamp: i64, body: &[u8]) -> String {
        let mut mac =
            Hmac::<Sha256>::new_from_slice(&self.0).expect("HMAC accepts keys of any length");
        mac.update(msg_id.as_bytes());
        mac.update(b".");
        mac.update(timestamp.to_string().as_bytes());
        mac.update(b".");
        mac.update(body);
        format!("v1,{}", STANDARD.encode(mac.finalize().into_bytes()))
    }
}

impl<'de> serde::Deserialize<'de> for SigningSecret {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        Self::parse(&text).map_err(serde::de::Error::custom)
    }
}

impl fmt::Debug for SigningSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SigningSecret(<redacted>)")
    }
}

/// Headers a user may not set on an endpoint, because rustyhook sets them on every delivery
/// (the signature headers of either style among them).
const RESERVED: &[&str] = &[
    "content-type",
    "content-length",
    "host",
    "user-agent",
    "webhook-id",
    "webhook-timestamp",
    "webhook-signature",
    "svix-id",
    "svix-timestamp",
    "svix-signature",
];

/// What stands in for a credential's value where headers are shown back.
pub const REDACTED: &str = "[REDACTED]";

/// Whether a header's value is a credential, by its name: `authorization`, `cookie`, or a
/// name holding `token`, `key`, `secret` or `password` (any case). Such values are never shown
/// back: not by an endpoint's headers route, not in an attempt's request headers.
pub fn is_credential_header(name: &str) -> bool {
    let n = name.to_ascii_lowercase();
    n == "authorization"
        || n == "proxy-authorization"
        || n == "cookie"
        || ["token", "key", "secret", "password"]
            .iter()
            .any(|part| n.contains(part))
}

/// The headers of a request as an attempt records them: names in lower case, each credential's
/// value (see [`is_credential_header`]) replaced by [`REDACTED`], and the `user-agent` the
/// client adds itself.
pub fn recorded_headers(
    headers: &[(String, String)],
    user_agent: &str,
) -> std::collections::BTreeMap<String, String> {
    let mut out: std::collections::BTreeMap<String, String> = headers
        .iter()
        .map(|(k, v)| {
            let name = k.to_ascii_lowercase();
            let value = if is_credential_header(&name) {
                REDACTED.to_owned()
            } else {
                v.clone()
            };
            (name, value)
        })
        .collect();
    out.entry("user-agent".into())
        .or_insert_with(|| user_agent.to_owned());
    out
}

/// Whether users may set `name` as an endpoint header: the API refuses a reserved one, and the
/// dispatcher drops one stored before the rule.
pub fn is_reserved_header(name: &str) -> bool {
    RESERVED.contains(&name.to_ascii_lowercase().as_str())
}

/// The value of the signature header for a request signed with every live secret.
pub fn signature_header<'a>(
    secrets: impl IntoIterator<Item = &'a SigningSecret>,
    msg_id: &str,
    timestamp: i64,
    body: &[u8],
) -> String {
    secrets
        .into_iter()
        .map(|s| s.sign(msg_id, timestamp, body))
        .collect::<Vec<_>>()
        .join(" ")
}

/// Which header names carry the id, timestamp and signature.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum HeaderStyle {
    /// `webhook-id`, `webhook-timestamp`, `webhook-signature` (Standard Webhooks).
    #[default]
    Standard,
    /// `svix-id`, `svix-timestamp`, `svix-signature`, for receivers written against Svix.
    Svix,
}

impl HeaderStyle {
    /// The id, timestamp and signature header names.
    pub fn names(self) -> [&'static str; 3] {
        match self {
            Self::Standard => ["webhook-id", "webhook-timestamp", "webhook-signature"],
            Self::Svix => ["svix-id", "svix-timestamp", "svix-signature"],
        }
    }

    /// The stored form.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Standard => "standard",
            Self::Svix => "svix",
        }
    }

    /// The inverse of [`Self::as_str`]; unknown values fall back to the standard names.
    pub fn parse(s: &str) -> Self {
        if s == "svix" {
            Self::Svix
        } else {
            Self::Standard
        }
    }

    /// The style a delivery uses: the endpoint's own choice wins, then its app's, then the
    /// server's default. Kept in one place so the dispatcher and the docs cannot disagree.
    pub fn effective(endpoint: Option<Self>, app: Option<Self>, server: Self) -> Self {
        endpoint.or(app).unwrap_or(server)
    }
}

impl std::str::FromStr for HeaderStyle {
    type Err = String;

    /// The strict form, for settings: a typo is an error, not the standard names.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim() {
            "standard" => Ok(Self::Standard),
            "svix" => Ok(Self::Svix),
            other => Err(format!(
                "unknown header style {other:?}: expected \"standard\" or \"svix\""
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recorded_headers_hide_credentials_and_keep_the_signature() {
        let sent: Vec<(String, String)> = [
            ("Authorization", "Bearer abc"),
            ("X-Api-Key", "k"),
            ("Cookie", "s=1"),
            ("X-Db-Password", "p"),
            ("X-Tenant", "acme"),
            ("webhook-signature", "v1,sig"),
            ("content-type", "application/json"),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        let got = recorded_headers(&sent, "rustyhook/1");
        for hidden in ["authorization", "x-api-key", "cookie", "x-db-password"] {
            assert_eq!(got[hidden], REDACTED, "{hidden}");
        }
        assert_eq!(got["x-tenant"], "acme");
        assert_eq!(got["webhook-signature"], "v1,sig");
        assert_eq!(got["user-agent"], "rustyhook/1");
    }

    #[test]
    fn the_endpoint_style_wins_over_the_app_and_the_app_over_the_server() {
        use HeaderStyle::{Standard, Svix};
        assert_eq!(
            HeaderStyle::effective(Some(Standard), Some(Svix), Svix),
            Standard
        );
        assert_eq!(HeaderStyle::effective(None, Some(Svix), Standard), Svix);
        assert_eq!(HeaderStyle::effective(None, None, Svix), Svix);
        assert_eq!("svix".parse::<HeaderStyle>(), Ok(Svix));
        assert!("svx".parse::<HeaderStyle>().is_err());
    }

    #[test]
    fn signs_the_standard_webhooks_test_vector() {
        // The example from the Standard Webhooks specification.
        let secret = SigningSecret::parse("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").expect("valid");
        let sig = secret.sign(
            "msg_p5jXN8AQM9LWM0D4loKWxJek",
            1614265330,
            br#"{"test": 2432232314}"#,
        );
        assert_eq!(sig, "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
    }

    #[test]
    fn rejects_malformed_secrets_and_round_trips_good_ones() {
        assert!(SigningSecret::parse("whsec_short").is_err());
        assert!(SigningSecret::parse("whsec_!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!").is_err());
        let s = SigningSecret::generate();
        assert_eq!(SigningSecret::parse(&s.expose()), Ok(s.clone()));
        assert_eq!(format!("{s:?}"), "SigningSecret(<redacted>)");
    }

    #[test]
    fn rotation_sends_one_signature_per_secret() {
        let (a, b) = (SigningSecret::generate(), SigningSecret::generate());
        let header = signature_header([&a, &b], "msg_1", 1, b"{}");
        assert_eq!(header.split(' ').count(), 2);
        assert!(header.starts_with(&a.sign("msg_1", 1, b"{}")));
    }
}
