//! Minimal Amazon SQS client (long-poll receive, delete, send) speaking the AWS
//! JSON 1.0 protocol, with a hand-written AWS Signature Version 4 signer.
//!
//! Credentials come from `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY` and the
//! optional `AWS_SESSION_TOKEN`, re-read on every request so rotated temporary
//! credentials are picked up without rebuilding the client.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::time::Duration;

use chrono::{DateTime, Utc};
use hmac::{Hmac, Mac};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use url::Url;

const AMZ_DATE_FORMAT: &str = "%Y%m%dT%H%M%SZ";
/// Key prefix of user message attributes in [`SqsMessage::attributes`].
pub const MESSAGE_ATTRIBUTE_PREFIX: &str = "MessageAttribute.";

/// Settings for one queue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SqsConfig {
    /// Full queue URL, e.g. `https://sqs.us-east-1.amazonaws.com/123456789012/my-queue`.
    pub queue_url: String,
    /// Signing region; if `None`: parsed from the queue URL host, else
    /// `AWS_REGION`, else `AWS_DEFAULT_REGION`.
    pub region: Option<String>,
    /// Endpoint to POST to (e.g. `http://127.0.0.1:5000`); defaults to the
    /// queue URL's scheme, host and port.
    pub endpoint_url: Option<String>,
    /// Long-poll wait of `ReceiveMessage`, 0..=20 seconds.
    pub wait_time_seconds: u8,
    /// Maximum messages per `ReceiveMessage`, 1..=10.
    pub max_messages: u8,
    /// Visibility timeout in seconds for received messages; `None` keeps the queue's.
    pub visibility_timeout: Option<u32>,
    /// An access key id and secret to use instead of the `AWS_*` environment variables.
    pub static_credentials: Option<(String, String)>,
}

/// A message returned by [`SqsClient::receive`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SqsMessage {
    /// SQS message id.
    pub message_id: String,
    /// Handle to pass to [`SqsClient::delete`].
    pub receipt_handle: String,
    /// Message body.
    pub body: String,
    /// System attributes by name (`SentTimestamp`, `ApproximateReceiveCount`, ...) and
    /// String/Number message attributes as [`MESSAGE_ATTRIBUTE_PREFIX`]`<name>`
    /// (Binary ones are dropped).
    pub attributes: BTreeMap<String, String>,
}

/// Errors of the SQS client.
#[derive(Debug, thiserror::Error)]
pub enum SqsError {
    /// SQS answered with a non-success HTTP status.
    #[error("SQS {action} failed with HTTP {status}: {code}: {message}")]
    Http {
        /// API action, e.g. `ReceiveMessage`.
        action: &'static str,
        /// HTTP status code.
        status: u16,
        /// AWS error code, e.g. `QueueDoesNotExist`, or `Unknown`.
        code: String,
        /// AWS error message, or the start of the response body.
        message: String,
    },
    /// The request failed in transport or its response could not be read.
    #[error("network error calling SQS {action}: {source}")]
    Network {
        /// API action, e.g. `ReceiveMessage`.
        action: &'static str,
        /// Underlying error.
        source: reqwest::Error,
    },
    /// This credential environment variable is unset or empty.
    #[error("missing AWS credentials: environment variable {0} is not set")]
    MissingCredentials(&'static str),
    /// No region for this queue URL: set `SqsConfig::region` or `AWS_REGION`.
    #[error("cannot determine the AWS region for queue URL {0}: set region or AWS_REGION")]
    MissingRegion(String),
    /// The queue URL is not an absolute http(s) URL.
    #[error("invalid SQS queue URL {0}")]
    InvalidQueueUrl(String),
    /// Another setting is invalid (endpoint URL, out-of-range number).
    #[error("invalid SQS config: {0}")]
    InvalidConfig(String),
    /// A success response whose body could not be decoded.
    #[error("invalid SQS response: {0}")]
    InvalidResponse(String),
}

/// SQS client bound to one queue; cheap to clone.
#[derive(Debug, Clone)]
pub struct SqsClient {
    config: SqsConfig,
    api: Api,
}

impl SqsClient {
    /// Validates `config`, resolves region and endpoint, and checks that
    /// credentials are set.
    pub fn new(config: SqsConfig, http: reqwest::Client) -> Result<Self, SqsError> {
        let queue = parse_http_url(&config.queue_url).map_err(SqsError::InvalidQueueUrl)?;
        if config.wait_time_seconds > 20 || !(1..=10).contains(&config.max_messages) {
            return Err(SqsError::InvalidConfig(format!(
                "wait_time_seconds must be 0..=20 and max_messages 1..=10, got {} and {}",
                config.wait_time_seconds, config.max_messages
            )));
        }
        let endpoint = match &config.endpoint_url {
            Some(raw) => parse_http_url(raw).map_err(SqsError::InvalidConfig)?,
            None => queue
                .join("/")
                .map_err(|e| SqsError::InvalidQueueUrl(e.to_string()))?,
        };
        let region = config.region.clone().filter(|r| !r.is_empty());
        let region = region
            .or_else(|| queue.host_str().and_then(region_from_host))
            .or_else(|| env_nonempty("AWS_REGION"))
            .or_else(|| env_nonempty("AWS_DEFAULT_REGION"))
            .ok_or_else(|| SqsError::MissingRegion(config.queue_url.clone()))?;
        let fixed = config
            .static_credentials
            .clone()
            .map(|(id, secret)| Credentials {
                access_key_id: id,
                secret_access_key: secret,
                session_token: None,
            });
        if fixed.is_none() {
            Credentials::from_env()?;
        }
        let api = Api {
            http,
            endpoint,
            region,
            fixed,
        };
        Ok(Self { config, api })
    }

    /// One long-poll `ReceiveMessage`; empty when the wait ends without messages.
    /// The request timeout is the wait time plus 15 s, overriding the client's.
    pub async fn receive(&self) -> Result<Vec<SqsMessage>, SqsError> {
        let c = &self.config;
        let mut body = json!({
            "QueueUrl": c.queue_url,
            "MaxNumberOfMessages": c.max_messages,
            "WaitTimeSeconds": c.wait_time_seconds,
            "AttributeNames": ["All"],
            "MessageAttributeNames": ["All"],
        });
        if let Some(vt) = c.visibility_timeout {
            body["VisibilityTimeout"] = vt.into();
        }
        let timeout = Duration::from_secs(u64::from(c.wait_time_seconds) + 15);
        let resp: ReceiveResponse = self
            .api
            .call("ReceiveMessage", &body, Some(timeout))
            .await?;
        let messages = resp.messages.unwrap_or_default().into_iter();
        Ok(messages.map(RawMessage::into_message).collect())
    }

    /// Deletes a received message.
    pub async fn delete(&self, receipt_handle: &str) -> Result<(), SqsError> {
        let body = json!({ "QueueUrl": self.config.queue_url, "ReceiptHandle": receipt_handle });
        let _: Value = self.api.call("DeleteMessage", &body, None).await?;
        Ok(())
    }

    /// Sends `body` and returns the new message id.
    pub async fn send(&self, body: &str) -> Result<String, SqsError> {
        let body = json!({ "QueueUrl": self.config.queue_url, "MessageBody": body });
        let resp: Value = self.api.call("SendMessage", &body, None).await?;
        string_field(&resp, "MessageId")
    }
}

/// Creates the standard queue `name` (or finds the existing one) and returns its URL.
pub async fn create_queue(
    http: &reqwest::Client,
    endpoint_url: &str,
    region: &str,
    name: &str,
    credentials: Option<(String, String)>,
) -> Result<String, SqsError> {
    let api = Api {
        http: http.clone(),
        endpoint: parse_http_url(endpoint_url).map_err(SqsError::InvalidConfig)?,
        region: region.to_owned(),
        fixed: credentials.map(|(id, secret)| Credentials {
            access_key_id: id,
            secret_access_key: secret,
            session_token: None,
        }),
    };
    let body = json!({ "QueueName": name });
    let resp: Value = api.call("CreateQueue", &body, None).await?;
    string_field(&resp, "QueueUrl")
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ReceiveResponse {
    messages: Option<Vec<RawMessage>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct RawMessage {
    message_id: String,
    receipt_handle: String,
    #[serde(default)]
    body: String,
    attributes: Option<BTreeMap<String, String>>,
    message_attributes: Option<BTreeMap<String, RawAttribute>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct RawAttribute {
    string_value: Option<String>,
}

impl RawMessage {
    fn into_message(self) -> SqsMessage {
        let mut attributes = self.attributes.unwrap_or_default();
        for (name, attr) in self.message_attributes.unwrap_or_default() {
            if let Some(value) = attr.string_value {
                attributes.insert(format!("{MESSAGE_ATTRIBUTE_PREFIX}{name}"), value);
            }
        }
        let (message_id, receipt_handle, body) = (self.message_id, self.receipt_handle, self.body);
        SqsMessage {
            message_id,
            receipt_handle,
            body,
            attributes,
        }
    }
}

/// Where and how to send API calls.
#[derive(Debug, Clone)]
struct Api {
    http: reqwest::Client,
    endpoint: Url,
    region: String,
    /// Credentials given in the config; the environment's are read per request otherwise.
    fixed: Option<Credentials>,
}

impl Api {
    /// Sends one signed AWS JSON 1.0 request and decodes the success body as `T`.
    async fn call<T: DeserializeOwned>(
        &self,
        action: &'static str,
        body: &Value,
        timeout: Option<Duration>,
    ) -> Result<T, SqsError> {
        let creds = match &self.fixed {
            Some(c) => c.clone(),
            None => Credentials::from_env()?,
        };
        let payload = body.to_string().into_bytes();
        let host = self.endpoint.host_str().unwrap_or_default();
        let host = match self.endpoint.port() {
            Some(port) => format!("{host}:{port}"),
            None => host.to_owned(),
        };
        let now = Utc::now();
        let date = now.format(AMZ_DATE_FORMAT).to_string();
        let target = format!("AmazonSQS.{action}");
        let mut headers = vec![
            ("content-type", "application/x-amz-json-1.0"),
            ("host", host.as_str()),
            ("x-amz-date", date.as_str()),
            ("x-amz-target", target.as_str()),
        ];
        if let Some(token) = &creds.session_token {
            headers.push(("x-amz-security-token", token.as_str()));
        }
        let query: Vec<(String, String)> = self.endpoint.query_pairs().into_owned().collect();
        let query: Vec<(&str, &str)> = query.iter().map(|(k, v)| (&**k, &**v)).collect();
        let auth = sign_v4(&SignInput {
            method: "POST",
            path: self.endpoint.path(),
            query: &query,
            headers: &headers,
            payload: &payload,
            time: now,
            credentials: &creds,
            region: &self.region,
            service: "sqs",
        });
        // reqwest derives the same Host header from the URL itself.
        let url = self.endpoint.clone();
        let mut req = self.http.post(url).header("authorization", auth);
        for (name, value) in headers.into_iter().filter(|(n, _)| *n != "host") {
            req = req.header(name, value);
        }
        if let Some(timeout) = timeout {
            req = req.timeout(timeout);
        }
        let network = |source| SqsError::Network { action, source };
        let resp = req.body(payload).send().await.map_err(network)?;
        let status = resp.status();
        let bytes = resp.bytes().await.map_err(network)?;
        if !status.is_success() {
            return Err(http_error(action, status.as_u16(), &bytes));
        }
        let empty = bytes.iter().all(u8::is_ascii_whitespace);
        serde_json::from_slice(if empty { b"{}" } else { &bytes })
            .map_err(|e| SqsError::InvalidResponse(format!("{action}: {e}")))
    }
}

/// Builds [`SqsError::Http`] from an error response body (JSON, or XML for auth errors).
fn http_error(action: &'static str, status: u16, body: &[u8]) -> SqsError {
    let json: Value = serde_json::from_slice(body).unwrap_or_default();
    // `com.amazonaws.sqs#QueueDoesNotExist` or `Code:http://...` -> bare code.
    let code = json["__type"]
        .as_str()
        .and_then(|k| k.rsplit('#').next()?.split(':').next());
    // moto sends both `message` and `Message`.
    let message = json["message"].as_str().or(json["Message"].as_str());
    let text = String::from_utf8_lossy(body);
    let code = code.map(str::to_owned).or_else(|| xml_tag(&text, "Code"));
    let message = message
        .map(str::to_owned)
        .or_else(|| xml_tag(&text, "Message"));
    SqsError::Http {
        action,
        status,
        code: code.unwrap_or_else(|| "Unknown".to_owned()),
        message: message.unwrap_or_else(|| text.trim().chars().take(300).collect()),
    }
}

/// The string member `key` of a response object.
fn string_field(resp: &Value, key: &str) -> Result<String, SqsError> {
    let value = resp[key].as_str().map(str::to_owned);
    value.ok_or_else(|| SqsError::InvalidResponse(format!("no string {key} in {resp}")))
}

/// Text of the first `<tag>...</tag>` in `text`.
fn xml_tag(text: &str, tag: &str) -> Option<String> {
    let start = text.find(&format!("<{tag}>"))? + tag.len() + 2;
    let len = text.get(start..)?.find(&format!("</{tag}>"))?;
    text.get(start..start + len).map(str::to_owned)
}

/// Parses an absolute http(s) URL with a host; the error names the URL and the reason.
fn parse_http_url(raw: &str) -> Result<Url, String> {
    let url = Url::parse(raw).map_err(|e| format!("{raw:?}: {e}"))?;
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none_or(str::is_empty) {
        return Err(format!("{raw:?}: must be an http(s) URL with a host"));
    }
    Ok(url)
}

/// Region of `sqs.<region>.amazonaws.com`-style hosts (also `sqs-fips.<region>...`
/// and the legacy `<region>.queue.amazonaws.com` and `queue.amazonaws.com`).
fn region_from_host(host: &str) -> Option<String> {
    let labels: Vec<&str> = host.split('.').collect();
    let region = match labels.as_slice() {
        ["queue", "amazonaws", "com"] => "us-east-1",
        [sqs, region, _, ..] if *sqs == "sqs" || sqs.starts_with("sqs-") => region,
        [region, "queue", "amazonaws", ..] => region,
        _ => return None,
    };
    let valid = region.contains('-')
        && region
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-');
    valid.then(|| region.to_owned())
}

fn env_nonempty(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}

/// AWS credentials; no `Debug`, so secrets cannot end up in logs.
#[derive(Clone)]
struct Credentials {
    access_key_id: String,
    secret_access_key: String,
    session_token: Option<String>,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Credentials({}, <redacted>)", self.access_key_id)
    }
}

impl Credentials {
    fn from_env() -> Result<Self, SqsError> {
        let get = |name| env_nonempty(name).ok_or(SqsError::MissingCredentials(name));
        Ok(Self {
            access_key_id: get("AWS_ACCESS_KEY_ID")?,
            secret_access_key: get("AWS_SECRET_ACCESS_KEY")?,
            session_token: env_nonempty("AWS_SESSION_TOKEN"),
        })
    }
}

/// Input of the pure SigV4 signer. All `headers` are signed; they must include
/// `host` and `x-amz-date` (= `time`), plus `x-amz-security-token` if used.
struct SignInput<'a> {
    method: &'a str,
    /// Path as sent on the wire (already percent-encoded).
    path: &'a str,
    /// Decoded query parameters.
    query: &'a [(&'a str, &'a str)],
    headers: &'a [(&'a str, &'a str)],
    payload: &'a [u8],
    time: DateTime<Utc>,
    credentials: &'a Credentials,
    region: &'a str,
    service: &'a str,
}

/// Returns `(canonical_request, signed_headers)`.
fn canonical_request(input: &SignInput<'_>) -> (String, String) {
    let path: Vec<String> = input.path.split('/').map(uri_encode).collect();
    let encode = |(k, v): &(&str, &str)| (uri_encode(k), uri_encode(v));
    let mut query: Vec<(String, String)> = input.query.iter().map(encode).collect();
    query.sort();
    let query: Vec<String> = query.into_iter().map(|(k, v)| format!("{k}={v}")).collect();
    let trim = |v: &str| v.split_whitespace().collect::<Vec<_>>().join(" ");
    let header = |(k, v): &(&str, &str)| (k.to_ascii_lowercase(), trim(v));
    let mut headers: Vec<(String, String)> = input.headers.iter().map(header).collect();
    headers.sort();
    let canonical_headers: String = headers.iter().map(|(k, v)| format!("{k}:{v}\n")).collect();
    let signed: Vec<&str> = headers.iter().map(|(k, _)| k.as_str()).collect();
    let signed = signed.join(";");
    let request = format!(
        "{}\n{}\n{}\n{canonical_headers}\n{signed}\n{}",
        input.method,
        path.join("/"),
        query.join("&"),
        hex::encode(Sha256::digest(input.payload)),
    );
    (request, signed)
}

/// Derives the SigV4 signing key for `date` (`YYYYMMDD`).
fn signing_key(secret: &str, date: &str, region: &str, service: &str) -> Vec<u8> {
    let k_date = hmac_sha256(format!("AWS4{secret}").as_bytes(), date.as_bytes());
    let k_region = hmac_sha256(&k_date, region.as_bytes());
    let k_service = hmac_sha256(&k_region, service.as_bytes());
    hmac_sha256(&k_service, b"aws4_request")
}

/// Computes the `Authorization` header value.
fn sign_v4(input: &SignInput<'_>) -> String {
    let (date, creds) = (input.time.format("%Y%m%d").to_string(), input.credentials);
    let scope = format!("{date}/{}/{}/aws4_request", input.region, input.service);
    let (request, signed) = canonical_request(input);
    let string_to_sign = format!(
        "AWS4-HMAC-SHA256\n{}\n{scope}\n{}",
        input.time.format(AMZ_DATE_FORMAT),
        hex::encode(Sha256::digest(request.as_bytes()))
    );
    let key = signing_key(&creds.secret_access_key, &date, input.region, input.service);
    let signature = hex::encode(hmac_sha256(&key, string_to_sign.as_bytes()));
    let id = &creds.access_key_id;
    format!(
        "AWS4-HMAC-SHA256 Credential={id}/{scope}, SignedHeaders={signed}, Signature={signature}"
    )
}

fn hmac_sha256(key: &[u8], data: &[u8]) -> Vec<u8> {
    // HMAC takes keys of any length: `new_from_slice` never fails.
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(key) else {
        return Vec::new();
    };
    mac.update(data);
    mac.finalize().into_bytes().to_vec()
}

/// RFC 3986 percent-encoding of all but the unreserved characters.
fn uri_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(char::from(b));
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn creds(session_token: Option<&str>) -> Credentials {
        Credentials {
            access_key_id: "AKIDEXAMPLE".into(),
            secret_access_key: "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY".into(),
            session_token: session_token.map(str::to_owned),
        }
    }

    /// AWS SigV4 documentation example: IAM `ListUsers` GET request.
    #[test]
    fn sigv4_matches_aws_iam_list_users_example() {
        let creds = creds(None);
        let input = SignInput {
            method: "GET",
            path: "/",
            query: &[("Version", "2010-05-08"), ("Action", "ListUsers")],
            headers: &[
                (
                    "Content-Type",
                    "application/x-www-form-urlencoded; charset=utf-8",
                ),
                ("Host", "iam.amazonaws.com"),
                ("X-Amz-Date", "20150830T123600Z"),
            ],
            payload: b"",
            time: Utc
                .with_ymd_and_hms(2015, 8, 30, 12, 36, 0)
                .single()
                .expect("valid date"),
            credentials: &creds,
            region: "us-east-1",
            service: "iam",
        };
        let (request, signed) = canonical_request(&input);
        assert_eq!(signed, "content-type;host;x-amz-date");
        assert_eq!(
            hex::encode(Sha256::digest(request.as_bytes())),
            "f536975d06c0309214f805bb90ccff089219ecd68b2577efef23edd43b7e1a59"
        );
        assert_eq!(
            hex::encode(signing_key(
                &creds.secret_access_key,
                "20150830",
                "us-east-1",
                "iam"
            )),
            "c4afb1cc5771d871763a393e44b703571b55cc28424d1a5e86da6ed3c154a4b9"
        );
        assert_eq!(
            sign_v4(&input),
            "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/iam/aws4_request, \
             SignedHeaders=content-type;host;x-amz-date, \
             Signature=5d672d79c15b13162d9279b0855cfba6789a8edb4c82c400e06b5924a6f2b5d7"
        );
    }

    /// SQS JSON POST with a session token, cross-checked against botocore's `SigV4Auth`.
    #[test]
    fn sigv4_matches_botocore_for_sqs_json_post() {
        let creds = creds(Some("FQoGZXIvYXdzEXAMPLETOKEN//+="));
        let input = SignInput {
            method: "POST",
            path: "/",
            query: &[],
            headers: &[
                ("content-type", "application/x-amz-json-1.0"),
                ("host", "127.0.0.1:5000"),
                ("x-amz-date", "20261123T130903Z"),
                ("x-amz-target", "AmazonSQS.ReceiveMessage"),
                ("x-amz-security-token", "FQoGZXIvYXdzEXAMPLETOKEN//+="),
            ],
            payload:
                br#"{"QueueUrl":"http://127.0.0.1:5000/123456789012/q","MaxNumberOfMessages":10}"#,
            time: Utc
                .with_ymd_and_hms(2026, 11, 23, 13, 9, 3)
                .single()
                .expect("valid date"),
            credentials: &creds,
            region: "eu-west-1",
            service: "sqs",
        };
        assert_eq!(
            sign_v4(&input),
            "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20261123/eu-west-1/sqs/aws4_request, \
             SignedHeaders=content-type;host;x-amz-date;x-amz-security-token;x-amz-target, \
             Signature=9e4a7c3e31339f6b6676737c438e0379c8e91b34fa4819039fc3272c07686956"
        );
    }

    #[test]
    fn canonical_uri_and_query_are_encoded() {
        let creds = creds(None);
        let input = SignInput {
            method: "GET",
            path: "/a%20b/c",
            query: &[("b", "x y"), ("a", "1/2")],
            headers: &[("host", "h"), ("x-amz-date", "20150830T123600Z")],
            payload: b"",
            time: Utc
                .with_ymd_and_hms(2015, 8, 30, 12, 36, 0)
                .single()
                .expect("valid date"),
            credentials: &creds,
            region: "us-east-1",
            service: "sqs",
        };
        let (request, _) = canonical_request(&input);
        let mut lines = request.lines();
        assert_eq!(lines.nth(1), Some("/a%2520b/c"));
        assert_eq!(lines.next(), Some("a=1%2F2&b=x%20y"));
    }

    #[test]
    fn region_is_parsed_from_aws_hosts() {
        let cases = [
            ("sqs.us-east-1.amazonaws.com", Some("us-east-1")),
            ("sqs.eu-central-1.amazonaws.com", Some("eu-central-1")),
            (
                "sqs-fips.us-gov-west-1.amazonaws.com",
                Some("us-gov-west-1"),
            ),
            ("sqs.cn-north-1.amazonaws.com.cn", Some("cn-north-1")),
            ("ap-southeast-2.queue.amazonaws.com", Some("ap-southeast-2")),
            ("queue.amazonaws.com", Some("us-east-1")),
            ("127.0.0.1", None),
            ("localhost", None),
            ("sqs.amazonaws.com", None),
        ];
        for (host, want) in cases {
            assert_eq!(region_from_host(host).as_deref(), want, "{host}");
        }
    }

    fn config(queue_url: &str) -> SqsConfig {
        SqsConfig {
            queue_url: queue_url.into(),
            region: Some("us-east-1".into()),
            endpoint_url: None,
            wait_time_seconds: 20,
            max_messages: 10,
            visibility_timeout: None,
            static_credentials: None,
        }
    }

    #[test]
    fn new_rejects_bad_urls_and_ranges() {
        let http = reqwest::Client::new();
        let err = SqsClient::new(config("not a url"), http.clone()).expect_err("bad url");
        assert!(matches!(err, SqsError::InvalidQueueUrl(_)), "{err}");
        let err = SqsClient::new(config("ftp://x/1/q"), http.clone()).expect_err("bad scheme");
        assert_eq!(
            err.to_string(),
            r#"invalid SQS queue URL "ftp://x/1/q": must be an http(s) URL with a host"#
        );
        let mut bad = config("https://sqs.us-east-1.amazonaws.com/1/q");
        bad.max_messages = 11;
        let err = SqsClient::new(bad, http.clone()).expect_err("bad range");
        assert!(matches!(err, SqsError::InvalidConfig(_)), "{err}");
        let mut bad = config("https://sqs.us-east-1.amazonaws.com/1/q");
        bad.endpoint_url = Some("localhost:5000".into());
        let err = SqsClient::new(bad, http).expect_err("bad endpoint");
        assert!(err.to_string().contains("localhost:5000"), "{err}");
    }

    #[test]
    fn error_bodies_are_decoded() {
        let body = br#"{"__type":"com.amazonaws.sqs#QueueDoesNotExist","message":"The specified queue does not exist."}"#;
        let err = http_error("ReceiveMessage", 400, body);
        assert_eq!(
            err.to_string(),
            "SQS ReceiveMessage failed with HTTP 400: QueueDoesNotExist: The specified queue does not exist."
        );
        // moto's exact body: both `message` and `Message`.
        let body = br#"{"__type": "com.amazonaws.sqs#QueueDoesNotExist", "message": "gone", "Message": "gone"}"#;
        let err = http_error("DeleteMessage", 400, body);
        assert_eq!(
            err.to_string(),
            "SQS DeleteMessage failed with HTTP 400: QueueDoesNotExist: gone"
        );
        let body = br#"{"__type":"com.amazon.coral.service#AccessDeniedException","Message":"no"}"#;
        let err = http_error("SendMessage", 400, body);
        assert!(
            err.to_string().ends_with(": AccessDeniedException: no"),
            "{err}"
        );
        let body = b"<?xml version=\"1.0\"?><ErrorResponse><Errors><Error><Code>SignatureDoesNotMatch</Code>\
            <Message>bad sig</Message></Error></Errors></ErrorResponse>";
        let err = http_error("CreateQueue", 403, body);
        assert_eq!(
            err.to_string(),
            "SQS CreateQueue failed with HTTP 403: SignatureDoesNotMatch: bad sig"
        );
        let err = http_error("SendMessage", 403, b"<html>Forbidden</html>");
        assert_eq!(
            err.to_string(),
            "SQS SendMessage failed with HTTP 403: Unknown: <html>Forbidden</html>"
        );
    }

    #[test]
    fn receive_response_maps_attributes() {
        let raw =
            br#"{"Messages":[{"MessageId":"m1","ReceiptHandle":"r1","MD5OfBody":"x","Body":"hi",
            "Attributes":{"SentTimestamp":"1700000000000","ApproximateReceiveCount":"1"},
            "MessageAttributes":{"kind":{"DataType":"String","StringValue":"push"},
                                 "blob":{"DataType":"Binary","BinaryValue":"AAE="}}}]}"#;
        let resp: ReceiveResponse = serde_json::from_slice(raw).expect("valid response");
        let msgs: Vec<SqsMessage> = resp
            .messages
            .expect("messages")
            .into_iter()
            .map(RawMessage::into_message)
            .collect();
        assert_eq!(msgs.len(), 1);
        assert_eq!(msgs[0].body, "hi");
        assert_eq!(msgs[0].attributes["SentTimestamp"], "1700000000000");
        assert_eq!(msgs[0].attributes["MessageAttribute.kind"], "push");
        assert_eq!(msgs[0].attributes.len(), 3);
        let empty: ReceiveResponse = serde_json::from_slice(b"{}").expect("empty response");
        assert!(empty.messages.is_none());
    }
}
