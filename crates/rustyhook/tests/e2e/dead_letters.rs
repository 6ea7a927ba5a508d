//! Dead letters across apps (`/api/v1/dead-letter`), the headers an attempt sent, bulk resend
//! of failed messages, and an app's logo: what the dashboard's pages read and do.

use std::collections::HashSet;
use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::harness::TestApp;
use crate::receiver::{Receiver, Reply};

/// An app whose endpoint at the receiver carries a credential header and a plain one.
async fn app_failing_at(app: &TestApp, uid: &str, receiver: &Receiver) -> String {
    app.create_app(uid).await;
    let ep = app
        .create_endpoint(uid, json!({"url": receiver.url(&format!("/{uid}"))}))
        .await;
    let id = ep["id"].as_str().expect("id").to_owned();
    let (status, body) = app
        .call(
            Method::PUT,
            &format!("/api/v1/app/{uid}/endpoint/{id}/headers"),
            Some(json!({"headers": {"Authorization": "Bearer s3cret", "X-Tenant": uid}})),
        )
        .await;
    assert!(status.is_success(), "{status} {body}");
    id
}

async fn dead_letters(app: &TestApp, query: &str) -> Vec<Value> {
    app.get(&format!("/api/v1/dead-letter{query}")).await["data"]
        .as_array()
        .cloned()
        .expect("a list")
}

#[tokio::test]
async fn dead_letters_across_apps_are_listed_then_recovered_once_and_delivered() {
    let receiver = Receiver::start().await;
    receiver.set_default(Reply::status(500));
    let app = TestApp::spawn().await;
    let shop_ep = app_failing_at(&app, "shop", &receiver).await;
    app_failing_at(&app, "bank", &receiver).await;
    let mut sent = Vec::new();
    for (uid, event_type) in [
        ("shop", "order.made"),
        ("shop", "order.paid"),
        ("bank", "order.made"),
    ] {
        sent.push(app.send(uid, event_type, json!({"n": 1})).await["id"].clone());
    }
    app.settled_app("shop").await;
    app.settled_app("bank").await;

    let all = dead_letters(&app, "").await;
    assert_eq!(all.len(), 3, "{all:?}");
    let deaths: Vec<&str> = all
        .iter()
        .map(|d| d["deadAt"].as_str().expect("deadAt"))
        .collect();
    assert!(
        deaths.windows(2).all(|w| w[0] >= w[1]),
        "newest first: {deaths:?}"
    );
    let shop_paid = all
        .iter()
        .find(|d| d["eventType"] == "order.paid")
        .expect("shop's order.paid");
    assert_eq!(shop_paid["kind"], "endpoint");
    assert_eq!(shop_paid["endpointId"], shop_ep.as_str());
    assert_eq!(shop_paid["msgId"], sent[1]);
    assert_eq!(shop_paid["attempts"], 3, "the first try and two retries");
    assert_eq!(shop_paid["lastStatusCode"], 500);
    assert_eq!(shop_paid["lastOutcome"], "E_HTTP_STATUS");
    assert_eq!(dead_letters(&app, "?app=shop").await.len(), 2);
    assert_eq!(
        dead_letters(&app, "?app=shop&eventType=order.made").await[0]["msgId"],
        sent[0]
    );
    assert_eq!(
        dead_letters(&app, &format!("?endpoint={shop_ep}"))
            .await
            .len(),
        2
    );
    assert!(dead_letters(&app, "?handler=none").await.is_empty());
    // One at a time, with the iterator each page gives.
    let first = app.get("/api/v1/dead-letter?limit=2").await;
    assert_eq!(first["done"], false);
    let it = first["iterator"].as_str().expect("iterator");
    let rest = app
        .get(&format!("/api/v1/dead-letter?limit=2&iterator={it}"))
        .await;
    assert_eq!(
        (rest["data"][0]["id"].clone(), rest["done"].clone()),
        (all[2]["id"].clone(), json!(true))
    );
    let (status, body) = app
        .call(Method::GET, "/api/v1/dead-letter?iterator=nope", None)
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["detail"][0]["loc"], json!(["query", "iterator"]));

    // What each attempt sent, the credential hidden.
    let attempts = app
        .get(&format!(
            "/api/v1/app/shop/attempt/msg/{}",
            sent[0].as_str().expect("id")
        ))
        .await;
    let headers = &attempts["data"][0]["requestHeaders"];
    assert_eq!(headers["webhook-id"], sent[0]);
    assert_eq!(headers["authorization"], "[REDACTED]");
    assert_eq!(headers["x-tenant"], "shop");
    assert_eq!(headers["content-type"], "application/json");
    assert!(
        headers["webhook-signature"]
            .as_str()
            .is_some_and(|s| s.starts_with("v1,"))
    );
    assert!(
        headers["user-agent"]
            .as_str()
            .is_some_and(|s| s.starts_with("rustyhook/"))
    );
    let got = receiver.received();
    assert!(
        got.iter()
            .all(|r| r.header("authorization").as_deref() == Some("Bearer s3cret")),
        "the receiver got the real value"
    );

    // Who may: read-only lists but does not recover; an app token does neither.
    let viewer = app
        .post(
            "/api/v1/token",
            json!({"name": "viewer", "role": "read-only"}),
        )
        .await["token"]
        .as_str()
        .expect("token")
        .to_owned();
    let portal = app
        .post(
            "/api/v1/token",
            json!({"name": "shop", "role": "app", "appId": "shop"}),
        )
        .await["token"]
        .as_str()
        .expect("token")
        .to_owned();
    let (status, _) = app
        .call_as(&viewer, Method::GET, "/api/v1/dead-letter", None)
        .await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = app
        .call_as(
            &viewer,
            Method::POST,
            "/api/v1/dead-letter/recover",
            Some(json!({"all": true})),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _) = app
        .call_as(&portal, Method::GET, "/api/v1/dead-letter", None)
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, body) = app
        .call(Method::POST, "/api/v1/dead-letter/recover", Some(json!({})))
        .await;
    assert_eq!(
        status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "an empty body recovers nothing: {body}"
    );

    // Fixed: recover shop's by filter, then the rest twice at once; each arrives once.
    receiver.set_default(Reply::status(200));
    let before = receiver.received().len();
    let shop = app
        .post("/api/v1/dead-letter/recover", json!({"app": "shop"}))
        .await;
    assert_eq!(shop, json!({"recovered": 2, "done": true}));
    let everything = json!({"all": true});
    let (one, two) = tokio::join!(
        app.post("/api/v1/dead-letter/recover", everything.clone()),
        app.post("/api/v1/dead-letter/recover", everything),
    );
    assert_eq!(
        one["recovered"].as_u64().unwrap_or(9) + two["recovered"].as_u64().unwrap_or(9),
        1
    );
    receiver.wait_for(before + 3, Duration::from_secs(10)).await;
    app.settled_app("shop").await;
    app.settled_app("bank").await;
    let after: Vec<_> = receiver.received().split_off(before);
    let ids: HashSet<_> = after
        .iter()
        .filter_map(|r| r.header("webhook-id"))
        .collect();
    assert_eq!(
        (after.len(), ids.len()),
        (3, 3),
        "each recovered message arrived once"
    );
    assert!(dead_letters(&app, "").await.is_empty());
}

#[tokio::test]
async fn selected_messages_are_resent_to_the_endpoints_where_they_failed() {
    let receiver = Receiver::start().await;
    receiver.set_default(Reply::status(500));
    let app = TestApp::spawn().await;
    app_failing_at(&app, "shop", &receiver).await;
    let failed = app.send("shop", "order.made", json!({"n": 1})).await["id"].clone();
    app.settled_app("shop").await;
    receiver.set_default(Reply::status(200));
    let ok = app.send("shop", "order.made", json!({"n": 2})).await["id"].clone();
    app.settled_app("shop").await;
    let before = receiver.received().len();
    let out = app
        .post(
            "/api/v1/app/shop/resend-failed",
            json!({"msgIds": [failed, ok]}),
        )
        .await;
    assert_eq!(out, json!({"resent": 1}), "only the failed delivery");
    receiver.wait_for(before + 1, Duration::from_secs(10)).await;
    app.settled_app("shop").await;
    let after = receiver.received().split_off(before);
    assert_eq!(after.len(), 1);
    assert_eq!(after[0].header("webhook-id").as_deref(), failed.as_str());
    let (status, body) = app
        .call(
            Method::POST,
            "/api/v1/app/shop/resend-failed",
            Some(json!({"msgIds": ["x"]})),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["detail"][0]["loc"], json!(["body", "msgIds"]));
}

#[tokio::test]
async fn an_apps_logo_is_an_https_url_set_with_the_app_and_cleared_with_null() {
    let app = TestApp::spawn().await;
    for bad in [
        "http://cdn.example.com/logo.png",
        "javascript:alert(1)",
        "logo.png",
    ] {
        let (status, body) = app
            .call(
                Method::POST,
                "/api/v1/app",
                Some(json!({"name": "Shop", "uid": "shop", "logoUrl": bad})),
            )
            .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{bad}: {body}");
        assert_eq!(body["detail"][0]["loc"], json!(["body", "logoUrl"]));
    }
    assert_eq!(
        app.get("/api/v1/app").await["data"],
        json!([]),
        "nothing was made"
    );
    let logo = "https://cdn.example.com/shop.png";
    let made = app
        .post(
            "/api/v1/app",
            json!({"name": "Shop", "uid": "shop", "logoUrl": logo}),
        )
        .await;
    assert_eq!(made["logoUrl"], logo);
    let (status, _) = app
        .call(
            Method::PUT,
            "/api/v1/app/shop",
            Some(json!({"name": "Shop 2", "uid": "shop"})),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        app.get("/api/v1/app/shop").await["logoUrl"],
        logo,
        "a PUT without it keeps it"
    );
    let (status, body) = app
        .call(
            Method::PATCH,
            "/api/v1/app/shop",
            Some(json!({"logoUrl": "ftp://x/y.png"})),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    let (status, body) = app
        .call(
            Method::PATCH,
            "/api/v1/app/shop",
            Some(json!({"logoUrl": null})),
        )
        .await;
    assert_eq!(
        (status, body["logoUrl"].clone()),
        (StatusCode::OK, Value::Null)
    );
    assert_eq!(app.get("/api/v1/app/shop").await["logoUrl"], Value::Null);
}
