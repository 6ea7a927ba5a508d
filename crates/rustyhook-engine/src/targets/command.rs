//! The command target: runs a handler's command as a child process in its own process group,
//! with the event on stdin and in the environment, its output captured (capped) and a timeout
//! that kills the whole group.

use std::path::PathBuf;
use std::process::Stdio;
use std::sync::Arc;
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;
use rustyhook_core::handlers::Command;
use rustyhook_core::outcome::OutcomeCode;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};
use tokio::sync::mpsc;

use super::groups::GroupLedger;

/// After the command exits, how long output from children it left behind is still read.
const DRAIN_AFTER_EXIT: Duration = Duration::from_millis(200);

/// One command to run.
#[derive(Debug, Clone)]
pub struct CommandSpec {
    /// The program or script.
    pub command: Command,
    /// The shell for a script; `sh` unless set.
    pub shell_program: Option<String>,
    /// Where it runs.
    pub working_dir: Option<PathBuf>,
    /// Killed with its process group after this long.
    pub timeout: Duration,
    /// The whole environment: nothing is inherited from the server beyond what is here (see
    /// [`super::child_env::BaseEnv`] for what a command may get of it).
    pub env: Vec<(String, String)>,
    /// Written to stdin, which is then closed.
    pub stdin: Vec<u8>,
    /// Output beyond this many bytes is dropped (and said to be).
    pub max_output: usize,
    /// Where the command's process group is written down while it runs, so a restart after a
    /// crash can kill it.
    pub ledger: Option<Arc<GroupLedger>>,
}

/// What a command did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommandResult {
    /// `OK`, `E_EXIT_CODE`, `E_TIMEOUT` or `E_SPAWN`.
    pub outcome: OutcomeCode,
    /// The exit code; `None` when killed by a signal or never started.
    pub exit_code: Option<i32>,
    /// stdout and stderr interleaved as they came, capped; or why it could not start.
    pub output: String,
    /// How long it ran.
    pub took: Duration,
}

/// Runs `spec` to completion (or timeout).
pub async fn run(spec: CommandSpec) -> CommandResult {
    let started = Instant::now();
    let mut cmd = match &spec.command {
        Command::Shell(script) => {
            let mut c = tokio::process::Command::new(spec.shell_program.as_deref().unwrap_or("sh"));
            c.arg("-c").arg(script);
            c
        }
        Command::Argv(argv) => {
            let mut c = tokio::process::Command::new(&argv[0]);
            c.args(&argv[1..]);
            c
        }
    };
    if let Some(dir) = &spec.working_dir {
        cmd.current_dir(dir);
    }
    cmd.env_clear()
        .envs(spec.env.iter().map(|(k, v)| (k, v)))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0)
        .kill_on_drop(true);
    let mut child = match cmd.spawn() {
        Ok(c) => c,
        Err(e) => {
            let what = match &spec.command {
                Command::Shell(_) => spec.shell_program.clone().unwrap_or_else(|| "sh".into()),
                Command::Argv(argv) => argv[0].clone(),
            };
            let place = spec
                .working_dir
                .as_ref()
                .map(|d| format!(" in {}", d.display()))
                .unwrap_or_default();
            return CommandResult {
                outcome: OutcomeCode::Spawn,
                exit_code: None,
                output: format!("could not start {what:?}{place}: {e}"),
                took: started.elapsed(),
            };
        }
    };
    let pgid = child.id().map(|id| Pid::from_raw(id as i32));
    // If this future is dropped (a hard shutdown), the whole group goes with it.
    let mut guard = GroupGuard {
        pgid,
        armed: true,
        ledger: spec.ledger.clone(),
    };
    if let (Some(ledger), Some(id)) = (&spec.ledger, child.id()) {
        ledger.record(id);
    }
    let (tx, mut rx) = mpsc::unbounded_channel::<Vec<u8>>();
    if let Some(out) = child.stdout.take() {
        tokio::spawn(pump(out, tx.clone()));
    }
    if let Some(err) = child.stderr.take() {
        tokio::spawn(pump(err, tx.clone()));
    }
    drop(tx);
    if let Some(mut stdin) = child.stdin.take() {
        let input = spec.stdin;
        // A command that does not read its input is fine: a broken pipe is ignored.
        tokio::spawn(async move {
            let _ = stdin.write_all(&input).await;
        });
    }
    let mut output = Capped::new(spec.max_output);
    let deadline = tokio::time::sleep(spec.timeout);
    tokio::pin!(deadline);
    let status = loop {
        tokio::select! {
            status = child.wait() => break Some(status),
            () = &mut deadline => break None,
            Some(chunk) = rx.recv() => output.push(&chunk),
        }
    };
    let Some(status) = status else {
        if let Some(pgid) = pgid {
            let _ = killpg(pgid, Signal::SIGKILL);
        }
        let _ = child.wait().await;
        drain(&mut rx, &mut output).await;
        let mut text = output.finish();
        text.push_str(&format!(
            "\n[rustyhook] killed after the {}s timeout, with its process group",
            spec.timeout.as_secs_f64()
        ));
        return CommandResult {
            outcome: OutcomeCode::Timeout,
            exit_code: None,
            output: text,
            took: started.elapsed(),
        };
    };
    guard.armed = false;
    drain(&mut rx, &mut output).await;
    let took = started.elapsed();
    match status {
        Ok(s) => {
            let code = s.code();
            CommandResult {
                outcome: if s.success() {
                    OutcomeCode::Ok
                } else {
                    OutcomeCode::ExitCode
                },
                exit_code: code,
                output: output.finish(),
                took,
            }
        }
        Err(e) => CommandResult {
            outcome: OutcomeCode::Spawn,
            exit_code: None,
            output: format!("could not wait for the command: {e}"),
            took,
        },
    }
}

/// Kills a process group when dropped while armed, and strikes it from the ledger.
struct GroupGuard {
    pgid: Option<Pid>,
    armed: bool,
    ledger: Option<Arc<GroupLedger>>,
}

impl Drop for GroupGuard {
    fn drop(&mut self) {
        let Some(pgid) = self.pgid else { return };
        if self.armed {
            let _ = killpg(pgid, Signal::SIGKILL);
        }
        if let Some(ledger) = &self.ledger {
            ledger.forget(pgid.as_raw() as u32);
        }
    }
}

async fn pump(mut from: impl AsyncRead + Unpin, to: mpsc::UnboundedSender<Vec<u8>>) {
    let mut buf = vec![0u8; 8192];
    loop {
        match from.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(n) => {
                if to.send(buf[..n].to_vec()).is_err() {
                    return;
                }
            }
        }
    }
}

/// Reads what is left, until the pipes close or a short grace passes (a child left running in
/// the background may hold them open).
async fn drain(rx: &mut mpsc::UnboundedReceiver<Vec<u8>>, output: &mut Capped) {
    let grace = tokio::time::sleep(DRAIN_AFTER_EXIT);
    tokio::pin!(grace);
    loop {
        tokio::select! {
            chunk = rx.recv() => match chunk {
                Some(c) => output.push(&c),
                None => return,
            },
            () = &mut grace => return,
        }
    }
}

/// Output kept up to a byte cap.
struct Capped {
    buf: Vec<u8>,
    cap: usize,
    dropped: usize,
}

impl Capped {
    fn new(cap: usize) -> Self {
        Self {
            buf: Vec::new(),
            cap,
            dropped: 0,
        }
    }

    fn push(&mut self, chunk: &[u8]) {
        let room = self.cap.saturating_sub(self.buf.len());
        let take = room.min(chunk.len());
        self.buf.extend_from_slice(&chunk[..take]);
        self.dropped += chunk.len() - take;
    }

    fn finish(self) -> String {
        let mut text = String::from_utf8_lossy(&self.buf).into_owned();
        if self.dropped > 0 {
            text.push_str(&format!(
                "\n[rustyhook] {} more bytes of output dropped",
                self.dropped
            ));
        }
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(script: &str) -> CommandSpec {
        CommandSpec {
            command: Command::Shell(script.into()),
            shell_program: None,
            working_dir: None,
            timeout: Duration::from_secs(10),
            env: vec![
                ("GREETING".into(), "hello".into()),
                ("PATH".into(), "/usr/bin:/bin".into()),
            ],
            stdin: b"the payload".to_vec(),
            max_output: 1024,
            ledger: None,
        }
    }

    #[tokio::test]
    async fn a_command_gets_its_environment_and_stdin() {
        let r = run(spec("echo \"$GREETING\"; cat; exit 3")).await;
        assert_eq!(r.outcome, OutcomeCode::ExitCode);
        assert_eq!(r.exit_code, Some(3));
        assert_eq!(r.output, "hello\nthe payload");
    }

    #[tokio::test]
    async fn a_command_inherits_nothing_beyond_its_spec() {
        // HOME is set in any test process; the command must not see it.
        let r = run(spec("env | cut -d= -f1 | sort | tr '\\n' ' '")).await;
        assert_eq!(r.output.trim(), "GREETING PATH PWD", "{}", r.output);
    }

    #[tokio::test]
    async fn a_timed_out_command_is_killed_with_its_process_group() {
        let dir = std::env::temp_dir().join(format!("rh-cmd-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let marker = dir.join("grandchild-survived");
        let _ = std::fs::remove_file(&marker);
        let mut s = spec(&format!("(sleep 1; touch {}) & sleep 30", marker.display()));
        s.timeout = Duration::from_millis(300);
        let r = run(s).await;
        assert_eq!(r.outcome, OutcomeCode::Timeout);
        assert!(r.output.contains("killed after"), "{}", r.output);
        tokio::time::sleep(Duration::from_millis(1500)).await;
        assert!(
            !marker.exists(),
            "the background child outlived the timeout"
        );
    }

    #[tokio::test]
    async fn output_is_capped_and_a_missing_program_is_a_spawn_failure() {
        let mut s = spec("head -c 5000 /dev/zero | tr '\\0' x");
        s.max_output = 100;
        let r = run(s).await;
        assert!(r.output.starts_with(&"x".repeat(100)));
        assert!(r.output.contains("4900 more bytes"), "{}", r.output);
        let mut s = spec("");
        s.command = Command::Argv(vec!["/nonexistent/program".into()]);
        let r = run(s).await;
        assert_eq!(r.outcome, OutcomeCode::Spawn);
        assert!(r.output.contains("/nonexistent/program"));
    }
}
