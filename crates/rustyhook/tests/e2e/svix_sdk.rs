//! Svix's official Rust SDK, pointed at rustyhook, works unchanged: the compatibility promise,
//! checked with the SDK's own request and response types (it fails on any missing field).

use std::time::Duration;

use svix::api::{MessageAttemptListByMsgOptions, Svix, SvixOptions};
use svix::models::{
    ApplicationIn, BackgroundTaskStatus, BackgroundTaskType, EndpointIn, EndpointSecretRotateIn,
    MessageIn, RecoverIn, ReplayIn,
};

use crate::harness::{TOKEN, TestApp};
use crate::receiver::{Receiver, Reply};
use crate::wait::until;

fn client(app: &TestApp) -> Svix {
    Svix::new(
        TOKEN.to_owned(),
        Some(SvixOptions {
            server_url: Some(app.base.clone()),
            ..SvixOptions::default()
        }),
    )
}

#[tokio::test]
async fn the_svix_sdk_creates_sends_lists_and_verifies_against_rustyhook() {
    let app = TestApp::spawn().await;
    let receiver = Receiver::start().await;
    let svix = client(&app);

    let created = svix
        .application()
        .create(
            ApplicationIn {
                uid: Some("sdk-app".into()),
                ..ApplicationIn::new("SDK".into())
            },
            None,
        )
        .await
        .expect("application.create");
    assert!(created.id.starts_with("app_"));
    let again = svix
        .application()
        .get_or_create(
            ApplicationIn {
                uid: Some("sdk-app".into()),
                ..ApplicationIn::new("SDK".into())
            },
            None,
        )
        .await
        .expect("application.get_or_create");
    assert_eq!(again.id, created.id);

    let endpoint = svix
        .endpoint()
        .create(
            "sdk-app".into(),
            EndpointIn {
                event_types: Some(["invoice.paid".to_owned()].into()),
                ..EndpointIn::new(receiver.url("/sdk"))
            },
            None,
        )
        .await
        .expect("endpoint.create");
    assert_eq!(
        endpoint.event_types,
        Some(["invoice.paid".to_owned()].into())
    );
    let secret = svix
        .endpoint()
        .get_secret("sdk-app".into(), endpoint.id.clone())
        .await
        .expect("endpoint.get_secret")
        .key;

    let msg = svix
        .message()
        .create(
            "sdk-app".into(),
            MessageIn::new(
                "invoice.paid".into(),
                serde_json::json!({"invoice": "in_1"}),
            ),
            None,
        )
        .await
        .expect("message.create");
    svix.message()
        .create(
            "sdk-app".into(),
            MessageIn::new("user.signup".into(), serde_json::json!({})),
            None,
        )
        .await
        .expect("message.create (filtered out)");

    let got = receiver.wait_for(1, Duration::from_secs(10)).await;
    let mut headers = http::HeaderMap::new();
    for name in ["webhook-id", "webhook-timestamp", "webhook-signature"] {
        headers.insert(
            name,
            got[0]
                .header(name)
                .expect("present")
                .parse()
                .expect("valid"),
        );
    }
    svix::webhooks::Webhook::new(&secret)
        .expect("secret")
        .verify(&got[0].body, &headers)
        .expect("the SDK's own verifier accepts the signature");

    let attempts = until("an attempt listed", Duration::from_secs(10), async || {
        let list = svix
            .message_attempt()
            .list_by_msg(
                "sdk-app".into(),
                msg.id.clone(),
                Some(MessageAttemptListByMsgOptions::default()),
            )
            .await
            .expect("message_attempt.list_by_msg");
        if list.data.is_empty() {
            Err("none")
        } else {
            Ok(list)
        }
    })
    .await;
    assert_eq!(attempts.data.len(), 1);
    assert_eq!(attempts.data[0].response_status_code, 200);
    let destinations = svix
        .message_attempt()
        .list_attempted_destinations("sdk-app".into(), msg.id.clone(), None)
        .await
        .expect("list_attempted_destinations");
    assert_eq!(destinations.data.len(), 1);
    let stats = svix
        .endpoint()
        .get_stats("sdk-app".into(), endpoint.id.clone(), None)
        .await
        .expect("endpoint.get_stats");
    // The endpoint's only delivery: the filtered event type made none (deliveries are stored
    // with their message), so nothing else will reach the receiver.
    assert_eq!(
        (stats.success, stats.pending, stats.sending, stats.fail),
        (1, 0, 0, 0)
    );
    let listed = svix
        .message()
        .list("sdk-app".into(), None)
        .await
        .expect("message.list");
    assert_eq!(listed.data.len(), 2);
    assert_eq!(
        receiver.received().len(),
        1,
        "the filtered event type was not delivered"
    );
}

#[tokio::test]
async fn the_svix_sdk_rotates_secrets_recovers_replays_and_resends() {
    let app = TestApp::spawn().await;
    let receiver = Receiver::start().await;
    receiver.set_default(Reply::status(500));
    let svix = client(&app);
    svix.application()
        .create(
            ApplicationIn {
                uid: Some("sdk".into()),
                ..ApplicationIn::new("SDK".into())
            },
            None,
        )
        .await
        .expect("application.create");
    let ep = svix
        .endpoint()
        .create("sdk".into(), EndpointIn::new(receiver.url("/")), None)
        .await
        .expect("endpoint.create");
    svix.endpoint()
        .rotate_secret(
            "sdk".into(),
            ep.id.clone(),
            EndpointSecretRotateIn::default(),
            None,
        )
        .await
        .expect("endpoint.rotate_secret");
    let msg = svix
        .message()
        .create(
            "sdk".into(),
            MessageIn::new("a".into(), serde_json::json!({})),
            None,
        )
        .await
        .expect("message.create");
    // Three failed attempts (100ms, 200ms schedule), then dead.
    app.wait_attempts("sdk", &msg.id, Duration::from_secs(10), |a| a.len() == 3)
        .await;
    // Recovery resends failed deliveries: wait until the third attempt has made it one.
    let stats = app.settled("sdk", &ep.id).await;
    assert_eq!(stats["fail"], 1, "{stats}");
    receiver.set_default(Reply::status(200));
    let recovered = svix
        .endpoint()
        .recover(
            "sdk".into(),
            ep.id.clone(),
            RecoverIn::new(chrono::DateTime::from_timestamp(0, 0).expect("epoch")),
            None,
        )
        .await
        .expect("endpoint.recover");
    assert!(!recovered.id.is_empty());
    let task = svix
        .background_task()
        .get(recovered.id.clone())
        .await
        .expect("background_task.get");
    assert_eq!(
        (task.status, task.task),
        (
            BackgroundTaskStatus::Finished,
            BackgroundTaskType::EndpointRecover
        )
    );
    assert_eq!(task.data["recovered"], 1, "the dead delivery: {task:?}");
    let replayed = svix
        .endpoint()
        .replay_missing(
            "sdk".into(),
            ep.id.clone(),
            ReplayIn::new(chrono::DateTime::from_timestamp(0, 0).expect("epoch")),
            None,
        )
        .await
        .expect("endpoint.replay_missing");
    assert_eq!(replayed.task, BackgroundTaskType::EndpointReplay);
    app.wait_attempts("sdk", &msg.id, Duration::from_secs(10), |a| a.len() == 4)
        .await;
    svix.message_attempt()
        .resend("sdk".into(), msg.id.clone(), ep.id.clone(), None)
        .await
        .expect("message_attempt.resend");
    app.wait_attempts("sdk", &msg.id, Duration::from_secs(10), |a| a.len() == 5)
        .await;
}
