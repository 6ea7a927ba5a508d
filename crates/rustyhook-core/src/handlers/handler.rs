//! One entry of `handlers:`, read key by key so that `options` is parsed as the handler's
//! `type` says, in the stream: an unknown option then fails with its own line number.

use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

use serde::de::{self, MapAccess, Visitor};
use serde::{Deserialize, Deserializer};

use super::action::{Action, Command, DEFAULT_TIMEOUT, FollowUp, RetryPolicy, Route, one_or_many};
use super::options::{CronOptions, FilesystemOptions, Kind, SqsOptions, Trigger, WebhookOptions};

/// A configured handler: a trigger and what to do.
#[derive(Debug, Clone)]
pub struct Handler {
    /// The name, as listed.
    pub name: String,
    /// The stable id: `id` if given, otherwise the name in lower case with dashes.
    pub id: String,
    /// What starts a run.
    pub trigger: Trigger,
    /// The command and its limits.
    pub action: Action,
    /// Per-file or per-event-type routing, tried in order; the first match decides.
    pub routes: Vec<Route>,
    /// Handlers that receive the event after a successful run.
    pub forward_to: Vec<String>,
    /// What follows a successful run.
    pub on_success: Option<FollowUp>,
    /// What follows a run that failed for good.
    pub on_failure: Option<FollowUp>,
    /// Handlers whose queued or running runs this handler's runs wait for.
    pub depends_on: Vec<String>,
    /// Names of values this handler's runs leave for later runs.
    pub exports: Vec<String>,
    /// Turn each trigger event into a message for an app, fanned out to its endpoints.
    pub publish: Option<Publish>,
    /// Extra environment variables for the command.
    pub env: BTreeMap<String, String>,
    /// Whether the command starts from the server's environment (minus rustyhook's own
    /// settings and secrets, which no command ever gets). `inherit_env: false` starts it from
    /// nothing but [`Self::env_passthrough`], rustyhook's variables and `env`.
    pub inherit_env: bool,
    /// With `inherit_env: false`: the server's variables still passed on (`PATH`, `HOME`).
    pub env_passthrough: Vec<String>,
    /// Runs of this handler at once (1: one after another, in order): its lane's most in
    /// flight, as `max_in_flight` is an endpoint's.
    pub concurrency: u32,
    /// `run_rate`: runs started per second at most, as `rateLimit` is an endpoint's; `None`
    /// for no limit.
    pub run_rate: Option<u32>,
    /// `cluster: {mode: leader}`: run only on the leader node.
    pub leader_only: bool,
    /// Cases for `rustyhook test`.
    pub tests: Vec<TestCase>,
}

/// `publish:` a message for an app's endpoints.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Publish {
    /// The app's id or uid.
    pub app: String,
    /// The message's event type; the trigger's event type unless set.
    pub event_type: Option<String>,
    /// Channels for the message.
    #[serde(default)]
    pub channels: Vec<String>,
}

/// A handler's `cluster:` block.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct HandlerCluster {
    mode: ClusterMode,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
enum ClusterMode {
    Leader,
    All,
}

/// One `tests:` case.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TestCase {
    /// Printed with the result.
    pub name: String,
    /// The event the case feeds the handler.
    #[serde(default)]
    pub input: TestInput,
    /// What must hold afterwards.
    #[serde(default)]
    pub expect: TestExpect,
}

/// A test case's event.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TestInput {
    /// The HTTP method, for webhooks.
    pub method: Option<String>,
    /// The body or payload.
    pub body: Option<String>,
    /// Request headers.
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    /// A changed file's path, for filesystem handlers.
    pub file: Option<String>,
    /// Extra environment variables.
    #[serde(default)]
    pub env: BTreeMap<String, String>,
}

/// A test case's expectations.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TestExpect {
    /// The exit code; 0 unless set.
    pub exit_code: Option<i32>,
    /// Text the output must contain.
    pub output_contains: Option<String>,
    /// Text the output must not contain.
    pub output_not_contains: Option<String>,
}

#[derive(Deserialize)]
#[serde(field_identifier, rename_all = "snake_case")]
enum Key {
    Type,
    Name,
    Id,
    Description,
    Options,
    Plugin,
    Shell,
    Command,
    ShellProgram,
    WorkingDir,
    Timeout,
    Retry,
    Env,
    InheritEnv,
    EnvPassthrough,
    ForwardTo,
    OnSuccess,
    OnFailure,
    DependsOn,
    Routes,
    Exports,
    Publish,
    Concurrency,
    RunRate,
    Cluster,
    Tests,
}

/// Options read before `type` was known, parsed once it is.
enum Pending {
    Parsed(Box<Trigger>),
    Raw(serde_json::Value),
}

impl<'de> Deserialize<'de> for Handler {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_map(HandlerVisitor)
    }
}

struct HandlerVisitor;

impl<'de> Visitor<'de> for HandlerVisitor {
    type Value = Handler;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a handler: a map with type, name, options and shell")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Handler, A::Error> {
        let mut kind: Option<Kind> = None;
        let mut options: Option<Pending> = None;
        let mut name: Option<String> = None;
        let mut id: Option<String> = None;
        let mut plugin: Option<String> = None;
        let mut command: Option<Command> = None;
        let mut shell_program = None;
        let mut working_dir = None;
        let mut timeout = None;
        let mut retry = None;
        let mut env = BTreeMap::new();
        let mut inherit_env = true;
        let mut env_passthrough = Vec::new();
        let mut forward_to = Vec::new();
        let mut on_success = None;
        let mut on_failure = None;
        let mut depends_on = Vec::new();
        let mut routes = Vec::new();
        let mut exports = Vec::new();
        let mut publish = None;
        let mut concurrency = 1;
        let mut run_rate = None;
        let mut leader_only = false;
        let mut tests = Vec::new();
        while let Some(key) = map.next_key::<Key>()? {
            match key {
                Key::Type => kind = Some(map.next_value()?),
                Key::Options => {
                    options = Some(match kind {
                        Some(k) => Pending::Parsed(Box::new(options_of(k, &mut map)?)),
                        None => Pending::Raw(map.next_value()?),
                    })
                }
                Key::Name => name = Some(map.next_value::<NonEmpty>()?.0),
                Key::Id => id = Some(map.next_value::<HandlerId>()?.0),
                Key::Description => {
                    map.next_value::<String>()?;
                }
                Key::Plugin => plugin = Some(map.next_value::<NonEmpty>()?.0),
                Key::Shell | Key::Command => {
                    if command.is_some() {
                        return Err(de::Error::custom(
                            "give either `shell` or `command`, not both",
                        ));
                    }
                    command = Some(map.next_value()?)
                }
                Key::ShellProgram => shell_program = Some(map.next_value::<NonEmpty>()?.0),
                Key::WorkingDir => working_dir = Some(map.next_value()?),
                Key::Timeout => timeout = Some(map.next_value::<Timeout>()?.0),
                Key::Retry => retry = Some(map.next_value()?),
                Key::Env => env = map.next_value()?,
                Key::InheritEnv => inherit_env = map.next_value()?,
                Key::EnvPassthrough => env_passthrough = map.next_value::<VarNames>()?.0,
                Key::ForwardTo => forward_to = map.next_value::<Names>()?.0,
                Key::OnSuccess => on_success = Some(map.next_value()?),
                Key::OnFailure => on_failure = Some(map.next_value()?),
                Key::DependsOn => depends_on = map.next_value::<Names>()?.0,
                Key::Routes => routes = map.next_value()?,
                Key::Exports => exports = map.next_value::<Names>()?.0,
                Key::Publish => publish = Some(map.next_value()?),
                Key::Concurrency => concurrency = map.next_value::<Concurrency>()?.0,
                Key::RunRate => run_rate = Some(map.next_value::<RunRate>()?.0),
                Key::Cluster => {
                    leader_only = map.next_value::<HandlerCluster>()?.mode == ClusterMode::Leader
                }
                Key::Tests => tests = map.next_value()?,
            }
        }
        let name = name.ok_or_else(|| de::Error::missing_field("name"))?;
        let kind = kind.ok_or_else(|| {
            de::Error::custom(format!(
                "handler {name:?} has no `type` (Webhook, Cron, Filesystem, SQS, Plugin or Custom)"
            ))
        })?;
        let trigger = match options {
            Some(Pending::Parsed(t)) => *t,
            Some(Pending::Raw(raw)) => options_from_value(kind, raw)
                .map_err(|e| de::Error::custom(format!("handler {name:?}: options: {e}")))?,
            None => options_from_value(kind, serde_json::Value::Object(Default::default()))
                .map_err(|e| de::Error::custom(format!("handler {name:?} needs `options`: {e}")))?,
        };
        let trigger = match (trigger, plugin) {
            (Trigger::Plugin { options, .. }, Some(plugin)) => Trigger::Plugin { plugin, options },
            (Trigger::Plugin { .. }, None) => {
                return Err(de::Error::custom(format!(
                    "handler {name:?} is a Plugin but names no `plugin` executable"
                )));
            }
            (_, Some(_)) => {
                return Err(de::Error::custom(format!(
                    "handler {name:?}: `plugin` is only for `type: Plugin`"
                )));
            }
            (t, None) => t,
        };
        if inherit_env && !env_passthrough.is_empty() {
            return Err(de::Error::custom(format!(
                "handler {name:?}: `env_passthrough` applies only with `inherit_env: false` \
                 (the whole environment is passed on otherwise)"
            )));
        }
        let id = id.unwrap_or_else(|| slug(&name));
        Ok(Handler {
            name,
            id,
            trigger,
            action: Action {
                command,
                shell_program,
                working_dir,
                timeout: timeout.unwrap_or(DEFAULT_TIMEOUT),
                retry: retry.unwrap_or(RetryPolicy::NONE),
            },
            routes,
            forward_to,
            on_success,
            on_failure,
            depends_on,
            exports,
            publish,
            env,
            inherit_env,
            env_passthrough,
            concurrency,
            run_rate,
            leader_only,
            tests,
        })
    }
}

fn options_of<'de, A: MapAccess<'de>>(kind: Kind, map: &mut A) -> Result<Trigger, A::Error> {
    Ok(match kind {
        Kind::Webhook => Trigger::Webhook(map.next_value::<WebhookOptions>()?),
        Kind::Cron => Trigger::Cron(map.next_value::<CronOptions>()?),
        Kind::Filesystem => Trigger::Filesystem(map.next_value::<FilesystemOptions>()?),
        Kind::Sqs => Trigger::Sqs(map.next_value::<SqsOptions>()?),
        Kind::Plugin => Trigger::Plugin {
            plugin: String::new(),
            options: map.next_value()?,
        },
        Kind::Custom => {
            map.next_value::<de::IgnoredAny>()?;
            Trigger::Custom
        }
    })
}

fn options_from_value(kind: Kind, raw: serde_json::Value) -> Result<Trigger, serde_json::Error> {
    Ok(match kind {
        Kind::Webhook => Trigger::Webhook(serde_json::from_value(raw)?),
        Kind::Cron => Trigger::Cron(serde_json::from_value(raw)?),
        Kind::Filesystem => Trigger::Filesystem(serde_json::from_value(raw)?),
        Kind::Sqs => Trigger::Sqs(serde_json::from_value(raw)?),
        Kind::Plugin => Trigger::Plugin {
            plugin: String::new(),
            options: raw,
        },
        Kind::Custom => Trigger::Custom,
    })
}

/// The id a name gets when no `id` is given: `Deploy Webhook` → `deploy-webhook`.
pub fn slug(name: &str) -> String {
    let mut out = String::new();
    for c in name.chars() {
        if c.is_ascii_alphanumeric() {
            out.push(c.to_ascii_lowercase());
        } else if !out.ends_with('-') && !out.is_empty() {
            out.push('-');
        }
    }
    while out.ends_with('-') {
        out.pop();
    }
    if out.is_empty() {
        "handler".into()
    } else {
        out
    }
}

struct NonEmpty(String);

impl<'de> Deserialize<'de> for NonEmpty {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        if s.trim().is_empty() {
            return Err(de::Error::custom("must not be empty"));
        }
        Ok(Self(s))
    }
}

struct HandlerId(String);

impl<'de> Deserialize<'de> for HandlerId {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        let ok = !s.is_empty()
            && s.len() <= 64
            && s.chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
        if !ok {
            return Err(de::Error::custom(format!(
                "id {s:?} must be 1 to 64 letters, digits, '-', '_' or '.'"
            )));
        }
        Ok(Self(s))
    }
}

struct Timeout(Duration);

impl<'de> Deserialize<'de> for Timeout {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        super::action::timeout(d).map(Self)
    }
}

struct Names(Vec<String>);

impl<'de> Deserialize<'de> for Names {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        one_or_many(d).map(Self)
    }
}

/// Environment variable names: letters, digits and `_`, not starting with a digit.
struct VarNames(Vec<String>);

impl<'de> Deserialize<'de> for VarNames {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let names = one_or_many(d)?;
        for n in &names {
            let ok = n.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
                && n.chars().next().is_some_and(|c| !c.is_ascii_digit());
            if !ok {
                return Err(de::Error::custom(format!(
                    "{n:?} is not an environment variable name (letters, digits and _)"
                )));
            }
        }
        Ok(Self(names))
    }
}

struct Concurrency(u32);

impl<'de> Deserialize<'de> for Concurrency {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let n = u32::deserialize(d)?;
        if !(1..=1024).contains(&n) {
            return Err(de::Error::custom("concurrency must be between 1 and 1024"));
        }
        Ok(Self(n))
    }
}

struct RunRate(u32);

impl<'de> Deserialize<'de> for RunRate {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let n = u32::deserialize(d)?;
        if !(1..=100_000).contains(&n) {
            return Err(de::Error::custom(
                "run_rate (runs started per second) must be between 1 and 100000",
            ));
        }
        Ok(Self(n))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_become_ids() {
        assert_eq!(slug("Deploy Webhook"), "deploy-webhook");
        assert_eq!(slug("SQS Message Handler"), "sqs-message-handler");
        assert_eq!(slug("  --  "), "handler");
    }

    fn handler(yaml: &str) -> Result<Handler, String> {
        serde_norway::from_str(&format!("type: Custom\nname: h\nshell: env\n{yaml}"))
            .map_err(|e| e.to_string())
    }

    #[test]
    fn a_clean_environment_is_asked_for_with_inherit_env_false_and_a_passthrough_list() {
        let h = handler("inherit_env: false\nenv_passthrough: [PATH, HOME]").expect("valid");
        assert!(!h.inherit_env);
        assert_eq!(h.env_passthrough, ["PATH", "HOME"]);
        assert!(handler("").expect("valid").inherit_env);
        let err = handler("env_passthrough: [PATH]").expect_err("needs inherit_env: false");
        assert!(err.contains("inherit_env: false"), "{err}");
        let err = handler("inherit_env: false\nenv_passthrough: [\"A=B\"]").expect_err("bad name");
        assert!(err.contains("\"A=B\""), "{err}");
        let err = handler("inherit_envs: false").expect_err("unknown key");
        assert!(err.contains("inherit_envs"), "{err}");
    }
}
