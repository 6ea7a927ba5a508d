//! Redis stream sources against the machine's Redis: native messages fan out to an app, poison
//! entries are dead-lettered and listed, a handler runs per entry (once, however often the entry
//! is delivered), sendhooks entries are delivered to their own URL with the secret header and
//! their status is written back, and a restart mid-stream loses nothing.

use std::collections::HashSet;
use std::time::{Duration, Instant};

use rand::distr::{Alphanumeric, SampleString};
use redis::AsyncCommands;
use redis::aio::MultiplexedConnection;
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::handlers::{wait_file, with_handlers};
use crate::harness::{TestApp, database};
use crate::receiver::{Receiver, Reply};
use crate::wait::eventually;

const REDIS: &str = "redis://127.0.0.1:6379";
/// How long a test waits for the source (and Redis) to get somewhere.
const WAIT: Duration = Duration::from_secs(20);

async fn redis() -> MultiplexedConnection {
    redis::Client::open(REDIS)
        .expect("url")
        .get_multiplexed_async_connection()
        .await
        .expect("the machine's Redis on 127.0.0.1:6379 (.ci/services.sh starts it)")
}

/// A stream name of this test's own, and a guard that deletes it (and its `.dead` and status
/// streams) at the end.
struct Stream(String);

impl Stream {
    fn new() -> Self {
        Self(format!(
            "rh-test-{}",
            Alphanumeric.sample_string(&mut rand::rng(), 10)
        ))
    }
}

impl Drop for Stream {
    fn drop(&mut self) {
        let name = self.0.clone();
        let _ = std::thread::spawn(move || {
            let client = redis::Client::open(REDIS).ok()?;
            let mut conn = client.get_connection().ok()?;
            redis::cmd("DEL")
                .arg(&name)
                .arg(format!("{name}.dead"))
                .arg(format!("{name}-status"))
                .exec(&mut conn)
                .ok()
        })
        .join();
    }
}

/// A server with `sources_yaml` (and `handlers_yaml`) and, for native sources, an app `acme`
/// whose endpoint is `receiver`.
async fn spawn(yaml: &str, dir: &std::path::Path, receiver: Option<&Receiver>) -> TestApp {
    let app = TestApp::spawn_with(with_handlers(yaml, dir)).await;
    if let Some(r) = receiver {
        app.create_app("acme").await;
        app.create_endpoint("acme", json!({"url": r.url("/hook")}))
            .await;
    }
    app
}

async fn xadd(conn: &mut MultiplexedConnection, stream: &str, fields: &[(&str, &str)]) -> String {
    conn.xadd(stream, "*", fields).await.expect("xadd")
}

async fn pending(conn: &mut MultiplexedConnection, stream: &str) -> i64 {
    let reply: Value = redis::cmd("XPENDING")
        .arg(stream)
        .arg("rustyhook")
        .query_async(conn)
        .await
        .map(|v: redis::Value| redis_to_json(&v))
        .expect("xpending");
    reply[0].as_i64().unwrap_or(-1)
}

fn redis_to_json(v: &redis::Value) -> Value {
    match v {
        redis::Value::Int(i) => json!(i),
        redis::Value::BulkString(b) => json!(String::from_utf8_lossy(b)),
        redis::Value::Array(items) => Value::Array(items.iter().map(redis_to_json).collect()),
        _ => Value::Null,
    }
}

#[tokio::test]
async fn native_entries_reach_the_app_s_endpoint_once_and_are_acknowledged() {
    let stream = Stream::new();
    let dir = tempfile::tempdir().expect("dir");
    let receiver = Receiver::start().await;
    let yaml = format!(
        "sources:\n  - {{type: redis, url: \"{REDIS}\", stream: {}, app: acme}}\n",
        stream.0
    );
    let app = spawn(&yaml, dir.path(), Some(&receiver)).await;
    let mut conn = redis().await;
    // Fields, and a JSON object under `data`-less fields naming another event id.
    xadd(
        &mut conn,
        &stream.0,
        &[("eventType", "order.paid"), ("payload", r#"{"n":1}"#)],
    )
    .await;
    xadd(
        &mut conn,
        &stream.0,
        &[
            ("app", "acme"),
            ("event_type", "order.paid"),
            ("payload", r#"{"n":2}"#),
            ("eventId", "ord-2"),
        ],
    )
    .await;
    // A producer's retry of the second: the same eventId, another entry.
    xadd(
        &mut conn,
        &stream.0,
        &[
            ("eventType", "order.paid"),
            ("payload", r#"{"n":2}"#),
            ("eventId", "ord-2"),
        ],
    )
    .await;
    let got = receiver.wait_for(2, Duration::from_secs(20)).await;
    let bodies: HashSet<String> = got.iter().map(|r| r.json()["n"].to_string()).collect();
    assert_eq!(bodies, HashSet::from(["1".to_owned(), "2".to_owned()]));
    eventually("the group has nothing pending", WAIT, async || {
        pending(&mut conn, &stream.0).await == 0
    })
    .await;
    // The second entry's eventId is kept: the message is found by it.
    let msg = app.get("/api/v1/app/acme/msg/ord-2").await;
    assert_eq!(msg["eventType"], "order.paid");
    // Every entry is acknowledged, so stored, and deliveries are stored with their message:
    // once they are settled, nothing else will arrive.
    app.settled_app("acme").await;
    assert_eq!(receiver.received().len(), 2, "an entry was delivered twice");
}

#[tokio::test]
async fn a_poison_entry_is_dead_lettered_and_listed_and_the_rest_flow() {
    let stream = Stream::new();
    let dir = tempfile::tempdir().expect("dir");
    let receiver = Receiver::start().await;
    let yaml = format!(
        "sources:\n  - {{name: orders, type: redis, url: \"{REDIS}\", stream: {}, app: acme}}\n",
        stream.0
    );
    let app = spawn(&yaml, dir.path(), Some(&receiver)).await;
    let mut conn = redis().await;
    xadd(
        &mut conn,
        &stream.0,
        &[("eventType", "a.b"), ("payload", r#"{"n":1}"#)],
    )
    .await;
    let bad = xadd(
        &mut conn,
        &stream.0,
        &[("eventType", "a.b"), ("payload", "{not json")],
    )
    .await;
    xadd(&mut conn, &stream.0, &[("payload", r#"{"n":3}"#)]).await;
    xadd(
        &mut conn,
        &stream.0,
        &[("eventType", "a.b"), ("payload", r#"{"n":4}"#)],
    )
    .await;
    receiver.wait_for(2, Duration::from_secs(20)).await;
    eventually("both poison entries are dead-lettered", WAIT, async || {
        let n: usize = conn.xlen(format!("{}.dead", stream.0)).await.unwrap_or(0);
        n == 2
    })
    .await;
    eventually("the group has nothing pending", WAIT, async || {
        pending(&mut conn, &stream.0).await == 0
    })
    .await;
    let dead: redis::streams::StreamRangeReply = conn
        .xrange_all(format!("{}.dead", stream.0))
        .await
        .expect("xrange");
    let reason = |i: usize| match dead.ids[i].map.get("reason") {
        Some(redis::Value::BulkString(b)) => String::from_utf8_lossy(b).into_owned(),
        other => panic!("no reason: {other:?}"),
    };
    assert!(reason(0).contains("payload"), "{}", reason(0));
    assert!(reason(1).contains("eventType"), "{}", reason(1));
    let rejected = app.get("/api/v1/source/orders/rejected").await;
    let items = rejected["data"].as_array().expect("list");
    assert_eq!(items.len(), 2, "{rejected}");
    assert!(
        items.iter().any(|r| r["brokerId"] == bad.as_str()),
        "{rejected}"
    );
    assert_eq!(receiver.received().len(), 2);
    let (status, _) = app
        .call(reqwest::Method::GET, "/api/v1/source/nope/rejected", None)
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_handler_source_runs_the_command_per_entry() {
    let stream = Stream::new();
    let dir = tempfile::tempdir().expect("dir");
    let yaml = format!(
        "handlers:\n  - type: Custom\n    name: Ingest\n    shell: 'cat >> {{dir}}/ingested; echo \" $RUSTYHOOK_SOURCE\" >> {{dir}}/ingested'\nsources:\n  - {{type: redis, url: \"{REDIS}\", stream: {}, handler: ingest}}\n",
        stream.0
    );
    let _app = spawn(&yaml, dir.path(), None).await;
    let mut conn = redis().await;
    xadd(&mut conn, &stream.0, &[("job", "resize")]).await;
    let text = wait_file(&dir.path().join("ingested"), |t| t.ends_with('\n')).await;
    assert_eq!(text, format!("{{\"job\":\"resize\"}} redis-{}\n", stream.0));
}

/// A Redis user of this test's own that may do everything but `XACK`, so that an entry the
/// source stored is never acknowledged, as if each acknowledgement were lost in a crash; deleted
/// at the end.
struct NoAckUser {
    name: String,
    password: String,
}

impl NoAckUser {
    async fn create(conn: &mut MultiplexedConnection) -> Self {
        let suffix = Alphanumeric.sample_string(&mut rand::rng(), 10);
        let user = Self {
            name: format!("rh-test-{suffix}"),
            password: format!("pw-{suffix}"),
        };
        user.set(conn, &["reset", "on", &format!(">{}", user.password)])
            .await;
        user.set(conn, &["~*", "&*", "+@all", "-xack"]).await;
        user
    }

    /// The source's URL, as this user.
    fn url(&self) -> String {
        format!("redis://{}:{}@127.0.0.1:6379", self.name, self.password)
    }

    /// Lets acknowledgements through from now on.
    async fn allow_acks(&self, conn: &mut MultiplexedConnection) {
        self.set(conn, &["+xack"]).await;
    }

    async fn set(&self, conn: &mut MultiplexedConnection, rules: &[&str]) {
        redis::cmd("ACL")
            .arg("SETUSER")
            .arg(&self.name)
            .arg(rules)
            .exec_async(conn)
            .await
            .expect("acl setuser");
    }
}

impl Drop for NoAckUser {
    fn drop(&mut self) {
        let name = self.name.clone();
        let _ = std::thread::spawn(move || {
            let client = redis::Client::open(REDIS).ok()?;
            let mut conn = client.get_connection().ok()?;
            redis::cmd("ACL")
                .arg("DELUSER")
                .arg(&name)
                .exec(&mut conn)
                .ok()
        })
        .join();
    }
}

/// How many times the group has delivered the entry `id` (0 once it is acknowledged).
async fn deliveries(conn: &mut MultiplexedConnection, stream: &str, id: &str) -> i64 {
    let reply: Value = redis::cmd("XPENDING")
        .arg(stream)
        .arg("rustyhook")
        .arg(id)
        .arg(id)
        .arg(1)
        .query_async(conn)
        .await
        .map(|v: redis::Value| redis_to_json(&v))
        .expect("xpending");
    reply[0][3].as_i64().unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread")]
async fn a_handler_entry_delivered_again_after_its_ack_was_lost_runs_the_command_once() {
    let stream = Stream::new();
    let dir = tempfile::tempdir().expect("dir");
    let mut conn = redis().await;
    let user = NoAckUser::create(&mut conn).await;
    let yaml = format!(
        "handlers:\n  - type: Custom\n    name: Ingest\n    shell: 'echo \"$RUSTYHOOK_RUN_ID\" >> {{dir}}/ran'\nsources:\n  - {{type: redis, url: \"{}\", stream: {}, handler: ingest, claim_after: 200ms}}\n",
        user.url(),
        stream.0
    );
    let app = spawn(&yaml, dir.path(), None).await;
    let id = xadd(&mut conn, &stream.0, &[("job", "resize")]).await;
    let ran = dir.path().join("ran");
    wait_file(&ran, |t| t.ends_with('\n')).await;
    // Each refused XACK makes the source reconnect and take the entry over again.
    eventually("the entry is delivered three times", WAIT, async || {
        deliveries(&mut conn, &stream.0, &id).await >= 3
    })
    .await;
    user.allow_acks(&mut conn).await;
    eventually("the group has nothing pending", WAIT, async || {
        pending(&mut conn, &stream.0).await == 0
    })
    .await;
    // Every delivery of the entry is acknowledged, so handled: with the one run finished,
    // the command cannot run again.
    let runs = app.settled_runs("ingest").await;
    assert_eq!(runs.len(), 1, "{runs:?}");
    assert_eq!(
        std::fs::read_to_string(&ran).expect("ran"),
        format!("{}\n", runs[0]["id"].as_str().expect("run id")),
        "the command ran once"
    );
}

#[tokio::test]
async fn sendhooks_entries_go_to_their_url_with_the_secret_and_statuses_are_written_back() {
    let stream = Stream::new();
    let status_stream = format!("{}-status", stream.0);
    let dir = tempfile::tempdir().expect("dir");
    let ok = Receiver::start().await;
    let failing = Receiver::start().await;
    failing.set_default(Reply::status(500));
    let yaml = format!(
        "sources:\n  - {{type: redis, url: \"{REDIS}\", stream: {}, format: sendhooks, status_stream: {status_stream}}}\n",
        stream.0
    );
    let app = spawn(&yaml, dir.path(), None).await;
    let mut conn = redis().await;
    let entry = |url: String, id: &str| {
        json!({"url": url, "webhookId": id, "messageId": "", "data": {"order": 42},
               "secretHash": "s3cr3t", "metaData": {"source": "billing"}})
        .to_string()
    };
    xadd(
        &mut conn,
        &stream.0,
        &[("data", &entry(ok.url("/hook"), "wh_1"))],
    )
    .await;
    xadd(
        &mut conn,
        &stream.0,
        &[("data", &entry(failing.url("/hook"), "wh_2"))],
    )
    .await;
    xadd(&mut conn, &stream.0, &[("data", "{broken")]).await;
    let got = ok.wait_for(1, Duration::from_secs(20)).await;
    assert_eq!(got[0].json(), json!({"order": 42}));
    assert_eq!(got[0].header("x-secret-hash").as_deref(), Some("s3cr3t"));
    // The failing URL is tried three times (the test schedule), then its status is written.
    eventually("two statuses are written", WAIT, async || {
        let n: usize = conn.xlen(&status_stream).await.unwrap_or(0);
        n == 2
    })
    .await;
    let written: redis::streams::StreamRangeReply =
        conn.xrange_all(&status_stream).await.expect("xrange");
    let statuses: Vec<Value> = written
        .ids
        .iter()
        .map(|e| match e.map.get("data") {
            Some(redis::Value::BulkString(b)) => serde_json::from_slice(b).expect("json"),
            other => panic!("no data: {other:?}"),
        })
        .collect();
    let by_id = |id: &str| {
        statuses
            .iter()
            .find(|s| s["webhookId"] == id)
            .expect("status")
    };
    let success = by_id("wh_1");
    assert_eq!(success["status"], "success");
    assert_eq!(success["numberOfTries"], 0);
    assert_eq!(success["url"], ok.url("/hook"));
    assert_eq!(success["webhook_id"], "wh_1");
    assert!(!success["delivered"].as_str().unwrap_or("").is_empty());
    let failed = by_id("wh_2");
    assert_eq!(failed["status"], "failed");
    assert_eq!(failed["numberOfTries"], 3);
    assert!(
        failed["deliveryError"]
            .as_str()
            .unwrap_or("")
            .contains("500"),
        "{failed}"
    );
    assert_eq!(failed["delivered"], "");
    assert_eq!(failing.received().len(), 3);
    // The broken entry is recorded, not retried.
    let name = format!("redis-{}", stream.0);
    let rejected = app.get(&format!("/api/v1/source/{name}/rejected")).await;
    assert_eq!(
        rejected["data"].as_array().map(Vec::len),
        Some(1),
        "{rejected}"
    );
}

#[tokio::test]
async fn a_source_restarted_mid_stream_loses_nothing() {
    const ENTRIES: usize = 200;
    let stream = Stream::new();
    let dir = tempfile::tempdir().expect("dir");
    let receiver = Receiver::start().await;
    let yaml = format!(
        "sources:\n  - {{type: redis, url: \"{REDIS}\", stream: {}, app: acme, claim_after: 500ms}}\n",
        stream.0
    );
    // Both servers use one data directory and (on PostgreSQL) one database, kept by the test.
    let data = tempfile::tempdir().expect("data");
    let db = database().await;
    let mut settings = with_handlers(&yaml, dir.path());
    settings.database.url = db.as_ref().map(|d| d.url.clone());
    let first = TestApp::spawn_kept(settings.clone(), data.path()).await;
    first.create_app("acme").await;
    first
        .create_endpoint("acme", json!({"url": receiver.url("/hook")}))
        .await;
    let mut conn = redis().await;
    let mut first = Some(first);
    for i in 0..ENTRIES {
        if i == ENTRIES / 2
            && let Some(f) = first.take()
        {
            f.shut_down().await;
        }
        let payload = json!({"i": i}).to_string();
        xadd(
            &mut conn,
            &stream.0,
            &[("eventType", "seq.item"), ("payload", &payload)],
        )
        .await;
    }
    let second = TestApp::spawn_kept(settings, data.path()).await;
    receiver
        .wait_for_numbered(ENTRIES, Duration::from_secs(30))
        .await;
    second.shut_down().await;
    drop(db);
}

/// A TLS-only Redis of this test's own (mutual TLS), with its CA and a client certificate.
struct TlsRedis {
    child: std::process::Child,
    port: u16,
    dir: tempfile::TempDir,
}

impl TlsRedis {
    fn start() -> Self {
        let dir = tempfile::tempdir().expect("dir");
        let sh = |script: &str| {
            let ok = std::process::Command::new("sh")
                .arg("-c")
                .arg(script)
                .current_dir(dir.path())
                .stderr(std::process::Stdio::null())
                .status()
                .expect("sh runs")
                .success();
            assert!(ok, "openssl failed: {script}");
        };
        sh(
            "openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.crt -days 2 -subj /CN=rh-test-ca",
        );
        for (name, ext) in [
            ("server", "subjectAltName=IP:127.0.0.1"),
            ("client", "extendedKeyUsage=clientAuth"),
        ] {
            sh(&format!(
                "openssl req -newkey rsa:2048 -nodes -keyout {name}.key -out {name}.csr -subj /CN={name} && \
                 printf '{ext}\\n' > {name}.ext && \
                 openssl x509 -req -in {name}.csr -CA ca.crt -CAkey ca.key -CAcreateserial -out {name}.crt -days 2 -extfile {name}.ext"
            ));
        }
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("port")
            .port();
        let child = std::process::Command::new("redis-server")
            .args([
                "--port",
                "0",
                "--tls-port",
                &port.to_string(),
                "--bind",
                "127.0.0.1",
            ])
            .args([
                "--tls-cert-file",
                "server.crt",
                "--tls-key-file",
                "server.key",
            ])
            .args(["--tls-ca-cert-file", "ca.crt", "--tls-auth-clients", "yes"])
            .args(["--save", "", "--appendonly", "no"])
            .current_dir(dir.path())
            .stdout(std::process::Stdio::null())
            .spawn()
            .expect("redis-server starts");
        Self { child, port, dir }
    }

    fn path(&self, file: &str) -> String {
        self.dir.path().join(file).display().to_string()
    }

    async fn connect(&self) -> MultiplexedConnection {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let read = |f: &str| std::fs::read(self.dir.path().join(f)).expect("pem");
        let client = redis::Client::build_with_tls(
            format!("rediss://127.0.0.1:{}", self.port),
            redis::TlsCertificates {
                client_tls: Some(redis::ClientTlsConfig {
                    client_cert: read("client.crt"),
                    client_key: read("client.key"),
                }),
                root_cert: Some(read("ca.crt")),
            },
        )
        .expect("client");
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            match client.get_multiplexed_async_connection().await {
                Ok(c) => return c,
                Err(e) => {
                    assert!(Instant::now() < deadline, "TLS Redis never answered: {e}");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            }
        }
    }
}

impl Drop for TlsRedis {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[tokio::test]
async fn a_stream_is_read_over_tls_with_a_client_certificate() {
    let tls = TlsRedis::start();
    let mut conn = tls.connect().await;
    let dir = tempfile::tempdir().expect("dir");
    let receiver = Receiver::start().await;
    let yaml = format!(
        "sources:\n  - {{type: redis, url: \"rediss://127.0.0.1:{}\", stream: secure, app: acme, ca_cert: {}, client_cert: {}, client_key: {}}}\n",
        tls.port,
        tls.path("ca.crt"),
        tls.path("client.crt"),
        tls.path("client.key")
    );
    let _app = spawn(&yaml, dir.path(), Some(&receiver)).await;
    xadd(
        &mut conn,
        "secure",
        &[("eventType", "tls.ok"), ("payload", r#"{"n":1}"#)],
    )
    .await;
    let got = receiver.wait_for(1, Duration::from_secs(20)).await;
    assert_eq!(got[0].json(), json!({"n": 1}));
}

#[tokio::test]
async fn a_paused_source_stores_nothing_and_everything_arrives_once_resumed() {
    let stream = Stream::new();
    let dir = tempfile::tempdir().expect("dir");
    let receiver = Receiver::start().await;
    let yaml = format!(
        "sources:\n  - {{name: orders, type: redis, url: \"{REDIS}\", stream: {}, app: acme}}\n",
        stream.0
    );
    let app = spawn(&yaml, dir.path(), Some(&receiver)).await;
    let pause = "/api/v1/pause/source/orders";
    let (status, state) = app.call(reqwest::Method::POST, pause, None).await;
    assert_eq!(status, StatusCode::OK, "{state}");
    // A source's messages wait in its broker, not in the store.
    assert_eq!(
        (state["paused"].clone(), state["waiting"].clone()),
        (json!(true), Value::Null)
    );
    assert_eq!(app.get("/api/v1/source").await["data"][0]["paused"], true);
    let mut conn = redis().await;
    for n in 0..3 {
        xadd(
            &mut conn,
            &stream.0,
            &[
                ("eventType", "order.paid"),
                ("payload", &format!(r#"{{"n":{n}}}"#)),
            ],
        )
        .await;
    }
    crate::wait::throughout(
        "a paused source stores nothing",
        Duration::from_millis(2_500),
        async || {
            let listed = app.get("/api/v1/app/acme/msg").await;
            listed["data"].as_array().is_some_and(Vec::is_empty)
        },
    )
    .await;
    assert!(receiver.received().is_empty());
    let (status, state) = app.call(reqwest::Method::DELETE, pause, None).await;
    assert_eq!(
        (status, state["paused"].clone()),
        (StatusCode::OK, json!(false))
    );
    let got = receiver.wait_for(3, WAIT).await;
    let bodies: HashSet<String> = got.iter().map(|r| r.json()["n"].to_string()).collect();
    assert_eq!(bodies.len(), 3, "{bodies:?}");
    eventually("the group has nothing pending", WAIT, async || {
        pending(&mut conn, &stream.0).await == 0
    })
    .await;
    app.settled_app("acme").await;
    assert_eq!(receiver.received().len(), 3, "an entry was delivered twice");
}
