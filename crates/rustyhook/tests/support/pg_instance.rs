//! A PostgreSQL server of the test's own, made with `initdb` and run with `pg_ctl` on a free
//! port, so a test can stop and start it freely without touching the machine's shared server.
//! Run as root (CI), the server runs as the `postgres` user, as PostgreSQL requires.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

pub struct PgInstance {
    /// Holds the data directory and the socket; removed on drop.
    dir: tempfile::TempDir,
    bin: PathBuf,
    pub port: u16,
}

/// The newest installed PostgreSQL's `bin` directory (Debian keeps each version apart).
fn bin_dir() -> PathBuf {
    let mut found: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .expect("PostgreSQL is installed under /usr/lib/postgresql (.ci/services.sh installs it)")
        .filter_map(|e| e.ok().map(|e| e.path().join("bin")))
        .filter(|p| p.join("initdb").exists())
        .collect();
    found.sort_by_key(|p| {
        p.parent()
            .and_then(|v| v.file_name())
            .and_then(|v| v.to_str())
            .and_then(|v| v.parse::<u32>().ok())
            .unwrap_or(0)
    });
    found
        .pop()
        .expect("an initdb under /usr/lib/postgresql/*/bin")
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}

impl PgInstance {
    /// Makes a cluster and starts it, with a database `rustyhook`.
    pub fn start() -> Self {
        let dir = tempfile::tempdir().expect("dir");
        let port = super::binary::free_port();
        let this = Self {
            dir,
            bin: bin_dir(),
            port,
        };
        if is_root() {
            let owned = Command::new("chown")
                .args(["-R", "postgres:postgres"])
                .arg(this.dir.path())
                .status()
                .expect("chown runs");
            assert!(owned.success());
        }
        let data = this.data();
        let made = this.run("initdb", |c| {
            c.args(["-A", "trust", "-U", "postgres", "--no-sync", "-D"])
                .arg(&data);
        });
        assert!(
            made.status.success(),
            "initdb failed: {}",
            String::from_utf8_lossy(&made.stderr)
        );
        this.resume();
        let created = this.run("createdb", |c| {
            c.args(["-h", "127.0.0.1", "-p", &port.to_string(), "-U", "postgres"])
                .arg("rustyhook");
        });
        assert!(
            created.status.success(),
            "createdb failed: {}",
            String::from_utf8_lossy(&created.stderr)
        );
        this
    }

    pub fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/rustyhook", self.port)
    }

    fn data(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    fn socket_dir(&self) -> &Path {
        self.dir.path()
    }

    /// Runs a PostgreSQL program, as `postgres` when we are root.
    fn run(&self, program: &str, args: impl FnOnce(&mut Command)) -> Output {
        let path = self.bin.join(program);
        let mut cmd = if is_root() {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(path);
            c
        } else {
            Command::new(path)
        };
        args(&mut cmd);
        cmd.output().expect("a PostgreSQL program runs")
    }

    /// Starts the server and waits until it takes connections.
    pub fn resume(&self) {
        let opts = format!(
            "-p {} -k {} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200",
            self.port,
            self.socket_dir().display()
        );
        let log = self.dir.path().join("server.log");
        let started = self.run("pg_ctl", |c| {
            c.args(["-w", "-t", "60", "-D"])
                .arg(self.data())
                .args(["-l"])
                .arg(&log)
                .args(["-o", &opts, "start"]);
        });
        assert!(
            started.status.success(),
            "pg_ctl start failed: {}{}",
            String::from_utf8_lossy(&started.stderr),
            std::fs::read_to_string(&log).unwrap_or_default()
        );
        let deadline = Instant::now() + Duration::from_secs(30);
        while std::net::TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            assert!(Instant::now() < deadline, "PostgreSQL never listened");
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Stops the server at once (connections are cut, as in a crash of the database host).
    pub fn stop(&self) {
        let stopped = self.run("pg_ctl", |c| {
            c.args(["-w", "-D"])
                .arg(self.data())
                .args(["-m", "immediate", "stop"]);
        });
        assert!(
            stopped.status.success(),
            "pg_ctl stop failed: {}",
            String::from_utf8_lossy(&stopped.stderr)
        );
    }
}

impl Drop for PgInstance {
    fn drop(&mut self) {
        let _ = self.run("pg_ctl", |c| {
            c.args(["-D"])
                .arg(self.data())
                .args(["-m", "immediate", "stop"]);
        });
    }
}
