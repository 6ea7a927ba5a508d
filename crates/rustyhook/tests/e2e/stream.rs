//! The live feed `GET /api/v1/stream` (issue 16): attempts, dead letters and runs as
//! Server-Sent Events, read as a client reads them, over a streamed HTTP response.

use std::collections::HashSet;
use std::time::{Duration, Instant};

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::handlers::spawn;
use crate::harness::{TOKEN, TestApp};
use crate::receiver::{Receiver, Reply};
use crate::sse::{Event, Stream, WAIT, request};

/// The status and JSON error of a stream request that is refused.
async fn refused(
    app: &TestApp,
    token: &str,
    query: &str,
    last_id: Option<&str>,
) -> (StatusCode, Value) {
    let response = request(&app.base, token, query, last_id).await;
    let status = response.status();
    (status, response.json().await.expect("a JSON error"))
}

async fn endpoint(app: &TestApp, uid: &str, url: String) -> String {
    app.create_app(uid).await;
    let ep = app.create_endpoint(uid, json!({ "url": url })).await;
    ep["id"].as_str().expect("endpoint id").to_owned()
}

fn msg_id(sent: &Value) -> String {
    sent["id"].as_str().expect("message id").to_owned()
}

#[tokio::test]
async fn an_attempt_reaches_the_stream_within_a_second_and_shutdown_ends_open_streams() {
    let receiver = Receiver::start().await;
    let app = TestApp::spawn().await;
    let ep = endpoint(&app, "shop", receiver.url("/hook")).await;
    let mut stream = Stream::open(&app.base, TOKEN, "", None).await;
    let sent = app.send("shop", "order.paid", json!({"n": 1})).await;
    receiver.wait_for(1, WAIT).await;
    let received_at = Instant::now();
    let event = stream
        .next_within(Duration::from_secs(1))
        .await
        .expect("the attempt within a second of the webhook");
    assert!(received_at.elapsed() <= Duration::from_secs(1));
    assert_eq!(event.kind, "attempt");
    let d = &event.data;
    assert_eq!(d["msgId"], msg_id(&sent).as_str(), "{d}");
    assert_eq!(d["endpointId"], ep.as_str(), "{d}");
    assert!(
        d["appId"].as_str().is_some_and(|a| a.starts_with("app_")),
        "{d}"
    );
    assert_eq!(
        (d["outcome"].as_str(), d["statusCode"].as_u64()),
        (Some("OK"), Some(200))
    );
    assert_eq!(
        event.id.as_deref(),
        d["id"].as_str(),
        "the SSE id is the attempt's"
    );
    // An open stream does not hold the server's shutdown up.
    let stopped = tokio::time::timeout(Duration::from_secs(10), app.shut_down()).await;
    assert!(stopped.is_ok(), "the server stopped with a stream open");
    assert!(stream.next_within(Duration::from_secs(2)).await.is_none());
    assert!(stream.ended, "the stream ended with the server");
}

#[tokio::test]
async fn filters_show_only_what_they_name_and_dead_letters_follow_their_last_attempt() {
    let receiver = Receiver::start().await;
    let app = TestApp::spawn().await;
    let good = endpoint(&app, "shop", receiver.url("/ok")).await;
    app.create_app("bank").await;
    let bad = app
        .create_endpoint(
            "bank",
            json!({ "url": receiver.url("/down"), "uid": "down" }),
        )
        .await["id"]
        .as_str()
        .expect("id")
        .to_owned();
    receiver.script([Reply::status(500), Reply::status(500), Reply::status(500)]);
    let mut bank = Stream::open(&app.base, TOKEN, "app=bank", None).await;
    let mut failures = Stream::open(&app.base, TOKEN, "outcome=failure", None).await;
    let mut by_endpoint = Stream::open(&app.base, TOKEN, &format!("endpoint={good}"), None).await;
    let mut by_uid = Stream::open(&app.base, TOKEN, "app=bank&endpoint=down", None).await;
    let to_bank = msg_id(&app.send("bank", "loan.due", json!({})).await);
    // The retry schedule is 100 ms, 200 ms: three failures, then the delivery is dead.
    let bank_events = [
        bank.next().await,
        bank.next().await,
        bank.next().await,
        bank.next().await,
    ];
    let kinds: Vec<&str> = bank_events.iter().map(|e| e.kind.as_str()).collect();
    assert_eq!(kinds, ["attempt", "attempt", "attempt", "dead"]);
    assert!(
        bank_events
            .iter()
            .all(|e| e.data["msgId"] == to_bank.as_str())
    );
    assert_eq!(
        bank_events[3].data["id"], bank_events[2].data["id"],
        "the dead letter names its last attempt"
    );
    assert_eq!(
        bank_events[2].id, None,
        "the pair's id goes on its last event"
    );
    assert_eq!(
        by_uid.take("dead", 1).await[0].data["endpointId"],
        bad.as_str()
    );
    let to_shop = msg_id(&app.send("shop", "order.paid", json!({})).await);
    let shop = by_endpoint.next().await;
    assert_eq!(
        (shop.kind.as_str(), shop.data["msgId"].as_str()),
        ("attempt", Some(to_shop.as_str()))
    );
    let failed = failures.take("attempt", 3).await;
    assert!(
        failed
            .iter()
            .all(|e| e.data["outcome"] == "E_HTTP_STATUS" && e.data["statusCode"] == 500)
    );
    // Nothing of the other app, and no success, reached the filtered streams.
    bank.quiet_for(Duration::from_millis(600)).await;
    assert!(failures.take("dead", 1).await[0].data["msgId"] == to_bank.as_str());
    failures.quiet_for(Duration::from_millis(300)).await;
    by_endpoint.quiet_for(Duration::from_millis(300)).await;

    for (query, field, status) in [
        ("outcome=maybe", "outcome", StatusCode::UNPROCESSABLE_ENTITY),
        ("handler=nope", "handler", StatusCode::UNPROCESSABLE_ENTITY),
        (
            "endpoint=down",
            "endpoint",
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        ("colour=red", "colour", StatusCode::UNPROCESSABLE_ENTITY),
    ] {
        let (got, body) = refused(&app, TOKEN, query, None).await;
        assert_eq!(got, status, "{query}: {body}");
        assert!(
            body.to_string().contains(field),
            "{query} names {field}: {body}"
        );
    }
    let (got, body) = refused(&app, TOKEN, "", Some("42")).await;
    assert_eq!(got, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert!(body.to_string().contains("last-event-id"), "{body}");
    let (got, _) = refused(&app, TOKEN, "app=nowhere", None).await;
    assert_eq!(got, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn a_reconnect_with_last_event_id_gets_exactly_the_missed_events() {
    let receiver = Receiver::start().await;
    let app = TestApp::spawn().await;
    let ep = endpoint(&app, "shop", receiver.url("/hook")).await;
    let mut first = Stream::open(&app.base, TOKEN, "", None).await;
    let before: Vec<String> = [
        msg_id(&app.send("shop", "a", json!({})).await),
        msg_id(&app.send("shop", "b", json!({})).await),
    ]
    .into();
    let seen = first.take("attempt", 2).await;
    let mut got: Vec<String> = seen.iter().map(Event::msg_id).collect();
    got.sort();
    let mut expected = before.clone();
    expected.sort();
    assert_eq!(got, expected);
    let last_id = first.last_id.clone().expect("an id to resume from");
    drop(first);
    // Missed while disconnected.
    let mut missed = HashSet::new();
    for i in 0..3 {
        missed.insert(msg_id(&app.send("shop", "c", json!({ "i": i })).await));
    }
    app.settled("shop", &ep).await;
    let mut again = Stream::open(&app.base, TOKEN, "", Some(&last_id)).await;
    let resumed = again.take("attempt", 3).await;
    let resumed: HashSet<String> = resumed.iter().map(Event::msg_id).collect();
    assert_eq!(
        resumed, missed,
        "exactly the missed attempts, none seen before"
    );
    // And then the live ones, none of the missed twice.
    let live = msg_id(&app.send("shop", "d", json!({})).await);
    let next = again.next().await;
    assert_eq!(next.data["msgId"], live.as_str(), "{next:?}");
}

#[tokio::test]
async fn an_app_token_sees_only_its_app_and_cannot_widen_its_filter() {
    let receiver = Receiver::start().await;
    let app = TestApp::spawn().await;
    endpoint(&app, "acme", receiver.url("/acme")).await;
    endpoint(&app, "other", receiver.url("/other")).await;
    let (status, made) = app
        .call(
            Method::POST,
            "/api/v1/token",
            Some(json!({"name": "acme feed", "role": "app", "appId": "acme"})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{made}");
    let token = made["token"].as_str().expect("the token").to_owned();
    let mut stream = Stream::open(&app.base, &token, "", None).await;
    app.send("other", "x", json!({})).await;
    let own = msg_id(&app.send("acme", "x", json!({})).await);
    let event = stream.next().await;
    assert_eq!(event.data["msgId"], own.as_str(), "{event:?}");
    // Nothing of the other app.
    stream.quiet_for(Duration::from_millis(600)).await;
    let (got, _) = refused(&app, &token, "app=other", None).await;
    assert_eq!(got, StatusCode::NOT_FOUND, "another app is not found");
    let (got, _) = refused(&app, &token, "handler=any", None).await;
    assert_eq!(got, StatusCode::FORBIDDEN, "handler runs belong to no app");
    // Its own app, by uid, is fine.
    Stream::open(&app.base, &token, "app=acme", None).await;
}

#[tokio::test]
async fn a_client_that_does_not_read_holds_up_no_other_and_misses_nothing() {
    let receiver = Receiver::start().await;
    let app = TestApp::spawn().await;
    let ep = endpoint(&app, "shop", receiver.url("/hook")).await;
    let mut stalled = Stream::open(&app.base, TOKEN, "", None).await;
    let mut reader = Stream::open(&app.base, TOKEN, "", None).await;
    let mut sent = HashSet::new();
    for i in 0..40 {
        sent.insert(msg_id(&app.send("shop", "x", json!({ "i": i })).await));
    }
    let read: HashSet<String> = reader
        .take("attempt", 40)
        .await
        .iter()
        .map(Event::msg_id)
        .collect();
    assert_eq!(read, sent);
    app.settled("shop", &ep).await;
    let late: Vec<String> = stalled
        .take("attempt", 40)
        .await
        .iter()
        .map(Event::msg_id)
        .collect();
    assert_eq!(
        late.iter().cloned().collect::<HashSet<_>>(),
        sent,
        "each once: {late:?}"
    );
}

#[tokio::test]
async fn a_handlers_runs_are_run_events_and_a_handler_filter_shows_only_them() {
    let (app, _dir) = spawn(
        r#"
handlers:
  - type: Custom
    name: Greet
    shell: 'true'
"#,
    )
    .await;
    let mut runs = Stream::open(&app.base, TOKEN, "handler=greet", None).await;
    let run = app.post("/api/v1/handler/greet/run", json!({})).await;
    let event = runs.next().await;
    assert_eq!(event.kind, "run");
    assert_eq!(
        (
            event.data["handlerId"].as_str(),
            event.data["runId"].as_str(),
            event.data["outcome"].as_str()
        ),
        (Some("greet"), run["id"].as_str(), Some("OK")),
        "{event:?}"
    );
}

/// Checks that each of `streams` shows the endpoint events `expected` (`change`, `detail`) of
/// `ep` within a second of `called`, when the API call that made them answered.
async fn changes_within_a_second(
    streams: &mut [&mut Stream],
    ep: &str,
    expected: &[(&str, Option<&str>)],
) {
    let called = Instant::now();
    for stream in streams.iter_mut() {
        for (what, detail) in expected {
            let event = stream
                .next_within(Duration::from_secs(1).saturating_sub(called.elapsed()))
                .await
                .unwrap_or_else(|| panic!("the endpoint's {what} event within a second"));
            assert_eq!(event.kind, "endpoint", "{event:?}");
            let d = &event.data;
            assert_eq!(
                (d["change"].as_str(), d["endpointId"].as_str()),
                (Some(*what), Some(ep)),
                "{d}"
            );
            assert_eq!(d["detail"].as_str(), *detail, "{d}");
            assert!(
                d["appId"].as_str().is_some_and(|a| a.starts_with("app_")),
                "{d}"
            );
        }
    }
}

#[tokio::test]
async fn endpoint_changes_reach_the_stream_within_a_second_and_only_under_their_app() {
    let app = TestApp::spawn().await;
    app.create_app("shop").await;
    app.create_app("other").await;
    let mut all = Stream::open(&app.base, TOKEN, "", None).await;
    let mut shop = Stream::open(&app.base, TOKEN, "app=shop", None).await;
    let mut other = Stream::open(&app.base, TOKEN, "app=other", None).await;
    let mut failures = Stream::open(&app.base, TOKEN, "outcome=failure", None).await;
    let call = async |method: Method, path: &str, body: Option<Value>, expected: StatusCode| {
        let (status, got) = app.call(method, path, body).await;
        assert_eq!(status, expected, "{got}");
        got
    };

    let made = app
        .create_endpoint("shop", json!({"url": "http://127.0.0.1:9/hook"}))
        .await;
    let ep = made["id"].as_str().expect("endpoint id").to_owned();
    let streams = &mut [&mut all, &mut shop];
    changes_within_a_second(streams, &ep, &[("created", None)]).await;
    let path = format!("/api/v1/app/shop/endpoint/{ep}");
    let disable = Some(json!({"disabled": true}));
    call(Method::PATCH, &path, disable, StatusCode::OK).await;
    let disabled = [("updated", None), ("disabled", Some("manual"))];
    changes_within_a_second(streams, &ep, &disabled).await;
    let resume_from = streams[0].last_id.clone().expect("an id to resume from");
    let enable = Some(json!({"disabled": false}));
    call(Method::PATCH, &path, enable, StatusCode::OK).await;
    changes_within_a_second(streams, &ep, &[("updated", None), ("enabled", None)]).await;
    let pause = format!("/api/v1/pause/endpoint/{ep}");
    let reason = Some(json!({"reason": "receiver deploy"}));
    call(Method::POST, &pause, reason, StatusCode::OK).await;
    changes_within_a_second(streams, &ep, &[("paused", Some("receiver deploy"))]).await;
    call(Method::DELETE, &pause, None, StatusCode::OK).await;
    changes_within_a_second(streams, &ep, &[("resumed", None)]).await;
    call(Method::DELETE, &path, None, StatusCode::NO_CONTENT).await;
    changes_within_a_second(streams, &ep, &[("deleted", None)]).await;
    // Another app's client, and one that asked for failed attempts, saw none of it.
    other.quiet_for(Duration::from_millis(500)).await;
    failures.quiet_for(Duration::from_millis(100)).await;

    // A client that reconnects resumes after the last change it saw, none twice.
    let mut again = Stream::open(&app.base, TOKEN, "app=shop", Some(&resume_from)).await;
    let mut changes = Vec::new();
    for _ in 0..5 {
        let event = again.next().await;
        assert_eq!(event.kind, "endpoint", "{event:?}");
        changes.push(event.data["change"].as_str().unwrap_or_default().to_owned());
    }
    assert_eq!(
        changes,
        ["updated", "enabled", "paused", "resumed", "deleted"]
    );
    again.quiet_for(Duration::from_millis(500)).await;
}
