//! What a handler does when it runs: the command, its limits, its retries, and what follows.

use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Deserializer};

use super::pattern::Pattern;
pub use crate::retry::RetryPolicy;

/// RustyHook's default command timeout.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(300);

/// A command to run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// A script given to the shell program (`sh -c SCRIPT` by default).
    Shell(String),
    /// A program and its arguments, run without a shell.
    Argv(Vec<String>),
}

impl<'de> Deserialize<'de> for Command {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Form {
            Script(String),
            Argv(Vec<String>),
        }
        match Form::deserialize(d).map_err(|_| {
            serde::de::Error::custom("expected a shell script (text) or an argv list of text")
        })? {
            Form::Script(s) if s.trim().is_empty() => {
                Err(serde::de::Error::custom("the command is empty"))
            }
            Form::Script(s) => Ok(Self::Shell(s)),
            Form::Argv(v) if v.is_empty() => {
                Err(serde::de::Error::custom("the argv list is empty"))
            }
            Form::Argv(v) => Ok(Self::Argv(v)),
        }
    }
}

/// Reads a timeout as whole seconds (RustyHook) or a duration (`30s`, `2m`).
pub(crate) fn timeout<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Form {
        Secs(u64),
        Text(String),
    }
    let t = match Form::deserialize(d)
        .map_err(|_| serde::de::Error::custom("expected seconds or a duration like 30s"))?
    {
        Form::Secs(s) => Duration::from_secs(s),
        Form::Text(t) => crate::settings::parse_duration(&t).map_err(serde::de::Error::custom)?,
    };
    if t.is_zero() {
        return Err(serde::de::Error::custom(
            "the timeout must be more than zero",
        ));
    }
    Ok(t)
}

/// How to run a command: the program, where, for how long, and how often.
#[derive(Debug, Clone)]
pub struct Action {
    /// The command; `None` when the handler only forwards, routes or publishes.
    pub command: Option<Command>,
    /// The shell for a script: `sh` unless set (`bash`, `zsh`, …).
    pub shell_program: Option<String>,
    /// Where the command runs; the server's working directory unless set.
    pub working_dir: Option<PathBuf>,
    /// Killed, with its process group, after this long.
    pub timeout: Duration,
    /// Retries of a failed run.
    pub retry: RetryPolicy,
}

/// `on_success` / `on_failure`: a command and forwards that follow a run's final result.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FollowUp {
    /// The command to run.
    pub shell: Option<Command>,
    /// Handlers that receive the event next.
    #[serde(default, deserialize_with = "one_or_many")]
    pub forward_to: Vec<String>,
    /// Retries of this command; none unless set.
    pub retry: Option<RetryPolicy>,
    /// This command's timeout; the handler's unless set.
    #[serde(default, deserialize_with = "opt_timeout")]
    pub timeout: Option<Duration>,
}

fn opt_timeout<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Duration>, D::Error> {
    timeout(d).map(Some)
}

/// What a matching route does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum RouteAction {
    /// Run the route's `shell` (the default when it has one).
    #[default]
    Run,
    /// Do nothing for this event or file.
    Ignore,
    /// Pass the event to the route's `forward_to` handlers.
    Forward,
}

/// What a failing route command does to the rest of the run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum OnError {
    /// The run fails (and is retried as a whole).
    #[default]
    Fail,
    /// The failure is recorded in the output and the run goes on.
    Continue,
}

/// One entry of `routes`: the first route whose pattern matches an event's subject (a file's
/// path relative to the watched folder, or the event type) decides what happens to it.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Route {
    /// `|`-separated globs.
    pub pattern: Pattern,
    /// The command, with `$FILE` (and the other event variables) available.
    pub shell: Option<Command>,
    /// `run`, `ignore` or `forward`; `run` when a shell is given, `forward` when only
    /// `forward_to` is.
    pub action: Option<RouteAction>,
    /// Handlers for `action: forward`.
    #[serde(default, deserialize_with = "one_or_many")]
    pub forward_to: Vec<String>,
    /// `continue` keeps going when this route's command fails.
    #[serde(default)]
    pub on_error: OnError,
}

impl Route {
    /// The action, defaulted from what the route has.
    pub fn action(&self) -> RouteAction {
        self.action
            .unwrap_or(if self.shell.is_none() && !self.forward_to.is_empty() {
                RouteAction::Forward
            } else {
                RouteAction::Run
            })
    }
}

/// Reads one name or a list of names.
pub(crate) fn one_or_many<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Form {
        One(String),
        Many(Vec<String>),
    }
    Ok(
        match Form::deserialize(d)
            .map_err(|_| serde::de::Error::custom("expected a name or a list of names"))?
        {
            Form::One(s) => vec![s],
            Form::Many(v) => v,
        },
    )
}
