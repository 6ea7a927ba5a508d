//! What callers of a handler can and cannot do to the command it runs (issue 13): names they
//! control never become arbitrary environment variables, substituted values are not expanded
//! again.

use http::Method;
use reqwest::StatusCode;
use serde_json::json;

use crate::handlers::{spawn, wait_file};

#[tokio::test]
async fn run_variables_reach_the_command_only_under_the_rustyhook_var_prefix() {
    let (app, dir) = spawn(
        r#"
handlers:
  - type: Custom
    name: Build
    shell_program: bash
    shell: '/usr/bin/env | /usr/bin/grep -E "^(RUSTYHOOK_VAR_|BASH_ENV|LD_PRELOAD|GIT_CONFIG)" | /usr/bin/sort > {dir}/env; /usr/bin/cat > /dev/null'
"#,
    )
    .await;
    let pwned = dir.path().join("pwned");
    // BASH_ENV=/dev/stdin made bash run the payload as a script before the command.
    let (status, run) = app
        .call(
            Method::POST,
            "/api/v1/handler/build/run",
            Some(json!({
                "payload": format!("touch {}\n", pwned.display()),
                "vars": {
                    "BASH_ENV": "/dev/stdin",
                    "PATH": "/nonexistent",
                    "LD_PRELOAD": "/nonexistent.so",
                    "GIT_CONFIG_COUNT": "1",
                }
            })),
        )
        .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{run}");
    assert_eq!(run["event"]["vars"]["RUSTYHOOK_VAR_BASH_ENV"], "/dev/stdin");
    let env = wait_file(&dir.path().join("env"), |t| !t.is_empty()).await;
    assert_eq!(
        env,
        "RUSTYHOOK_VAR_BASH_ENV=/dev/stdin\nRUSTYHOOK_VAR_GIT_CONFIG_COUNT=1\n\
         RUSTYHOOK_VAR_LD_PRELOAD=/nonexistent.so\nRUSTYHOOK_VAR_PATH=/nonexistent\n"
    );
    // The run has finished: had bash run the payload, it would have done so before the command.
    app.settled_runs("build").await;
    assert!(!pwned.exists(), "the payload ran as a script");
}

#[tokio::test]
async fn header_names_become_variable_names_of_letters_digits_and_underscores_only() {
    let (app, dir) = spawn(
        r#"
handlers:
  - type: Webhook
    name: Hook
    shell: 'env | grep "^RUSTYHOOK_HEADER_X_" | sort > {dir}/env'
"#,
    )
    .await;
    let resp = app
        .client
        .post(format!("{}/hooks/hook", app.base))
        .header("x.odd~name!", "1")
        .header("x-plain", "2")
        .body("{}")
        .send()
        .await
        .expect("hook");
    assert_eq!(resp.status(), StatusCode::ACCEPTED);
    let env = wait_file(&dir.path().join("env"), |t| t.lines().count() == 2).await;
    assert_eq!(
        env,
        "RUSTYHOOK_HEADER_X_ODD_NAME_=1\nRUSTYHOOK_HEADER_X_PLAIN=2\n"
    );
}

#[tokio::test]
async fn a_substituted_header_value_is_not_expanded_a_second_time() {
    let (app, _dir) = spawn(
        r#"
handlers:
  - type: Webhook
    name: Echo
    options: {response: wait}
    env: {ZZ_SECRET: hunter2}
    routes:
      - pattern: "*"
        shell: ["echo", "arg=$RUSTYHOOK_HEADER_X_NAME"]
"#,
    )
    .await;
    let resp = app
        .client
        .post(format!("{}/hooks/echo", app.base))
        .header("x-name", "leak=$ZZ_SECRET ${ZZ_SECRET}")
        .body("{}")
        .send()
        .await
        .expect("hook");
    assert_eq!(resp.status(), StatusCode::OK);
    let out = resp.text().await.expect("body");
    assert!(!out.contains("hunter2"), "the secret leaked: {out}");
    assert!(
        out.contains("arg=leak=$ZZ_SECRET ${ZZ_SECRET}"),
        "the header's text should arrive as it was sent: {out}"
    );
}
