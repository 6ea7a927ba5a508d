//! A filesystem handler: watches a folder (recursively unless told not to), collects changes
//! until none came for `debounce_ms`, and queues one run per batch with every changed path.
//! Paths are filtered by kind and by include/exclude globs relative to the watched folder.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use notify::event::{EventKind, ModifyKind};
use notify::{RecursiveMode, Watcher};
use rustyhook_core::handlers::options::FilesystemOptions;
use rustyhook_core::handlers::pattern::PathFilter;
use rustyhook_core::handlers::{FileChange, Handler, Trigger};
use rustyhook_core::run::Event;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::automation::Automation;

/// How often a missing folder is looked for again.
const RETRY_WATCH: Duration = Duration::from_secs(2);

/// Watches `handler`'s folder until `token` is cancelled.
pub async fn run(automation: Automation, handler: Arc<Handler>, token: CancellationToken) {
    let Trigger::Filesystem(opts) = &handler.trigger else {
        return;
    };
    let root = absolute(&opts.path);
    let filter = PathFilter::new(opts.include.clone(), opts.exclude.clone());
    let (tx, mut rx) = mpsc::unbounded_channel();
    let mut watcher = match notify::recommended_watcher(
        move |res: notify::Result<notify::Event>| {
            let _ = tx.send(res);
        },
    ) {
        Ok(w) => w,
        Err(e) => {
            tracing::error!(handler = %handler.id, error = %e, "could not start a file watcher");
            return;
        }
    };
    let mode = if opts.recursive {
        RecursiveMode::Recursive
    } else {
        RecursiveMode::NonRecursive
    };
    let mut warned = false;
    while let Err(e) = watcher.watch(&root, mode) {
        if !warned {
            tracing::warn!(handler = %handler.id, path = %root.display(), error = %e, "cannot watch the path yet; trying again until it exists");
            warned = true;
        }
        tokio::select! {
            () = token.cancelled() => return,
            () = tokio::time::sleep(RETRY_WATCH) => {}
        }
    }
    tracing::info!(handler = %handler.id, path = %root.display(), "watching for file changes");
    let debounce = Duration::from_millis(opts.debounce_ms);
    loop {
        let mut batch = Batch::default();
        // Wait for the first change, then for quiet.
        tokio::select! {
            () = token.cancelled() => return,
            first = rx.recv() => match first {
                Some(ev) => batch.add(ev, opts, &root, &filter),
                None => return,
            },
        }
        loop {
            tokio::select! {
                () = token.cancelled() => break,
                more = tokio::time::timeout(debounce, rx.recv()) => match more {
                    Ok(Some(ev)) => batch.add(ev, opts, &root, &filter),
                    Ok(None) | Err(_) => break,
                },
            }
        }
        if let Some(event) = batch.into_event(&root)
            && let Err(e) = automation.trigger(&handler.id, event, "filesystem").await
        {
            tracing::error!(handler = %handler.id, error = %e, "could not queue a run for changed files");
        }
        if token.is_cancelled() {
            return;
        }
    }
}

#[derive(Default)]
struct Batch {
    files: BTreeSet<PathBuf>,
    kinds: BTreeSet<&'static str>,
}

impl Batch {
    fn add(
        &mut self,
        ev: notify::Result<notify::Event>,
        opts: &FilesystemOptions,
        root: &Path,
        filter: &PathFilter,
    ) {
        let ev = match ev {
            Ok(ev) => ev,
            Err(e) => {
                tracing::warn!(error = %e, "file watcher error");
                return;
            }
        };
        let Some(kind) = change(&ev.kind) else { return };
        if !opts.event_type.is_empty() && !opts.event_type.contains(&kind) {
            return;
        }
        for path in ev.paths {
            let relative = path
                .strip_prefix(root)
                .map(|p| p.to_string_lossy().replace('\\', "/"))
                .unwrap_or_else(|_| path.to_string_lossy().into_owned());
            if filter.allows(&relative) {
                self.files.insert(path);
                self.kinds.insert(kind.as_str());
            }
        }
    }

    fn into_event(self, root: &Path) -> Option<Event> {
        if self.files.is_empty() {
            return None;
        }
        let files: Vec<String> = self
            .files
            .iter()
            .map(|p| p.to_string_lossy().into_owned())
            .collect();
        let event_type = if self.kinds.len() == 1 {
            self.kinds
                .iter()
                .next()
                .copied()
                .unwrap_or("change")
                .to_owned()
        } else {
            "change".to_owned()
        };
        let mut event = Event {
            id: format!(
                "files:{}",
                rustyhook_core::id::RunId::generate(rustyhook_core::time::now_millis())
            ),
            event_type,
            payload: files.join("\n"),
            files,
            ..Event::default()
        };
        event.vars.insert(
            "RUSTYHOOK_WATCH_ROOT".into(),
            root.to_string_lossy().into_owned(),
        );
        event.vars.insert(
            "RUSTYHOOK_CHANGES".into(),
            self.kinds.into_iter().collect::<Vec<_>>().join(","),
        );
        Some(event)
    }
}

fn change(kind: &EventKind) -> Option<FileChange> {
    match kind {
        EventKind::Create(_) => Some(FileChange::Create),
        EventKind::Modify(ModifyKind::Name(_)) => Some(FileChange::Rename),
        EventKind::Modify(ModifyKind::Metadata(_)) => None,
        EventKind::Modify(_) => Some(FileChange::Modify),
        EventKind::Remove(_) => Some(FileChange::Remove),
        _ => None,
    }
}

fn absolute(path: &Path) -> PathBuf {
    let p = if path.is_absolute() {
        path.to_path_buf()
    } else {
        std::env::current_dir()
            .map(|d| d.join(path))
            .unwrap_or_else(|_| path.to_path_buf())
    };
    p.canonicalize().unwrap_or(p)
}
