//! Fault injection against the real binary: a store that cannot be written, a database that
//! stops and starts, a node killed again and again. Each scenario counts the ids the API
//! acknowledged against the ids a real receiver was sent, and asserts that none was lost and
//! few (or none) arrived twice.

#[path = "support/binary.rs"]
mod binary;
#[path = "support/pg_instance.rs"]
mod pg_instance;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use base64::Engine as _;
use binary::{Server, free_port, signal, start, wait_healthy};
use pg_instance::PgInstance;
use serde_json::json;

const TOKEN: &str = "faults-admin-token-0123456789";
/// Requests in flight per node at most: what a node can have sent without recording.
const MAX_IN_FLIGHT: usize = 32;
/// Retries close together, and enough of them to outlast every outage below.
const RETRIES: &str = "200ms,500ms,1s,1s,2s,2s,2s,2s,2s,2s,2s,2s,2s,2s,2s,2s";

// --- a receiver that counts what it accepted ---

#[derive(Default)]
struct Counts {
    /// 2xx answers given, per `webhook-id`.
    accepted: HashMap<String, usize>,
    /// Requests seen, per `webhook-id`.
    seen: HashMap<String, usize>,
    /// 2xx answers given, per payload number (`{"i": n}`).
    numbers: HashMap<i64, usize>,
}

#[derive(Clone)]
struct Receiver {
    addr: SocketAddr,
    counts: Arc<Mutex<Counts>>,
    /// While set, every request is answered 503.
    down: Arc<AtomicBool>,
}

#[derive(Clone)]
struct Behaviour {
    counts: Arc<Mutex<Counts>>,
    /// Answer 500 to the first request of each message.
    fail_first: bool,
    delay: Duration,
    down: Arc<AtomicBool>,
}

impl Receiver {
    async fn start(fail_first: bool, delay: Duration) -> Self {
        let counts = Arc::new(Mutex::new(Counts::default()));
        let down = Arc::new(AtomicBool::new(false));
        let app = axum::Router::new().fallback(receive).with_state(Behaviour {
            counts: counts.clone(),
            fail_first,
            delay,
            down: down.clone(),
        });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        tokio::spawn(async move { axum::serve(listener, app).await.expect("serve") });
        Self { addr, counts, down }
    }

    /// Answers 503 to everything from now on (`true`), or as it did before (`false`).
    fn set_down(&self, down: bool) {
        self.down.store(down, Ordering::SeqCst);
    }

    /// Requests seen in all.
    fn seen(&self) -> usize {
        self.counts.lock().expect("lock").seen.values().sum()
    }

    fn url(&self) -> String {
        format!("http://{}/hook", self.addr)
    }

    /// Acknowledged ids not accepted yet, and how many accepted arrivals were extra.
    fn tally(&self, acked: &[String]) -> (usize, usize) {
        let counts = self.counts.lock().expect("lock");
        let missing = acked
            .iter()
            .filter(|id| !counts.accepted.contains_key(*id))
            .count();
        let twice = counts.accepted.values().map(|n| n - 1).sum();
        (missing, twice)
    }

    /// Waits until payloads `0..n` were all accepted; returns the extra arrivals.
    async fn wait_numbered(&self, n: i64, within: Duration, what: &str) -> usize {
        let deadline = Instant::now() + within;
        loop {
            let (missing, twice) = {
                let counts = self.counts.lock().expect("lock");
                let missing = (0..n).filter(|i| !counts.numbers.contains_key(i)).count();
                (missing, counts.numbers.values().map(|c| c - 1).sum())
            };
            if missing == 0 {
                return twice;
            }
            assert!(
                Instant::now() < deadline,
                "{what}: {missing} of {n} published messages never arrived"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Waits until every acknowledged id was accepted; returns the extra arrivals.
    async fn wait_all(&self, acked: &[String], within: Duration, what: &str) -> usize {
        let deadline = Instant::now() + within;
        loop {
            let (missing, twice) = self.tally(acked);
            if missing == 0 {
                return twice;
            }
            assert!(
                Instant::now() < deadline,
                "{what}: {missing} of {} acknowledged messages never arrived",
                acked.len()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

async fn receive(
    State(b): State<Behaviour>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> StatusCode {
    let id = headers
        .get("webhook-id")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let first = {
        let mut counts = b.counts.lock().expect("lock");
        let seen = counts.seen.entry(id.clone()).or_default();
        *seen += 1;
        *seen == 1
    };
    tokio::time::sleep(b.delay).await;
    if b.down.load(Ordering::SeqCst) {
        return StatusCode::SERVICE_UNAVAILABLE;
    }
    if b.fail_first && first {
        return StatusCode::INTERNAL_SERVER_ERROR;
    }
    let number = serde_json::from_slice::<serde_json::Value>(&body)
        .ok()
        .and_then(|v| v["i"].as_i64());
    let mut counts = b.counts.lock().expect("lock");
    *counts.accepted.entry(id).or_default() += 1;
    if let Some(n) = number {
        *counts.numbers.entry(n).or_default() += 1;
    }
    StatusCode::OK
}

// --- load ---

/// Posts messages to `bases` in turn from `workers` tasks until `stop` is set, noting the id of
/// each message a node acknowledged (202). Refusals (503, 507, a killed node) are not counted:
/// they were never acknowledged.
struct Load {
    acked: Arc<Mutex<Vec<String>>>,
    refused: Arc<Mutex<HashMap<u16, usize>>>,
    stop: tokio_util::sync::CancellationToken,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl Load {
    fn start(bases: Vec<String>, workers: usize, limit: usize, pause: Duration) -> Self {
        let acked: Arc<Mutex<Vec<String>>> = Arc::default();
        let refused: Arc<Mutex<HashMap<u16, usize>>> = Arc::default();
        let stop = tokio_util::sync::CancellationToken::new();
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .build()
            .expect("client");
        let tasks = (0..workers)
            .map(|w| {
                let (client, bases, acked, refused, stop) = (
                    client.clone(),
                    bases.clone(),
                    acked.clone(),
                    refused.clone(),
                    stop.clone(),
                );
                tokio::spawn(async move {
                    let mut i = w;
                    while !stop.is_cancelled() && i < limit {
                        let base = &bases[i % bases.len()];
                        let sent = client
                            .post(format!("{base}/api/v1/app/faults/msg"))
                            .bearer_auth(TOKEN)
                            .json(&json!({"eventType": "fault.test", "payload": {"i": i}}))
                            .send()
                            .await;
                        match sent {
                            Ok(r) if r.status() == 202 => {
                                let body: serde_json::Value = r.json().await.expect("json");
                                let id = body["id"].as_str().expect("id").to_owned();
                                acked.lock().expect("lock").push(id);
                            }
                            Ok(r) => {
                                *refused
                                    .lock()
                                    .expect("lock")
                                    .entry(r.status().as_u16())
                                    .or_default() += 1;
                            }
                            Err(_) => {
                                *refused.lock().expect("lock").entry(0).or_default() += 1;
                            }
                        }
                        i += workers;
                        tokio::time::sleep(pause).await;
                    }
                })
            })
            .collect();
        Self {
            acked,
            refused,
            stop,
            tasks,
        }
    }

    fn acked_count(&self) -> usize {
        self.acked.lock().expect("lock").len()
    }

    async fn wait_acked(&self, n: usize) {
        let deadline = Instant::now() + Duration::from_secs(120);
        while self.acked_count() < n {
            assert!(Instant::now() < deadline, "posting stalled");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Stops posting and returns the acknowledged ids and the refusals by status.
    async fn finish(self) -> (Vec<String>, HashMap<u16, usize>) {
        self.stop.cancel();
        self.join().await
    }

    /// Waits for every poster to reach its limit.
    async fn join(self) -> (Vec<String>, HashMap<u16, usize>) {
        for t in self.tasks {
            t.await.expect("poster");
        }
        let acked = self.acked.lock().expect("lock").clone();
        let refused = self.refused.lock().expect("lock").clone();
        (acked, refused)
    }
}

async fn make_app(base: &str, receiver: &Receiver, max_in_flight: usize) {
    let client = reqwest::Client::new();
    let r = client
        .post(format!("{base}/api/v1/app"))
        .bearer_auth(TOKEN)
        .json(&json!({"name": "faults", "uid": "faults"}))
        .send()
        .await
        .expect("sent");
    assert_eq!(r.status(), 201);
    let r = client
        .post(format!("{base}/api/v1/app/faults/endpoint"))
        .bearer_auth(TOKEN)
        .json(&json!({"url": receiver.url(), "maxInFlight": max_in_flight}))
        .send()
        .await
        .expect("sent");
    assert_eq!(r.status(), 201);
}

fn node_env(db: Option<&str>) -> Vec<(&'static str, String)> {
    let mut env = vec![
        ("RUSTYHOOK_ADMIN_TOKEN", TOKEN.to_owned()),
        ("RUSTYHOOK_RETRY_SCHEDULE", RETRIES.to_owned()),
        ("RUSTYHOOK_MAX_IN_FLIGHT_TOTAL", MAX_IN_FLIGHT.to_string()),
        (
            "RUSTYHOOK_SECRET_KEY",
            base64::engine::general_purpose::STANDARD.encode([9u8; 32]),
        ),
    ];
    if let Some(url) = db {
        env.push(("RUSTYHOOK_DATABASE_URL", url.to_owned()));
    }
    env
}

fn start_node(home: &Path, config: &str, env: &[(&'static str, String)]) -> Server {
    start_node_on(home, free_port(), config, env)
}

fn start_node_on(home: &Path, port: u16, config: &str, env: &[(&'static str, String)]) -> Server {
    std::fs::create_dir_all(home).expect("home");
    std::fs::write(home.join("rustyhook.yaml"), config).expect("config");
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    start(home, port, &env)
}

/// Posts one message outside the load, and says how long the answer took.
async fn post_one(base: &str) -> (reqwest::Response, Duration) {
    let asked = Instant::now();
    let r = reqwest::Client::new()
        .post(format!("{base}/api/v1/app/faults/msg"))
        .bearer_auth(TOKEN)
        .json(&json!({"eventType": "fault.test", "payload": {"i": -1}}))
        .send()
        .await
        .expect("sent");
    (r, asked.elapsed())
}

/// Polls the readiness route until its `store` field reads `want`.
async fn wait_store_state(base: &str, want: &str, within: Duration) -> serde_json::Value {
    let deadline = Instant::now() + within;
    loop {
        if let Ok(r) = reqwest::get(format!("{base}/api/v1/health/ready")).await
            && let Ok(body) = r.json::<serde_json::Value>().await
            && body["store"] == want
        {
            return body;
        }
        assert!(
            Instant::now() < deadline,
            "the readiness route never said the store is {want}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

// --- a small file system to fill ---

/// A tmpfs mounted for the test, unmounted on drop.
struct SmallDisk {
    path: PathBuf,
}

impl SmallDisk {
    fn mount(path: PathBuf, megabytes: u32) -> Self {
        std::fs::create_dir_all(&path).expect("mount point");
        let out = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={megabytes}m"), "tmpfs"])
            .arg(&path)
            .output()
            .expect("mount runs");
        assert!(
            out.status.success(),
            "mounting a tmpfs needs root (CI runs as root): {}",
            String::from_utf8_lossy(&out.stderr)
        );
        Self { path }
    }

    /// Writes a file until the disk is full.
    fn fill(&self) -> PathBuf {
        use std::io::Write as _;
        let filler = self.path.join("filler");
        let mut f = std::fs::File::create(&filler).expect("filler");
        let chunk = vec![0u8; 64 * 1024];
        while f.write_all(&chunk).is_ok() {}
        let _ = f.sync_all();
        filler
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.path).status();
    }
}

// --- the scenarios ---

/// A node (with `extra` settings) whose database is on `disk`, delivering to `receiver` under
/// a steady load that has had 200 messages acknowledged.
async fn loaded_node_on<const N: usize>(
    disk: &SmallDisk,
    dir: &Path,
    receiver: &Receiver,
    extra: [(&'static str, &str); N],
) -> (Server, Load) {
    let mut env = node_env(None);
    env.extend(extra.map(|(k, v)| (k, v.to_owned())));
    // binary::start sets RUSTYHOOK_DATA_DIR to <home>/data; ours, pushed last, wins.
    let data = disk.path.join("data").display().to_string();
    env.push(("RUSTYHOOK_DATA_DIR", data));
    let node = start_node(&dir.join("home"), "", &env);
    wait_healthy(&node.base).await;
    make_app(&node.base, receiver, 8).await;
    let load = Load::start(
        vec![node.base.clone()],
        4,
        usize::MAX,
        Duration::from_millis(20),
    );
    load.wait_acked(200).await;
    (node, load)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_store_full_for_20_s_loses_no_acknowledged_message_and_needs_no_restart() {
    let dir = tempfile::tempdir().expect("dir");
    let disk = SmallDisk::mount(dir.path().join("disk"), 48);
    let receiver = Receiver::start(true, Duration::ZERO).await;
    let (node, load) = loaded_node_on(&disk, dir.path(), &receiver, []).await;
    let filler = disk.fill();
    let full_at = Instant::now();

    // While full: writes are refused at once with 507, and readiness says why.
    let ready = wait_store_state(&node.base, "full", Duration::from_secs(10)).await;
    assert_eq!(ready["ready"], false);
    let (r, took) = post_one(&node.base).await;
    assert_eq!(r.status(), 507);
    assert!(r.headers().contains_key("retry-after"));
    assert!(took < Duration::from_secs(2), "a 507 took {took:?}");
    let body: serde_json::Value = r.json().await.expect("json");
    assert_eq!(body["code"], "store_full");

    // The fault itself, not a wait: the disk stays full for the 20 s the test is named for.
    tokio::time::sleep(Duration::from_secs(20).saturating_sub(full_at.elapsed())).await;
    std::fs::remove_file(&filler).expect("free the disk");
    wait_store_state(&node.base, "up", Duration::from_secs(10)).await;
    let before = load.acked_count();
    load.wait_acked(before + 100).await;
    let (acked, refused) = load.finish().await;

    let twice = receiver
        .wait_all(&acked, Duration::from_secs(90), "store full")
        .await;
    let metrics = reqwest::get(format!("{}/metrics", node.base))
        .await
        .expect("metrics")
        .text()
        .await
        .expect("text");
    eprintln!(
        "store full for 20 s: {} acknowledged, all delivered, {twice} twice; refused by status: {refused:?}",
        acked.len()
    );
    assert_eq!(
        twice, 0,
        "one node that never restarted sends nothing twice"
    );
    assert!(
        refused.get(&507).is_some_and(|n| *n > 0),
        "posts during the outage were refused with 507: {refused:?}"
    );
    assert!(
        metrics.contains("rustyhook_store_errors_total{kind=\"full\"}"),
        "full-disk errors are counted in /metrics"
    );
}

/// An endpoint that is down opens its breaker, so its deliveries wait in the store, each
/// postponed to the next probe, a write that has to get through the outage: a full disk now.
/// Those writes are tried again until they take, and one that took in a group SQLite then
/// rolled back, or was told it failed when it had taken, must not free the delivery twice (a
/// second copy would be sent). When the disk and the endpoint are back, each message arrives
/// once.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_open_breaker_s_waiting_deliveries_outlast_a_full_store_and_each_arrives_once() {
    let dir = tempfile::tempdir().expect("dir");
    let disk = SmallDisk::mount(dir.path().join("disk"), 48);
    let receiver = Receiver::start(false, Duration::ZERO).await;
    receiver.set_down(true);
    let breaker = [
        ("RUSTYHOOK_BREAKER_THRESHOLD", "3"),
        ("RUSTYHOOK_BREAKER_FAILING_FOR", "0s"),
        // Probes (and the postponing of everything else) every second at most.
        ("RUSTYHOOK_BREAKER_MAX_PROBE_INTERVAL", "1s"),
    ];
    let (node, load) = loaded_node_on(&disk, dir.path(), &receiver, breaker).await;
    let filler = disk.fill();
    wait_store_state(&node.base, "full", Duration::from_secs(10)).await;
    tokio::time::sleep(Duration::from_secs(8)).await;
    std::fs::remove_file(&filler).expect("free the disk");
    wait_store_state(&node.base, "up", Duration::from_secs(10)).await;
    let before = load.acked_count();
    load.wait_acked(before + 100).await;
    let (acked, _) = load.finish().await;
    // Every acknowledged message waits behind the breaker: far fewer requests than messages
    // reached the endpoint while it was down.
    let while_down = receiver.seen();
    assert!(
        while_down < acked.len() / 2,
        "{while_down} requests reached an endpoint that was down, for {} messages",
        acked.len()
    );
    receiver.set_down(false);

    let twice = receiver
        .wait_all(
            &acked,
            Duration::from_secs(90),
            "breaker through a full store",
        )
        .await;
    eprintln!(
        "breaker open through a full store: {} acknowledged, {while_down} requests while down, all delivered, {twice} twice",
        acked.len()
    );
    assert_eq!(twice, 0, "a delivery given back to the store is sent once");
}

/// Fast liveness, so the outages below are longer than the node timeout.
const FAST: &str = "cluster: {heartbeat_interval: 300ms, node_timeout: 3s}\n";
/// Longer than FAST's node timeout.
const OUTAGE: Duration = Duration::from_secs(6);

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_database_stopped_mid_load_loses_nothing_and_clients_hear_503_at_once() {
    let dir = tempfile::tempdir().expect("dir");
    let pg = PgInstance::start();
    let receiver = Receiver::start(true, Duration::ZERO).await;
    let node = start_node(&dir.path().join("node"), FAST, &node_env(Some(&pg.url())));
    wait_healthy(&node.base).await;
    make_app(&node.base, &receiver, 8).await;
    let load = Load::start(
        vec![node.base.clone()],
        4,
        usize::MAX,
        Duration::from_millis(10),
    );
    load.wait_acked(300).await;

    pg.stop();
    let down = wait_store_state(&node.base, "down", Duration::from_secs(10)).await;
    assert_eq!(down["ready"], false);
    let (r, took) = post_one(&node.base).await;
    assert_eq!(r.status(), 503);
    assert!(r.headers().contains_key("retry-after"));
    assert!(took < Duration::from_secs(1), "a 503 took {took:?}");
    let health = reqwest::get(format!("{}/api/v1/health", node.base))
        .await
        .expect("health");
    assert_eq!(health.status(), 503);
    // The fault itself, not a wait: the database stays down past the node timeout.
    tokio::time::sleep(OUTAGE).await;
    pg.resume();

    wait_store_state(&node.base, "up", Duration::from_secs(20)).await;
    let before = load.acked_count();
    load.wait_acked(before + 100).await;
    let (acked, refused) = load.finish().await;
    let twice = receiver
        .wait_all(&acked, Duration::from_secs(90), "database stopped")
        .await;
    eprintln!(
        "database stopped for {OUTAGE:?}: {} acknowledged, all delivered, {twice} twice; a refusal took {took:?}; refused by status: {refused:?}",
        acked.len()
    );
    assert_eq!(
        twice, 0,
        "one node that never restarted sends nothing twice"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn three_nodes_through_a_database_outage_longer_than_the_node_timeout_take_none_of_each_other_s_work()
 {
    let dir = tempfile::tempdir().expect("dir");
    let pg = PgInstance::start();
    // Slow enough that every node holds a backlog when the database stops.
    let receiver = Receiver::start(false, Duration::from_millis(100)).await;
    let env = node_env(Some(&pg.url()));
    let nodes: Vec<Server> = (0..3)
        .map(|i| start_node(&dir.path().join(format!("node{i}")), FAST, &env))
        .collect();
    for n in &nodes {
        wait_healthy(&n.base).await;
    }
    make_app(&nodes[0].base, &receiver, 4).await;
    let bases: Vec<String> = nodes.iter().map(|n| n.base.clone()).collect();
    let (acked, refused) = Load::start(bases, 6, 1800, Duration::ZERO).join().await;
    assert!(refused.is_empty(), "{refused:?}");
    let (backlog, _) = receiver.tally(&acked);

    pg.stop();
    // The fault itself, not a wait: the database stays down past the node timeout.
    tokio::time::sleep(OUTAGE).await;
    pg.resume();

    let twice = receiver
        .wait_all(&acked, Duration::from_secs(120), "three nodes, outage")
        .await;
    eprintln!(
        "three nodes, database stopped for {OUTAGE:?} (node timeout 3 s): {} acknowledged, {backlog} undelivered at the stop, all delivered, {twice} twice",
        acked.len()
    );
    assert!(
        backlog >= 300,
        "only {backlog} queued at the stop: nothing to take over"
    );
    assert!(
        twice <= MAX_IN_FLIGHT,
        "{twice} messages arrived twice: live nodes took each other's work"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn one_node_of_three_killed_again_and_again_loses_nothing() {
    const KILLS: usize = 3;
    let dir = tempfile::tempdir().expect("dir");
    let pg = PgInstance::start();
    let receiver = Receiver::start(false, Duration::from_millis(10)).await;
    let env = node_env(Some(&pg.url()));
    let home = |i: usize| dir.path().join(format!("node{i}"));
    let ports: Vec<u16> = (0..3).map(|_| free_port()).collect();
    let mut nodes: Vec<Server> = (0..3)
        .map(|i| start_node_on(&home(i), ports[i], FAST, &env))
        .collect();
    for n in &nodes {
        wait_healthy(&n.base).await;
    }
    make_app(&nodes[0].base, &receiver, 4).await;
    // Posts go to every node in turn; those to the victim while it is down fail, unacknowledged.
    let bases: Vec<String> = nodes.iter().map(|n| n.base.clone()).collect();
    let load = Load::start(bases, 6, usize::MAX, Duration::from_millis(5));
    for kill in 0..KILLS {
        load.wait_acked(400 * (kill + 1)).await;
        signal(&nodes[1].child, "-KILL");
        nodes[1].child.wait().expect("reaped");
        // The fault itself, not a wait: the victim stays down a moment before it restarts.
        tokio::time::sleep(Duration::from_millis(500)).await;
        nodes[1] = start_node_on(&home(1), ports[1], FAST, &env);
        wait_healthy(&nodes[1].base).await;
    }
    let (acked, _) = load.finish().await;
    let twice = receiver
        .wait_all(&acked, Duration::from_secs(120), "repeated kills")
        .await;
    eprintln!(
        "one node of three killed {KILLS} times: {} acknowledged, all delivered, {twice} twice",
        acked.len()
    );
    assert!(
        twice <= KILLS * MAX_IN_FLIGHT,
        "{twice} arrived twice; at most what was in flight at each kill may"
    );
}

/// A Redis server of the test's own, persisting every write (AOF, fsync always), so a restart
/// loses nothing the broker acknowledged.
struct PrivateRedis {
    dir: tempfile::TempDir,
    port: u16,
    child: Option<std::process::Child>,
}

impl PrivateRedis {
    fn start() -> Self {
        let mut this = Self {
            dir: tempfile::tempdir().expect("dir"),
            port: free_port(),
            child: None,
        };
        this.resume();
        this
    }

    fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    fn resume(&mut self) {
        let child = Command::new("redis-server")
            .args(["--port", &self.port.to_string(), "--bind", "127.0.0.1"])
            .args([
                "--save",
                "",
                "--appendonly",
                "yes",
                "--appendfsync",
                "always",
            ])
            .arg("--dir")
            .arg(self.dir.path())
            .stdout(std::process::Stdio::null())
            .spawn()
            .expect("redis-server runs (.ci/services.sh installs it)");
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(20);
        while std::net::TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            assert!(Instant::now() < deadline, "redis-server never listened");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Stops the server (SIGTERM: it finishes writing its log first, as a planned restart).
    fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            signal(&child, "-TERM");
            child.wait().expect("reaped");
        }
    }
}

impl Drop for PrivateRedis {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_redis_server_restarted_mid_stream_loses_no_entry() {
    const ENTRIES: i64 = 300;
    let dir = tempfile::tempdir().expect("dir");
    let mut redis = PrivateRedis::start();
    let receiver = Receiver::start(false, Duration::ZERO).await;
    let config = format!(
        "sources:\n  - {{type: redis, url: \"{}\", stream: orders, app: faults, claim_after: 1s}}\n",
        redis.url()
    );
    let node = start_node(&dir.path().join("node"), &config, &node_env(None));
    wait_healthy(&node.base).await;
    make_app(&node.base, &receiver, 8).await;

    let publish = |url: String, i: i64| async move {
        // Until the broker takes it: a publish refused while Redis is down is sent again.
        loop {
            let sent = async {
                let client = redis::Client::open(url.as_str())?;
                let mut conn = client.get_multiplexed_async_connection().await?;
                let payload = json!({"i": i}).to_string();
                redis::cmd("XADD")
                    .arg("orders")
                    .arg("*")
                    .arg("eventType")
                    .arg("fault.test")
                    .arg("payload")
                    .arg(payload)
                    .query_async::<String>(&mut conn)
                    .await
            };
            if sent.await.is_ok() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    };
    for i in 0..ENTRIES / 2 {
        publish(redis.url(), i).await;
    }
    receiver
        .wait_numbered(ENTRIES / 4, Duration::from_secs(30), "before the restart")
        .await;
    redis.stop();
    let restarting = tokio::spawn({
        let url = redis.url();
        async move {
            for i in ENTRIES / 2..ENTRIES {
                publish(url.clone(), i).await;
            }
        }
    });
    // The fault itself, not a wait: Redis stays down while the publisher retries.
    tokio::time::sleep(Duration::from_secs(2)).await;
    redis.resume();
    restarting.await.expect("publisher");
    let twice = receiver
        .wait_numbered(ENTRIES, Duration::from_secs(60), "redis restart")
        .await;
    eprintln!("redis restarted mid-stream: {ENTRIES} published, all delivered, {twice} twice");
    assert_eq!(
        twice, 0,
        "an entry stored before is recognised when read again"
    );
}

/// The machine's RabbitMQ (its restart is what this test is about: the faults suite is the
/// only one that stops it, and no other test of this binary uses it).
fn amqp_url() -> String {
    std::env::var("RUSTYHOOK_TEST_AMQP_URL")
        .unwrap_or_else(|_| "amqp://guest:guest@127.0.0.1:5672/%2f".into())
}

/// A publisher with confirms that reconnects after the broker went away.
#[derive(Default)]
struct AmqpPublisher {
    open: Option<(lapin::Connection, lapin::Channel)>,
}

impl AmqpPublisher {
    /// Publishes `body` persistently to `queue`, trying again until the broker confirms that
    /// the queue took it.
    async fn publish(&mut self, queue: &str, body: &[u8]) {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            match self.try_publish(queue, body).await {
                Ok(true) => return,
                Ok(false) => {}
                Err(_) => self.open = None,
            }
            assert!(Instant::now() < deadline, "RabbitMQ never took a message");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    async fn try_publish(&mut self, queue: &str, body: &[u8]) -> Result<bool, lapin::Error> {
        if self.open.is_none() {
            let conn =
                lapin::Connection::connect(&amqp_url(), lapin::ConnectionProperties::default())
                    .await?;
            let channel = conn.create_channel().await?;
            channel
                .confirm_select(lapin::options::ConfirmSelectOptions::default())
                .await?;
            self.open = Some((conn, channel));
        }
        let Some((_, channel)) = &self.open else {
            return Ok(false);
        };
        let confirm = channel
            .basic_publish(
                "".into(),
                queue.into(),
                lapin::options::BasicPublishOptions {
                    mandatory: true,
                    ..Default::default()
                },
                body,
                lapin::BasicProperties::default().with_delivery_mode(2),
            )
            .await?
            .await?;
        // Unroutable (the queue not declared yet) comes back with the message.
        Ok(confirm.is_ack() && confirm.take_message().is_none())
    }

    async fn delete(&mut self, queues: &[&str]) {
        if let Some((_, channel)) = &self.open {
            for q in queues {
                let _ = channel
                    .queue_delete((*q).into(), lapin::options::QueueDeleteOptions::default())
                    .await;
            }
        }
    }
}

fn rabbitmqctl(command: &str) {
    let ok = Command::new("rabbitmqctl")
        .args(["-q", command])
        .status()
        .expect("rabbitmqctl runs (.ci/services.sh installs RabbitMQ)")
        .success();
    assert!(ok, "rabbitmqctl {command} failed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_rabbitmq_broker_restarted_mid_stream_loses_no_message() {
    const MESSAGES: usize = 200;
    let dir = tempfile::tempdir().expect("dir");
    let queue = format!("rustyhook-faults-{:016x}", rand::random::<u64>());
    let receiver = Receiver::start(false, Duration::ZERO).await;
    let config = format!(
        "sources:\n  - {{type: rabbitmq, name: orders-in, url: '{}', queue: {queue}, app: faults, prefetch: 10}}\n",
        amqp_url()
    );
    let node = start_node(&dir.path().join("node"), &config, &node_env(None));
    wait_healthy(&node.base).await;
    make_app(&node.base, &receiver, 8).await;
    let mut publisher = AmqpPublisher::default();
    let message = |i: usize| {
        json!({"eventType": "fault.test", "eventId": format!("order-{i}"), "payload": {"i": i}})
            .to_string()
            .into_bytes()
    };
    for i in 0..MESSAGES / 2 {
        publisher.publish(&queue, &message(i)).await;
    }
    receiver
        .wait_numbered(
            (MESSAGES / 4) as i64,
            Duration::from_secs(30),
            "before the restart",
        )
        .await;
    tokio::task::spawn_blocking(|| {
        rabbitmqctl("stop_app");
        // The fault itself, not a wait: RabbitMQ stays down for a while.
        std::thread::sleep(Duration::from_secs(2));
        rabbitmqctl("start_app");
    })
    .await
    .expect("restart");
    for i in MESSAGES / 2..MESSAGES {
        publisher.publish(&queue, &message(i)).await;
    }
    let twice = receiver
        .wait_numbered(MESSAGES as i64, Duration::from_secs(90), "rabbitmq restart")
        .await;
    publisher
        .delete(&[queue.as_str(), format!("{queue}.dead").as_str()])
        .await;
    eprintln!("rabbitmq restarted mid-stream: {MESSAGES} published, all delivered, {twice} twice");
    assert_eq!(
        twice, 0,
        "a message stored before is recognised when delivered again"
    );
}
