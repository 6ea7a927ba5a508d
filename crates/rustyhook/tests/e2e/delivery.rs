//! Delivery behaviour as a receiver sees it: fan-out, signatures, retries, dead letters,
//! disabling, rate limits and the private-address guard.

use std::time::Duration;

use reqwest::Method;
use serde_json::json;

use crate::harness::{QUIET, TestApp, settings};
use crate::receiver::{Receiver, Reply};
use crate::wait::{throughout, until};

const WAIT: Duration = Duration::from_secs(10);

#[tokio::test]
async fn messages_fan_out_by_event_type_and_channel() {
    let app = TestApp::spawn().await;
    let (all, invoices, eu) = (
        Receiver::start().await,
        Receiver::start().await,
        Receiver::start().await,
    );
    app.create_app("acme").await;
    let endpoints = [
        json!({"url": all.url("/all")}),
        json!({"url": invoices.url("/i"), "filterTypes": ["invoice.paid"]}),
        json!({"url": eu.url("/eu"), "channels": ["eu"]}),
    ];
    let mut ids = Vec::new();
    for body in endpoints {
        let ep = app.create_endpoint("acme", body).await;
        ids.push(ep["id"].as_str().expect("id").to_owned());
    }

    app.post(
        "/api/v1/app/acme/msg",
        json!({"eventType": "invoice.paid", "payload": {"n": 1}, "channels": ["eu"]}),
    )
    .await;
    app.post(
        "/api/v1/app/acme/msg",
        json!({"eventType": "invoice.paid", "payload": {"n": 2}, "channels": ["us"]}),
    )
    .await;
    app.send("acme", "user.signup", json!({"n": 3})).await;

    // A message's deliveries are stored with it: once every endpoint has settled, what arrived
    // is the whole fan-out, and nothing more is on its way.
    for id in &ids {
        app.settled("acme", id).await;
    }
    let numbers = |r: &Receiver| {
        let mut n: Vec<i64> = r
            .received()
            .iter()
            .map(|x| x.json()["n"].as_i64().expect("n"))
            .collect();
        n.sort();
        n
    };
    assert_eq!(numbers(&all), vec![1, 2, 3]);
    assert_eq!(numbers(&invoices), vec![1, 2]);
    assert_eq!(numbers(&eu), vec![1]);
}

#[tokio::test]
async fn deliveries_are_signed_so_an_independent_standard_webhooks_library_verifies_them() {
    let app = TestApp::spawn().await;
    let receiver = Receiver::start().await;
    app.create_app("acme").await;
    let ep = app
        .create_endpoint("acme", json!({"url": receiver.url("/hook")}))
        .await;
    let secret = app
        .get(&format!(
            "/api/v1/app/acme/endpoint/{}/secret",
            ep["id"].as_str().expect("id")
        ))
        .await;
    let secret = secret["key"].as_str().expect("key").to_owned();
    assert!(secret.starts_with("whsec_"));

    let msg = app
        .send("acme", "invoice.paid", json!({"amount": 42, "note": "é ✓"}))
        .await;
    let got = receiver.wait_for(1, WAIT).await;
    let req = &got[0];
    assert_eq!(req.header("webhook-id").as_deref(), msg["id"].as_str());
    let verifier = standardwebhooks::Webhook::new(&secret).expect("secret is accepted");
    let mut headers = http::HeaderMap::new();
    for name in ["webhook-id", "webhook-timestamp", "webhook-signature"] {
        headers.insert(
            name,
            req.header(name)
                .expect("header present")
                .parse()
                .expect("valid"),
        );
    }
    verifier
        .verify(&req.body, &headers)
        .expect("signature verifies");
    assert_eq!(req.json(), json!({"amount": 42, "note": "é ✓"}));

    // A tampered body must not verify: the check above is meaningful.
    assert!(verifier.verify(b"{\"amount\":43}", &headers).is_err());
}

#[tokio::test]
async fn during_secret_rotation_both_old_and_new_secrets_sign() {
    let app = TestApp::spawn().await;
    let receiver = Receiver::start().await;
    app.create_app("acme").await;
    let ep = app
        .create_endpoint("acme", json!({"url": receiver.url("/hook")}))
        .await;
    let path = format!(
        "/api/v1/app/acme/endpoint/{}",
        ep["id"].as_str().expect("id")
    );
    let old = app.get(&format!("{path}/secret")).await["key"]
        .as_str()
        .expect("key")
        .to_owned();
    let (status, _) = app
        .call(
            Method::POST,
            &format!("{path}/secret/rotate"),
            Some(json!({})),
        )
        .await;
    assert_eq!(status, 200);
    let new = app.get(&format!("{path}/secret")).await["key"]
        .as_str()
        .expect("key")
        .to_owned();
    assert_ne!(old, new);

    app.send("acme", "a", json!({})).await;
    let req = &receiver.wait_for(1, WAIT).await[0];
    let mut headers = http::HeaderMap::new();
    for name in ["webhook-id", "webhook-timestamp", "webhook-signature"] {
        headers.insert(
            name,
            req.header(name).expect("present").parse().expect("valid"),
        );
    }
    for secret in [&old, &new] {
        standardwebhooks::Webhook::new(secret)
            .expect("valid")
            .verify(&req.body, &headers)
            .expect("each live secret verifies");
    }
}

#[tokio::test]
async fn svix_header_names_are_a_per_endpoint_option() {
    let app = TestApp::spawn().await;
    let receiver = Receiver::start().await;
    app.create_app("acme").await;
    app.create_endpoint(
        "acme",
        json!({"url": receiver.url("/"), "headerStyle": "svix"}),
    )
    .await;
    let msg = app.send("acme", "a", json!({})).await;
    let req = &receiver.wait_for(1, WAIT).await[0];
    assert_eq!(req.header("svix-id").as_deref(), msg["id"].as_str());
    assert!(
        req.header("svix-signature")
            .expect("signed")
            .starts_with("v1,")
    );
    assert!(req.header("webhook-id").is_none());
}

#[tokio::test]
async fn a_failed_delivery_is_retried_then_succeeds_with_every_attempt_recorded() {
    let app = TestApp::spawn().await;
    let receiver = Receiver::start().await;
    receiver.script([Reply::status(500), Reply::status(502)]);
    app.create_app("acme").await;
    app.create_endpoint("acme", json!({"url": receiver.url("/hook")}))
        .await;
    let msg = app.send("acme", "a", json!({"k": 1})).await;
    let id = msg["id"].as_str().expect("id");

    let got = receiver.wait_for(3, WAIT).await;
    assert!(
        got.iter()
            .all(|r| r.header("webhook-id").as_deref() == Some(id)),
        "same webhook-id on every attempt"
    );
    let attempts = app.wait_attempts("acme", id, WAIT, |a| a.len() == 3).await;
    let codes: Vec<i64> = attempts
        .iter()
        .rev()
        .map(|a| a["responseStatusCode"].as_i64().expect("code"))
        .collect();
    assert_eq!(codes, vec![500, 502, 200]);
    assert_eq!(attempts[0]["status"], 0);
    assert_eq!(attempts[0]["outcome"], "OK");
    assert_eq!(attempts[1]["outcome"], "E_HTTP_STATUS");
    assert_eq!(attempts[0]["response"], "receiver says hi");
    let dests = app
        .get(&format!("/api/v1/app/acme/msg/{id}/endpoint"))
        .await;
    assert_eq!(dests["data"][0]["status"], 0);
}

#[tokio::test]
async fn retry_after_on_a_429_pushes_the_next_attempt_later_than_the_schedule() {
    let app = TestApp::spawn().await;
    let receiver = Receiver::start().await;
    receiver.script([Reply::status(429).with_header("retry-after", "2")]);
    app.create_app("acme").await;
    app.create_endpoint("acme", json!({"url": receiver.url("/hook")}))
        .await;
    app.send("acme", "a", json!({})).await;
    let got = receiver.wait_for(2, WAIT).await;
    let gap = got[1].at - got[0].at;
    // The schedule says ~100 ms; the receiver asked for 2 s.
    assert!(gap >= Duration::from_millis(1900), "retried after {gap:?}");
}

#[tokio::test]
async fn an_exhausted_delivery_is_dead_until_recover_brings_it_back() {
    let app = TestApp::spawn().await;
    let receiver = Receiver::start().await;
    receiver.set_default(Reply::status(500));
    app.create_app("acme").await;
    let ep = app
        .create_endpoint("acme", json!({"url": receiver.url("/hook")}))
        .await;
    let ep_id = ep["id"].as_str().expect("id");
    let msg = app.send("acme", "a", json!({})).await;
    let id = msg["id"].as_str().expect("id");

    // Schedule 100ms,200ms: three attempts, then dead (Svix status 2 = Fail).
    app.wait_attempts("acme", id, WAIT, |a| a.len() == 3).await;
    let dests = format!("/api/v1/app/acme/msg/{id}/endpoint");
    until("the delivery to be dead", WAIT, async || {
        let dests = app.get(&dests).await;
        if dests["data"][0]["status"] == 2 {
            Ok(())
        } else {
            Err(dests)
        }
    })
    .await;
    // The point: a dead delivery is not tried again. Nothing is due, so an attempt would be
    // a dispatcher poll claiming it anyway.
    throughout("no attempt after dead", QUIET, async || {
        receiver.received().len() == 3
    })
    .await;

    receiver.set_default(Reply::status(200));
    let (status, out) = app
        .call(
            Method::POST,
            &format!("/api/v1/app/acme/endpoint/{ep_id}/recover"),
            Some(json!({"since": "2000-01-01T00:00:00Z"})),
        )
        .await;
    assert_eq!(status, 202, "{out}");
    assert_eq!(out["task"], "endpoint.recover");
    let attempts = app.wait_attempts("acme", id, WAIT, |a| a.len() == 4).await;
    assert_eq!(attempts[0]["status"], 0);
    assert_eq!(
        attempts[0]["triggerType"], 1,
        "a recovered attempt is manual"
    );
}

#[tokio::test]
async fn resend_sends_a_delivered_message_again_as_a_manual_attempt() {
    let app = TestApp::spawn().await;
    let receiver = Receiver::start().await;
    app.create_app("acme").await;
    let ep = app
        .create_endpoint("acme", json!({"url": receiver.url("/")}))
        .await;
    let msg = app.send("acme", "a", json!({})).await;
    let id = msg["id"].as_str().expect("id");
    receiver.wait_for(1, WAIT).await;
    app.wait_attempts("acme", id, WAIT, |a| a.len() == 1).await;
    let (status, body) = app
        .call(
            Method::POST,
            &format!(
                "/api/v1/app/acme/msg/{id}/endpoint/{}/resend",
                ep["id"].as_str().expect("id")
            ),
            None,
        )
        .await;
    assert_eq!(status, 202, "{body}");
    let got = receiver.wait_for(2, WAIT).await;
    assert_eq!(got[1].header("webhook-id").as_deref(), Some(id));
}

#[tokio::test]
async fn a_410_gone_disables_the_endpoint_at_once() {
    let app = TestApp::spawn().await;
    let receiver = Receiver::start().await;
    receiver.set_default(Reply::status(410));
    app.create_app("acme").await;
    let ep = app
        .create_endpoint("acme", json!({"url": receiver.url("/gone")}))
        .await;
    let msg = app.send("acme", "a", json!({})).await;
    app.wait_attempts("acme", msg["id"].as_str().expect("id"), WAIT, |a| {
        a.len() == 1
    })
    .await;
    let path = format!(
        "/api/v1/app/acme/endpoint/{}",
        ep["id"].as_str().expect("id")
    );
    assert_eq!(app.get(&path).await["disabled"], true);
    // No retry, and new messages do not go to a disabled endpoint: the endpoint's one
    // delivery failed and nothing else is pending (deliveries are stored with their message).
    app.send("acme", "a", json!({})).await;
    let stats = app.settled("acme", ep["id"].as_str().expect("id")).await;
    assert_eq!(
        (&stats["success"], &stats["fail"]),
        (&json!(0), &json!(1)),
        "{stats}"
    );
    assert_eq!(receiver.received().len(), 1);
}

#[tokio::test]
async fn an_endpoint_rate_limit_spaces_deliveries() {
    let app = TestApp::spawn().await;
    let receiver = Receiver::start().await;
    app.create_app("acme").await;
    app.create_endpoint("acme", json!({"url": receiver.url("/"), "rateLimit": 5}))
        .await;
    for i in 0..15 {
        app.send("acme", "a", json!({"i": i})).await;
    }
    let got = receiver.wait_for(15, WAIT).await;
    // A burst of 5, then 10 more at 5 per second: at least ~2 s from first to last.
    let span = got[14].at - got[0].at;
    assert!(
        span >= Duration::from_millis(1800),
        "15 deliveries in {span:?}"
    );
}

#[tokio::test]
async fn a_slow_endpoint_does_not_delay_another() {
    let app = TestApp::spawn().await;
    let (slow, fast) = (Receiver::start().await, Receiver::start().await);
    slow.set_default(Reply {
        delay: Duration::from_secs(3),
        ..Reply::status(200)
    });
    app.create_app("acme").await;
    app.create_endpoint("acme", json!({"url": slow.url("/"), "maxInFlight": 1}))
        .await;
    app.create_endpoint("acme", json!({"url": fast.url("/")}))
        .await;
    let started = std::time::Instant::now();
    for i in 0..20 {
        app.send("acme", "a", json!({"i": i})).await;
    }
    fast.wait_for(20, WAIT).await;
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "fast endpoint waited {:?}",
        started.elapsed()
    );
    assert!(slow.received().len() <= 2);
}

#[tokio::test]
async fn deliveries_to_private_addresses_are_refused_by_default_with_the_reason() {
    let mut s = settings();
    s.delivery.allow_private_networks = false;
    let app = TestApp::spawn_with(s).await;
    let receiver = Receiver::start().await;
    app.create_app("acme").await;
    let literal = app
        .create_endpoint("acme", json!({"url": receiver.url("/literal")}))
        .await;
    let named = app
        .create_endpoint(
            "acme",
            json!({"url": format!("http://localhost:{}/named", receiver.addr.port())}),
        )
        .await;
    let msg = app.send("acme", "a", json!({})).await;
    let attempts = app
        .wait_attempts("acme", msg["id"].as_str().expect("id"), WAIT, |a| {
            a.len() >= 2
        })
        .await;
    for a in &attempts {
        assert_eq!(a["outcome"], "E_BLOCKED_ADDRESS", "{a}");
        assert!(
            a["response"]
                .as_str()
                .expect("reason")
                .contains("RUSTYHOOK_ALLOW_PRIVATE_NETWORKS"),
            "{a}"
        );
    }
    // Every attempt made, none reached the receiver.
    for ep in [literal, named] {
        app.settled("acme", ep["id"].as_str().expect("id")).await;
    }
    assert!(receiver.received().is_empty());
}
