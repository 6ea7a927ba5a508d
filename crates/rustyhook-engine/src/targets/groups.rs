//! A ledger of the process groups this node's commands run in, kept as one small file per group
//! in a folder beside the database.
//!
//! Commands run in their own process group, so a timeout can kill everything they started. The
//! price: when the server itself is killed (SIGKILL, an OOM kill), nothing kills those groups,
//! and the run — released and run again after the restart — would execute twice at once. So each
//! group is written down while it runs, and at start-up every group still written down is killed
//! before any run starts. A group is killed only if it is provably the one recorded: same boot,
//! and its leader (if still alive) has the start time recorded; a reused process id is left alone.

use std::fs;
use std::path::{Path, PathBuf};

use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;

/// The folder of recorded process groups.
#[derive(Debug)]
pub struct GroupLedger {
    /// One file per running group, named by its id, holding `boot_id start_time`.
    dir: PathBuf,
}

impl GroupLedger {
    /// Opens (creating) the ledger in `dir` and kills the groups a previous process left
    /// running. Returns the ledger and how many groups were killed.
    pub fn open(dir: &Path) -> std::io::Result<(Self, usize)> {
        fs::create_dir_all(dir)?;
        let ledger = Self {
            dir: dir.to_path_buf(),
        };
        let killed = ledger.kill_stale();
        Ok((ledger, killed))
    }

    /// Writes down a group just started; its leader's id is the group's id.
    pub fn record(&self, pgid: u32) {
        let Some(entry) = identity(pgid) else { return };
        if let Err(e) = fs::write(self.dir.join(pgid.to_string()), entry) {
            tracing::warn!(pgid, error = %e, "could not record a command's process group");
        }
    }

    /// Forgets a group that finished or was killed.
    pub fn forget(&self, pgid: u32) {
        let _ = fs::remove_file(self.dir.join(pgid.to_string()));
    }

    fn kill_stale(&self) -> usize {
        let Ok(entries) = fs::read_dir(&self.dir) else {
            return 0;
        };
        let mut killed = 0;
        for entry in entries.flatten() {
            let path = entry.path();
            let recorded = fs::read_to_string(&path).unwrap_or_default();
            if let Some(pgid) = path
                .file_name()
                .and_then(|n| n.to_str())
                .and_then(|n| n.parse::<u32>().ok())
                && still_ours(pgid, &recorded)
                && killpg(Pid::from_raw(pgid as i32), Signal::SIGKILL).is_ok()
            {
                tracing::warn!(
                    pgid,
                    "killed a command left running by a previous process; its run will run again"
                );
                killed += 1;
            }
            let _ = fs::remove_file(&path);
        }
        killed
    }
}

/// `boot_id start_time` of process `pid`, or `None` where `/proc` cannot tell.
fn identity(pid: u32) -> Option<String> {
    Some(format!("{} {}", boot_id()?, start_time(pid)?))
}

fn boot_id() -> Option<String> {
    fs::read_to_string("/proc/sys/kernel/random/boot_id")
        .ok()
        .map(|s| s.trim().to_owned())
}

/// The process's start time in clock ticks since boot (field 22 of `/proc/PID/stat`).
fn start_time(pid: u32) -> Option<String> {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) is in parentheses and may hold spaces: split after it.
    let rest = &stat[stat.rfind(')')? + 1..];
    rest.split_whitespace().nth(19).map(str::to_owned)
}

/// Whether group `pgid` is still the one recorded as `recorded`.
fn still_ours(pgid: u32, recorded: &str) -> bool {
    let mut parts = recorded.split_whitespace();
    let (Some(boot), Some(started)) = (parts.next(), parts.next()) else {
        return false;
    };
    if boot_id().as_deref() != Some(boot) {
        return false;
    }
    match start_time(pgid) {
        // The leader lives: it must be the same process, not a reused id.
        Some(now) => now == started,
        // The leader exited; whatever is left in its group was started by it (an id cannot be
        // reused while its group has members).
        None => true,
    }
}

#[cfg(test)]
mod tests {
    use std::os::unix::process::CommandExt;

    use super::*;

    #[test]
    fn a_recorded_group_left_running_is_killed_at_open_and_a_reused_id_is_not() {
        let dir = tempfile::tempdir().expect("temp dir");
        let (ledger, killed) = GroupLedger::open(dir.path()).expect("opens");
        assert_eq!(killed, 0);
        let mut orphan = std::process::Command::new("sleep")
            .arg("30")
            .process_group(0)
            .spawn()
            .expect("sleep starts");
        ledger.record(orphan.id());
        // A file naming a live process with another start time stands for a reused id.
        let mut other = std::process::Command::new("sleep")
            .arg("30")
            .process_group(0)
            .spawn()
            .expect("sleep starts");
        let boot = boot_id().expect("linux");
        fs::write(dir.path().join(other.id().to_string()), format!("{boot} 1")).expect("write");
        drop(ledger);

        let (_ledger, killed) = GroupLedger::open(dir.path()).expect("opens");
        assert_eq!(killed, 1);
        let status = orphan.wait().expect("waited");
        assert!(!status.success(), "the orphan was killed");
        assert!(
            other.try_wait().expect("polled").is_none(),
            "a reused id is left alone"
        );
        let _ = other.kill();
        let _ = other.wait();
        assert_eq!(fs::read_dir(dir.path()).expect("dir").count(), 0);
    }
}
