//! Starts a server for one test and talks to its API.

use std::time::Duration;

use reqwest::{Method, StatusCode};
use rustyhook::server::Application;
use rustyhook_core::retry::RetryPolicy;
use rustyhook_core::settings::Settings;
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

use crate::pgdb::TempDatabase;
use crate::wait::until;

pub const TOKEN: &str = "test-admin-token-0123456789";

/// How long a test waits for deliveries to finish.
const SETTLE: Duration = Duration::from_secs(10);

/// How long a test watches for something that must not happen in the engine and that no
/// stored state rules out (a dead delivery tried again, a repeated message making a run):
/// four of the dispatcher's polls (`poll_interval` below), in which it would have shown up.
pub const QUIET: Duration = Duration::from_millis(200);

pub struct TestApp {
    pub base: String,
    pub client: reqwest::Client,
    pub stop: CancellationToken,
    running: Option<tokio::task::JoinHandle<anyhow::Result<()>>>,
    /// Where the server keeps its data (the SQLite file and its lock).
    data_dir: std::path::PathBuf,
    _dir: Option<tempfile::TempDir>,
    /// Declared last: dropped after the server is told to stop.
    _db: Option<TempDatabase>,
}

/// Whether this test binary runs on PostgreSQL (the `e2e_postgres` target) or on SQLite.
pub fn on_postgres() -> bool {
    env!("CARGO_CRATE_NAME") == "e2e_postgres"
}

/// A fresh database when this binary runs on PostgreSQL.
pub async fn database() -> Option<TempDatabase> {
    if on_postgres() {
        Some(TempDatabase::create().await)
    } else {
        None
    }
}

/// Settings for a test: loopback allowed, short retries, fast polling.
pub fn settings() -> Settings {
    let mut s = Settings {
        listen: "127.0.0.1:0".parse().expect("valid address"),
        ..Settings::default()
    };
    s.auth.admin_token = Some(TOKEN.into());
    s.delivery.allow_private_networks = true;
    s.delivery.poll_interval = Duration::from_millis(50);
    s.delivery.request_timeout = Duration::from_secs(2);
    s.retry.schedule = RetryPolicy::parse_list("100ms,200ms").expect("valid");
    s.database.fast_unsafe_sync = true;
    s
}

impl TestApp {
    pub async fn spawn() -> Self {
        Self::spawn_with(settings()).await
    }

    pub async fn spawn_with(settings: Settings) -> Self {
        Self::spawn_on(settings, tempfile::tempdir().expect("temp dir"), None).await
    }

    /// Starts a server on a data directory and, on PostgreSQL, a database the test prepared (for
    /// state left by a "previous run"); a fresh database when `None`.
    pub async fn spawn_on(
        mut settings: Settings,
        dir: tempfile::TempDir,
        db: Option<TempDatabase>,
    ) -> Self {
        let db = match db {
            Some(db) => Some(db),
            // A test that names its own database keeps it.
            None if settings.database.url.is_some() => None,
            None => database().await,
        };
        if let Some(db) = &db {
            settings.database.url = Some(db.url.clone());
        }
        settings.data_dir = dir.path().to_path_buf();
        Self::start(settings, Some(dir), db).await
    }

    /// Starts a server on a data directory (and database) the test keeps, so a second server
    /// can start on them after this one stops.
    pub async fn spawn_kept(mut settings: Settings, dir: &std::path::Path) -> Self {
        settings.data_dir = dir.to_path_buf();
        // A server stopped with `shut_down` has let go of the database.
        Self::start(settings, None, None).await
    }

    async fn start(
        settings: Settings,
        dir: Option<tempfile::TempDir>,
        db: Option<TempDatabase>,
    ) -> Self {
        let data_dir = settings.data_dir.clone();
        let app = Application::build(settings, None)
            .await
            .expect("server builds");
        let base = format!("http://{}", app.local_addr());
        let stop = CancellationToken::new();
        let token = stop.clone();
        let running = tokio::spawn(async move { app.run_until_stopped(token).await });
        Self {
            base,
            client: reqwest::Client::new(),
            stop,
            running: Some(running),
            data_dir,
            _dir: dir,
            _db: db,
        }
    }

    /// The PostgreSQL database's URL, when on PostgreSQL.
    pub fn database_url(&self) -> Option<String> {
        self._db.as_ref().map(|db| db.url.clone())
    }

    /// Stops the server and waits until it has let go of its store (its sources and attempts
    /// in flight finished), handing back its data directory and database to restart on with
    /// [`Self::spawn_on`].
    pub async fn shut_down(mut self) -> (tempfile::TempDir, Option<TempDatabase>) {
        self.stop.cancel();
        if let Some(running) = self.running.take() {
            running
                .await
                .expect("the server task ends")
                .expect("the server stops cleanly");
        }
        // A task the server spawned (leadership) lets go of the store a moment after the server
        // returns: wait until the SQLite lock is free, so the next server can open the database.
        let lock = self.data_dir.join("rustyhook.lock");
        until(
            "the SQLite lock to be free",
            Duration::from_secs(10),
            async || match std::fs::File::options().write(true).open(&lock) {
                Ok(file) => file.try_lock().map_err(|e| e.to_string()),
                Err(_) => Ok(()),
            },
        )
        .await;
        let dir = self
            ._dir
            .take()
            .unwrap_or_else(|| tempfile::tempdir().expect("temp dir"));
        (dir, self._db.take())
    }

    /// Sends a request with the admin token; returns status and JSON body (Null if empty).
    pub async fn call(
        &self,
        method: Method,
        path: &str,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        self.call_with(method, path, body, &[]).await
    }

    pub async fn call_with(
        &self,
        method: Method,
        path: &str,
        body: Option<Value>,
        headers: &[(&str, &str)],
    ) -> (StatusCode, Value) {
        self.call_as_with(TOKEN, method, path, body, headers).await
    }

    /// Sends a request with `token` instead of the admin token.
    pub async fn call_as(
        &self,
        token: &str,
        method: Method,
        path: &str,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        self.call_as_with(token, method, path, body, &[]).await
    }

    async fn call_as_with(
        &self,
        token: &str,
        method: Method,
        path: &str,
        body: Option<Value>,
        headers: &[(&str, &str)],
    ) -> (StatusCode, Value) {
        let mut req = self
            .client
            .request(method, format!("{}{path}", self.base))
            .bearer_auth(token);
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        if let Some(b) = body {
            req = req.json(&b);
        }
        let resp = req.send().await.expect("request is sent");
        let status = resp.status();
        let text = resp.text().await.expect("body is read");
        let json = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap_or(Value::String(text))
        };
        (status, json)
    }

    pub async fn get(&self, path: &str) -> Value {
        let (status, body) = self.call(Method::GET, path, None).await;
        assert_eq!(status, StatusCode::OK, "GET {path}: {body}");
        body
    }

    pub async fn post(&self, path: &str, body: Value) -> Value {
        let (status, out) = self.call(Method::POST, path, Some(body)).await;
        assert!(status.is_success(), "POST {path}: {status} {out}");
        out
    }

    pub async fn create_app(&self, uid: &str) -> Value {
        self.post("/api/v1/app", json!({"name": uid, "uid": uid}))
            .await
    }

    pub async fn create_endpoint(&self, app: &str, body: Value) -> Value {
        self.post(&format!("/api/v1/app/{app}/endpoint"), body)
            .await
    }

    pub async fn send(&self, app: &str, event_type: &str, payload: Value) -> Value {
        self.post(
            &format!("/api/v1/app/{app}/msg"),
            json!({"eventType": event_type, "payload": payload}),
        )
        .await
    }

    /// Polls attempts of a message until `done` says so, or panics after `timeout`.
    pub async fn wait_attempts(
        &self,
        app: &str,
        msg_id: &str,
        timeout: Duration,
        done: impl Fn(&[Value]) -> bool,
    ) -> Vec<Value> {
        let path = format!("/api/v1/app/{app}/attempt/msg/{msg_id}");
        until(&format!("the attempts of {msg_id}"), timeout, async || {
            let list = self.get(&path).await;
            let items = list["data"].as_array().cloned().unwrap_or_default();
            if done(&items) { Ok(items) } else { Err(items) }
        })
        .await
    }

    /// Waits until none of an endpoint's deliveries is pending or in flight, and returns its
    /// stats (`success`, `fail`, `canceled`, …). A message's deliveries are stored with it, so a
    /// settled endpoint gets no request until the next message: a test checks that nothing
    /// else arrives there exactly, with no window to wait through.
    pub async fn settled(&self, app: &str, endpoint_id: &str) -> Value {
        let path = format!("/api/v1/app/{app}/endpoint/{endpoint_id}/stats");
        until("the endpoint's deliveries to settle", SETTLE, async || {
            let stats = self.get(&path).await;
            if stats["pending"] == 0 && stats["sending"] == 0 {
                Ok(stats)
            } else {
                Err(stats)
            }
        })
        .await
    }

    /// [`Self::settled`] for every endpoint of `app`.
    pub async fn settled_app(&self, app: &str) {
        let listed = self.get(&format!("/api/v1/app/{app}/endpoint")).await;
        for ep in listed["data"].as_array().expect("a list of endpoints") {
            self.settled(app, ep["id"].as_str().expect("id")).await;
        }
    }

    /// Waits until every run of `handler` has finished (none queued, running or due again),
    /// and returns them. A run is stored before its trigger is answered, so once they are
    /// settled no command runs until the next trigger: a test checks that a refused request
    /// or a duplicate ran nothing exactly, with no window to wait through.
    pub async fn settled_runs(&self, handler: &str) -> Vec<Value> {
        let path = format!("/api/v1/handler/{handler}/run");
        until(
            &format!("the runs of {handler} to finish"),
            SETTLE,
            async || {
                let listed = self.get(&path).await;
                let runs = listed["data"].as_array().cloned().unwrap_or_default();
                let busy = |r: &Value| {
                    matches!(r["status"].as_str(), Some("pending" | "running"))
                        || !r["nextAttempt"].is_null()
                };
                if runs.iter().any(busy) {
                    Err(listed)
                } else {
                    Ok(runs)
                }
            },
        )
        .await
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}
