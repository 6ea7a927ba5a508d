//! Records to store and small steps the tests share.

use std::collections::BTreeMap;
use std::sync::Arc;

use rustyhook_core::id::{AppId, AttemptId, EndpointId, MessageId};
use rustyhook_core::model::{App, Attempt, Endpoint, EndpointSecret, Message, TriggerType};
use rustyhook_core::names::{Channel, EventTypeName, Uid};
use rustyhook_core::outcome::OutcomeCode;
use rustyhook_core::run::{Event, Run, RunAttempt, RunStep};
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
        logo_url: None,
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
            lease_to: lease.map(self::lease),
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
        request_headers: None,
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

/// Claims due work that must all be deliveries to endpoints.
pub async fn claim_deliveries(
    store: &Arc<dyn Store>,
    node: &str,
    now: i64,
    limit: usize,
) -> Vec<Claimed> {
    store
        .claim_due(&lease(node), now, limit)
        .await
        .expect("claim")
        .into_iter()
        .map(|due| match due {
            Due::Endpoint(c) => c,
            Due::Handler(r) => panic!("run {} was claimed where only deliveries are due", r.id),
        })
        .collect()
}

/// Claims due work that must all be handler runs.
pub async fn claim_runs(store: &Arc<dyn Store>, node: &str, now: i64, limit: usize) -> Vec<Run> {
    store
        .claim_due(&lease(node), now, limit)
        .await
        .expect("claim")
        .into_iter()
        .map(|due| match due {
            Due::Handler(r) => r,
            Due::Endpoint(c) => panic!(
                "delivery {} was claimed where only runs are due",
                c.delivery.id
            ),
        })
        .collect()
}

/// The id of claimed work of either kind.
/// A claim by `node`, as a dispatcher makes them; the tests' claims are all number 0.
pub fn lease(node: &str) -> Lease {
    Lease {
        node: node.to_owned(),
        claim: 0,
    }
}

/// Due work's id with the claim [`lease`] makes, for giving it back.
pub fn held(due: &Due) -> (WorkId, i64) {
    (due_id(due), 0)
}

pub fn due_id(due: &Due) -> WorkId {
    match due {
        Due::Endpoint(c) => WorkId::Delivery(c.delivery.id.clone()),
        Due::Handler(r) => WorkId::Run(r.id.clone()),
    }
}

/// The attempt of a run as a handler step's command would report it, and what it starts.
pub fn run_attempt(
    r: &Run,
    now: i64,
    follow_ups: Vec<Run>,
    exports: Vec<(String, String)>,
) -> Attempted {
    Attempted::Handler {
        attempt: RunAttempt {
            id: AttemptId::generate(now),
            run_id: r.id.clone(),
            handler_id: r.handler_id.clone(),
            outcome: OutcomeCode::Ok,
            exit_code: Some(0),
            output: "done\n".into(),
            duration_ms: 5,
            created_at: now,
        },
        follow_ups,
        exports,
    }
}

/// A run's result: `attempted`, then `status`, with the next attempt at `next_attempt_at`.
pub fn run_record(
    attempted: Attempted,
    status: rustyhook_core::model::DeliveryStatus,
    next_attempt_at: Option<i64>,
) -> AttemptRecord {
    AttemptRecord {
        attempt: attempted,
        status,
        next_attempt_at,
        disable_endpoint: false,
        leased_to: None,
    }
}

/// The migrations of a backend as released, read from its `schema.rs` (the text of its
/// `MIGRATIONS` list, one raw string each), so a test can build a database as an older
/// rustyhook left it. Released migrations are never edited, so the first ones stay valid.
pub fn released_migrations(schema_source: &'static str) -> Vec<&'static str> {
    let start = schema_source
        .find("const MIGRATIONS: &[&str] = &[")
        .expect("schema.rs lists its MIGRATIONS");
    let list = &schema_source[start..];
    let list = &list[..list.find("\n];").expect("the MIGRATIONS list ends")];
    list.split("r#\"")
        .skip(1)
        .map(|m| m.rsplit_once("\"#").expect("a closed raw string").0)
        .collect()
}

/// What a store at an older schema version held of a handler run: stored in the old tables by
/// hand, read back through the store after it migrated them.
pub struct OldRun {
    /// The run, as `runs` held it.
    pub run: Run,
    /// Its attempt, as `run_attempts` held it.
    pub attempt: RunAttempt,
    /// The key it was stored under, as `run_keys` held it.
    pub key: &'static str,
}

impl OldRun {
    /// A run of `h` that failed once and is due again at 40, with its attempt and key.
    pub fn new() -> Self {
        let mut run = run("h", 10);
        run.status = rustyhook_core::model::DeliveryStatus::Failed;
        run.attempts = 1;
        run.next_attempt_at = Some(40);
        run.exit_code = Some(3);
        run.output = Some("boom\n".into());
        run.updated_at = 25;
        run.event.payload = r#"{"order":7}"#.into();
        let Attempted::Handler { mut attempt, .. } = run_attempt(&run, 20, Vec::new(), Vec::new())
        else {
            unreachable!("a run's attempt")
        };
        attempt.outcome = OutcomeCode::ExitCode;
        attempt.exit_code = Some(3);
        attempt.output = "boom\n".into();
        Self {
            run,
            attempt,
            key: "src:orders:1-0",
        }
    }

    /// The run's event as the `event` column holds it.
    pub fn event_json(&self) -> String {
        serde_json::to_string(&self.run.event).expect("an event is JSON")
    }

    /// Checks, through `store`, that the run, its attempt and its key survived the migration,
    /// and that the run is due in the one queue beside `delivery`, due at 30.
    pub async fn check_survived(
        &self,
        store: &Arc<dyn Store>,
        delivery: &rustyhook_core::id::DeliveryId,
    ) {
        let back = store
            .get_run(self.run.id.as_str())
            .await
            .expect("get")
            .expect("the run survived");
        assert_eq!(back, self.run, "every field of the run survived");
        let attempts = store
            .list_run_attempts(&self.run.id, Page::first(10, Order::Ascending))
            .await
            .expect("attempts");
        assert_eq!(
            attempts.items,
            std::slice::from_ref(&self.attempt),
            "its attempt survived"
        );
        let listed = store
            .list_runs(
                Some("h".into()),
                Some(rustyhook_core::model::DeliveryStatus::Failed),
                Page::first(10, Order::Ascending),
            )
            .await
            .expect("list");
        assert_eq!(listed.items.len(), 1);
        assert!(
            !store
                .create_keyed_run(self.key, run("h", 50), None)
                .await
                .expect("create"),
            "its key survived: the same key stores no second run"
        );
        assert_eq!(store.next_due().await.expect("next"), Some(30));
        let due = store.claim_due(&lease("n"), 100, 10).await.expect("claim");
        assert_eq!(
            due.iter().map(due_id).collect::<Vec<_>>(),
            [
                WorkId::Delivery(delivery.clone()),
                WorkId::Run(self.run.id.clone())
            ],
            "the old delivery (due at 30) and the old run (due at 40), in one queue"
        );
        let Due::Endpoint(c) = &due[0] else {
            panic!("the delivery is a delivery");
        };
        assert_eq!(c.payload.as_deref(), Some(r#"{"n":1}"#));
    }
}
