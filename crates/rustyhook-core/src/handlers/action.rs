//! What a handler does when it runs: the command, its limits, its retries, and what follows.

use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Deserializer};

use super::pattern::Pattern;

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

/// How a failed command is tried again: RustyHook's `retry:` block, or a bare count.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RetryPolicy {
    /// Tries after the first; 0 means the command runs once.
    pub max_retries: u32,
    /// Wait before the first retry.
    pub delay: Duration,
    /// Each further wait is the previous one times this.
    pub multiplier: f64,
    /// No wait is longer than this.
    pub max_delay: Duration,
}

impl RetryPolicy {
    /// No retries: what RustyHook does when `retry` is absent.
    pub const NONE: Self = Self {
        max_retries: 0,
        delay: Duration::from_secs(1),
        multiplier: 2.0,
        max_delay: Duration::from_secs(60),
    };

    /// The wait after attempt number `attempts` (from 1) failed, or `None` when none are left.
    pub fn delay_after(&self, attempts: u32) -> Option<Duration> {
        if attempts > self.max_retries {
            return None;
        }
        let factor = self.multiplier.powi(attempts.saturating_sub(1) as i32);
        let ms = (self.delay.as_millis() as f64 * factor).min(self.max_delay.as_millis() as f64);
        Some(Duration::from_millis(ms.max(0.0) as u64))
    }
}

impl<'de> Deserialize<'de> for RetryPolicy {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(deny_unknown_fields)]
        struct Block {
            max_retries: Option<u32>,
            /// Svix-style: total attempts, first included.
            max_attempts: Option<u32>,
            #[serde(alias = "initial_delay_ms")]
            delay_ms: Option<u64>,
            #[serde(default, deserialize_with = "opt_duration")]
            initial: Option<Duration>,
            #[serde(alias = "multiplier")]
            backoff_multiplier: Option<f64>,
            max_delay_ms: Option<u64>,
            #[serde(default, deserialize_with = "opt_duration")]
            max_delay: Option<Duration>,
        }
        // A count or a block; the block is read on its own so its error names the bad key.
        let value = serde_json::Value::deserialize(d)?;
        if let Ok(n) = serde_json::from_value::<u32>(value.clone()) {
            return Ok(Self {
                max_retries: n,
                ..Self::NONE_WITH_RETRIES
            });
        }
        let b: Block = serde_json::from_value(value).map_err(|e| {
            serde::de::Error::custom(format!(
                "retry must be a count or a block of max_retries, delay_ms, backoff_multiplier, max_delay_ms: {e}"
            ))
        })?;
        let d = Self::NONE_WITH_RETRIES;
        let multiplier = b.backoff_multiplier.unwrap_or(d.multiplier);
        if !(1.0..=100.0).contains(&multiplier) {
            return Err(serde::de::Error::custom(
                "backoff_multiplier must be between 1.0 and 100.0",
            ));
        }
        Ok(Self {
            max_retries: b
                .max_retries
                .or(b.max_attempts.map(|n| n.saturating_sub(1)))
                .unwrap_or(d.max_retries),
            delay: b
                .delay_ms
                .map(Duration::from_millis)
                .or(b.initial)
                .unwrap_or(d.delay),
            multiplier,
            max_delay: b
                .max_delay_ms
                .map(Duration::from_millis)
                .or(b.max_delay)
                .unwrap_or(d.max_delay),
        })
    }
}

impl RetryPolicy {
    /// The defaults of a `retry:` block: three retries, 1 s doubling up to 60 s.
    const NONE_WITH_RETRIES: Self = Self {
        max_retries: 3,
        ..Self::NONE
    };
}

fn opt_duration<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Duration>, D::Error> {
    let text = String::deserialize(d)?;
    crate::settings::parse_duration(&text)
        .map(Some)
        .map_err(serde::de::Error::custom)
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_backs_off_up_to_the_cap_then_stops() {
        let p: RetryPolicy = serde_json::from_str(
            r#"{"max_retries": 3, "delay_ms": 5000, "backoff_multiplier": 2.0, "max_delay_ms": 12000}"#,
        )
        .expect("valid");
        assert_eq!(p.delay_after(1), Some(Duration::from_secs(5)));
        assert_eq!(p.delay_after(2), Some(Duration::from_secs(10)));
        assert_eq!(p.delay_after(3), Some(Duration::from_secs(12)));
        assert_eq!(p.delay_after(4), None);
    }

    #[test]
    fn retry_accepts_a_count_and_the_quickstart_alias() {
        let n: RetryPolicy = serde_json::from_str("3").expect("count");
        assert_eq!(n.max_retries, 3);
        let q: RetryPolicy = serde_json::from_str(
            r#"{"max_retries": 2, "initial_delay_ms": 1000, "max_delay_ms": 30000}"#,
        )
        .expect("alias");
        assert_eq!(q.delay, Duration::from_secs(1));
        let bad = serde_json::from_str::<RetryPolicy>(r#"{"max_retrys": 2}"#).expect_err("typo");
        assert!(bad.to_string().contains("max_retrys"), "{bad}");
    }
}
