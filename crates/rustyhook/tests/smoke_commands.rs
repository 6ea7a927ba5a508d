//! Smoke tests of the real binary about what handlers' commands get of the server (issue 13):
//! never its settings or secrets, and with `inherit_env: false` only what is passed through.

#[path = "support/binary.rs"]
#[allow(dead_code)]
mod binary;
#[path = "e2e/pgdb.rs"]
mod pgdb;

use base64::Engine;
use binary::{free_port, start, wait_healthy};
use pgdb::TempDatabase;

const TOKEN: &str = "smoke-admin-token-0123456789";
const DB_PASSWORD: &str = "db-pass-5f2a9c1e";

async fn hook(base: &str, id: &str) -> String {
    let resp = reqwest::Client::new()
        .post(format!("{base}/hooks/{id}"))
        .body("{}")
        .send()
        .await
        .expect("hook");
    assert_eq!(resp.status(), 200, "POST /hooks/{id}");
    resp.text().await.expect("body")
}

#[tokio::test(flavor = "multi_thread")]
async fn a_command_never_sees_the_servers_token_key_or_database_password() {
    let db = TempDatabase::create().await;
    // PostgreSQL trusts local connections here: the password is only there to be leaked.
    let db_url = db.url.replacen(
        "postgres://postgres@",
        &format!("postgres://postgres:{DB_PASSWORD}@"),
        1,
    );
    assert!(db_url.contains(DB_PASSWORD), "{db_url}");
    let key = base64::engine::general_purpose::STANDARD.encode([7u8; 32]);
    let dir = tempfile::tempdir().expect("temp dir");
    std::fs::write(
        dir.path().join("rustyhook.yaml"),
        "handlers:
  - type: Webhook
    name: dump
    options: {response: wait}
    shell: env
  - type: Webhook
    name: clean
    options: {response: wait}
    inherit_env: false
    env_passthrough: [PATH, PGPASSWORD]
    env: {OWN: mine}
    shell: env
  - type: Webhook
    name: guarded
    options: {auth_token: hook-token-abcdef123}
    shell: 'true'
",
    )
    .expect("config");
    let port = free_port();
    let server = start(
        dir.path(),
        port,
        &[
            ("RUSTYHOOK_ADMIN_TOKEN", TOKEN),
            ("RUSTYHOOK_SECRET_KEY", &key),
            ("RUSTYHOOK_DATABASE_URL", &db_url),
            ("PGPASSWORD", DB_PASSWORD),
            ("APP_DATABASE_URL", &db_url),
            ("HOOK_TOKEN_COPY", "hook-token-abcdef123"),
            ("ZZ_PLAIN", "visible"),
        ],
    );
    wait_healthy(&server.base).await;

    let env = hook(&server.base, "dump").await;
    for secret in [
        TOKEN,
        &key,
        DB_PASSWORD,
        "RUSTYHOOK_DATABASE_URL",
        "RUSTYHOOK_LISTEN",
        "hook-token-abcdef123",
    ] {
        assert!(
            !env.contains(secret),
            "{secret} reached the command:\n{env}"
        );
    }
    assert!(env.contains("ZZ_PLAIN=visible"), "{env}");
    assert!(env.contains("RUSTYHOOK_HANDLER=dump"), "{env}");

    let env = hook(&server.base, "clean").await;
    assert!(env.contains("PATH="), "{env}");
    assert!(env.contains("OWN=mine"), "{env}");
    assert!(env.contains("RUSTYHOOK_HANDLER=clean"), "{env}");
    for absent in ["ZZ_PLAIN", "HOME=", DB_PASSWORD, TOKEN] {
        assert!(
            !env.contains(absent),
            "{absent} reached the command:\n{env}"
        );
    }
}
