//! Checks across handlers, made once at load: unique ids, references resolved from names to
//! ids, no dependency cycles, one handler per webhook port and path. Problems that would make a
//! handler misbehave are errors; things that may be fine on the machine that runs it (a script
//! not on this one's `PATH`, a forward to a handler defined later) are warnings.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::Path;
use std::sync::Arc;

use super::action::{Command, RouteAction};
use super::handler::Handler;
use super::options::Trigger;

/// Handlers checked against each other, ids resolved. Cheap to clone.
#[derive(Debug, Clone, Default)]
pub struct HandlerSet {
    handlers: Vec<Arc<Handler>>,
    by_id: HashMap<String, usize>,
}

/// What a valid set of handlers may still deserve a look at.
pub type Warnings = Vec<String>;

impl HandlerSet {
    /// Checks `handlers` together. References by name are rewritten to ids, and references to
    /// handlers that do not exist are dropped with a warning.
    pub fn build(mut handlers: Vec<Handler>) -> Result<(Self, Warnings), String> {
        let mut errors = Vec::new();
        let mut warnings = Vec::new();
        let mut by_id = HashMap::new();
        for (i, h) in handlers.iter().enumerate() {
            if let Some(first) = by_id.insert(h.id.clone(), i) {
                errors.push(format!(
                    "handlers #{} ({:?}) and #{} ({:?}) both have the id {:?}; give one an `id`",
                    first + 1,
                    handlers[first].name,
                    i + 1,
                    h.name,
                    h.id
                ));
            }
        }
        let names: HashMap<String, String> = handlers
            .iter()
            .map(|h| (h.name.clone(), h.id.clone()))
            .collect();
        let resolve = |list: &mut Vec<String>, what: &str, owner: &str, warnings: &mut Warnings| {
            list.retain_mut(|r| {
                if by_id.contains_key(r.as_str()) {
                    return true;
                }
                if let Some(id) = names.get(r.as_str()) {
                    *r = id.clone();
                    return true;
                }
                warnings.push(format!(
                    "handler {owner:?}: {what} names {r:?}, which is no handler here; it is skipped"
                ));
                false
            });
        };
        for h in &mut handlers {
            let owner = h.name.clone();
            resolve(&mut h.forward_to, "forward_to", &owner, &mut warnings);
            resolve(&mut h.depends_on, "depends_on", &owner, &mut warnings);
            for f in [&mut h.on_success, &mut h.on_failure].into_iter().flatten() {
                resolve(&mut f.forward_to, "forward_to", &owner, &mut warnings);
            }
            for r in &mut h.routes {
                resolve(
                    &mut r.forward_to,
                    "a route's forward_to",
                    &owner,
                    &mut warnings,
                );
            }
            check_one(h, &mut errors, &mut warnings);
        }
        if let Some(cycle) = find_cycle(&handlers) {
            errors.push(format!("depends_on has a cycle: {}", cycle.join(" → ")));
        }
        check_webhook_routes(&handlers, &mut errors);
        if !errors.is_empty() {
            return Err(errors.join("\n"));
        }
        Ok((
            Self {
                handlers: handlers.into_iter().map(Arc::new).collect(),
                by_id,
            },
            warnings,
        ))
    }

    /// Every handler, in file order.
    pub fn iter(&self) -> impl Iterator<Item = &Arc<Handler>> {
        self.handlers.iter()
    }

    /// A handler by id.
    pub fn get(&self, id: &str) -> Option<&Arc<Handler>> {
        self.by_id.get(id).map(|&i| &self.handlers[i])
    }

    /// How many there are.
    pub fn len(&self) -> usize {
        self.handlers.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.handlers.is_empty()
    }
}

fn check_one(h: &Handler, errors: &mut Vec<String>, warnings: &mut Warnings) {
    let name = &h.name;
    let does_something = h.action.command.is_some()
        || !h.routes.is_empty()
        || !h.forward_to.is_empty()
        || h.publish.is_some();
    if !does_something {
        errors.push(format!(
            "handler {name:?} does nothing: give it `shell`, `routes`, `forward_to` or `publish`"
        ));
    }
    for (i, r) in h.routes.iter().enumerate() {
        let n = i + 1;
        match r.action() {
            RouteAction::Run if r.shell.is_none() => errors.push(format!(
                "handler {name:?}: route #{n} ({:?}) has no `shell`; add one or say `action: ignore`",
                r.pattern.as_str()
            )),
            RouteAction::Forward if r.forward_to.is_empty() => errors.push(format!(
                "handler {name:?}: route #{n} forwards but has no `forward_to`"
            )),
            _ => {}
        }
    }
    match &h.trigger {
        Trigger::Webhook(w) => {
            for (key, path) in [
                ("path", Some(&w.path)),
                ("health_path", w.health_path.as_ref()),
            ] {
                if let Some(p) = path
                    && !p.starts_with('/')
                {
                    errors.push(format!(
                        "handler {name:?}: options.{key} {p:?} must start with '/'"
                    ));
                }
            }
            if w.rate_limit == Some(0) {
                errors.push(format!(
                    "handler {name:?}: options.rate_limit must be at least 1"
                ));
            }
            if w.hmac_header.is_some() && w.hmac_secret.is_none() {
                errors.push(format!(
                    "handler {name:?}: options.hmac_header needs hmac_secret"
                ));
            }
            if let Some(s) = &w.signing_secret
                && crate::signing::SigningSecret::parse(s).is_err()
            {
                errors.push(format!(
                    "handler {name:?}: options.signing_secret is not a whsec_ secret"
                ));
            }
        }
        Trigger::Sqs(s) => {
            if s.wait_time_seconds > 20 {
                errors.push(format!(
                    "handler {name:?}: options.wait_time_seconds is at most 20"
                ));
            }
            if !(1..=10).contains(&s.max_messages) {
                errors.push(format!("handler {name:?}: options.max_messages is 1 to 10"));
            }
        }
        Trigger::Filesystem(f) if !f.path.exists() => warnings.push(format!(
            "handler {name:?}: the watched path {} does not exist here; it is watched once it does",
            f.path.display()
        )),
        _ => {}
    }
    if let Some(dir) = &h.action.working_dir
        && !dir.is_dir()
    {
        warnings.push(format!(
            "handler {name:?}: working_dir {} does not exist here",
            dir.display()
        ));
    }
    let commands = h
        .action
        .command
        .iter()
        .chain(h.routes.iter().filter_map(|r| r.shell.as_ref()))
        .chain(h.on_success.iter().filter_map(|f| f.shell.as_ref()))
        .chain(h.on_failure.iter().filter_map(|f| f.shell.as_ref()));
    for c in commands {
        if let Some(missing) = missing_program(c, h.action.working_dir.as_deref()) {
            warnings.push(format!("handler {name:?}: {missing} is not found here"));
        }
    }
}

/// The command's program when it cannot be found: a path that does not exist, or a bare name
/// on no `PATH` folder. Shell builtins and scripts starting with one are not checked.
fn missing_program(c: &Command, dir: Option<&Path>) -> Option<String> {
    let first = match c {
        Command::Argv(v) => v.first()?.clone(),
        Command::Shell(s) => s.split_whitespace().next()?.to_owned(),
    };
    const BUILTINS: &[&str] = &[
        "cd", "echo", "exit", "export", "set", "test", "[", "true", "false", "printf", "read",
        "if", "for", "while", "exec", ":", ".", "source", "eval", "sleep", "cat",
    ];
    if BUILTINS.contains(&first.as_str()) || first.contains('$') || first.contains('=') {
        return None;
    }
    let found = if first.contains('/') {
        let p = Path::new(&first);
        p.is_absolute() && p.exists() || dir.unwrap_or(Path::new(".")).join(p).exists()
    } else {
        std::env::var_os("PATH")
            .map(|paths| std::env::split_paths(&paths).any(|d| d.join(&first).is_file()))
            .unwrap_or(false)
    };
    (!found).then(|| format!("the program {first:?}"))
}

/// A depends_on cycle as the ids along it, first repeated at the end.
fn find_cycle(handlers: &[Handler]) -> Option<Vec<String>> {
    let edges: BTreeMap<&str, &[String]> = handlers
        .iter()
        .map(|h| (h.id.as_str(), h.depends_on.as_slice()))
        .collect();
    let mut done: HashSet<&str> = HashSet::new();
    for start in edges.keys() {
        let mut path: Vec<&str> = Vec::new();
        if let Some(c) = visit(start, &edges, &mut path, &mut done) {
            return Some(c);
        }
    }
    None
}

fn visit<'a>(
    node: &'a str,
    edges: &BTreeMap<&'a str, &'a [String]>,
    path: &mut Vec<&'a str>,
    done: &mut HashSet<&'a str>,
) -> Option<Vec<String>> {
    if let Some(at) = path.iter().position(|n| *n == node) {
        let mut cycle: Vec<String> = path[at..].iter().map(|s| s.to_string()).collect();
        cycle.push(node.to_string());
        return Some(cycle);
    }
    if done.contains(node) {
        return None;
    }
    path.push(node);
    for next in edges.get(node).copied().unwrap_or_default() {
        if let Some(c) = visit(next, edges, path, done) {
            return Some(c);
        }
    }
    path.pop();
    done.insert(node);
    None
}

fn check_webhook_routes(handlers: &[Handler], errors: &mut Vec<String>) {
    let mut seen: HashMap<(u16, &str), &str> = HashMap::new();
    for h in handlers {
        if let Trigger::Webhook(w) = &h.trigger
            && let Some(port) = w.port
            && let Some(other) = seen.insert((port, w.path.as_str()), &h.name)
        {
            errors.push(format!(
                "handlers {other:?} and {:?} both listen on port {port} at {}",
                h.name, w.path
            ));
        }
    }
}
