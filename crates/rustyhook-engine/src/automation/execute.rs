//! One attempt of one run: wait for dependencies, run the step's command (and routes, and the
//! publish), then turn the result into the run's next state and what follows from it, for the
//! dispatcher to record.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use rustyhook_core::handlers::{Command, Handler, HandlerSet, OnError, RetryPolicy, RouteAction};
use rustyhook_core::id::AttemptId;
use rustyhook_core::model::DeliveryStatus;
use rustyhook_core::outcome::OutcomeCode;
use rustyhook_core::run::{Event, Run, RunAttempt, RunStep, env_name_of};
use rustyhook_core::time::{Millis, now_millis};
use rustyhook_store::{AttemptRecord, Attempted, Lease, Store};

use super::Waiters;
use super::substitute::substitute;
use crate::dispatcher::{Tried, decide};
use crate::ingest::{Ingest, Publication};
use crate::targets::child_env::BaseEnv;
use crate::targets::command::{self, CommandResult, CommandSpec};
use crate::targets::groups::GroupLedger;

/// How long a run waiting on a dependency sleeps before looking again.
const DEPENDENCY_WAIT: Duration = Duration::from_millis(250);
/// The longest value passed in an environment variable (`MESSAGE_BODY`, previous output).
const MAX_ENV_VALUE: usize = 32 * 1024;

/// What a handler step needs besides the handlers themselves.
#[derive(Debug, Clone)]
pub struct ExecutorConfig {
    /// What commands and plugins start from: the server's environment without its secrets.
    pub base_env: Arc<BaseEnv>,
    /// Output beyond this is dropped before it is stored.
    pub max_output_bytes: usize,
    /// The largest payload a `publish:` step may turn into a message.
    pub max_payload_bytes: usize,
    /// Where running commands' process groups are written down (see [`GroupLedger`]); `None`
    /// leaves commands orphaned if the server is killed.
    pub ledger: Option<Arc<GroupLedger>>,
}

/// Runs handler steps for the dispatcher: a handler's lane hands it each run whose turn came.
pub struct Executor {
    store: Arc<dyn Store>,
    handlers: HandlerSet,
    config: ExecutorConfig,
    waiters: Waiters,
}

/// What an attempt of a run came to.
pub(crate) enum Step {
    /// It waits on a dependency: give it back, due again at `until`, without an attempt.
    Wait {
        /// When to look again.
        until: Millis,
    },
    /// It ran (or could not): record this, then tell waiters about `run` as it now is.
    Done {
        /// The attempt and the run's next state, with what follows.
        record: Box<AttemptRecord>,
        /// The run as the record leaves it.
        run: Box<Run>,
    },
}

/// A step's result: the command's, plus handlers the routes forwarded to.
pub(crate) struct StepResult {
    pub(crate) result: CommandResult,
    pub(crate) forwards: Vec<(String, Event)>,
}

impl Executor {
    /// An executor of `handlers`' steps over `store`.
    pub fn new(store: Arc<dyn Store>, handlers: HandlerSet, config: ExecutorConfig) -> Self {
        Self {
            store,
            handlers,
            config,
            waiters: Waiters::default(),
        }
    }

    /// The configured handlers.
    pub fn handlers(&self) -> &HandlerSet {
        &self.handlers
    }

    /// A handler by id.
    pub(crate) fn handler(&self, id: &str) -> Option<&Handler> {
        self.handlers.get(id).map(|h| h.as_ref())
    }

    /// What child processes start from.
    pub(crate) fn base_env(&self) -> &BaseEnv {
        &self.config.base_env
    }

    pub(crate) fn waiters(&self) -> &Waiters {
        &self.waiters
    }

    /// Tells whoever waits on `run` (on this node) how its attempt ended, once it is recorded.
    pub(crate) fn finished(&self, run: &Run, attempt: &RunAttempt) {
        self.waiters.finished(run, attempt);
    }

    /// The largest payload a `publish:` step may turn into a message.
    pub(crate) fn max_payload_bytes(&self) -> usize {
        self.config.max_payload_bytes
    }

    /// One attempt of `run`, held under `lease`; a `publish:` step creates its message through
    /// `ingest`.
    pub(crate) async fn attempt(&self, run: Run, lease: &Lease, ingest: &Ingest) -> Step {
        let Some(handler) = self.handlers.get(&run.handler_id) else {
            let result = CommandResult {
                outcome: OutcomeCode::Spawn,
                exit_code: None,
                output: format!(
                    "handler {:?} is no longer configured; the run is canceled",
                    run.handler_id
                ),
                took: Duration::ZERO,
            };
            return done(
                run,
                lease,
                result,
                DeliveryStatus::Canceled,
                None,
                Vec::new(),
                Vec::new(),
            );
        };
        if run.step == RunStep::Main && !handler.depends_on.is_empty() {
            let busy = self
                .store
                .handlers_busy(handler.depends_on.clone(), &run.id)
                .await
                .unwrap_or(true);
            if busy {
                return Step::Wait {
                    until: now_millis() + DEPENDENCY_WAIT.as_millis() as i64,
                };
            }
        }
        if let Err(e) = self.store.start_run(&run.id, now_millis()).await {
            tracing::warn!(run_id = %run.id, error = %e, "could not mark a run as running");
        }
        let exports = self.store.exports().await.unwrap_or_else(|e| {
            tracing::warn!(error = %e, "could not read exported values");
            Vec::new()
        });
        let env = environment(handler, &run, &exports);
        let step = match run.step {
            RunStep::Main => self.main_step(handler, &run, &env, ingest).await,
            RunStep::OnSuccess | RunStep::OnFailure => {
                self.follow_up_step(handler, &run, &env).await
            }
        };
        let policy = match run.step {
            RunStep::Main => handler.action.retry.clone(),
            RunStep::OnSuccess => handler
                .on_success
                .as_ref()
                .and_then(|f| f.retry.clone())
                .unwrap_or(RetryPolicy::NONE),
            RunStep::OnFailure => handler
                .on_failure
                .as_ref()
                .and_then(|f| f.retry.clone())
                .unwrap_or(RetryPolicy::NONE),
        };
        let finished_at = now_millis();
        let decision = decide(
            Tried::from(step.result.outcome),
            run.attempts,
            &policy,
            finished_at,
            0.0,
        );
        let ok = decision.status == DeliveryStatus::Succeeded;
        let follow_ups = follow_ups(handler, &run, &step, decision.status, finished_at);
        let exported = if ok && run.step == RunStep::Main {
            exported_values(handler, &env, &step.result.output)
        } else {
            Vec::new()
        };
        log_result(handler, &run, &step.result, decision.status);
        done(
            run,
            lease,
            step.result,
            decision.status,
            decision.next_attempt_at,
            follow_ups,
            exported,
        )
    }
}

/// The record of a finished attempt, and the run as it leaves it.
fn done(
    mut run: Run,
    lease: &Lease,
    result: CommandResult,
    status: DeliveryStatus,
    next_attempt_at: Option<Millis>,
    follow_ups: Vec<Run>,
    exports: Vec<(String, String)>,
) -> Step {
    let took = result.took.as_millis() as i64;
    let started = now_millis() - took;
    let attempt = RunAttempt {
        id: AttemptId::generate(started),
        run_id: run.id.clone(),
        handler_id: run.handler_id.clone(),
        outcome: result.outcome,
        exit_code: result.exit_code,
        output: result.output,
        duration_ms: took,
        created_at: started,
    };
    run.status = status;
    run.attempts += 1;
    run.next_attempt_at = next_attempt_at;
    run.exit_code = attempt.exit_code;
    run.output = Some(attempt.output.clone());
    Step::Done {
        record: Box::new(AttemptRecord {
            attempt: Attempted::Handler {
                attempt,
                follow_ups,
                exports,
            },
            status,
            next_attempt_at,
            disable_endpoint: false,
            leased_to: Some(lease.clone()),
        }),
        run: Box::new(run),
    }
}

fn log_result(handler: &Handler, run: &Run, r: &CommandResult, status: DeliveryStatus) {
    let (h, id) = (&handler.id, &run.id);
    match status {
        DeliveryStatus::Succeeded => {
            tracing::info!(handler = %h, run_id = %id, took_ms = r.took.as_millis() as u64, "handler run succeeded")
        }
        DeliveryStatus::Failed => {
            tracing::warn!(handler = %h, run_id = %id, outcome = r.outcome.as_str(),
            exit_code = r.exit_code, attempt = run.attempts + 1, "handler run failed; retry scheduled")
        }
        _ => tracing::warn!(handler = %h, run_id = %id, outcome = r.outcome.as_str(),
            exit_code = r.exit_code, "handler run failed for good"),
    }
}

impl Executor {
    async fn main_step(
        &self,
        handler: &Handler,
        run: &Run,
        env: &BTreeMap<String, String>,
        ingest: &Ingest,
    ) -> StepResult {
        let mut output = String::new();
        let took = std::time::Instant::now();
        if let Some(p) = &handler.publish {
            let event_type = p.event_type.as_deref().unwrap_or(&run.event.event_type);
            let published = ingest
                .publish(Publication {
                    app: &p.app,
                    event_type,
                    channels: &p.channels,
                    payload: &run.event.payload,
                    event_id: run.id.as_str(),
                    endpoint: None,
                })
                .await
                .map_err(|e| e.to_string());
            match published {
                Ok(published) => output.push_str(&format!(
                    "[rustyhook] published {} to app {}\n",
                    published.message_id, p.app
                )),
                Err(e) => {
                    return StepResult {
                        result: CommandResult {
                            outcome: OutcomeCode::Request,
                            exit_code: None,
                            output: format!("[rustyhook] could not publish to app {}: {e}", p.app),
                            took: took.elapsed(),
                        },
                        forwards: Vec::new(),
                    };
                }
            }
        }
        let mut result = CommandResult {
            outcome: OutcomeCode::Ok,
            exit_code: None,
            output: String::new(),
            took: Duration::ZERO,
        };
        if let Some(c) = &handler.action.command {
            result =
                command::run(self.spec(handler, c, env, &run.event, handler.action.timeout)).await;
            output.push_str(&result.output);
            if result.outcome != OutcomeCode::Ok {
                result.output = output;
                return StepResult {
                    result,
                    forwards: Vec::new(),
                };
            }
        }
        let mut forwards = Vec::new();
        if !handler.routes.is_empty() {
            let routed = self.routes(handler, run, env).await;
            output.push_str(&routed.result.output);
            forwards = routed.forwards;
            result.outcome = routed.result.outcome;
            result.exit_code = routed.result.exit_code.or(result.exit_code);
        }
        result.output = output;
        result.took = took.elapsed();
        StepResult { result, forwards }
    }

    /// Each subject (a changed file relative to the watched folder, or the event type) goes to
    /// the first route whose pattern matches it.
    async fn routes(
        &self,
        handler: &Handler,
        run: &Run,
        env: &BTreeMap<String, String>,
    ) -> StepResult {
        let root = run.event.vars.get("RUSTYHOOK_WATCH_ROOT").map(Path::new);
        let subjects: Vec<(String, Option<String>)> = if run.event.files.is_empty() {
            vec![(run.event.event_type.clone(), None)]
        } else {
            run.event
                .files
                .iter()
                .map(|f| {
                    let rel = root
                        .and_then(|r| Path::new(f).strip_prefix(r).ok())
                        .map_or_else(|| f.clone(), |p| p.to_string_lossy().into_owned());
                    (rel, Some(f.clone()))
                })
                .collect()
        };
        let mut out = String::new();
        let mut exit_code = None;
        let mut forwards = Vec::new();
        for (subject, file) in subjects {
            let Some(route) = handler.routes.iter().find(|r| r.pattern.matches(&subject)) else {
                out.push_str(&format!("[route] {subject}: no route matches\n"));
                continue;
            };
            let label = route.pattern.as_str();
            match route.action() {
                RouteAction::Ignore => {
                    out.push_str(&format!("[route {label}] {subject}: ignored\n"))
                }
                RouteAction::Forward => {
                    let mut event = run.event.clone();
                    if let Some(f) = &file {
                        event.files = vec![f.clone()];
                    }
                    for target in &route.forward_to {
                        forwards.push((target.clone(), event.clone()));
                    }
                    out.push_str(&format!(
                        "[route {label}] {subject}: forwarded to {}\n",
                        route.forward_to.join(", ")
                    ));
                }
                RouteAction::Run => {
                    let Some(c) = &route.shell else { continue };
                    let mut env = env.clone();
                    if let Some(f) = &file {
                        env.insert("FILE".into(), f.clone());
                        env.insert("RUSTYHOOK_FILE".into(), f.clone());
                    }
                    let c = substitute(c, &env);
                    let r = command::run(self.spec(
                        handler,
                        &c,
                        &env,
                        &run.event,
                        handler.action.timeout,
                    ))
                    .await;
                    out.push_str(&format!(
                        "[route {label}] {subject}: {}\n{}",
                        describe(&r),
                        r.output
                    ));
                    if !r.output.is_empty() && !r.output.ends_with('\n') {
                        out.push('\n');
                    }
                    if r.outcome != OutcomeCode::Ok && route.on_error == OnError::Fail {
                        return StepResult {
                            result: CommandResult {
                                outcome: r.outcome,
                                exit_code: r.exit_code,
                                output: out,
                                took: Duration::ZERO,
                            },
                            forwards: Vec::new(),
                        };
                    }
                    if r.outcome == OutcomeCode::Ok {
                        exit_code = exit_code.or(r.exit_code);
                    }
                }
            }
        }
        StepResult {
            result: CommandResult {
                outcome: OutcomeCode::Ok,
                exit_code,
                output: out,
                took: Duration::ZERO,
            },
            forwards,
        }
    }

    async fn follow_up_step(
        &self,
        handler: &Handler,
        run: &Run,
        env: &BTreeMap<String, String>,
    ) -> StepResult {
        let f = match run.step {
            RunStep::OnSuccess => handler.on_success.as_ref(),
            _ => handler.on_failure.as_ref(),
        };
        let result = match f.and_then(|f| f.shell.as_ref().map(|s| (f, s))) {
            Some((f, shell)) => {
                let timeout = f.timeout.unwrap_or(handler.action.timeout);
                command::run(self.spec(handler, shell, env, &run.event, timeout)).await
            }
            None => CommandResult {
                outcome: OutcomeCode::Ok,
                exit_code: None,
                output: String::new(),
                took: Duration::ZERO,
            },
        };
        StepResult {
            result,
            forwards: Vec::new(),
        }
    }

    fn spec(
        &self,
        handler: &Handler,
        command: &Command,
        env: &BTreeMap<String, String>,
        event: &Event,
        timeout: Duration,
    ) -> CommandSpec {
        CommandSpec {
            command: command.clone(),
            shell_program: handler.action.shell_program.clone(),
            working_dir: handler.action.working_dir.clone(),
            timeout,
            env: command_env(&self.config.base_env, handler, env),
            stdin: event.payload.as_bytes().to_vec(),
            max_output: self.config.max_output_bytes,
            ledger: self.config.ledger.clone(),
        }
    }
}

fn describe(r: &CommandResult) -> String {
    match (r.outcome, r.exit_code) {
        (OutcomeCode::Ok, _) => "exit 0".into(),
        (_, Some(code)) => format!("exit {code}"),
        (o, None) => o.as_str().into(),
    }
}

/// The whole environment of a handler's command: what it inherits of the server's (all of it
/// without the secrets, or only `env_passthrough`), then the run's variables.
pub fn command_env(
    base: &BaseEnv,
    handler: &Handler,
    env: &BTreeMap<String, String>,
) -> Vec<(String, String)> {
    let mut all = base.select(handler.inherit_env, &handler.env_passthrough);
    all.extend(env.iter().map(|(k, v)| (k.clone(), v.clone())));
    all
}

/// The command's environment: defaults, then values exported by earlier runs, then the
/// event's own variables (see [`env_name_of`]), then rustyhook's, then the handler's `env`.
pub fn environment(
    handler: &Handler,
    run: &Run,
    exports: &[(String, String)],
) -> BTreeMap<String, String> {
    let e = &run.event;
    let mut env = BTreeMap::new();
    env.insert("MESSAGE_ID".into(), e.id.clone());
    env.insert("MESSAGE_BODY".into(), cap(&e.payload));
    env.extend(exports.iter().cloned());
    // Names from outside land under RUSTYHOOK_VAR_, whatever stored the event.
    env.extend(e.vars.iter().map(|(k, v)| (env_name_of(k), cap(v))));
    env.insert("EVENT".into(), e.event_type.clone());
    env.insert("RUSTYHOOK_EVENT_ID".into(), e.id.clone());
    env.insert("RUSTYHOOK_EVENT_TYPE".into(), e.event_type.clone());
    env.insert("RUSTYHOOK_HANDLER".into(), handler.id.clone());
    env.insert("RUSTYHOOK_HANDLER_NAME".into(), handler.name.clone());
    env.insert("RUSTYHOOK_RUN_ID".into(), run.id.to_string());
    env.insert("RUSTYHOOK_ATTEMPT".into(), (run.attempts + 1).to_string());
    env.insert("RUSTYHOOK_TRIGGER".into(), run.triggered_by.clone());
    if let Some(first) = e.files.first() {
        env.insert("FILE".into(), first.clone());
        env.insert("RUSTYHOOK_FILE".into(), first.clone());
        env.insert("RUSTYHOOK_FILES".into(), e.files.join("\n"));
    }
    env.extend(handler.env.iter().map(|(k, v)| (k.clone(), v.clone())));
    env
}

fn cap(v: &str) -> String {
    if v.len() <= MAX_ENV_VALUE {
        return v.to_owned();
    }
    let mut end = MAX_ENV_VALUE;
    while !v.is_char_boundary(end) {
        end -= 1;
    }
    v[..end].to_owned()
}

/// `exports:` values: a `NAME=value` line in the output wins, else the run's own variable.
fn exported_values(
    handler: &Handler,
    env: &BTreeMap<String, String>,
    output: &str,
) -> Vec<(String, String)> {
    handler
        .exports
        .iter()
        .filter_map(|name| {
            let prefix = format!("{name}=");
            let from_output = output
                .lines()
                .rev()
                .find_map(|l| l.strip_prefix(&prefix).map(str::to_owned));
            from_output
                .or_else(|| env.get(name).cloned())
                .map(|v| (name.clone(), v))
        })
        .collect()
}

/// Runs that follow a final result: forwards and `on_success` after success, `on_failure`
/// after the last failure, each carrying the event and this run's output.
fn follow_ups(
    handler: &Handler,
    run: &Run,
    step: &StepResult,
    status: DeliveryStatus,
    now: i64,
) -> Vec<Run> {
    let mut event = run.event.clone();
    event
        .vars
        .insert("RUSTYHOOK_SOURCE_HANDLER".into(), handler.id.clone());
    event
        .vars
        .insert("RUSTYHOOK_SOURCE_RUN".into(), run.id.to_string());
    event
        .vars
        .insert("RUSTYHOOK_PREVIOUS_OUTPUT".into(), cap(&step.result.output));
    if let Some(code) = step.result.exit_code {
        event
            .vars
            .insert("RUSTYHOOK_PREVIOUS_EXIT_CODE".into(), code.to_string());
    }
    let parent = Some(run.id.clone());
    let forward =
        |target: &str, e: Event| Run::new(target, RunStep::Main, e, "forward", parent.clone(), now);
    let mut out = Vec::new();
    match (run.step, status) {
        (RunStep::Main, DeliveryStatus::Succeeded) => {
            out.extend(handler.forward_to.iter().map(|t| forward(t, event.clone())));
            out.extend(step.forwards.iter().map(|(t, e)| {
                let mut e = e.clone();
                e.vars.extend(event.vars.clone());
                forward(t, e)
            }));
            if let Some(f) = &handler.on_success {
                if f.shell.is_some() {
                    out.push(Run::new(
                        &handler.id,
                        RunStep::OnSuccess,
                        event.clone(),
                        "on_success",
                        parent.clone(),
                        now,
                    ));
                }
                out.extend(f.forward_to.iter().map(|t| forward(t, event.clone())));
            }
        }
        (RunStep::Main, DeliveryStatus::Dead) => {
            if let Some(f) = &handler.on_failure {
                if f.shell.is_some() {
                    out.push(Run::new(
                        &handler.id,
                        RunStep::OnFailure,
                        event.clone(),
                        "on_failure",
                        parent.clone(),
                        now,
                    ));
                }
                out.extend(f.forward_to.iter().map(|t| forward(t, event.clone())));
            }
        }
        _ => {}
    }
    out
}
