//! Bounded fuzzing: every JSON route of the API gets random and mutated bodies, and the config
//! parser random and mutated files. Whatever comes in, the server answers (no 5xx, no dropped
//! connection), and a request refused with a 4xx changes nothing that can be listed.
//!
//! The run is seeded (printed, and set with `RUSTYHOOK_FUZZ_SEED`) and bounded by
//! `RUSTYHOOK_FUZZ_CASES` per route (default 60), so a failure can be replayed exactly.

use std::time::Duration;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::harness::{TOKEN, TestApp};

fn seed() -> u64 {
    std::env::var("RUSTYHOOK_FUZZ_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| rand::rng().random())
}

fn cases() -> usize {
    std::env::var("RUSTYHOOK_FUZZ_CASES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(60)
}

/// Values that have broken parsers somewhere.
fn nasty(rng: &mut StdRng) -> Value {
    let deep = (0..64).fold(json!(1), |v, _| json!([v]));
    let choices = [
        Value::Null,
        json!(0),
        json!(-1),
        json!(1e308),
        json!(-9_223_372_036_854_775_808i64),
        json!(18_446_744_073_709_551_615u64),
        json!(0.5),
        json!(""),
        json!(" "),
        json!("x".repeat(5000)),
        json!("\u{0000}\r\n\u{202e}"),
        json!("../../etc/passwd"),
        json!("http://127.0.0.1:1/x"),
        json!("💥".repeat(100)),
        json!([]),
        json!({}),
        json!(true),
        json!(["a", 1, null]),
        json!({"a": {"b": {"c": []}}}),
        deep,
        json!("2024-13-45T99:99:99Z"),
        json!("whsec_"),
    ];
    choices[rng.random_range(0..choices.len())].clone()
}

/// A mutated copy of `seed`: a field dropped, changed, or added.
fn mutate(rng: &mut StdRng, seed: &Value) -> Value {
    let mut v = seed.clone();
    let Some(obj) = v.as_object_mut() else {
        return nasty(rng);
    };
    let keys: Vec<String> = obj.keys().cloned().collect();
    for _ in 0..rng.random_range(1..=3) {
        match rng.random_range(0..4) {
            0 if !keys.is_empty() => {
                obj.remove(&keys[rng.random_range(0..keys.len())]);
            }
            1 | 2 if !keys.is_empty() => {
                let k = &keys[rng.random_range(0..keys.len())];
                obj.insert(k.clone(), nasty(rng));
            }
            _ => {
                obj.insert(format!("unknown{}", rng.random_range(0..9)), nasty(rng));
            }
        }
    }
    v
}

/// A body as bytes: mostly mutated JSON, sometimes broken bytes.
fn body(rng: &mut StdRng, seed: &Value) -> Vec<u8> {
    let text = serde_json::to_vec(&mutate(rng, seed)).expect("json");
    match rng.random_range(0..10) {
        0 => text[..rng.random_range(0..=text.len())].to_vec(),
        1 => {
            let mut t = text;
            let at = rng.random_range(0..=t.len());
            t.insert(at, rng.random());
            t
        }
        2 => (0..rng.random_range(0..64)).map(|_| rng.random()).collect(),
        3 => [text.as_slice(), b" trailing"].concat(),
        _ => text,
    }
}

/// Everything a refused request must leave as it was.
async fn snapshot(app: &TestApp, at: &impl Fn(&str) -> String) -> Vec<Value> {
    let mut out = Vec::new();
    for path in [
        "/api/v1/app?limit=250",
        "/api/v1/event-type?limit=250&include_archived=true",
        "/api/v1/app/fz/endpoint?limit=250",
        "/api/v1/app/fz/endpoint/ep/headers",
        "/api/v1/app/fz/endpoint/ep/secret",
        "/api/v1/app/fz/msg?limit=250&with_content=false",
        "/api/v1/token?limit=250",
    ] {
        let path = at(path);
        let (status, mut body) = app.call(Method::GET, &path, None).await;
        assert_eq!(status, StatusCode::OK, "GET {path}: {body}");
        // Lists are compared by content; their cursors name the same items.
        if let Some(o) = body.as_object_mut() {
            o.remove("iterator");
            o.remove("prevIterator");
        }
        out.push(body);
    }
    out
}

#[tokio::test]
async fn no_random_or_mutated_body_gets_a_5xx_and_a_refused_one_changes_nothing() {
    let seed = seed();
    eprintln!("fuzz seed {seed} (RUSTYHOOK_FUZZ_SEED={seed} replays it)");
    let mut rng = StdRng::seed_from_u64(seed);
    let app = TestApp::spawn().await;
    // Paths use ids: a fuzzed PUT that succeeds may change a uid.
    let app_id = app.create_app("fz").await["id"]
        .as_str()
        .expect("id")
        .to_owned();
    let ep_id = app
        .create_endpoint(
            "fz",
            json!({"uid": "ep", "url": "http://127.0.0.1:9/hook", "disabled": true}),
        )
        .await["id"]
        .as_str()
        .expect("id")
        .to_owned();
    let at = |path: &str| {
        path.replace("/fz", &format!("/{app_id}"))
            .replace("/ep", &format!("/{ep_id}"))
    };
    let endpoint = json!({"url": "http://127.0.0.1:9/x", "filterTypes": ["a.b"], "channels": ["c"],
        "rateLimit": 5, "headers": {"X-A": "b"}, "description": "d", "disabled": true,
        "metadata": {"k": "v"}, "uid": "ep2", "secret": "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"});
    let routes: Vec<(Method, &str, Value)> = vec![
        (
            Method::POST,
            "/api/v1/app",
            json!({"name": "n", "uid": "u1", "rateLimit": 3, "metadata": {}}),
        ),
        (
            Method::PUT,
            "/api/v1/app/fz",
            json!({"name": "fz", "uid": "fz"}),
        ),
        (Method::PATCH, "/api/v1/app/fz", json!({"name": "fz2"})),
        (
            Method::POST,
            "/api/v1/event-type",
            json!({"name": "a.b", "description": "d", "schemas": {"1": {"type": "object"}}}),
        ),
        (Method::POST, "/api/v1/app/fz/endpoint", endpoint.clone()),
        (Method::PUT, "/api/v1/app/fz/endpoint/ep", endpoint.clone()),
        (
            Method::PATCH,
            "/api/v1/app/fz/endpoint/ep",
            json!({"description": "x", "rateLimit": 2}),
        ),
        (
            Method::PUT,
            "/api/v1/app/fz/endpoint/ep/headers",
            json!({"headers": {"X-B": "c"}}),
        ),
        (
            Method::PATCH,
            "/api/v1/app/fz/endpoint/ep/headers",
            json!({"headers": {"X-C": "d"}}),
        ),
        (
            Method::POST,
            "/api/v1/app/fz/endpoint/ep/secret/rotate",
            json!({"key": "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"}),
        ),
        (
            Method::POST,
            "/api/v1/app/fz/endpoint/ep/recover",
            json!({"since": "2024-01-01T00:00:00Z"}),
        ),
        (
            Method::POST,
            "/api/v1/app/fz/endpoint/ep/send-example",
            json!({"eventType": "a.b"}),
        ),
        (
            Method::POST,
            "/api/v1/app/fz/msg",
            json!({"eventType": "a.b", "payload": {"x": 1}, "channels": ["c"], "eventId": "e1"}),
        ),
        (
            Method::POST,
            "/api/v1/token",
            json!({"name": "ci", "role": "app", "appId": "fz", "readOnly": true, "expiresAt": "2099-01-01T00:00:00Z"}),
        ),
        (
            Method::POST,
            "/api/v1/auth/app-portal-access/fz",
            json!({"featureFlags": ["a"], "expiry": 3600, "readOnly": true}),
        ),
    ];
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .expect("client");
    let mut answered = std::collections::BTreeMap::<u16, usize>::new();
    for (method, path, seed_body) in &routes {
        for _ in 0..cases() {
            let bytes = body(&mut rng, seed_body);
            let before = snapshot(&app, &at).await;
            let path = at(path);
            let response = client
                .request(method.clone(), format!("{}{path}", app.base))
                .bearer_auth(TOKEN)
                .header("content-type", "application/json")
                .body(bytes.clone())
                .send()
                .await
                .unwrap_or_else(|e| {
                    panic!(
                        "{method} {path} dropped the connection ({e}) on {:?} (seed {seed})",
                        String::from_utf8_lossy(&bytes)
                    )
                });
            let status = response.status();
            let text = response.text().await.unwrap_or_default();
            *answered.entry(status.as_u16()).or_default() += 1;
            assert!(
                !status.is_server_error(),
                "{method} {path} answered {status} {text} to {:?} (seed {seed})",
                String::from_utf8_lossy(&bytes)
            );
            if status.is_client_error() {
                assert!(
                    serde_json::from_str::<Value>(&text).is_ok(),
                    "{method} {path}: a {status} without a JSON body: {text:?} (seed {seed})"
                );
                assert_eq!(
                    snapshot(&app, &at).await,
                    before,
                    "{method} {path} answered {status} but changed something, on {:?} (seed {seed})",
                    String::from_utf8_lossy(&bytes)
                );
            }
        }
    }
    eprintln!(
        "fuzzed {} routes: answers by status {answered:?}",
        routes.len()
    );
}

#[test]
fn no_random_or_mutated_config_file_panics_the_parser() {
    let seed = seed();
    eprintln!("config fuzz seed {seed}");
    let mut rng = StdRng::seed_from_u64(seed);
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/compat/rustyhook");
    let mut seeds: Vec<String> = std::fs::read_dir(dir)
        .expect("the compat configs")
        .filter_map(|e| e.ok())
        .filter(|e| e.path().extension().is_some_and(|x| x == "yml"))
        .filter_map(|e| std::fs::read_to_string(e.path()).ok())
        .collect();
    seeds.push(
        "listen: 127.0.0.1:8071\ndatabase: {max_connections: 5, acquire_timeout: 2s}\n\
         cluster: {heartbeat_interval: 2s, node_timeout: 20s}\nretry: {schedule: [1s, 5s]}\n\
         sources:\n  - {type: redis, url: \"redis://127.0.0.1\", stream: s, app: a}\n"
            .to_owned(),
    );
    let junk = [
        "",
        "\0",
        ":",
        "- -",
        "{",
        "]]",
        "!!binary AAAA",
        "&a [*a]",
        "~",
        "1e400",
        "-1",
        "99999999999999999999",
        "'",
        "\"\\u0000\"",
        "\t",
        "? ",
        "%YAML 9.9",
        "<<: *x",
    ];
    for _ in 0..cases() * 20 {
        let base = &seeds[rng.random_range(0..seeds.len())];
        let mut text: Vec<char> = base.chars().collect();
        for _ in 0..rng.random_range(1..=4) {
            let at = rng.random_range(0..=text.len());
            match rng.random_range(0..3) {
                0 if at < text.len() => {
                    let end = (at + rng.random_range(1..20)).min(text.len());
                    text.drain(at..end);
                }
                1 => {
                    let j = junk[rng.random_range(0..junk.len())];
                    for (i, c) in j.chars().enumerate() {
                        text.insert(at + i, c);
                    }
                }
                _ => text.insert(at, rng.random_range(' '..='~')),
            }
        }
        let text: String = text.into_iter().collect();
        let outcome = std::panic::catch_unwind(|| {
            rustyhook::config::parse(&text, "fuzz.yaml")
                .and_then(rustyhook::config::Config::build)
                .map(|_| ())
        });
        assert!(
            outcome.is_ok(),
            "the config parser panicked on {text:?} (seed {seed})"
        );
    }
}
