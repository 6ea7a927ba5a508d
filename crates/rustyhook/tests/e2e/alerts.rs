//! Alert rules and alerts: rules made through the API or the config (read-only through the
//! API), checked field by field; each rule kind fires once and resolves once, arriving as a
//! signed operational webhook and listed with its history.

use std::time::Duration;

use reqwest::{Method, StatusCode};
use rustyhook_core::alert::RuleSpec;
use serde_json::{Value, json};

use crate::harness::{TestApp, settings};
use crate::operational::verified;
use crate::receiver::{Receiver, Reply};
use crate::wait::{throughout, until};

/// How long a test waits for an alert to fire or resolve: a few evaluations, and the minute
/// buckets a window counts rolling over.
const WAIT: Duration = Duration::from_secs(20);

const RULES: &str = "/api/v1/alert/rule";

fn config_rule(yaml: &str) -> RuleSpec {
    serde_norway::from_str(yaml).expect("a valid rule")
}

/// The field names of a 422's problems.
fn fields(body: &Value) -> Vec<String> {
    body["detail"]
        .as_array()
        .unwrap_or_else(|| panic!("a 422 body: {body}"))
        .iter()
        .map(|d| d["loc"][1].as_str().unwrap_or_default().to_owned())
        .collect()
}

async fn token(app: &TestApp, body: Value) -> String {
    let (status, out) = app
        .call(Method::POST, "/api/v1/token", Some(body.clone()))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body} -> {out}");
    out["token"].as_str().expect("the secret").to_owned()
}

#[tokio::test]
async fn rules_are_checked_by_field_and_config_rules_are_read_only() {
    let mut s = settings();
    s.alerts = vec![config_rule("name: nodes\nkind: node_gone\nthreshold: 60\n")];
    let app = TestApp::spawn_with(s).await;
    app.create_app("shop").await;
    let ep = app
        .create_endpoint(
            "shop",
            json!({"url": "http://127.0.0.1:9/hook", "uid": "main"}),
        )
        .await;
    let (status, rule) = app
        .call(
            Method::POST,
            RULES,
            Some(
                json!({"name": "shop failing", "kind": "failure_rate", "threshold": 50,
                "app": "shop", "endpoint": "main"}),
            ),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{rule}");
    assert!(
        rule["id"].as_str().expect("id").starts_with("alr_"),
        "{rule}"
    );
    assert_eq!(rule["window"], "5m");
    assert_eq!(rule["minAttempts"], 10);
    assert_eq!(rule["origin"], "api");
    assert_eq!(rule["firing"], 0);
    assert_eq!(rule["disabled"], false);
    assert_eq!(
        rule["endpoint"], ep["id"],
        "the uid is kept as the endpoint's id"
    );
    let bad = [
        (json!({"name": "x", "kind": "lag", "threshold": 1}), "kind"),
        (
            json!({"name": "x", "kind": "failure_rate", "threshold": 150}),
            "threshold",
        ),
        (
            json!({"name": "x", "kind": "dead_letters", "threshold": 1, "window": "90s"}),
            "window",
        ),
        (
            json!({"name": "", "kind": "dead_letters", "threshold": 1}),
            "name",
        ),
        (
            json!({"name": "x", "kind": "node_gone", "threshold": 1, "source": "s"}),
            "source",
        ),
        (
            json!({"name": "x", "kind": "dead_letters", "threshold": 1, "endpoint": "nope"}),
            "endpoint",
        ),
        (
            json!({"name": "x", "kind": "failure_rate", "threshold": 1, "minAttempts": 0}),
            "minAttempts",
        ),
        (
            json!({"name": "x", "kind": "dead_letters", "threshold": 1, "handler": "none"}),
            "handler",
        ),
    ];
    for (body, field) in bad {
        let (status, out) = app.call(Method::POST, RULES, Some(body.clone())).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body} -> {out}");
        assert!(fields(&out).iter().any(|f| f == field), "{body} -> {out}");
    }
    let (status, _) = app
        .call(
            Method::POST,
            RULES,
            Some(json!({"name": "shop failing", "kind": "dead_letters", "threshold": 1})),
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "the name is taken");
    let listed = app.get(RULES).await;
    let rules = listed["data"].as_array().expect("data");
    assert_eq!(rules.len(), 2, "nothing bad was stored: {listed}");
    let from_config = rules
        .iter()
        .find(|r| r["origin"] == "config")
        .expect("the config's rule");
    assert_eq!(from_config["name"], "nodes");
    let path = format!("{RULES}/{}", from_config["id"].as_str().expect("id"));
    let body = json!({"name": "nodes", "kind": "node_gone", "threshold": 5});
    for (method, body) in [(Method::PUT, Some(body)), (Method::DELETE, None)] {
        let (status, out) = app.call(method, &path, body).await;
        assert_eq!(status, StatusCode::CONFLICT, "{out}");
        assert_eq!(out["code"], "config_rule", "{out}");
    }
    assert_eq!(app.get(&path).await["threshold"], 60.0);
    let path = format!("{RULES}/{}", rule["id"].as_str().expect("id"));
    let (status, updated) = app
        .call(
            Method::PUT,
            &path,
            Some(
                json!({"name": "shop dead", "kind": "dead_letters", "threshold": 3,
                "window": "1h", "disabled": true}),
            ),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{updated}");
    assert_eq!(updated["window"], "1h");
    assert_eq!(updated["endpoint"], Value::Null);
    assert_eq!(updated["createdAt"], rule["createdAt"]);
    let (status, _) = app.call(Method::DELETE, &path, None).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, _) = app.call(Method::GET, &path, None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn read_only_tokens_read_alerts_and_app_tokens_are_refused() {
    let app = TestApp::spawn().await;
    app.create_app("shop").await;
    let reader = token(&app, json!({"name": "dash", "role": "read-only"})).await;
    let tenant = token(&app, json!({"name": "t", "role": "app", "appId": "shop"})).await;
    let rule = json!({"name": "dead", "kind": "dead_letters", "threshold": 1});
    for path in [RULES, "/api/v1/alert", "/api/v1/node"] {
        let (status, out) = app.call_as(&reader, Method::GET, path, None).await;
        assert_eq!(status, StatusCode::OK, "{path}: {out}");
        let (status, _) = app.call_as(&tenant, Method::GET, path, None).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{path}");
    }
    let (status, _) = app
        .call_as(&reader, Method::POST, RULES, Some(rule.clone()))
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _) = app.call_as(&tenant, Method::POST, RULES, Some(rule)).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(app.get(RULES).await["data"], json!([]));
    let (status, out) = app
        .call(Method::GET, "/api/v1/alert?status=burning", None)
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{out}");
    let nodes = until("this node in the node list", WAIT, async || {
        let nodes = app.get("/api/v1/node").await;
        if nodes["data"].as_array().is_some_and(|d| !d.is_empty()) {
            Ok(nodes)
        } else {
            Err(nodes.to_string())
        }
    })
    .await;
    let node = &nodes["data"][0];
    assert_eq!(nodes["data"].as_array().map(Vec::len), Some(1), "{nodes}");
    assert_eq!(node["alive"], true, "{nodes}");
    assert_eq!(node["leader"], true, "{nodes}");
    assert_eq!(node["role"], "all", "{nodes}");
}

/// An operator's receiver of alert events, set up through the API.
struct Operator {
    receiver: Receiver,
    secret: String,
}

impl Operator {
    async fn start(app: &TestApp) -> Self {
        let receiver = Receiver::start().await;
        let (status, ep) = app
            .call(
                Method::POST,
                "/api/v1/operational-webhook/endpoint",
                Some(json!({"url": receiver.url("/ops"),
                    "filterTypes": ["alert.fired", "alert.resolved"]})),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{ep}");
        let id = ep["id"].as_str().expect("id");
        let secret = app
            .get(&format!("/api/v1/operational-webhook/endpoint/{id}/secret"))
            .await["key"]
            .as_str()
            .expect("key")
            .to_owned();
        Self { receiver, secret }
    }

    /// The first `n` events, each verified with the endpoint's secret.
    async fn events(&self, n: usize, within: Duration) -> Vec<Value> {
        self.receiver
            .wait_for(n, within)
            .await
            .iter()
            .map(|r| verified(r, &self.secret))
            .collect()
    }
}

/// Creates a rule through the API; returns its id.
async fn rule(app: &TestApp, body: Value) -> String {
    let (status, out) = app.call(Method::POST, RULES, Some(body.clone())).await;
    assert_eq!(status, StatusCode::CREATED, "{body} -> {out}");
    out["id"].as_str().expect("id").to_owned()
}

/// Waits for the rule's alert to fire (signed, once), checks the API shows it firing, runs
/// `clear`, then waits for it to resolve (signed, once) and checks its history.
async fn fires_then_resolves_once(
    app: &TestApp,
    ops: &Operator,
    rule_id: &str,
    subject: &str,
    clear: impl AsyncFnOnce(),
) {
    let fired = ops.events(1, WAIT).await.remove(0);
    assert_eq!(fired["type"], "alert.fired", "{fired}");
    let alert = &fired["data"];
    assert_eq!(alert["ruleId"], rule_id, "{fired}");
    assert_eq!(alert["subject"], subject, "{fired}");
    assert_eq!(alert["status"], "firing", "{fired}");
    assert!(alert["summary"].as_str().is_some_and(|s| !s.is_empty()));
    let firing = app.get("/api/v1/alert?status=firing").await;
    assert_eq!(firing["data"][0]["id"], alert["id"], "{firing}");
    let listed = app.get(&format!("{RULES}/{rule_id}")).await;
    assert_eq!(listed["firing"], 1, "{listed}");
    clear().await;
    // A window's counts fall out when their minute does: up to a minute and an evaluation.
    let events = ops.events(2, WAIT + Duration::from_secs(70)).await;
    let resolved = &events[1];
    assert_eq!(resolved["type"], "alert.resolved", "{resolved}");
    assert_eq!(resolved["data"]["id"], alert["id"], "{resolved}");
    assert_eq!(resolved["data"]["status"], "resolved");
    assert!(resolved["data"]["resolvedAt"].is_string(), "{resolved}");
    throughout(
        "each alert event arrives once",
        Duration::from_secs(3),
        async || ops.receiver.received().len() == 2,
    )
    .await;
    let history = app.get(&format!("/api/v1/alert?rule={rule_id}")).await;
    let list = history["data"].as_array().expect("data");
    assert_eq!(list.len(), 1, "{history}");
    assert_eq!(list[0]["status"], "resolved");
    assert_eq!(list[0]["firedAt"], alert["firedAt"]);
}

fn fast_alerts() -> rustyhook_core::settings::Settings {
    let mut s = settings();
    s.alert_interval = Duration::from_secs(1);
    s
}

/// Waits, if need be, until the current minute is at most 20 s old. A 1m window is the current
/// minute: an alert fired late in a minute can resolve at the turn of it, before the test has
/// seen it firing. Starting early leaves the scenario 40 s to fire and be looked at.
async fn early_in_a_minute() {
    let into = rustyhook_core::time::now_millis().rem_euclid(60_000);
    if into > 20_000 {
        tokio::time::sleep(Duration::from_millis((60_000 - into) as u64 + 100)).await;
    }
}

/// A rustyhook with fast alerts, an operator's receiver, and app `shop` with one endpoint whose
/// receiver answers 500 (its id last), early in a minute (see [`early_in_a_minute`]).
async fn failing_shop() -> (TestApp, Operator, Receiver, String) {
    early_in_a_minute().await;
    let app = TestApp::spawn_with(fast_alerts()).await;
    let ops = Operator::start(&app).await;
    let customer = Receiver::start().await;
    customer.set_default(Reply::status(500));
    app.create_app("shop").await;
    let ep = app
        .create_endpoint("shop", json!({"url": customer.url("/hook")}))
        .await;
    let ep_id = ep["id"].as_str().expect("id").to_owned();
    (app, ops, customer, ep_id)
}

#[tokio::test]
async fn an_endpoint_failing_then_recovering_fires_then_resolves_its_failure_rate_alert_once() {
    let (app, ops, customer, ep_id) = failing_shop().await;
    let rule_id = rule(
        &app,
        json!({"name": "shop failing", "kind": "failure_rate", "threshold": 50,
            "window": "1m", "minAttempts": 4, "app": "shop", "endpoint": ep_id}),
    )
    .await;
    for i in 0..4 {
        app.send("shop", "order.paid", json!({"n": i})).await;
    }
    fires_then_resolves_once(&app, &ops, &rule_id, &ep_id, async || {
        customer.set_default(Reply::status(200));
        for i in 0..40 {
            app.send("shop", "order.paid", json!({"n": i})).await;
        }
    })
    .await;
}

/// A rule over every endpoint and handler reads only those with attempts in its window; an
/// endpoint that fell quiet after failing is measured alone, and its alert resolves once the
/// failed attempts' minute has passed.
#[tokio::test]
async fn a_failure_rate_alert_over_every_endpoint_resolves_once_its_endpoint_falls_quiet() {
    // The receiver stays up, failing every attempt.
    let (app, ops, _customer, ep_id) = failing_shop().await;
    let rule_id = rule(
        &app,
        json!({"name": "anything failing", "kind": "failure_rate", "threshold": 50,
            "window": "1m", "minAttempts": 4}),
    )
    .await;
    for i in 0..2 {
        app.send("shop", "order.paid", json!({"n": i})).await;
    }
    // Nothing more is sent: the two messages fail every retry and die, and the endpoint has
    // no attempts in the window once their minute has passed.
    fires_then_resolves_once(&app, &ops, &rule_id, &ep_id, async || {}).await;
}

#[tokio::test]
async fn a_dead_letter_fires_the_dead_letters_alert_once_until_its_minute_passes() {
    let (app, ops, _customer, _) = failing_shop().await;
    let rule_id = rule(
        &app,
        json!({"name": "dead", "kind": "dead_letters", "threshold": 0, "window": "1m"}),
    )
    .await;
    app.send("shop", "order.paid", json!({})).await;
    fires_then_resolves_once(&app, &ops, &rule_id, "server", async || {}).await;
}

#[tokio::test]
async fn work_held_by_a_paused_endpoint_fires_oldest_pending_until_resumed() {
    let app = TestApp::spawn_with(fast_alerts()).await;
    let ops = Operator::start(&app).await;
    let customer = Receiver::start().await;
    app.create_app("shop").await;
    let ep = app
        .create_endpoint("shop", json!({"url": customer.url("/hook")}))
        .await;
    let path = format!("/api/v1/pause/endpoint/{}", ep["id"].as_str().expect("id"));
    let (status, out) = app
        .call(Method::POST, &path, Some(json!({"reason": "test"})))
        .await;
    assert_eq!(status, StatusCode::OK, "{out}");
    let rule_id = rule(
        &app,
        json!({"name": "stuck", "kind": "oldest_pending", "threshold": 2}),
    )
    .await;
    app.send("shop", "order.paid", json!({})).await;
    fires_then_resolves_once(&app, &ops, &rule_id, "server", async || {
        let (status, out) = app.call(Method::DELETE, &path, None).await;
        assert_eq!(status, StatusCode::OK, "{out}");
    })
    .await;
    assert_eq!(
        customer.received().len(),
        1,
        "the held message arrived once"
    );
}

#[tokio::test]
async fn a_slack_format_endpoint_from_the_config_gets_the_alert_as_one_sentence_of_text() {
    let slack = Receiver::start().await;
    let yaml = format!(
        "operational_webhooks:\n  - url: {}\n    format: slack\n    filter_types: [alert.fired]\n",
        slack.url("/services/T0/B0/x")
    );
    let mut s: rustyhook_core::settings::Settings =
        serde_norway::from_str(&yaml).expect("a valid config");
    let base = fast_alerts();
    s.listen = base.listen;
    s.auth = base.auth;
    s.delivery = base.delivery;
    s.retry = base.retry;
    s.database = base.database;
    s.alert_interval = base.alert_interval;
    let app = TestApp::spawn_with(s).await;
    let listed = app.get("/api/v1/operational-webhook/endpoint").await;
    assert_eq!(listed["data"][0]["format"], "slack", "{listed}");
    let customer = Receiver::start().await;
    customer.set_default(Reply::status(500));
    app.create_app("shop").await;
    app.create_endpoint("shop", json!({"url": customer.url("/hook")}))
        .await;
    rule(
        &app,
        json!({"name": "dead", "kind": "dead_letters", "threshold": 0, "window": "1m"}),
    )
    .await;
    app.send("shop", "order.paid", json!({})).await;
    let got = slack.wait_for(1, WAIT).await;
    let body = got[0].json();
    let text = body["text"].as_str().unwrap_or_else(|| panic!("{body}"));
    assert!(
        text.starts_with("Alert dead: This server had 1 dead letters"),
        "{text}"
    );
    assert_eq!(
        body.as_object().map(|o| o.len()),
        Some(1),
        "only text: {body}"
    );
}

const REDIS: &str = "redis://127.0.0.1:6379";

/// A rustyhook with fast alerts reading a Redis stream of its own as source `orders` for app
/// `shop`, an operator's receiver, and a connection to add entries to the stream.
async fn with_a_redis_source() -> (TestApp, Operator, String, redis::aio::MultiplexedConnection) {
    let stream = format!(
        "rustyhook-alerts-{}",
        rand::distr::SampleString::sample_string(&rand::distr::Alphanumeric, &mut rand::rng(), 10)
    );
    let yaml = format!(
        "sources:\n  - {{name: orders, type: redis, url: \"{REDIS}\", stream: {stream}, app: shop}}\n"
    );
    let parsed = rustyhook::config::parse(&yaml, "test.yaml").expect("a valid source");
    let mut config = fast_alerts();
    config.sources = parsed.sources;
    let app = TestApp::spawn_with(config).await;
    let ops = Operator::start(&app).await;
    let conn = redis::Client::open(REDIS)
        .expect("url")
        .get_multiplexed_async_connection()
        .await
        .expect("the machine's Redis on 127.0.0.1:6379");
    (app, ops, stream, conn)
}

async fn xadd(conn: &mut redis::aio::MultiplexedConnection, stream: &str, fields: &[(&str, &str)]) {
    let _: String = redis::AsyncCommands::xadd(conn, stream, "*", fields)
        .await
        .expect("xadd");
}

async fn drop_stream(conn: &mut redis::aio::MultiplexedConnection, stream: &str) {
    let _: Result<i64, _> =
        redis::AsyncCommands::del(conn, &[stream.to_owned(), format!("{stream}.dead")]).await;
}

#[tokio::test]
async fn a_paused_source_s_growing_lag_fires_source_lag_until_it_is_resumed_and_drained() {
    let (app, ops, stream, mut conn) = with_a_redis_source().await;
    let customer = Receiver::start().await;
    app.create_app("shop").await;
    app.create_endpoint("shop", json!({"url": customer.url("/hook")}))
        .await;
    let pause = "/api/v1/pause/source/orders";
    let (status, out) = app.call(Method::POST, pause, None).await;
    assert_eq!(status, StatusCode::OK, "{out}");
    let rule_id = rule(
        &app,
        json!({"name": "orders behind", "kind": "source_lag", "threshold": 2, "source": "orders"}),
    )
    .await;
    for n in 0..3 {
        let payload = json!({ "n": n }).to_string();
        xadd(
            &mut conn,
            &stream,
            &[("eventType", "order.paid"), ("payload", payload.as_str())],
        )
        .await;
    }
    // The lag is measured every 5 s and the rule reads its latest minute's highest sample.
    fires_then_resolves_once(&app, &ops, &rule_id, "orders", async || {
        let (status, out) = app.call(Method::DELETE, pause, None).await;
        assert_eq!(status, StatusCode::OK, "{out}");
    })
    .await;
    assert_eq!(
        customer.received().len(),
        3,
        "each waiting entry arrived once"
    );
    drop_stream(&mut conn, &stream).await;
}

#[tokio::test]
async fn entries_a_source_rejects_fire_source_rejected_once_until_their_minute_passes() {
    early_in_a_minute().await;
    let (app, ops, stream, mut conn) = with_a_redis_source().await;
    app.create_app("shop").await;
    // Wait for the source to read before the rule exists, so nothing fires before it counts.
    until("the source reading", WAIT, async || {
        let sources = app.get("/api/v1/source").await;
        if sources["data"][0]["state"] == "reading" {
            Ok(())
        } else {
            Err(sources)
        }
    })
    .await;
    let rule_id = rule(
        &app,
        json!({"name": "orders rejected", "kind": "source_rejected", "threshold": 1,
            "window": "1m", "source": "orders"}),
    )
    .await;
    // Two entries that cannot become messages: over the threshold of one.
    xadd(
        &mut conn,
        &stream,
        &[("eventType", "a.b"), ("payload", "{not json")],
    )
    .await;
    xadd(&mut conn, &stream, &[("payload", r#"{"n":1}"#)]).await;
    fires_then_resolves_once(&app, &ops, &rule_id, "orders", async || {}).await;
    let rejected = app.get("/api/v1/source/orders/rejected").await;
    assert_eq!(
        rejected["data"].as_array().map(Vec::len),
        Some(2),
        "{rejected}"
    );
    drop_stream(&mut conn, &stream).await;
}
