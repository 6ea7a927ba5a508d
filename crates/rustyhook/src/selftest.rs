//! `rustyhook test`: runs each handler's `tests:` cases against its command, without a server
//! or a store, and prints a line per case.

use std::collections::BTreeMap;
use std::process::ExitCode;
use std::time::Duration;

use rustyhook_core::handlers::{Handler, TestCase};
use rustyhook_core::outcome::OutcomeCode;
use rustyhook_core::run::{Event, Run, RunStep, env_name_part};
use rustyhook_core::time::now_millis;
use rustyhook_engine::automation::execute::{command_env, environment};
use rustyhook_engine::targets::child_env::BaseEnv;
use rustyhook_engine::targets::command::{self, CommandSpec};

use crate::config::Config;

/// Runs every case; exit code 1 if any failed, 0 otherwise (also when there are none).
pub async fn run(config: &Config) -> ExitCode {
    let (mut passed, mut failed) = (0, 0);
    let base = crate::bootstrap::child_env(&config.settings);
    for h in config.handlers.iter() {
        for case in &h.tests {
            match run_case(h, case, &base).await {
                Ok(()) => {
                    passed += 1;
                    println!("PASS  {} / {}", h.name, case.name);
                }
                Err(why) => {
                    failed += 1;
                    println!("FAIL  {} / {}: {why}", h.name, case.name);
                }
            }
        }
    }
    println!("{passed} passed, {failed} failed");
    if failed > 0 {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}

async fn run_case(h: &Handler, case: &TestCase, base: &BaseEnv) -> Result<(), String> {
    let Some(cmd) = &h.action.command else {
        return Err("the handler has no command to test".into());
    };
    let input = &case.input;
    let mut vars: BTreeMap<String, String> = BTreeMap::new();
    if let Some(m) = &input.method {
        vars.insert("RUSTYHOOK_HTTP_METHOD".into(), m.to_ascii_uppercase());
    }
    for (k, v) in &input.headers {
        vars.insert(
            format!("RUSTYHOOK_HEADER_{}", env_name_part(k, true)),
            v.clone(),
        );
    }
    let event = Event {
        id: format!("test:{}", case.name),
        event_type: h.trigger.kind().as_str().into(),
        payload: input.body.clone().unwrap_or_default(),
        vars,
        files: input.file.iter().cloned().collect(),
    };
    let run = Run::new(&h.id, RunStep::Main, event, "test", None, now_millis());
    let mut env = environment(h, &run, &[]);
    // The case's own `env` is the operator's, like the handler's: set as written.
    env.extend(input.env.clone());
    let result = command::run(CommandSpec {
        command: cmd.clone(),
        shell_program: h.action.shell_program.clone(),
        working_dir: h.action.working_dir.clone(),
        timeout: h.action.timeout.min(Duration::from_secs(300)),
        env: command_env(base, h, &env),
        stdin: run.event.payload.into_bytes(),
        max_output: 64 * 1024,
        ledger: None,
    })
    .await;
    if result.outcome == OutcomeCode::Spawn || result.outcome == OutcomeCode::Timeout {
        return Err(result.output);
    }
    let want = case.expect.exit_code.unwrap_or(0);
    if result.exit_code != Some(want) {
        return Err(format!(
            "exit code {:?}, expected {want}; output: {}",
            result.exit_code,
            result.output.trim()
        ));
    }
    if let Some(text) = &case.expect.output_contains
        && !result.output.contains(text.as_str())
    {
        return Err(format!(
            "output does not contain {text:?}; output: {}",
            result.output.trim()
        ));
    }
    if let Some(text) = &case.expect.output_not_contains
        && result.output.contains(text.as_str())
    {
        return Err(format!("output contains {text:?}"));
    }
    Ok(())
}
