//! Trigger options driven for real: a webhook on its own port with basic auth, source ranges, a
//! rate limit and a health path; cron after downtime and in a time zone; file removals and
//! renames, recursive or not. Each test asserts what the commands wrote, or that they wrote
//! nothing.

use std::time::Duration;

use chrono::{FixedOffset, Timelike, Utc};
use reqwest::StatusCode;
use rustyhook_core::settings::Settings;

use crate::handlers::{lines, spawn, wait_file, with_handlers};
use crate::harness::{TestApp, database};
use crate::pgdb::TempDatabase;
use crate::wait::throughout;

/// A port free on loopback right now.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}

#[tokio::test]
async fn a_webhook_on_its_own_port_checks_basic_auth_and_answers_its_health_path() {
    let port = free_port();
    let (app, dir) = spawn(&format!(
        r#"
handlers:
  - type: Webhook
    name: Build
    options:
      type: http
      port: {port}
      path: /build
      health_path: /healthz
      basic_auth: {{username: ci, password: s3cret}}
      main_listener: true
    shell: 'cat >> {{dir}}/out; echo >> {{dir}}/out'
"#
    ))
    .await;
    let out = dir.path().join("out");
    let own = format!("http://127.0.0.1:{port}");
    let health = app
        .client
        .get(format!("{own}/healthz"))
        .send()
        .await
        .expect("health request");
    assert_eq!(health.status(), StatusCode::OK);

    let refused = app
        .client
        .post(format!("{own}/build"))
        .basic_auth("ci", Some("wrong"))
        .body("nope")
        .send()
        .await
        .expect("request");
    assert_eq!(refused.status(), StatusCode::UNAUTHORIZED);
    let anonymous = app
        .client
        .post(format!("{own}/build"))
        .body("nope")
        .send()
        .await
        .expect("request");
    assert_eq!(anonymous.status(), StatusCode::UNAUTHORIZED);

    let accepted = app
        .client
        .post(format!("{own}/build"))
        .basic_auth("ci", Some("s3cret"))
        .body("on its own port")
        .send()
        .await
        .expect("request");
    assert_eq!(accepted.status(), StatusCode::ACCEPTED);
    // With `main_listener: true`, the same handler is also mounted on the main listener.
    let main = app
        .client
        .post(format!("{}/hooks/build", app.base))
        .basic_auth("ci", Some("s3cret"))
        .body("on the main listener")
        .send()
        .await
        .expect("request");
    assert_eq!(main.status(), StatusCode::ACCEPTED);

    let text = wait_file(&out, |t| t.lines().count() == 2).await;
    let mut got: Vec<&str> = text.lines().collect();
    got.sort_unstable();
    assert_eq!(got, ["on its own port", "on the main listener"]);
}

#[tokio::test]
async fn a_webhook_refuses_addresses_outside_its_ranges_and_runs_nothing() {
    let (app, dir) = spawn(
        r#"
handlers:
  - type: Webhook
    name: Office only
    options: {type: http, allowed_ips: [10.0.0.0/8, "192.168.1.7"]}
    shell: 'touch {dir}/office'
  - type: Webhook
    name: Local
    options: {type: http, allowed_ips: [127.0.0.0/8]}
    shell: 'touch {dir}/local'
"#,
    )
    .await;
    let send = |id: &'static str| {
        let req = app
            .client
            .post(format!("{}/hooks/{id}", app.base))
            .body("{}");
        async move { req.send().await.expect("request").status() }
    };
    assert_eq!(send("office-only").await, StatusCode::FORBIDDEN);
    assert_eq!(send("local").await, StatusCode::ACCEPTED);
    wait_file(&dir.path().join("local"), |_| true).await;
    // A run is stored before its request is answered: none means the command never runs.
    assert!(app.settled_runs("office-only").await.is_empty());
    assert!(
        !dir.path().join("office").exists(),
        "a refused address ran the command"
    );
}

#[tokio::test]
async fn a_webhook_over_its_rate_limit_gets_429_with_retry_after_and_runs_only_what_it_accepted() {
    let (app, dir) = spawn(
        r#"
handlers:
  - type: Webhook
    name: Limited
    options: {type: http, rate_limit: 2}
    shell: 'echo run >> {dir}/out'
"#,
    )
    .await;
    let mut accepted = 0;
    let mut limited = 0;
    for _ in 0..8 {
        let resp = app
            .client
            .post(format!("{}/hooks/limited", app.base))
            .body("{}")
            .send()
            .await
            .expect("request");
        match resp.status() {
            StatusCode::ACCEPTED => accepted += 1,
            StatusCode::TOO_MANY_REQUESTS => {
                let after: u64 = resp.headers()["retry-after"]
                    .to_str()
                    .expect("ascii")
                    .parse()
                    .expect("whole seconds");
                assert!(after >= 1, "Retry-After {after}");
                limited += 1;
            }
            other => panic!("unexpected {other}"),
        }
    }
    assert!(
        accepted >= 1 && limited >= 1,
        "{accepted} accepted, {limited} limited"
    );
    let out = dir.path().join("out");
    // A run is stored before its request is answered: once the accepted ones finished, no
    // other can start.
    let runs = app.settled_runs("limited").await;
    assert_eq!(runs.len(), accepted, "a limited request queued a run");
    assert_eq!(lines(&out), accepted, "a limited request ran the command");
}

/// Settings for `yaml` over a data directory (and database) that already saw a cron tick ten
/// minutes ago.
async fn after_downtime(
    yaml: &str,
    files: &std::path::Path,
) -> (Settings, tempfile::TempDir, Option<TempDatabase>) {
    let data = tempfile::tempdir().expect("temp dir");
    let db = database().await;
    let mut s = with_handlers(yaml, files);
    s.data_dir = data.path().to_path_buf();
    s.database.url = db.as_ref().map(|d| d.url.clone());
    let store = rustyhook::bootstrap::open_store(
        &s,
        data.path(),
        rustyhook::bootstrap::encryption_key(data.path()).expect("key"),
    )
    .await
    .expect("store opens");
    let last = (Utc::now() - chrono::Duration::minutes(10)).to_rfc3339();
    for id in ["catch-up", "skipper"] {
        store
            .set_meta(&format!("cron.last_tick.{id}"), &last)
            .await
            .expect("seeded");
    }
    drop(store);
    (s, data, db)
}

#[tokio::test]
async fn a_tick_missed_while_stopped_runs_once_at_start_with_run_once_and_not_with_skip() {
    let files = tempfile::tempdir().expect("temp dir");
    // Daily, at a time five minutes ago: missed since the last tick ten minutes ago, and not
    // due again while the test runs.
    let missed = Utc::now() - chrono::Duration::minutes(5);
    let schedule = format!("0 {} {} * * *", missed.minute(), missed.hour());
    let yaml = r#"
handlers:
  - type: Cron
    name: Catch up
    options: {cron_expression: "SCHEDULE", misfire: run_once}
    shell: 'echo "$RUSTYHOOK_EVENT_TYPE $RUSTYHOOK_CRON_TIME" >> {dir}/catch-up'
  - type: Cron
    name: Skipper
    options: {cron_expression: "SCHEDULE"}
    shell: 'echo ran >> {dir}/skipper'
"#
    .replace("SCHEDULE", &schedule);
    let (s, data, db) = after_downtime(&yaml, files.path()).await;
    let _app = TestApp::spawn_on(s, data, db).await;
    let text = wait_file(&files.path().join("catch-up"), |t| t.ends_with('\n')).await;
    // The point: the missed tick runs once, and the skipper's not at all. The scheduler looks
    // again every second at most; half of one shows a second pass at start doing either.
    throughout(
        "one catch-up run and none skipped",
        Duration::from_millis(500),
        async || {
            lines(&files.path().join("catch-up")) == 1 && !files.path().join("skipper").exists()
        },
    )
    .await;
    // The run is the missed tick's, five minutes ago.
    let stamp = text.trim().split(' ').nth(1).expect("a tick time");
    let tick = chrono::DateTime::parse_from_rfc3339(stamp).expect("rfc3339");
    assert_eq!(
        (tick.hour(), tick.minute(), tick.second()),
        (missed.hour(), missed.minute(), 0),
        "{stamp}"
    );
    assert!(
        !files.path().join("skipper").exists(),
        "misfire: skip ran a missed tick"
    );
}

#[tokio::test]
async fn a_cron_schedule_with_a_timezone_fires_at_that_zone_s_wall_clock_time() {
    // Asia/Kolkata is UTC+05:30 all year, so its wall clock is half an hour off UTC's minutes.
    let kolkata = FixedOffset::east_opt(5 * 3600 + 1800).expect("offset");
    // The schedule names this minute: near its end, wait for the next one to begin.
    let second = Utc::now().second();
    if second > 55 {
        tokio::time::sleep(Duration::from_secs(u64::from(60 - second))).await;
    }
    let local = Utc::now().with_timezone(&kolkata);
    let schedule = format!("* {} {} * * *", local.minute(), local.hour());
    let (_app, dir) = spawn(&format!(
        r#"
handlers:
  - type: Cron
    name: Zoned
    options: {{cron_expression: "{schedule}", timezone: Asia/Kolkata}}
    shell: 'echo tick >> {{dir}}/zoned'
  - type: Cron
    name: Utc
    options: {{cron_expression: "{schedule}"}}
    shell: 'echo tick >> {{dir}}/utc'
"#
    ))
    .await;
    wait_file(&dir.path().join("zoned"), |t| !t.is_empty()).await;
    assert!(
        !dir.path().join("utc").exists(),
        "the same fields read in UTC must not fire now"
    );
}

#[tokio::test]
async fn removals_and_renames_run_the_handler_and_a_non_recursive_watch_ignores_sub_folders() {
    let files = tempfile::tempdir().expect("temp dir");
    let watched = files.path().join("watched");
    std::fs::create_dir_all(watched.join("sub")).expect("dirs");
    std::fs::write(watched.join("old.txt"), "x").expect("file");
    std::fs::write(watched.join("gone.txt"), "x").expect("file");
    std::fs::write(watched.join("sub/deep.txt"), "x").expect("file");
    let yaml = format!(
        r#"
handlers:
  - type: Filesystem
    name: Removals
    options: {{path: {w}, event_type: [remove, rename], recursive: false, debounce_ms: 200}}
    shell: 'echo "$RUSTYHOOK_EVENT_TYPE $RUSTYHOOK_CHANGES" >> {{dir}}/kinds; for f in $RUSTYHOOK_FILES; do basename "$f"; done >> {{dir}}/paths'
"#,
        w = watched.display()
    );
    let _app = TestApp::spawn_with(with_handlers(&yaml, files.path())).await;
    let (kinds, paths) = (files.path().join("kinds"), files.path().join("paths"));
    // Kept: the watcher says nothing once it watches, and a probe would be a removal or a
    // rename that this test counts. A new file is neither removal nor rename.
    tokio::time::sleep(Duration::from_millis(500)).await;
    std::fs::write(watched.join("new.txt"), "x").expect("file");
    std::fs::remove_file(watched.join("sub/deep.txt")).expect("remove");
    // The point: neither change runs the handler. Either would within the 200 ms debounce
    // and the start of the command.
    throughout(
        "no run for a create or a sub-folder change",
        Duration::from_millis(400),
        async || !kinds.exists(),
    )
    .await;

    std::fs::remove_file(watched.join("gone.txt")).expect("remove");
    wait_file(&kinds, |t| t.lines().count() == 1).await;
    std::fs::rename(watched.join("old.txt"), watched.join("renamed.txt")).expect("rename");
    let text = wait_file(&kinds, |t| t.lines().count() == 2).await;
    assert_eq!(text, "remove remove\nrename rename\n");
    // The command writes the kinds, then the paths: wait for the second run's paths too.
    let names = wait_file(&paths, |t| t.lines().count() >= 3).await;
    let names: Vec<&str> = names.lines().collect();
    assert_eq!(names[0], "gone.txt");
    assert!(
        names[1..].contains(&"old.txt") && names[1..].contains(&"renamed.txt"),
        "{names:?}"
    );
}
