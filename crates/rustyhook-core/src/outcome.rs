//! How an attempt ended, as a stable code stored with it. Codes never change meaning; dashboards,
//! alerts and users' scripts match on them.

use serde::{Deserialize, Serialize};

/// The outcome of one attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum OutcomeCode {
    /// A 2xx response.
    #[serde(rename = "OK")]
    Ok,
    /// The receiver answered with a non-2xx status (redirects included: they are not followed).
    #[serde(rename = "E_HTTP_STATUS")]
    HttpStatus,
    /// No complete response within the timeout.
    #[serde(rename = "E_TIMEOUT")]
    Timeout,
    /// The connection could not be made or broke.
    #[serde(rename = "E_CONNECT")]
    Connect,
    /// The host name did not resolve.
    #[serde(rename = "E_DNS")]
    Dns,
    /// The TLS handshake failed.
    #[serde(rename = "E_TLS")]
    Tls,
    /// The destination is a private, loopback or link-local address and those are not allowed.
    #[serde(rename = "E_BLOCKED_ADDRESS")]
    BlockedAddress,
    /// The endpoint is disabled or deleted; the delivery was not sent.
    #[serde(rename = "E_ENDPOINT_DISABLED")]
    EndpointDisabled,
    /// The message's content was deleted before it could be sent.
    #[serde(rename = "E_NO_CONTENT")]
    NoContent,
    /// Any other failure of the request.
    #[serde(rename = "E_REQUEST")]
    Request,
    /// A command exited with a non-zero code (or was killed by a signal).
    #[serde(rename = "E_EXIT_CODE")]
    ExitCode,
    /// A command could not be started (not found, not executable, bad working directory).
    #[serde(rename = "E_SPAWN")]
    Spawn,
}

impl OutcomeCode {
    /// The code as stored and shown.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Ok => "OK",
            Self::HttpStatus => "E_HTTP_STATUS",
            Self::Timeout => "E_TIMEOUT",
            Self::Connect => "E_CONNECT",
            Self::Dns => "E_DNS",
            Self::Tls => "E_TLS",
            Self::BlockedAddress => "E_BLOCKED_ADDRESS",
            Self::EndpointDisabled => "E_ENDPOINT_DISABLED",
            Self::NoContent => "E_NO_CONTENT",
            Self::Request => "E_REQUEST",
            Self::ExitCode => "E_EXIT_CODE",
            Self::Spawn => "E_SPAWN",
        }
    }

    /// The inverse of [`Self::as_str`].
    pub fn parse(s: &str) -> Option<Self> {
        [
            Self::Ok,
            Self::HttpStatus,
            Self::Timeout,
            Self::Connect,
            Self::Dns,
            Self::Tls,
            Self::BlockedAddress,
            Self::EndpointDisabled,
            Self::NoContent,
            Self::Request,
            Self::ExitCode,
            Self::Spawn,
        ]
        .into_iter()
        .find(|c| c.as_str() == s)
    }

    /// Whether another attempt could succeed where this one failed.
    pub fn is_retryable(self) -> bool {
        !matches!(self, Self::Ok | Self::EndpointDisabled | Self::NoContent)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_round_trip_through_text() {
        for code in ["OK", "E_TIMEOUT", "E_CONNECT", "E_DNS", "E_BLOCKED_ADDRESS"] {
            assert_eq!(
                OutcomeCode::parse(code).map(OutcomeCode::as_str),
                Some(code)
            );
        }
        assert_eq!(OutcomeCode::parse("E_NOPE"), None);
    }
}
