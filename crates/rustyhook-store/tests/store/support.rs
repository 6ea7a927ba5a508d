//! Records to store and small steps the tests share.

use std::collections::BTreeMap;
use std::sync::Arc;

use rustyhook_core::id::{AppId, AttemptId, EndpointId, MessageId};
use rustyhook_core::model::{App, Attempt, Endpoint, EndpointSecret, Message, TriggerType};
use rustyhook_core::names::{Channel, EventTypeName, Uid};
use rustyhook_core::outcome::OutcomeCode;
use rustyhook_core::run::{Event, Run, RunStep};
use rustyhook_core::signing::{HeaderStyle, SigningSecret};
use rustyhook_store::*;

pub fn app(uid: Option<&str>) -> App {
    App {
        id: AppId::generate(1),
        uid: uid.map(|u| Uid::parse(u).expect("valid uid")),
        name: "Acme".into(),
        rate_limit: None,
        metadata: BTreeMap::new(),
        header_style: None,
        created_at: 1,
        updated_at: 1,
    }
}

pub fn endpoint(app: &AppId, types: Option<&[&str]>, channels: Option<&[&str]>) -> Endpoint {
    Endpoint {
        id: EndpointId::generate(2),
        app_id: app.clone(),
        uid: None,
        url: "https://example.com/hook".into(),
        description: String::new(),
        version: 1,
        disabled: false,
        rate_limit: None,
        filter_types: types.map(|t| {
            t.iter()
                .map(|s| EventTypeName::parse(*s).expect("valid"))
                .collect()
        }),
        channels: channels.map(|c| {
            c.iter()
                .map(|s| Channel::parse(*s).expect("valid"))
                .collect()
        }),
        metadata: BTreeMap::new(),
        headers: BTreeMap::new(),
        secrets: vec![EndpointSecret {
            secret: SigningSecret::generate(),
            expires_at: None,
        }],
        header_style: Some(HeaderStyle::Standard),
        max_in_flight: 32,
        created_at: 2,
        updated_at: 2,
    }
}

pub fn message(app: &AppId, event_type: &str, event_id: Option<&str>, now: i64) -> Message {
    Message {
        id: MessageId::generate(now),
        app_id: app.clone(),
        event_id: event_id.map(|e| Uid::parse(e).expect("valid")),
        event_type: EventTypeName::parse(event_type).expect("valid"),
        payload: Some(Arc::from(r#"{"n":1}"#)),
        channels: None,
        tags: Some(vec![format!("{event_type}-tag")]),
        created_at: now,
    }
}

/// Stores a message of `event_type` for `app`, optionally leased to `lease`.
pub async fn send(
    store: &Arc<dyn Store>,
    app: &AppId,
    event_type: &str,
    event_id: Option<&str>,
    now: i64,
    lease: Option<&str>,
) -> MessageCreated {
    store
        .create_message(NewMessage {
            message: message(app, event_type, event_id, now),
            lease_to: lease.map(str::to_owned),
            only_endpoint: None,
            deliver_at: None,
        })
        .await
        .expect("message is stored")
}

/// The ids of one page of apps.
pub async fn app_page(store: &Arc<dyn Store>, cursor: Option<Cursor>) -> (Vec<AppId>, bool) {
    let listed = store
        .list_apps(
            Page {
                limit: 2,
                order: Order::Ascending,
                cursor,
            },
            false,
        )
        .await
        .expect("page");
    (
        listed.items.into_iter().map(|a| a.id).collect(),
        listed.done,
    )
}

pub fn failed_attempt(d: &rustyhook_core::model::Delivery, now: i64) -> Attempt {
    Attempt {
        id: AttemptId::generate(now),
        delivery_id: d.id.clone(),
        msg_id: d.msg_id.clone(),
        endpoint_id: d.endpoint_id.clone(),
        app_id: d.app_id.clone(),
        url: "https://example.com/hook".into(),
        outcome: OutcomeCode::HttpStatus,
        status_code: 500,
        response: Some("boom".into()),
        duration_ms: 3,
        trigger: TriggerType::Scheduled,
        created_at: now,
    }
}

/// A main run of `handler`, due at `now`.
pub fn run(handler: &str, now: i64) -> Run {
    Run::new(
        handler,
        RunStep::Main,
        Event {
            id: format!("evt-{now}"),
            event_type: "cron".into(),
            ..Event::default()
        },
        "cron",
        None,
        now,
    )
}

/// An app with `endpoints` endpoints that receive everything.
pub async fn app_with_endpoints(store: &Arc<dyn Store>, endpoints: usize) -> App {
    let a = store.create_app(app(None)).await.expect("app");
    for _ in 0..endpoints {
        store
            .create_endpoint(endpoint(&a.id, None, None))
            .await
            .expect("ep");
    }
    a
}
