//! The connection of a NATS source: connecting (reporting a reconnection, which loses the pull
//! in progress) and binding the durable consumer on its stream, which must exist.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use async_nats::jetstream::consumer::{AckPolicy, PullConsumer, pull};
use async_nats::jetstream::context::GetStreamErrorKind;
use async_nats::jetstream::{self, ErrorCode};
use rustyhook_core::sources::NatsSource;
use tokio::sync::Notify;

use super::Fault;

/// Connecting gives up after this, and tries again after the backoff.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// Connects to the servers of `config`; `reconnected` is told each time the client got its
/// connection back after losing it.
pub(super) async fn connect(
    config: &NatsSource,
    source: &str,
    reconnected: Arc<Notify>,
) -> Result<async_nats::Client, Fault> {
    let name = source.to_owned();
    let lost = Arc::new(AtomicBool::new(false));
    async_nats::ConnectOptions::new()
        .name(format!("rustyhook {source}"))
        .connection_timeout(CONNECT_TIMEOUT)
        .event_callback(move |event| {
            let (source, lost, reconnected) = (name.clone(), lost.clone(), reconnected.clone());
            async move {
                match event {
                    async_nats::Event::Connected => {
                        tracing::info!(source, "NATS connected");
                        if lost.swap(false, Ordering::AcqRel) {
                            reconnected.notify_one();
                        }
                    }
                    async_nats::Event::Disconnected => {
                        tracing::warn!(source, "NATS disconnected; reconnecting");
                        lost.store(true, Ordering::Release);
                    }
                    // The source closes its own client when it stops or starts over.
                    async_nats::Event::Closed | async_nats::Event::Draining => {
                        tracing::debug!(source, event = %event, "NATS connection");
                    }
                    other => tracing::warn!(source, event = %other, "NATS connection"),
                }
            }
        })
        .connect(servers(&config.url))
        .await
        .map_err(|source| Fault::Connect {
            url: without_credentials(&config.url),
            source,
        })
}

/// Gets the stream and the durable consumer, creating the consumer when missing. Returns the
/// consumer and the stream's creation time (milliseconds), which tells a recreated stream's
/// sequences from the old one's.
pub(super) async fn bind(
    js: &jetstream::Context,
    config: &NatsSource,
    source: &str,
) -> Result<(PullConsumer, i128), Fault> {
    let stream = js
        .get_stream(&config.stream)
        .await
        .map_err(|e| match e.kind() {
            GetStreamErrorKind::JetStream(j) if j.error_code() == ErrorCode::STREAM_NOT_FOUND => {
                Fault::NoStream(config.stream.clone())
            }
            _ => Fault::Stream(e),
        })?;
    let created = stream.cached_info().created.unix_timestamp_nanos() / 1_000_000;
    let wanted = pull::Config {
        durable_name: Some(config.consumer.clone()),
        description: Some("rustyhook source".into()),
        ack_policy: AckPolicy::Explicit,
        ack_wait: config.ack_wait,
        max_deliver: -1,
        filter_subject: config.subject.clone().unwrap_or_default(),
        ..Default::default()
    };
    let consumer: PullConsumer = stream
        .get_or_create_consumer(&config.consumer, wanted)
        .await
        .map_err(|source| Fault::Consumer {
            name: config.consumer.clone(),
            source,
        })?;
    let have = &consumer.cached_info().config;
    if have.ack_policy != AckPolicy::Explicit {
        return Err(Fault::NotExplicit(config.consumer.clone()));
    }
    let filter = config.subject.as_deref().unwrap_or_default();
    if have.filter_subject != filter || have.ack_wait != config.ack_wait {
        tracing::warn!(
            source,
            consumer = %config.consumer,
            filter_subject = %have.filter_subject,
            ack_wait = ?have.ack_wait,
            "the consumer exists with another subject filter or ack_wait than configured; it keeps its own"
        );
    }
    Ok((consumer, created))
}

/// The servers of `url`, a comma-separated list (a cluster's seed servers).
fn servers(url: &str) -> Vec<&str> {
    url.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .collect()
}

/// `url` as it may be logged: user and password removed from each server of the list.
fn without_credentials(url: &str) -> String {
    url.split(',')
        .map(|server| match (server.find("://"), server.rfind('@')) {
            (Some(scheme), Some(at)) if at > scheme => {
                format!("{}{}", &server[..scheme + 3], &server[at + 1..])
            }
            (None, Some(at)) => server[at + 1..].to_owned(),
            _ => server.to_owned(),
        })
        .collect::<Vec<_>>()
        .join(",")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_are_left_out_of_a_logged_url() {
        assert_eq!(
            without_credentials("nats://user:s3cret@h1:4222,tls://tok@h2:4222"),
            "nats://h1:4222,tls://h2:4222"
        );
        assert_eq!(without_credentials("u:p@h:4222"), "h:4222");
        assert_eq!(without_credentials("nats://h:4222"), "nats://h:4222");
    }

    #[test]
    fn a_url_may_list_several_servers() {
        assert_eq!(
            servers("nats://a:4222, nats://b:4222,"),
            ["nats://a:4222", "nats://b:4222"]
        );
        assert_eq!(servers("nats://a:4222"), ["nats://a:4222"]);
    }
}
