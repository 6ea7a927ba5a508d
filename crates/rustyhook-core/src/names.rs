//! Names users choose: uids, event type names and channels. Each parses once; a value of these
//! types is known to be well-formed, and deserializing a bad one fails with the reason.

use std::fmt;

use serde::{Deserialize, Serialize};

/// Why a name was rejected; the text is shown to API users as is.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct NameError(String);

fn check(value: &str, what: &str, max: usize, extra: &[u8]) -> Result<(), NameError> {
    if value.is_empty() {
        return Err(NameError(format!("{what} must not be empty")));
    }
    if value.len() > max {
        return Err(NameError(format!(
            "{what} must be at most {max} characters"
        )));
    }
    let ok = |b: u8| b.is_ascii_alphanumeric() || b"-_.".contains(&b) || extra.contains(&b);
    if !value.bytes().all(ok) {
        let allowed = if extra.is_empty() {
            "letters, digits, '-', '_' and '.'"
        } else {
            "letters, digits, '-', '_', '.' and ':'"
        };
        return Err(NameError(format!("{what} may only contain {allowed}")));
    }
    Ok(())
}

macro_rules! name_type {
    ($(#[$doc:meta])* $name:ident, $what:literal, $max:literal, $extra:expr) => {
        $(#[$doc])*
        #[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
        #[serde(try_from = "String", into = "String")]
        pub struct $name(String);

        impl $name {
            /// Accepts a well-formed value.
            pub fn parse(value: impl Into<String>) -> Result<Self, NameError> {
                let value = value.into();
                check(&value, $what, $max, $extra)?;
                Ok(Self(value))
            }

            /// The value as text.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl TryFrom<String> for $name {
            type Error = NameError;
            fn try_from(value: String) -> Result<Self, NameError> {
                Self::parse(value)
            }
        }

        impl From<$name> for String {
            fn from(value: $name) -> String {
                value.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{:?}", self.0)
            }
        }
    };
}

name_type!(
    /// A caller-chosen unique identifier, usable wherever an id is accepted: 1 to 256 letters,
    /// digits, `-`, `_` and `.`.
    Uid,
    "uid",
    256,
    b""
);
name_type!(
    /// An event type name such as `invoice.paid`: 1 to 256 letters, digits, `-`, `_` and `.`.
    EventTypeName,
    "event type name",
    256,
    b""
);
name_type!(
    /// A channel a message is sent on and an endpoint may subscribe to: 1 to 128 letters,
    /// digits, `-`, `_`, `.` and `:`.
    Channel,
    "channel",
    128,
    b":"
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_reject_what_svix_rejects() {
        assert!(EventTypeName::parse("invoice.paid").is_ok());
        assert!(EventTypeName::parse("invoice paid").is_err());
        assert!(EventTypeName::parse("").is_err());
        assert!(Channel::parse("project:123").is_ok());
        assert!(Uid::parse("project:123").is_err());
        assert!(Uid::parse("x".repeat(257)).is_err());
    }

    #[test]
    fn bad_names_do_not_deserialize() {
        let err = serde_json::from_str::<EventTypeName>("\"a b\"").expect_err("space is invalid");
        assert!(err.to_string().contains("may only contain"), "{err}");
    }
}

/// An endpoint's URL: absolute `http` or `https` with a host. Whether its address may be reached
/// is decided when sending, after DNS resolution.
#[derive(Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(try_from = "String", into = "String")]
pub struct EndpointUrl(String);

impl EndpointUrl {
    /// Accepts an absolute http(s) URL with a host.
    pub fn parse(value: impl Into<String>) -> Result<Self, NameError> {
        let value = value.into();
        if value.len() > 65_536 {
            return Err(NameError("url must be at most 65536 characters".into()));
        }
        let parsed = url::Url::parse(&value)
            .map_err(|e| NameError(format!("url is not a valid absolute URL: {e}")))?;
        if !matches!(parsed.scheme(), "http" | "https") {
            return Err(NameError("url must use http or https".into()));
        }
        if parsed.host_str().is_none_or(str::is_empty) {
            return Err(NameError("url must have a host".into()));
        }
        Ok(Self(value))
    }

    /// The URL as given.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for EndpointUrl {
    type Error = NameError;
    fn try_from(value: String) -> Result<Self, NameError> {
        Self::parse(value)
    }
}

impl From<EndpointUrl> for String {
    fn from(value: EndpointUrl) -> String {
        value.0
    }
}

impl fmt::Debug for EndpointUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", self.0)
    }
}

#[cfg(test)]
mod url_tests {
    use super::*;

    #[test]
    fn endpoint_urls_must_be_absolute_http() {
        assert!(EndpointUrl::parse("https://example.com/hook").is_ok());
        assert!(EndpointUrl::parse("http://127.0.0.1:9000").is_ok());
        assert!(EndpointUrl::parse("ftp://example.com").is_err());
        assert!(EndpointUrl::parse("/relative").is_err());
        assert!(EndpointUrl::parse("not a url").is_err());
    }
}
