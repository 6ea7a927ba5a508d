//! Several nodes of the real binary on one PostgreSQL database: they share the work, take over
//! a killed node's, fire each cron tick once, (with Redis) hold a rate limit together, refuse
//! a token revoked on any of them at once, honour a pause made on any of them, and stream every
//! node's attempts from any of them.

#[path = "support/binary.rs"]
mod binary;
#[path = "e2e/pgdb.rs"]
mod pgdb;
#[path = "e2e/receiver.rs"]
#[allow(dead_code)]
mod receiver;
#[path = "support/sse.rs"]
#[allow(dead_code)]
mod sse;
#[path = "support/wait.rs"]
#[allow(dead_code)]
mod wait;

use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use base64::Engine as _;
use binary::{Server, free_port, signal, start, wait_healthy};
use pgdb::TempDatabase;
use receiver::{Receiver, Reply};
use serde_json::json;
use wait::eventually;

const TOKEN: &str = "cluster-admin-token-0123456789";
/// Each node's requests in flight at most: a bound on what a killed node can have sent
/// without recording.
const MAX_IN_FLIGHT: usize = 32;

/// Nodes sharing `db`, each with a data directory of its own under `dir`.
struct Cluster {
    nodes: Vec<Option<Server>>,
}

impl Cluster {
    async fn start(dir: &Path, db: &TempDatabase, n: usize, config: &str) -> Self {
        Self::start_with_roles(dir, db, config, &vec!["all"; n]).await
    }

    /// One node per role, in order.
    async fn start_with_roles(dir: &Path, db: &TempDatabase, config: &str, roles: &[&str]) -> Self {
        let key = base64::engine::general_purpose::STANDARD.encode([7u8; 32]);
        let max = MAX_IN_FLIGHT.to_string();
        let env = [
            ("RUSTYHOOK_DATABASE_URL", db.url.as_str()),
            ("RUSTYHOOK_SECRET_KEY", key.as_str()),
            ("RUSTYHOOK_ADMIN_TOKEN", TOKEN),
            ("RUSTYHOOK_MAX_IN_FLIGHT_TOTAL", max.as_str()),
        ];
        let mut nodes = Vec::new();
        for (i, role) in roles.iter().enumerate() {
            let home = dir.join(format!("node{i}"));
            std::fs::create_dir_all(&home).expect("node dir");
            std::fs::write(home.join("rustyhook.yaml"), config).expect("config");
            let name = format!("node{i}");
            let mut env = env.to_vec();
            env.push(("RUSTYHOOK_ROLE", role));
            env.push(("RUSTYHOOK_NODE_ID", &name));
            nodes.push(Some(start(&home, free_port(), &env)));
        }
        for node in nodes.iter().flatten() {
            wait_healthy(&node.base).await;
        }
        Self { nodes }
    }

    /// Starts node `i` again (after [`Self::kill`]), under the same name, on its data directory.
    async fn restart(&mut self, i: usize, dir: &Path, db: &TempDatabase) {
        let key = base64::engine::general_purpose::STANDARD.encode([7u8; 32]);
        let name = format!("node{i}");
        let env = [
            ("RUSTYHOOK_DATABASE_URL", db.url.as_str()),
            ("RUSTYHOOK_SECRET_KEY", key.as_str()),
            ("RUSTYHOOK_ADMIN_TOKEN", TOKEN),
            ("RUSTYHOOK_NODE_ID", name.as_str()),
        ];
        let node = start(&dir.join(&name), free_port(), &env);
        wait_healthy(&node.base).await;
        self.nodes[i] = Some(node);
    }

    fn base(&self, i: usize) -> String {
        self.nodes[i].as_ref().expect("running").base.clone()
    }

    fn kill(&mut self, i: usize) {
        let mut node = self.nodes[i].take().expect("running");
        signal(&node.child, "-KILL");
        node.child.wait().expect("reaped");
    }
}

/// Fast liveness so a killed node's work moves within seconds.
const FAST: &str = "cluster: {heartbeat_interval: 200ms, node_timeout: 2s}\n";

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn three_nodes_share_the_work_and_a_killed_node_s_deliveries_still_arrive() {
    const MESSAGES: usize = 3000;
    let dir = tempfile::tempdir().expect("dir");
    let db = TempDatabase::create().await;
    let receiver = Receiver::start().await;
    // Slower than the posting, so each node holds a backlog when one is killed.
    receiver.set_default(Reply {
        delay: Duration::from_millis(25),
        ..Reply::status(200)
    });
    let mut cluster = Cluster::start(dir.path(), &db, 3, FAST).await;
    let client = reqwest::Client::new();
    let r = client
        .post(format!("{}/api/v1/app", cluster.base(0)))
        .bearer_auth(TOKEN)
        .json(&json!({"name": "spread", "uid": "spread"}))
        .send()
        .await
        .expect("sent");
    assert_eq!(r.status(), 201);
    let r = client
        .post(format!("{}/api/v1/app/spread/endpoint", cluster.base(1)))
        .bearer_auth(TOKEN)
        .json(&json!({"url": receiver.url("/hook"), "maxInFlight": 4}))
        .send()
        .await
        .expect("sent");
    assert_eq!(r.status(), 201);

    // Post round-robin from 9 workers; note which node acknowledged each message.
    let acked: Arc<Mutex<Vec<(String, usize)>>> = Arc::default();
    let bases: Vec<String> = (0..3).map(|i| cluster.base(i)).collect();
    let mut workers = Vec::new();
    for w in 0..9 {
        let (client, bases, acked) = (client.clone(), bases.clone(), acked.clone());
        workers.push(tokio::spawn(async move {
            for i in (w..MESSAGES).step_by(9) {
                let node = i % 3;
                let sent = client
                    .post(format!("{}/api/v1/app/spread/msg", bases[node]))
                    .bearer_auth(TOKEN)
                    .json(&json!({"eventType": "spread.test", "payload": {"i": i}}))
                    .send()
                    .await;
                // Posts to the killed node fail; they were never acknowledged.
                if let Ok(r) = sent
                    && r.status() == 202
                {
                    let body: serde_json::Value = r.json().await.expect("json");
                    let id = body["id"].as_str().expect("id").to_owned();
                    acked.lock().expect("lock").push((id, node));
                }
            }
        }));
    }
    let deadline = Instant::now() + Duration::from_secs(120);
    while acked.lock().expect("lock").len() < 1500 {
        assert!(Instant::now() < deadline, "posting stalled");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    receiver.wait_for(200, Duration::from_secs(60)).await;
    cluster.kill(1);
    let delivered_at_kill: HashSet<String> = receiver
        .received()
        .iter()
        .map(|r| r.header("webhook-id").expect("id"))
        .collect();
    for w in workers {
        w.await.expect("worker");
    }
    let acked = acked.lock().expect("lock").clone();
    let orphaned = acked
        .iter()
        .filter(|(id, node)| *node == 1 && !delivered_at_kill.contains(id))
        .count();

    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let mut seen: HashMap<String, usize> = HashMap::new();
        for r in receiver.received() {
            *seen.entry(r.header("webhook-id").expect("id")).or_default() += 1;
        }
        let missing = acked
            .iter()
            .filter(|(id, _)| !seen.contains_key(id))
            .count();
        if missing == 0 {
            let twice: usize = seen.values().map(|n| n - 1).sum();
            eprintln!(
                "cluster test: {} acknowledged over 3 nodes, {orphaned} of the killed node's undelivered at the kill, all arrived; {twice} extra arrivals",
                acked.len()
            );
            assert!(
                twice <= MAX_IN_FLIGHT,
                "{twice} messages arrived twice; at most the {MAX_IN_FLIGHT} in flight at the kill may"
            );
            break;
        }
        assert!(
            Instant::now() < deadline,
            "{missing} acknowledged messages never arrived (the killed node's work was not taken over)"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(
        orphaned >= 20,
        "only {orphaned} of the killed node's messages were undelivered at the kill: nothing to take over"
    );
}

/// Posts `n` messages to `app` through node `base`; returns their ids. A message's deliveries
/// are leased to the node that took it, so that node makes their attempts.
async fn post_messages(client: &reqwest::Client, base: &str, app: &str, n: usize) -> Vec<String> {
    let mut ids = Vec::new();
    for i in 0..n {
        let r = client
            .post(format!("{base}/api/v1/app/{app}/msg"))
            .bearer_auth(TOKEN)
            .json(&json!({"eventType": "feed.test", "payload": {"i": i}}))
            .send()
            .await
            .expect("sent");
        assert_eq!(r.status(), 202);
        let body: serde_json::Value = r.json().await.expect("json");
        ids.push(body["id"].as_str().expect("id").to_owned());
    }
    ids
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stream_on_one_node_shows_the_attempts_of_every_node_and_resumes_on_another() {
    let dir = tempfile::tempdir().expect("dir");
    let db = TempDatabase::create().await;
    let receiver = Receiver::start().await;
    let cluster = Cluster::start(dir.path(), &db, 3, FAST).await;
    let client = reqwest::Client::new();
    for (path, body) in [
        ("/api/v1/app", json!({"name": "feed", "uid": "feed"})),
        (
            "/api/v1/app/feed/endpoint",
            json!({"url": receiver.url("/hook")}),
        ),
    ] {
        let r = client
            .post(format!("{}{path}", cluster.base(0)))
            .bearer_auth(TOKEN)
            .json(&body)
            .send()
            .await
            .expect("sent");
        assert_eq!(r.status(), 201);
    }
    let mut stream = sse::Stream::open(&cluster.base(0), TOKEN, "app=feed", None).await;
    let mut posted = post_messages(&client, &cluster.base(1), "feed", 10).await;
    posted.extend(post_messages(&client, &cluster.base(2), "feed", 10).await);
    let seen: Vec<String> = stream
        .take("attempt", 20)
        .await
        .iter()
        .map(sse::Event::msg_id)
        .collect();
    let unique: HashSet<&String> = seen.iter().collect();
    assert_eq!(unique.len(), 20, "each attempt once: {seen:?}");
    assert_eq!(
        unique,
        posted.iter().collect(),
        "node 0 streams nodes 1 and 2's attempts"
    );
    let last_id = stream.last_id.clone().expect("an id to resume from");
    drop(stream);
    let missed: HashSet<String> = post_messages(&client, &cluster.base(0), "feed", 5)
        .await
        .into_iter()
        .collect();
    receiver.wait_for(25, Duration::from_secs(30)).await;
    let mut resumed = sse::Stream::open(&cluster.base(2), TOKEN, "app=feed", Some(&last_id)).await;
    let got: HashSet<String> = resumed
        .take("attempt", 5)
        .await
        .iter()
        .map(sse::Event::msg_id)
        .collect();
    assert_eq!(
        got, missed,
        "another node resumes exactly where the client left off"
    );
    // Nothing more, nothing twice.
    resumed.quiet_for(Duration::from_millis(500)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_per_second_cron_ticks_exactly_once_per_second_across_three_nodes() {
    let dir = tempfile::tempdir().expect("dir");
    let db = TempDatabase::create().await;
    let ticks = dir.path().join("ticks");
    let config = format!(
        "{FAST}handlers:\n  - type: Cron\n    name: Every second\n    options: {{cron_expression: \"* * * * * *\"}}\n    shell: 'echo \"$RUSTYHOOK_CRON_TIME\" >> {}'\n",
        ticks.display()
    );
    let cluster = Cluster::start(dir.path(), &db, 3, &config).await;
    // Five ticks (where the test slept 6 s), then every node stops before the file is read: a
    // tick fired twice is in it.
    eventually("five ticks", Duration::from_secs(30), async || {
        std::fs::read_to_string(&ticks).is_ok_and(|t| t.lines().count() >= 5)
    })
    .await;
    drop(cluster);
    let text = std::fs::read_to_string(&ticks).expect("ticks");
    let stamps: Vec<chrono::DateTime<chrono::FixedOffset>> = text
        .lines()
        .map(|l| chrono::DateTime::parse_from_rfc3339(l).expect("a tick time"))
        .collect();
    let unique: HashSet<_> = stamps.iter().collect();
    assert_eq!(unique.len(), stamps.len(), "a tick fired twice: {text}");
    let mut sorted = stamps.clone();
    sorted.sort();
    for pair in sorted.windows(2) {
        assert_eq!(
            (pair[1] - pair[0]).num_seconds(),
            1,
            "a second was skipped: {text}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_redis_an_endpoint_s_rate_limit_holds_across_nodes() {
    const MESSAGES: usize = 30;
    const PER_SECOND: usize = 5;
    let dir = tempfile::tempdir().expect("dir");
    let db = TempDatabase::create().await;
    let receiver = Receiver::start().await;
    let config = "cluster: {heartbeat_interval: 200ms, node_timeout: 2s, coordinator: redis://127.0.0.1:6379}\n";
    let cluster = Cluster::start(dir.path(), &db, 3, config).await;
    let client = reqwest::Client::new();
    let base = cluster.base(0);
    let r = client
        .post(format!("{base}/api/v1/app"))
        .bearer_auth(TOKEN)
        .json(&json!({"name": "limited", "uid": "limited"}))
        .send()
        .await
        .expect("sent");
    assert_eq!(r.status(), 201);
    let r = client
        .post(format!("{base}/api/v1/app/limited/endpoint"))
        .bearer_auth(TOKEN)
        .json(&json!({"url": receiver.url("/hook"), "rateLimit": PER_SECOND}))
        .send()
        .await
        .expect("sent");
    assert_eq!(r.status(), 201);
    for i in 0..MESSAGES {
        let r = client
            .post(format!("{}/api/v1/app/limited/msg", cluster.base(i % 3)))
            .bearer_auth(TOKEN)
            .json(&json!({"eventType": "limited.test", "payload": {"i": i}}))
            .send()
            .await
            .expect("sent");
        assert_eq!(r.status(), 202);
    }
    let got = receiver.wait_for(MESSAGES, Duration::from_secs(60)).await;
    let took = got[MESSAGES - 1].at - got[0].at;
    // A burst of one second's worth, then one every 1/PER_SECOND s: the other 25 take 5 s from
    // the first arrival. Three nodes limiting on their own would take about a third of that.
    let floor = Duration::from_secs_f64((MESSAGES - PER_SECOND) as f64 / PER_SECOND as f64 * 0.9);
    assert!(
        took >= floor,
        "{MESSAGES} deliveries took {took:?}; a shared limit of {PER_SECOND}/s needs at least {floor:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_api_node_stores_work_that_a_worker_node_delivers_and_runs() {
    let dir = tempfile::tempdir().expect("dir");
    let db = TempDatabase::create().await;
    let receiver = Receiver::start().await;
    let out = dir.path().join("ran");
    let config = format!(
        "{FAST}handlers:\n  - type: Webhook\n    name: Echo\n    options: {{response: wait}}\n    shell: 'cat; echo \" from $RUSTYHOOK_HANDLER\" | tee -a {}'\n",
        out.display()
    );
    let api = Cluster::start_with_roles(dir.path(), &db, &config, &["api", "worker"]).await;
    let (api_base, worker_base) = (api.base(0), api.base(1));
    let client = reqwest::Client::new();

    // The worker serves no API.
    let r = client
        .get(format!("{worker_base}/api/v1/app"))
        .bearer_auth(TOKEN)
        .send()
        .await
        .expect("sent");
    assert_eq!(r.status(), 404, "a worker must not serve the API");

    let r = client
        .post(format!("{api_base}/api/v1/app"))
        .bearer_auth(TOKEN)
        .json(&json!({"name": "split", "uid": "split"}))
        .send()
        .await
        .expect("sent");
    assert_eq!(r.status(), 201);
    let r = client
        .post(format!("{api_base}/api/v1/app/split/endpoint"))
        .bearer_auth(TOKEN)
        .json(&json!({"url": receiver.url("/hook")}))
        .send()
        .await
        .expect("sent");
    assert_eq!(r.status(), 201);
    for i in 0..20 {
        let r = client
            .post(format!("{api_base}/api/v1/app/split/msg"))
            .bearer_auth(TOKEN)
            .json(&json!({"eventType": "split.test", "payload": {"i": i}}))
            .send()
            .await
            .expect("sent");
        assert_eq!(r.status(), 202);
    }
    let got = receiver.wait_for(20, Duration::from_secs(30)).await;
    let ids: HashSet<String> = got
        .iter()
        .map(|r| r.header("webhook-id").expect("id"))
        .collect();
    assert_eq!(ids.len(), 20, "each message once");

    // A webhook with `response: wait` on the API node: the worker runs it, the API answers.
    let r = client
        .post(format!("{api_base}/hooks/echo"))
        .body("hello")
        .send()
        .await
        .expect("sent");
    assert_eq!(r.status(), 200);
    let body = r.text().await.expect("body");
    assert!(body.contains("hello from echo"), "{body}");
    assert_eq!(
        std::fs::read_to_string(&out).expect("ran").trim(),
        "from echo"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_token_revoked_on_one_node_is_refused_by_the_other_at_once() {
    let dir = tempfile::tempdir().expect("dir");
    let db = TempDatabase::create().await;
    let cluster = Cluster::start(dir.path(), &db, 2, FAST).await;
    let (a, b) = (cluster.base(0), cluster.base(1));
    let client = reqwest::Client::new();
    let made: serde_json::Value = client
        .post(format!("{a}/api/v1/token"))
        .bearer_auth(TOKEN)
        .json(&json!({"name": "shared", "role": "read-only"}))
        .send()
        .await
        .expect("sent")
        .json()
        .await
        .expect("json");
    let (id, secret) = (
        made["id"].as_str().expect("id"),
        made["token"].as_str().expect("secret"),
    );
    let status_on_b = || async {
        client
            .get(format!("{b}/api/v1/app"))
            .bearer_auth(secret)
            .send()
            .await
            .expect("sent")
            .status()
    };
    assert_eq!(
        status_on_b().await,
        200,
        "a token made on one node works on the other"
    );
    let r = client
        .delete(format!("{a}/api/v1/token/{id}"))
        .bearer_auth(TOKEN)
        .send()
        .await
        .expect("sent");
    assert_eq!(r.status(), 204);
    assert_eq!(
        status_on_b().await,
        401,
        "revoked on one node, refused on the other at once"
    );
}

/// Runs the `rustyhook` CLI against the node at `base`, as an operator would; panics unless it
/// succeeds.
fn cli(base: &str, args: &[&str]) -> String {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_rustyhook"))
        .args(args)
        .env("RUSTYHOOK_URL", base)
        .env("RUSTYHOOK_TOKEN", TOKEN)
        .output()
        .expect("runs");
    assert!(out.status.success(), "rustyhook {args:?}: {out:?}");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_endpoint_paused_on_one_node_gets_nothing_from_another_until_resumed() {
    const N: usize = 10;
    let dir = tempfile::tempdir().expect("dir");
    let db = TempDatabase::create().await;
    let receiver = Receiver::start().await;
    let cluster = Cluster::start(dir.path(), &db, 2, FAST).await;
    let (a, b) = (cluster.base(0), cluster.base(1));
    let client = reqwest::Client::new();
    let post = |base: &str, path: &str, body: serde_json::Value| {
        client
            .post(format!("{base}{path}"))
            .bearer_auth(TOKEN)
            .json(&body)
            .send()
    };
    let r = post(&a, "/api/v1/app", json!({"name": "held", "uid": "held"}))
        .await
        .expect("sent");
    assert_eq!(r.status(), 201);
    let endpoint: serde_json::Value = post(
        &a,
        "/api/v1/app/held/endpoint",
        json!({"url": receiver.url("/hook")}),
    )
    .await
    .expect("sent")
    .json()
    .await
    .expect("json");
    let id = endpoint["id"].as_str().expect("endpoint id").to_owned();
    // Node b has read the pauses (none) just now: its view is fresh, and stale once a pauses.
    let r = post(
        &b,
        "/api/v1/app/held/msg",
        json!({"eventType": "e", "payload": {"i": -1}}),
    )
    .await
    .expect("sent");
    assert_eq!(r.status(), 202);
    receiver.wait_for(1, Duration::from_secs(10)).await;

    let (a_base, b_base, id_on) = (a.clone(), b.clone(), id.clone());
    tokio::task::spawn_blocking(move || cli(&a_base, &["pause", "endpoint", &id_on]))
        .await
        .expect("cli");
    for i in 0..N {
        let r = post(
            &b,
            "/api/v1/app/held/msg",
            json!({"eventType": "e", "payload": {"i": i}}),
        )
        .await
        .expect("sent");
        assert_eq!(r.status(), 202);
    }
    let quiet = Instant::now();
    while quiet.elapsed() < Duration::from_millis(1_500) {
        assert_eq!(
            receiver.received().len(),
            1,
            "a paused endpoint got a message"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let id_on = id.clone();
    let status = tokio::task::spawn_blocking(move || cli(&b_base, &["status"]))
        .await
        .expect("cli");
    assert!(
        status.contains(&format!("endpoint {id} is paused"))
            && status.contains(&format!("{N} waiting")),
        "{status}"
    );
    tokio::task::spawn_blocking(move || cli(&a, &["resume", "endpoint", &id_on]))
        .await
        .expect("cli");
    receiver.wait_for(N + 1, Duration::from_secs(10)).await;
    let ids: HashSet<String> = receiver
        .received()
        .iter()
        .map(|r| r.header("webhook-id").expect("id"))
        .collect();
    assert_eq!(ids.len(), N + 1, "every message");
    let stats = format!("{b}/api/v1/app/held/endpoint/{id}/stats");
    eventually(
        "the endpoint's deliveries to settle",
        Duration::from_secs(10),
        async || {
            let s: serde_json::Value = client
                .get(&stats)
                .bearer_auth(TOKEN)
                .send()
                .await
                .expect("sent")
                .json()
                .await
                .expect("json");
            s["pending"] == 0 && s["sending"] == 0
        },
    )
    .await;
    assert_eq!(receiver.received().len(), N + 1, "each message once");
}

#[test]
fn a_role_other_than_all_is_refused_on_sqlite_with_the_reason() {
    let dir = tempfile::tempdir().expect("dir");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_rustyhook"))
        .args(["serve", "--role", "worker"])
        .current_dir(dir.path())
        .env("RUSTYHOOK_DATA_DIR", dir.path().join("data"))
        .env("RUSTYHOOK_LISTEN", "127.0.0.1:0")
        .env_remove("RUSTYHOOK_DATABASE_URL")
        .output()
        .expect("runs");
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("postgres://"), "{err}");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_rustyhook"))
        .args(["serve", "--role", "boss"])
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("expected all, api or worker"), "{err}");
}

#[tokio::test]
async fn a_killed_node_fires_node_gone_once_on_the_survivor_and_resolves_once_when_back() {
    let dir = tempfile::tempdir().expect("dir");
    let db = TempDatabase::create().await;
    let ops = Receiver::start().await;
    let secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    let config = format!(
        "{FAST}alert_interval: 1s\nalerts:\n  - {{name: gone, kind: node_gone, threshold: 3}}\n\
         operational_webhooks:\n  - url: {}\n    secret: {secret}\n    filter_types: [alert.fired, alert.resolved]\n",
        ops.url("/ops")
    );
    let mut cluster = Cluster::start(dir.path(), &db, 2, &config).await;
    let client = reqwest::Client::new();
    let nodes = |base: String| {
        let client = client.clone();
        async move {
            client
                .get(format!("{base}/api/v1/node"))
                .bearer_auth(TOKEN)
                .send()
                .await
                .expect("sent")
                .json::<serde_json::Value>()
                .await
                .expect("json")
        }
    };
    eventually(
        "both nodes listed alive",
        Duration::from_secs(20),
        async || {
            let list = nodes(cluster.base(0)).await;
            list["data"]
                .as_array()
                .is_some_and(|d| d.len() == 2 && d.iter().all(|n| n["alive"] == true))
        },
    )
    .await;
    cluster.kill(1);
    let verify = |r: &receiver::Received| -> serde_json::Value {
        let mut headers = http::HeaderMap::new();
        for name in ["webhook-id", "webhook-timestamp", "webhook-signature"] {
            let value = r.header(name).unwrap_or_else(|| panic!("{name} is sent"));
            headers.insert(name, value.parse().expect("a header value"));
        }
        standardwebhooks::Webhook::new(secret)
            .expect("secret")
            .verify(&r.body, &headers)
            .expect("signed with the operational endpoint's secret");
        r.json()
    };
    let fired = verify(&ops.wait_for(1, Duration::from_secs(30)).await[0]);
    assert_eq!(fired["type"], "alert.fired", "{fired}");
    assert_eq!(fired["data"]["subject"], "node1", "{fired}");
    let list = nodes(cluster.base(0)).await;
    let gone = list["data"]
        .as_array()
        .and_then(|d| d.iter().find(|n| n["id"] == "node1"))
        .cloned()
        .unwrap_or_default();
    assert_eq!(gone["alive"], false, "{list}");
    cluster.restart(1, dir.path(), &db).await;
    let got = ops.wait_for(2, Duration::from_secs(30)).await;
    let resolved = verify(&got[1]);
    assert_eq!(resolved["type"], "alert.resolved", "{resolved}");
    assert_eq!(resolved["data"]["id"], fired["data"]["id"], "{resolved}");
    wait::throughout(
        "one fired and one resolved, no more",
        Duration::from_secs(4),
        async || ops.received().len() == 2,
    )
    .await;
}
