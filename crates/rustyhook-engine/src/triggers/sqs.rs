//! An SQS handler: long-polls its queue and queues one run per message. A message is deleted
//! from SQS only once its run is durably stored — not after the command — so a crash between
//! the two lets SQS deliver it again, and a failing command is retried by rustyhook, not SQS.
//! The run is stored under the message's `MessageId` (the same in every delivery of it), so a
//! message delivered again after its run was stored queues no second run and is just deleted.

use std::sync::Arc;
use std::time::Duration;

use rustyhook_core::handlers::{Handler, Trigger};
use rustyhook_core::run::{Event, RunKey, env_name_part};
use tokio_util::sync::CancellationToken;

use super::sqs_client::{SqsClient, SqsConfig, SqsMessage};
use crate::automation::Automation;

const MAX_BACKOFF: Duration = Duration::from_secs(60);

/// Polls `handler`'s queue until `token` is cancelled.
pub async fn run(automation: Automation, handler: Arc<Handler>, token: CancellationToken) {
    let Trigger::Sqs(o) = &handler.trigger else {
        return;
    };
    let config = SqsConfig {
        queue_url: o.queue_url.clone(),
        region: o.aws_region.clone(),
        endpoint_url: o.endpoint_url.clone(),
        wait_time_seconds: o.wait_time_seconds,
        max_messages: o.max_messages,
        visibility_timeout: o.visibility_timeout,
        static_credentials: o
            .aws_access_key_id
            .clone()
            .zip(o.aws_secret_access_key.clone()),
    };
    let client = match SqsClient::new(config, reqwest::Client::new()) {
        Ok(c) => c,
        Err(e) => {
            tracing::error!(handler = %handler.id, error = %e, "cannot poll the SQS queue");
            return;
        }
    };
    let idle = Duration::from_secs(o.poll_interval);
    let mut backoff = Duration::from_secs(1);
    loop {
        let received = tokio::select! {
            () = token.cancelled() => return,
            r = client.receive() => r,
        };
        let wait = match received {
            Ok(messages) => {
                backoff = Duration::from_secs(1);
                let empty = messages.is_empty();
                for m in messages {
                    take(&automation, &handler, &client, m).await;
                }
                if empty { idle } else { Duration::ZERO }
            }
            Err(e) => {
                tracing::warn!(handler = %handler.id, error = %e, "SQS receive failed; trying again");
                backoff = (backoff * 2).min(MAX_BACKOFF);
                backoff
            }
        };
        tokio::select! {
            () = token.cancelled() => return,
            () = tokio::time::sleep(wait) => {}
        }
    }
}

async fn take(automation: &Automation, handler: &Handler, client: &SqsClient, m: SqsMessage) {
    let mut event = Event {
        id: m.message_id.clone(),
        event_type: "sqs".into(),
        payload: m.body.clone(),
        ..Event::default()
    };
    event.vars.insert("MESSAGE_ID".into(), m.message_id.clone());
    event.vars.insert("MESSAGE_BODY".into(), m.body);
    for (k, v) in m.attributes {
        let name = env_name_part(&k, true);
        event.vars.insert(format!("RUSTYHOOK_SQS_{name}"), v);
    }
    let key = RunKey::sqs_message(&handler.id, &m.message_id);
    match automation
        .trigger_once(&handler.id, event, "sqs", &key)
        .await
    {
        Ok(queued) => {
            if queued.is_none() {
                tracing::debug!(handler = %handler.id, message_id = %m.message_id, "an SQS message delivered again; its run is already stored");
            }
            if let Err(e) = client.delete(&m.receipt_handle).await {
                // The run is stored; SQS delivers the message again after its visibility
                // timeout, and it is recognised by its MessageId then.
                tracing::warn!(handler = %handler.id, message_id = %m.message_id, error = %e, "could not delete an SQS message");
            }
        }
        Err(e) => {
            tracing::error!(handler = %handler.id, message_id = %m.message_id, error = %e, "could not queue an SQS message; SQS delivers it again")
        }
    }
}
