//! Handler runs: the automation side's deliveries. A run is one trigger event for one handler,
//! with the same life as a delivery (`pending → sending → succeeded | failed → dead`), a lease
//! while a node holds it, and one [`RunAttempt`] per try of its command.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::id::{AttemptId, RunId};
use crate::model::DeliveryStatus;
use crate::outcome::OutcomeCode;
use crate::time::Millis;

/// What a trigger produced: the command's input.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema), schema(as = RunEvent))]
pub struct Event {
    /// A stable id (`RUSTYHOOK_EVENT_ID`): the request's, message's or tick's.
    pub id: String,
    /// `webhook`, `cron`, `create`/`modify`/…, `sqs`, a plugin's own type, `forward`.
    #[serde(rename = "type")]
    pub event_type: String,
    /// The body or message text, written to the command's stdin.
    #[serde(default)]
    pub payload: String,
    /// Named values given to the command as environment variables (`RUSTYHOOK_HTTP_METHOD`,
    /// `MESSAGE_ID`, …).
    #[serde(default)]
    pub vars: BTreeMap<String, String>,
    /// Changed files (filesystem triggers), relative to the watched folder's parent as
    /// absolute paths.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub files: Vec<String>,
}

/// Whether `name` may be given as an event variable from outside (an API caller, a plugin):
/// letters, digits and `_`, and not one of rustyhook's own `RUSTYHOOK_*` names. Such a variable
/// reaches the command as [`caller_var`]`(name)`, never under its own name.
pub fn is_settable_var(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 128
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        && !name.starts_with("RUSTYHOOK_")
}

/// Where variables set from outside (the run API's `vars`, a plugin's `vars`) land in a
/// command's environment. A fixed prefix, so that no caller can set `PATH`, `BASH_ENV`,
/// `LD_PRELOAD`, `GIT_CONFIG_*` or any other name a shell, loader or tool acts on.
pub const CALLER_VAR_PREFIX: &str = "RUSTYHOOK_VAR_";

/// Event variables that triggers set under names of their own, outside `RUSTYHOOK_*`: the
/// roadmap's names. Their values come from outside; their names never do.
const PLAIN_TRIGGER_VARS: &[&str] = &["MESSAGE_ID", "MESSAGE_BODY"];

/// The environment name a variable set from outside is given: `RUSTYHOOK_VAR_<name>`.
pub fn caller_var(name: &str) -> String {
    format!("{CALLER_VAR_PREFIX}{}", env_name_part(name, false))
}

/// Text made fit for the inside of an environment variable name: ASCII letters (upper-cased
/// when `upper`), digits and `_`; anything else becomes `_`. For names built from what a
/// sender controls (header names, SQS attribute names).
pub fn env_name_part(raw: &str, upper: bool) -> String {
    raw.chars()
        .map(|c| match c {
            c if c.is_ascii_alphanumeric() && upper => c.to_ascii_uppercase(),
            c if c.is_ascii_alphanumeric() => c,
            _ => '_',
        })
        .collect()
}

/// The name an event variable is given in the command's environment, whatever stored event
/// it comes from (runs queued before this rule, re-runs, a future trigger that forgets it):
/// rustyhook's own `RUSTYHOOK_*` names and `MESSAGE_ID`/`MESSAGE_BODY` as they are, anything
/// else under [`CALLER_VAR_PREFIX`]. Characters outside `[A-Za-z0-9_]` become `_`.
pub fn env_name_of(var: &str) -> String {
    if var.starts_with("RUSTYHOOK_") || PLAIN_TRIGGER_VARS.contains(&var) {
        env_name_part(var, false)
    } else {
        caller_var(var)
    }
}

/// The key under which a trigger's run is stored at most once: a broker message's id, scoped to
/// what received it, so that the message delivered again queues no second run. Keys of different
/// scopes never collide, whatever their names hold: each is `<kind>:<length of the scope's
/// name>:<name>:<id>`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct RunKey(String);

impl RunKey {
    /// A message of the broker source named `source`, by the broker's id for it that stays the
    /// same across redeliveries.
    pub fn source_message(source: &str, stable_id: &str) -> Self {
        Self::scoped("source", source, stable_id)
    }

    /// An SQS message received by the handler `handler`, by its SQS `MessageId`.
    pub fn sqs_message(handler: &str, message_id: &str) -> Self {
        Self::scoped("sqs", handler, message_id)
    }

    /// A signed webhook delivery to the handler `handler`, by the sender's id for it
    /// (`webhook-id`, `svix-id`, `X-GitHub-Delivery`): a replay of it queues nothing.
    pub fn webhook_delivery(handler: &str, delivery_id: &str) -> Self {
        Self::scoped("webhook", handler, delivery_id)
    }

    fn scoped(kind: &str, name: &str, id: &str) -> Self {
        // The length makes the split between name and id unambiguous.
        Self(format!("{kind}:{}:{name}:{id}", name.len()))
    }

    /// The stored form.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Which of a handler's commands a run executes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RunStep {
    /// The handler's own command (or routes).
    Main,
    /// `on_success.shell`, after the main run succeeded.
    OnSuccess,
    /// `on_failure.shell`, after the main run failed for good.
    OnFailure,
}

impl RunStep {
    /// The stored form.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Main => "main",
            Self::OnSuccess => "on_success",
            Self::OnFailure => "on_failure",
        }
    }

    /// The inverse of [`Self::as_str`].
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "main" => Self::Main,
            "on_success" => Self::OnSuccess,
            "on_failure" => Self::OnFailure,
            _ => return None,
        })
    }
}

/// One run of a handler.
#[derive(Debug, Clone, PartialEq)]
pub struct Run {
    /// Primary id.
    pub id: RunId,
    /// The handler's id.
    pub handler_id: String,
    /// Which command.
    pub step: RunStep,
    /// Where it is in its life; `Sending` while the command runs.
    pub status: DeliveryStatus,
    /// Attempts made so far.
    pub attempts: u32,
    /// When the next attempt is due, while one is scheduled.
    pub next_attempt_at: Option<Millis>,
    /// What started it: `webhook`, `cron`, `filesystem`, `sqs`, `plugin`, `forward`, `rerun`,
    /// `api`, `on_success`, `on_failure`.
    pub triggered_by: String,
    /// The run that led to this one (forwards, follow-ups, re-runs).
    pub parent_id: Option<RunId>,
    /// The input.
    pub event: Event,
    /// The last attempt's exit code, once one finished.
    pub exit_code: Option<i32>,
    /// The last attempt's output (capped).
    pub output: Option<String>,
    /// Created.
    pub created_at: Millis,
    /// Last changed.
    pub updated_at: Millis,
}

impl Run {
    /// A new run due now.
    pub fn new(
        handler_id: &str,
        step: RunStep,
        event: Event,
        triggered_by: &str,
        parent_id: Option<RunId>,
        now: Millis,
    ) -> Self {
        Self {
            id: RunId::generate(now),
            handler_id: handler_id.to_owned(),
            step,
            status: DeliveryStatus::Pending,
            attempts: 0,
            next_attempt_at: Some(now),
            triggered_by: triggered_by.to_owned(),
            parent_id,
            event,
            exit_code: None,
            output: None,
            created_at: now,
            updated_at: now,
        }
    }
}

/// One try of a run's command.
#[derive(Debug, Clone, PartialEq)]
pub struct RunAttempt {
    /// Primary id.
    pub id: AttemptId,
    /// The run tried.
    pub run_id: RunId,
    /// Its handler.
    pub handler_id: String,
    /// `OK`, `E_EXIT_CODE`, `E_TIMEOUT`, `E_SPAWN`.
    pub outcome: OutcomeCode,
    /// The exit code; `None` when killed or never started.
    pub exit_code: Option<i32>,
    /// stdout and stderr as they came, capped.
    pub output: String,
    /// How long it ran.
    pub duration_ms: i64,
    /// When it started.
    pub created_at: Millis,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn run_keys_of_different_sources_and_triggers_never_collide() {
        assert_eq!(
            RunKey::source_message("orders", "1700000000000-0").as_str(),
            "source:6:orders:1700000000000-0"
        );
        assert_ne!(
            RunKey::source_message("a:b", "c"),
            RunKey::source_message("a", "b:c")
        );
        assert_ne!(
            RunKey::source_message("h", "m-1"),
            RunKey::sqs_message("h", "m-1")
        );
    }

    #[test]
    fn variables_from_outside_never_reach_the_command_under_their_own_names() {
        for name in ["BASH_ENV", "PATH", "LD_PRELOAD", "GIT_CONFIG_COUNT", "ENV"] {
            assert_eq!(env_name_of(name), format!("RUSTYHOOK_VAR_{name}"));
        }
        assert_eq!(env_name_of("MESSAGE_BODY"), "MESSAGE_BODY");
        assert_eq!(
            env_name_of("RUSTYHOOK_HEADER_X_NAME"),
            "RUSTYHOOK_HEADER_X_NAME"
        );
        assert_eq!(env_name_of("RUSTYHOOK_HEADER_A.B"), "RUSTYHOOK_HEADER_A_B");
        assert_eq!(env_name_of("a=b;c"), "RUSTYHOOK_VAR_a_b_c");
        assert_eq!(env_name_part("x-hub.sig~1", true), "X_HUB_SIG_1");
        assert!(!is_settable_var("RUSTYHOOK_ADMIN_TOKEN"));
        assert!(!is_settable_var("A-B"));
        assert!(is_settable_var("BASH_ENV"));
    }
}
