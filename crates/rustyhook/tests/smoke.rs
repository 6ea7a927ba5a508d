//! Smoke tests of the real binary: signals, exit codes, first start, and a crash that must lose
//! nothing.

#[path = "support/binary.rs"]
mod binary;
#[path = "support/jetstream.rs"]
#[allow(dead_code)]
mod jetstream;
#[path = "support/proxy.rs"]
mod proxy;
#[path = "e2e/rabbit.rs"]
#[allow(dead_code)]
mod rabbit;
#[path = "e2e/receiver.rs"]
#[allow(dead_code)]
mod receiver;
#[path = "smoke/security.rs"]
mod security;
#[path = "support/wait.rs"]
#[allow(dead_code)]
mod wait;

use std::collections::HashMap;
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use binary::{free_port, signal, start, wait_healthy};
use jetstream::TestStream;
use rabbit::Rabbit;
use receiver::{Receiver, Reply};
use serde_json::json;
use wait::{eventually, until};

const TOKEN: &str = "smoke-admin-token-0123456789";

async fn setup_app(client: &reqwest::Client, base: &str, url: &str, max_in_flight: u32) {
    let r = client
        .post(format!("{base}/api/v1/app"))
        .bearer_auth(TOKEN)
        .json(&json!({"name": "crash", "uid": "crash"}))
        .send()
        .await
        .expect("sent");
    assert_eq!(r.status(), 201);
    let r = client
        .post(format!("{base}/api/v1/app/crash/endpoint"))
        .bearer_auth(TOKEN)
        .json(&json!({"url": url, "maxInFlight": max_in_flight}))
        .send()
        .await
        .expect("sent");
    assert_eq!(r.status(), 201);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_sigkill_mid_flight_loses_no_acknowledged_message() {
    const MESSAGES: usize = 3000;
    let dir = tempfile::tempdir().expect("dir");
    let port = free_port();
    let receiver = Receiver::start().await;
    receiver.set_default(Reply {
        delay: Duration::from_millis(20),
        ..Reply::status(200)
    });
    let env = [("RUSTYHOOK_ADMIN_TOKEN", TOKEN)];
    let mut server = start(dir.path(), port, &env);
    wait_healthy(&server.base).await;
    let client = reqwest::Client::new();
    setup_app(&client, &server.base, &receiver.url("/hook"), 8).await;

    // Post from 8 workers until all are sent or the server dies; keep the acknowledged ids.
    let acked = Arc::new(std::sync::Mutex::new(Vec::new()));
    let dead = Arc::new(AtomicBool::new(false));
    let mut workers = Vec::new();
    for w in 0..8 {
        let (client, base, acked, dead) = (
            client.clone(),
            server.base.clone(),
            acked.clone(),
            dead.clone(),
        );
        workers.push(tokio::spawn(async move {
            for i in (w..MESSAGES).step_by(8) {
                if dead.load(Ordering::Acquire) {
                    return;
                }
                let r = client
                    .post(format!("{base}/api/v1/app/crash/msg"))
                    .bearer_auth(TOKEN)
                    .json(&json!({"eventType": "crash.test", "payload": {"i": i}}))
                    .send()
                    .await;
                match r {
                    Ok(r) if r.status() == 202 => {
                        let body: serde_json::Value = r.json().await.expect("json");
                        let id = body["id"].as_str().expect("id").to_owned();
                        acked.lock().expect("lock").push(id);
                    }
                    _ => return,
                }
            }
        }));
    }
    // Kill once thousands are acknowledged and deliveries are flowing, with many still queued.
    let deadline = Instant::now() + Duration::from_secs(120);
    while acked.lock().expect("lock").len() < 2000 {
        assert!(Instant::now() < deadline, "posting stalled");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    receiver.wait_for(200, Duration::from_secs(60)).await;
    signal(&server.child, "-KILL");
    dead.store(true, Ordering::Release);
    server.child.wait().expect("reaped");
    for w in workers {
        w.await.expect("worker");
    }
    let acked = acked.lock().expect("lock").clone();
    let before_restart = receiver.received().len();
    assert!(
        acked.len() > before_restart,
        "the kill came after everything was delivered"
    );

    let mut server = start(dir.path(), port, &env);
    wait_healthy(&server.base).await;
    let deadline = Instant::now() + Duration::from_secs(120);
    let missing = loop {
        let mut seen: HashMap<String, usize> = HashMap::new();
        for r in receiver.received() {
            *seen.entry(r.header("webhook-id").expect("id")).or_default() += 1;
        }
        let missing: Vec<&String> = acked.iter().filter(|id| !seen.contains_key(*id)).collect();
        if missing.is_empty() {
            let twice = seen.values().filter(|n| **n > 1).count();
            eprintln!(
                "crash test: {} acknowledged, {} delivered before SIGKILL, all delivered after restart; {} arrived more than once",
                acked.len(),
                before_restart,
                twice
            );
            break 0;
        }
        if Instant::now() > deadline {
            break missing.len();
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    signal(&server.child, "-TERM");
    server.child.wait().expect("reaped");
    assert_eq!(
        missing, 0,
        "acknowledged messages never arrived after the restart"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_lets_an_attempt_in_flight_finish_and_exits_zero() {
    let dir = tempfile::tempdir().expect("dir");
    let port = free_port();
    let receiver = Receiver::start().await;
    receiver.set_default(Reply {
        delay: Duration::from_millis(1500),
        ..Reply::status(200)
    });
    let env = [("RUSTYHOOK_ADMIN_TOKEN", TOKEN)];
    let mut server = start(dir.path(), port, &env);
    wait_healthy(&server.base).await;
    let client = reqwest::Client::new();
    setup_app(&client, &server.base, &receiver.url("/slow"), 4).await;
    let r = client
        .post(format!("{}/api/v1/app/crash/msg", server.base))
        .bearer_auth(TOKEN)
        .json(&json!({"eventType": "a", "payload": {}}))
        .send()
        .await
        .expect("sent");
    assert_eq!(r.status(), 202);
    let msg: serde_json::Value = r.json().await.expect("json");
    let id = msg["id"].as_str().expect("id");
    receiver.wait_for(1, Duration::from_secs(10)).await;
    signal(&server.child, "-TERM");
    let status = server.child.wait().expect("exits");
    assert!(status.success(), "exit status {status}");

    // The attempt was recorded before exit, as a success (Svix status 0): a restart does not
    // send it again. Asked of the restarted server, where the test slept 800 ms for a resend.
    let mut server = start(dir.path(), port, &env);
    wait_healthy(&server.base).await;
    let dests: serde_json::Value = client
        .get(format!(
            "{}/api/v1/app/crash/msg/{id}/endpoint",
            server.base
        ))
        .bearer_auth(TOKEN)
        .send()
        .await
        .expect("sent")
        .json()
        .await
        .expect("json");
    assert_eq!(dests["data"][0]["status"], 0, "{dests}");
    assert_eq!(receiver.received().len(), 1);
    signal(&server.child, "-TERM");
    assert!(server.child.wait().expect("exits").success());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_first_start_prints_an_admin_token_once_and_it_works() {
    use std::io::{BufRead, BufReader};
    let dir = tempfile::tempdir().expect("dir");
    let port = free_port();
    let mut server = start(dir.path(), port, &[]);
    let stdout = server.child.stdout.take().expect("stdout");
    let token = tokio::task::spawn_blocking(move || {
        BufReader::new(stdout)
            .lines()
            .map_while(Result::ok)
            .find_map(|l| {
                l.trim()
                    .strip_prefix("rh_admin_")
                    .map(|t| format!("rh_admin_{t}"))
            })
    })
    .await
    .expect("reader")
    .expect("a token is printed");
    wait_healthy(&server.base).await;
    let client = reqwest::Client::new();
    let ok = client
        .get(format!("{}/api/v1/app", server.base))
        .bearer_auth(&token)
        .send()
        .await
        .expect("sent");
    assert_eq!(ok.status(), 200);
    signal(&server.child, "-TERM");
    assert!(server.child.wait().expect("exits").success());

    // Second start: same token works, nothing new is printed.
    let mut server = start(dir.path(), port, &[]);
    wait_healthy(&server.base).await;
    let ok = client
        .get(format!("{}/api/v1/app", server.base))
        .bearer_auth(&token)
        .send()
        .await
        .expect("sent");
    assert_eq!(ok.status(), 200);
    signal(&server.child, "-TERM");
    assert!(server.child.wait().expect("exits").success());
    let mut printed = String::new();
    std::io::Read::read_to_string(
        &mut server.child.stdout.take().expect("stdout"),
        &mut printed,
    )
    .expect("stdout is read");
    assert!(!printed.contains("rh_admin_"));
    let db = std::fs::read(dir.path().join("data/rustyhook.db")).expect("db");
    assert!(
        !String::from_utf8_lossy(&db).contains(&token),
        "the token itself is never stored"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_handler_run_survives_a_sigkill_between_queued_and_finished_and_runs_once() {
    let dir = tempfile::tempdir().expect("temp dir");
    let d = dir.path().display().to_string();
    std::fs::write(
        dir.path().join("rustyhook.yaml"),
        format!(
            "handlers:\n  - type: Webhook\n    name: job\n    shell: 'echo $$ > {d}/pid; sleep 3; echo \"$(cat)\" >> {d}/finished'\n"
        ),
    )
    .expect("config");
    let port = free_port();
    let server = start(dir.path(), port, &[("RUSTYHOOK_ADMIN_TOKEN", TOKEN)]);
    wait_healthy(&server.base).await;
    let resp = reqwest::Client::new()
        .post(format!("{}/hooks/job", server.base))
        .body("payload-1")
        .send()
        .await
        .expect("hook");
    assert_eq!(resp.status(), 202);
    let pid_file = dir.path().join("pid");
    // The command has written its pid (a whole line), so it is in its `sleep`.
    eventually(
        "the command to start",
        Duration::from_secs(10),
        async || std::fs::read_to_string(&pid_file).is_ok_and(|t| t.ends_with('\n')),
    )
    .await;
    signal(&server.child, "-KILL");
    drop(server);
    // The command outlives the server (it is in its own process group) until the restart.
    let orphan = std::fs::read_to_string(&pid_file).expect("pid");
    let orphan = orphan.trim();
    assert!(group_alive(orphan), "the command died with the server");
    std::fs::remove_file(&pid_file).expect("remove pid");
    let finished = dir.path().join("finished");
    assert!(!finished.exists(), "the command finished before the kill");
    let server = start(dir.path(), port, &[("RUSTYHOOK_ADMIN_TOKEN", TOKEN)]);
    wait_healthy(&server.base).await;
    eventually(
        "the run to finish after the restart",
        Duration::from_secs(15),
        async || std::fs::read_to_string(&finished).is_ok_and(|t| !t.is_empty()),
    )
    .await;
    // Nothing else can write `finished`: no process of the old command is left (where the test
    // slept 3 s for it to write, had it been left running), and the one run has finished.
    assert!(
        !group_alive(orphan),
        "the restart left the old command running"
    );
    let client = reqwest::Client::new();
    let runs = until(
        "the run to be recorded",
        Duration::from_secs(10),
        async || {
            let listed: serde_json::Value = client
                .get(format!("{}/api/v1/handler/job/run", server.base))
                .bearer_auth(TOKEN)
                .send()
                .await
                .expect("sent")
                .json()
                .await
                .expect("json");
            match listed["data"][0]["status"].as_str() {
                Some("succeeded" | "failed" | "dead") => Ok(listed),
                _ => Err(listed),
            }
        },
    )
    .await;
    assert_eq!(runs["data"].as_array().map(Vec::len), Some(1), "{runs}");
    assert_eq!(runs["data"][0]["status"], "succeeded", "{runs}");
    assert_eq!(
        std::fs::read_to_string(&finished).expect("finished"),
        "payload-1\n",
        "the run must finish exactly once after the restart"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_sigkill_between_reading_nats_messages_and_acknowledging_them_gets_them_delivered_again()
{
    const TOTAL: usize = 2000;
    let stream = TestStream::create().await;
    let dir = tempfile::tempdir().expect("dir");
    let port = free_port();
    let receiver = Receiver::start().await;
    let env = [("RUSTYHOOK_ADMIN_TOKEN", TOKEN)];
    // The app first, on a server without the source; then a backlog for the source to read,
    // so that the kill below finds it holding messages however fast it takes them.
    let mut server = start(dir.path(), port, &env);
    wait_healthy(&server.base).await;
    let client = reqwest::Client::new();
    setup_app(&client, &server.base, &receiver.url("/hook"), 8).await;
    signal(&server.child, "-TERM");
    server.child.wait().expect("reaped");
    for n in 0..TOTAL {
        let event = json!({"eventType": "crash.test", "payload": {"n": n}});
        stream.publish("orders", event.to_string()).await;
    }
    let source = stream.source("app: crash", "    ack_wait: 2s\n    batch: 50\n");
    std::fs::write(dir.path().join("rustyhook.yaml"), source).expect("config");
    let mut server = start(dir.path(), port, &env);
    // Freeze the server while it holds messages it read and has not acknowledged, check that
    // it still does once the answers already on the wire have landed, and kill it.
    let deadline = Instant::now() + Duration::from_secs(60);
    let unacked = loop {
        assert!(Instant::now() < deadline, "the server never read a batch");
        let Some(info) = stream.try_consumer("rustyhook").await else {
            // The source has not made its consumer yet.
            tokio::time::sleep(Duration::from_millis(1)).await;
            continue;
        };
        assert!(
            info.num_pending > 0 || info.num_ack_pending > 0,
            "the server took every message before the kill"
        );
        assert!(Instant::now() < deadline, "the server never read a batch");
        if info.num_ack_pending > 0 {
            signal(&server.child, "-STOP");
            tokio::time::sleep(Duration::from_millis(200)).await;
            let frozen = stream.consumer("rustyhook").await.num_ack_pending;
            if frozen > 0 {
                signal(&server.child, "-KILL");
                break frozen;
            }
            signal(&server.child, "-CONT");
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
    };
    server.child.wait().expect("reaped");
    let before_restart = receiver.received().len();

    let mut server = start(dir.path(), port, &env);
    wait_healthy(&server.base).await;
    let deadline = Instant::now() + Duration::from_secs(120);
    let seen = loop {
        let mut seen: HashMap<u64, usize> = HashMap::new();
        for r in receiver.received() {
            *seen.entry(r.json()["n"].as_u64().expect("n")).or_default() += 1;
        }
        if seen.len() == TOTAL || Instant::now() > deadline {
            break seen;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let info = stream
        .wait_settled("rustyhook", Duration::from_secs(30))
        .await;
    let stored = count_messages(&client, &server.base, "crash").await;
    signal(&server.child, "-TERM");
    server.child.wait().expect("reaped");
    let again = info.delivered.consumer_sequence - info.delivered.stream_sequence;
    eprintln!(
        "nats crash test: killed holding {unacked} unacknowledged of {TOTAL}, {before_restart} delivered before; {again} delivered again by JetStream, {stored} messages stored, {} arrived more than once",
        seen.values().filter(|n| **n > 1).count()
    );
    assert_eq!(
        seen.len(),
        TOTAL,
        "messages never arrived after the restart"
    );
    assert!(
        again >= unacked as u64,
        "JetStream delivered {again} messages again, fewer than the {unacked} the dead server held"
    );
    assert_eq!(
        stored, TOTAL,
        "a message delivered again was stored twice, or one was lost"
    );
}

/// How many messages `app` holds, through the API, a page of the default size at a time.
async fn count_messages(client: &reqwest::Client, base: &str, app: &str) -> usize {
    let mut total = 0;
    let mut iterator: Option<String> = None;
    loop {
        let url = match &iterator {
            Some(it) => format!("{base}/api/v1/app/{app}/msg?with_content=false&iterator={it}"),
            None => format!("{base}/api/v1/app/{app}/msg?with_content=false"),
        };
        let page: serde_json::Value = client
            .get(url)
            .bearer_auth(TOKEN)
            .send()
            .await
            .expect("sent")
            .json()
            .await
            .expect("json");
        let data = page["data"]
            .as_array()
            .unwrap_or_else(|| panic!("a page: {page}"));
        total += data.len();
        if page["done"].as_bool() != Some(false) {
            return total;
        }
        iterator = page["iterator"].as_str().map(str::to_owned);
    }
}

/// Whether process `pid` is running (a zombie waiting for its reaper is not).
/// Whether a process of the process group `pgid` is alive (not a zombie).
fn group_alive(pgid: &str) -> bool {
    let procs = std::fs::read_dir("/proc").expect("/proc");
    procs.flatten().any(|p| {
        std::fs::read_to_string(p.path().join("stat")).is_ok_and(|stat| {
            // After the command's name: state, parent, process group.
            let fields: Vec<&str> = stat
                .rsplit(')')
                .next()
                .unwrap_or("")
                .split_whitespace()
                .collect();
            fields.len() > 2 && fields[0] != "Z" && fields[2] == pgid
        })
    })
}

#[test]
fn validate_lists_handlers_and_test_runs_their_cases() {
    let dir = tempfile::tempdir().expect("temp dir");
    let config = dir.path().join("rustyhook.yaml");
    std::fs::write(
        &config,
        "handlers:\n  - type: Webhook\n    name: API Handler\n    options: {port: 3000, path: /api}\n    shell: 'cat; echo success'\n    tests:\n      - name: ok\n        input: {method: POST, body: '{\"test\": true}'}\n        expect: {exit_code: 0, output_contains: success}\n      - name: wrong\n        expect: {output_contains: failure}\n",
    )
    .expect("config");
    let bin = env!("CARGO_BIN_EXE_rustyhook");
    let out = Command::new(bin)
        .args(["--validate", "-c"])
        .arg(&config)
        .output()
        .expect("runs");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}");
    assert!(
        text.contains("api-handler [webhook] port 3000 /api"),
        "{text}"
    );
    let out = Command::new(bin)
        .args(["test", "-c"])
        .arg(&config)
        .output()
        .expect("runs");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        !out.status.success(),
        "a failing case must fail the command: {text}"
    );
    assert!(text.contains("PASS  API Handler / ok"), "{text}");
    assert!(text.contains("FAIL  API Handler / wrong"), "{text}");
    let retired = dir.path().join("old.yml");
    std::fs::write(&retired, "---\n- handler: x\n  type: Cron\n").expect("write");
    let out = Command::new(bin)
        .args(["check", "-c"])
        .arg(&retired)
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("line 2"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_entries_read_but_not_stored_at_a_sigkill_are_taken_over_after_restart() {
    const ENTRIES: usize = 2000;
    let dir = tempfile::tempdir().expect("dir");
    let stream = format!("rh-smoke-{}", std::process::id());
    let mut redis = empty_stream(&stream).await;
    let receiver = Receiver::start().await;
    receiver.set_default(Reply {
        delay: Duration::from_millis(5),
        ..Reply::status(200)
    });
    let port = free_port();
    let env = [("RUSTYHOOK_ADMIN_TOKEN", TOKEN)];
    // The app first, on a server without the source; then a backlog for the source to read,
    // so that the kill below finds entries read and not yet acknowledged.
    let mut server = start(dir.path(), port, &env);
    wait_healthy(&server.base).await;
    let client = reqwest::Client::new();
    setup_app(&client, &server.base, &receiver.url("/hook"), 4).await;
    signal(&server.child, "-TERM");
    server.child.wait().expect("reaped");
    for i in 0..ENTRIES {
        let payload = json!({"i": i}).to_string();
        let _: String = redis::AsyncCommands::xadd(
            &mut redis,
            &stream,
            "*",
            &[("eventType", "crash.test"), ("payload", payload.as_str())],
        )
        .await
        .expect("xadd");
    }
    std::fs::write(
        dir.path().join("rustyhook.yaml"),
        format!(
            "sources:\n  - {{type: redis, url: \"redis://127.0.0.1:6379\", stream: {stream}, app: crash, claim_after: 500ms, batch: 50}}\n"
        ),
    )
    .expect("config");
    let mut server = start(dir.path(), port, &env);
    // Freeze the server while entries it read are pending (read, not acknowledged), check that
    // they still are once what was on the wire has landed, and kill it.
    let deadline = Instant::now() + Duration::from_secs(60);
    let pending = loop {
        assert!(
            Instant::now() < deadline,
            "the server never held a read entry"
        );
        if pending_entries(&mut redis, &stream).await > 0 {
            signal(&server.child, "-STOP");
            tokio::time::sleep(Duration::from_millis(200)).await;
            let frozen = pending_entries(&mut redis, &stream).await;
            if frozen > 0 {
                signal(&server.child, "-KILL");
                break frozen;
            }
            signal(&server.child, "-CONT");
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
    };
    server.child.wait().expect("reaped");
    let before = receiver.received().len();
    let server = start(dir.path(), port, &env);
    wait_healthy(&server.base).await;
    eprintln!(
        "redis crash test: killed with {pending} entries pending; {before} of {ENTRIES} delivered before the kill"
    );
    receiver
        .wait_for_numbered(ENTRIES, Duration::from_secs(60))
        .await;
    let deadline = Instant::now() + Duration::from_secs(20);
    while pending_entries(&mut redis, &stream).await > 0 {
        assert!(
            Instant::now() < deadline,
            "entries stayed pending after every one arrived"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let stored = count_messages(&client, &server.base, "crash").await;
    assert_eq!(
        stored, ENTRIES,
        "an entry taken over was stored twice, or one was lost"
    );
    let _: () = redis::AsyncCommands::del(&mut redis, &stream)
        .await
        .expect("del");
    drop(server);
}

/// A connection to the machine's Redis, with `stream` deleted.
async fn empty_stream(stream: &str) -> redis::aio::MultiplexedConnection {
    let mut redis = redis::Client::open("redis://127.0.0.1:6379")
        .expect("url")
        .get_multiplexed_async_connection()
        .await
        .expect("the machine's Redis");
    let _: () = redis::AsyncCommands::del(&mut redis, stream)
        .await
        .expect("del");
    redis
}

/// How many entries of `stream` are pending in rustyhook's group: read by a consumer and not
/// acknowledged. 0 while the group does not exist.
async fn pending_entries(redis: &mut redis::aio::MultiplexedConnection, stream: &str) -> u64 {
    let reply: redis::RedisResult<redis::streams::StreamPendingReply> =
        redis::AsyncCommands::xpending(redis, stream, "rustyhook").await;
    reply.map(|r| r.count() as u64).unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_sigkill_while_consuming_rabbitmq_loses_no_message_as_rabbitmq_redelivers_the_unacked() {
    const MESSAGES: u32 = 3000;
    let rabbit = Rabbit::connect().await;
    let (queue, dead) = rabbit.queues("smoke");
    rabbit.declare_expiring(&queue).await;
    rabbit.declare_expiring(&dead).await;
    let dir = tempfile::tempdir().expect("dir");
    let port = free_port();
    let receiver = Receiver::start().await;
    let env = [("RUSTYHOOK_ADMIN_TOKEN", TOKEN)];
    // A first start makes the app; the messages then wait in the queue for the next one.
    let mut server = start(dir.path(), port, &env);
    wait_healthy(&server.base).await;
    let client = reqwest::Client::new();
    setup_app(&client, &server.base, &receiver.url("/hook"), 16).await;
    signal(&server.child, "-TERM");
    server.child.wait().expect("reaped");
    std::fs::write(
        dir.path().join("rustyhook.yaml"),
        format!(
            "sources:\n  - {{type: rabbitmq, url: '{}', queue: {queue}, app: crash}}\n",
            rabbit::url()
        ),
    )
    .expect("config written");
    for i in 0..MESSAGES {
        let body =
            json!({"eventType": "crash.test", "eventId": format!("m-{i}"), "payload": {"i": i}});
        rabbit
            .publish(&queue, body.to_string().as_bytes(), Default::default())
            .await;
    }
    let mut server = start(dir.path(), port, &env);
    // Kill once messages are stored and delivered, with more still in the queue or in flight.
    receiver.wait_for(50, Duration::from_secs(60)).await;
    signal(&server.child, "-KILL");
    server.child.wait().expect("reaped");
    rabbit
        .wait_counts(&queue, |c| c.is_some_and(|(_, consumers)| consumers == 0))
        .await;
    let (left, _) = rabbit.counts(&queue).await.expect("the queue");
    assert!(left > 0, "the kill came after every message was taken");

    let restarted = Instant::now();
    let mut server = start(dir.path(), port, &env);
    wait_healthy(&server.base).await;
    let deadline = Instant::now() + Duration::from_secs(120);
    let missing = loop {
        let seen: std::collections::HashSet<u64> = receiver
            .received()
            .iter()
            .map(|r| r.json()["i"].as_u64().expect("numbered"))
            .collect();
        let missing = (0..u64::from(MESSAGES))
            .filter(|i| !seen.contains(i))
            .count();
        if missing == 0 || Instant::now() > deadline {
            eprintln!(
                "rabbitmq crash test: {left} of {MESSAGES} messages were in the queue after SIGKILL; \
                 {} requests for {} distinct messages, {:?} after the restart",
                receiver.received().len(),
                seen.len(),
                restarted.elapsed()
            );
            break missing;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    signal(&server.child, "-TERM");
    server.child.wait().expect("reaped");
    rabbit.wait_counts(&queue, |c| c == Some((0, 0))).await;
    assert_eq!(missing, 0, "messages published to RabbitMQ never arrived");
}

/// A rustyhook in `dir` reading Redis stream `stream` (emptied first) as the sendhooks source
/// `name`, with `more` source settings (`, key: value` each), and a connection to the stream.
async fn with_sendhooks_source(
    dir: &std::path::Path,
    name: &str,
    stream: &str,
    more: &str,
) -> (binary::Server, redis::aio::MultiplexedConnection) {
    let redis = empty_stream(stream).await;
    std::fs::write(
        dir.join("rustyhook.yaml"),
        format!(
            "sources:\n  - {{name: {name}, type: redis, url: \"redis://127.0.0.1:6379\", stream: {stream}, format: sendhooks{more}}}\n"
        ),
    )
    .expect("config");
    let server = start(dir, free_port(), &[("RUSTYHOOK_ADMIN_TOKEN", TOKEN)]);
    wait_healthy(&server.base).await;
    (server, redis)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn metrics_count_each_source_entry_as_stored_duplicate_or_rejected() {
    let dir = tempfile::tempdir().expect("dir");
    let stream = format!("rh-smoke-metrics-{}", std::process::id());
    let (server, mut redis) =
        with_sendhooks_source(dir.path(), "legacy", &stream, ", batch: 1").await;
    let receiver = Receiver::start().await;
    let entry = json!({"url": receiver.url("/hook"), "webhookId": "wh_once", "data": {"n": 1},
                       "secretHash": "s3cr3t", "metaData": {}})
    .to_string();
    // The entry, a sendhooks producer's retry of it (the same webhookId), and one that is not
    // sendhooks JSON.
    for data in [entry.as_str(), entry.as_str(), "{not json"] {
        let _: String = redis::AsyncCommands::xadd(&mut redis, &stream, "*", &[("data", data)])
            .await
            .expect("xadd");
    }
    receiver.wait_for(1, Duration::from_secs(20)).await;
    let want = [("stored", 1), ("duplicate", 1), ("rejected", 1)];
    let what = "rustyhook_source_messages_total by outcome";
    until(what, Duration::from_secs(20), async || {
        let text = metrics(&server.base).await;
        let counts: Vec<(&str, u64)> = want
            .iter()
            .map(|(outcome, _)| (*outcome, source_count(&text, "legacy", outcome)))
            .collect();
        if counts == want { Ok(()) } else { Err(counts) }
    })
    .await;
    // Counted as a duplicate, the retry stored nothing to deliver: the one delivery that
    // arrived is all there will be.
    assert_eq!(
        receiver.received().len(),
        1,
        "the retry was delivered again"
    );
    // The bad entry was dead-lettered to `<stream>.dead`.
    let dead = format!("{stream}.dead");
    let _: () = redis::AsyncCommands::del(&mut redis, &[stream.as_str(), dead.as_str()])
        .await
        .expect("del");
}

/// `rustyhook_source_lag{source}` on the real binary's `/metrics`: a paused Redis source shows
/// the entries waiting in its stream, and 0 once resumed and drained.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn metrics_show_a_paused_source_s_lag_and_zero_once_it_drains() {
    let dir = tempfile::tempdir().expect("dir");
    let stream = format!("rh-smoke-lag-{}", std::process::id());
    let (server, mut redis) = with_sendhooks_source(dir.path(), "orders", &stream, "").await;
    let receiver = Receiver::start().await;
    let client = reqwest::Client::new();
    let pause = format!("{}/api/v1/pause/source/orders", server.base);
    let r = client
        .post(&pause)
        .bearer_auth(TOKEN)
        .send()
        .await
        .expect("pause");
    assert_eq!(r.status(), 200);
    for n in 0..3 {
        let entry = json!({"url": receiver.url("/hook"), "webhookId": format!("wh_lag_{n}"),
                           "data": {"n": n}, "secretHash": "s3cr3t", "metaData": {}})
        .to_string();
        let _: String = redis::AsyncCommands::xadd(&mut redis, &stream, "*", &[("data", entry)])
            .await
            .expect("xadd");
    }
    let lag = async |want: f64| {
        let what = format!("rustyhook_source_lag{{source=\"orders\"}} {want}");
        until(&what, Duration::from_secs(20), async || {
            let text = metrics(&server.base).await;
            let got = gauge(&text, "rustyhook_source_lag", "orders");
            if got == Some(want) { Ok(()) } else { Err(got) }
        })
        .await;
    };
    // Sampled every 5 s, paused or not.
    lag(3.0).await;
    assert!(
        receiver.received().is_empty(),
        "a paused source read nothing"
    );
    let r = client
        .delete(&pause)
        .bearer_auth(TOKEN)
        .send()
        .await
        .expect("resume");
    assert_eq!(r.status(), 200);
    receiver.wait_for(3, Duration::from_secs(20)).await;
    lag(0.0).await;
    let _: () = redis::AsyncCommands::del(&mut redis, &[stream.as_str()])
        .await
        .expect("del");
}

/// The server's `/metrics` page.
async fn metrics(base: &str) -> String {
    reqwest::get(format!("{base}/metrics"))
        .await
        .expect("metrics")
        .text()
        .await
        .expect("body")
}

/// The value of gauge `name` for `source` in a Prometheus text page.
fn gauge(text: &str, name: &str, source: &str) -> Option<f64> {
    let series = format!("{name}{{source=\"{source}\"}} ");
    text.lines()
        .find_map(|l| l.strip_prefix(series.as_str()))
        .and_then(|v| v.trim().parse().ok())
}

/// `rustyhook_source_messages_total{source, outcome}` in a Prometheus text page, 0 when absent.
fn source_count(text: &str, source: &str, outcome: &str) -> u64 {
    text.lines()
        .filter(|l| l.starts_with("rustyhook_source_messages_total{"))
        .filter(|l| {
            l.contains(&format!("source=\"{source}\""))
                && l.contains(&format!("outcome=\"{outcome}\""))
        })
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .map(|v| v as u64)
        .sum()
}
