//! A DNS resolver that refuses private destinations. Checking the URL's host name is not enough:
//! `hooks.example.com` can resolve to `10.0.0.5`. So the check runs on the resolved addresses, and
//! the HTTP client connects only to the addresses that passed.

use std::net::{IpAddr, SocketAddr};

use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use rustyhook_core::address::is_restricted;

/// Why a name could not be used.
#[derive(Debug, thiserror::Error)]
pub enum ResolveError {
    /// Every address the name resolved to is restricted.
    #[error(
        "{host} resolves to {ip}, a private, loopback or link-local address; \
         set RUSTYHOOK_ALLOW_PRIVATE_NETWORKS=true (delivery.allow_private_networks) to allow it"
    )]
    Blocked {
        /// The name looked up.
        host: String,
        /// The first restricted address it resolved to.
        ip: IpAddr,
    },
    /// The lookup failed.
    #[error("could not resolve {host}: {source}")]
    Lookup {
        /// The name looked up.
        host: String,
        /// The resolver's error.
        #[source]
        source: std::io::Error,
    },
}

/// Resolves with the system resolver, dropping restricted addresses unless allowed.
#[derive(Debug, Clone)]
pub struct GuardedResolver {
    /// Whether restricted addresses are allowed.
    pub allow_private: bool,
    /// The configured proxy's host name: the operator chose it, so it may be internal. With a
    /// proxy, this is the only name the client resolves; targets are checked before sending.
    pub trusted_host: Option<String>,
}

impl Resolve for GuardedResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let host = name.as_str().to_owned();
        let allow_private =
            self.allow_private || self.trusted_host.as_deref() == Some(host.as_str());
        Box::pin(async move {
            let found: Vec<SocketAddr> = tokio::net::lookup_host((host.as_str(), 0))
                .await
                .map_err(|source| ResolveError::Lookup {
                    host: host.clone(),
                    source,
                })?
                .collect();
            let allowed = filter(&host, found, allow_private)?;
            Ok(Box::new(allowed.into_iter()) as Addrs)
        })
    }
}

/// Keeps the allowed addresses, or explains why none is.
pub fn filter(
    host: &str,
    found: Vec<SocketAddr>,
    allow_private: bool,
) -> Result<Vec<SocketAddr>, ResolveError> {
    if allow_private {
        return Ok(found);
    }
    let first_blocked = found.iter().find(|a| is_restricted(a.ip())).map(|a| a.ip());
    let allowed: Vec<SocketAddr> = found
        .into_iter()
        .filter(|a| !is_restricted(a.ip()))
        .collect();
    match (allowed.is_empty(), first_blocked) {
        (true, Some(ip)) => Err(ResolveError::Blocked {
            host: host.to_owned(),
            ip,
        }),
        _ => Ok(allowed),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addr(s: &str) -> SocketAddr {
        SocketAddr::new(s.parse().expect("valid ip"), 0)
    }

    #[test]
    fn restricted_addresses_are_dropped_unless_allowed() {
        let mixed = vec![addr("10.0.0.1"), addr("93.184.216.34")];
        assert_eq!(
            filter("h", mixed.clone(), false).expect("one allowed"),
            vec![addr("93.184.216.34")]
        );
        assert_eq!(filter("h", mixed.clone(), true).expect("all"), mixed);
        let err = filter("h", vec![addr("127.0.0.1")], false).expect_err("blocked");
        assert!(err.to_string().contains("RUSTYHOOK_ALLOW_PRIVATE_NETWORKS"));
    }
}
