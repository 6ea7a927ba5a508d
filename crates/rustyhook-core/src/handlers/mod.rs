//! Handlers: RustyHook's automations. Each has a trigger (webhook, cron, changed files, a queue,
//! a plugin, or none) and an action (a command, routes, forwards, a published message).
//!
//! # Layout
//! - [`handler`]: one `handlers:` entry, read with line-accurate errors.
//! - [`options`]: each trigger's `options`.
//! - [`action`]: commands, timeouts, retries, follow-ups and routes.
//! - [`schedule`]: cron expressions and time zones.
//! - [`pattern`]: route patterns and include/exclude globs.
//! - [`validate`]: checks across handlers, into a [`HandlerSet`].

pub mod action;
pub mod handler;
pub mod options;
pub mod pattern;
pub mod schedule;
pub mod validate;

pub use action::{Action, Command, FollowUp, OnError, RetryPolicy, Route, RouteAction};
pub use handler::{Handler, Publish, TestCase, slug};
pub use options::{FileChange, Kind, Misfire, ResponseMode, Trigger};
pub use validate::{HandlerSet, Warnings};
