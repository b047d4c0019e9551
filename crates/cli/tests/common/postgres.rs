//! A private PostgreSQL server for the service's tests: Debian's `postgresql` package
//! (`apt-get install postgresql`; `.ci/run` installs it), a fresh cluster in a temporary
//! directory on a free port, trust authentication on 127.0.0.1, stopped when dropped. As root
//! (CI containers), the cluster runs as the package's `postgres` user.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;

pub struct Postgres {
    pub url: String,
    bin: PathBuf,
    dir: PathBuf,
    as_postgres: bool,
}

/// The newest installed server's `bin` directory.
fn server_bin() -> Option<PathBuf> {
    let mut versions: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .flatten()
        .map(|e| e.path().join("bin"))
        .filter(|b| b.join("initdb").is_file())
        .collect();
    versions.sort();
    versions.pop()
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}

/// Whether tests that need PostgreSQL or Chromium must run (CI sets it); otherwise they are
/// skipped, loudly, where the tool is not installed.
pub fn required() -> bool {
    std::env::var_os("ZKGRAD_REQUIRE_SERVICES").is_some_and(|v| v == "1")
}

impl Postgres {
    /// Starts a cluster under `dir`; `None` (with a message) where PostgreSQL is not installed
    /// and not [`required`].
    pub fn start(dir: &Path) -> Option<Postgres> {
        let Some(bin) = server_bin() else {
            assert!(
                !required(),
                "PostgreSQL is not installed (apt-get install postgresql)"
            );
            eprintln!(
                "SKIPPED: PostgreSQL is not installed (apt-get install postgresql; .ci/run does)"
            );
            return None;
        };
        let as_postgres = is_root();
        let data = dir.join("pgdata");
        std::fs::create_dir_all(dir).unwrap();
        if as_postgres {
            // The cluster's files belong to the postgres user.
            assert!(Command::new("chown")
                .args(["-R", "postgres:postgres"])
                .arg(dir)
                .status()
                .unwrap()
                .success());
        }
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let pg = Postgres {
            url: format!("postgres://postgres@127.0.0.1:{port}/postgres"),
            bin,
            dir: dir.to_path_buf(),
            as_postgres,
        };
        let initdb = pg.command(
            "initdb",
            &[
                "-D",
                &data.display().to_string(),
                "-U",
                "postgres",
                "--auth=trust",
                "--no-sync",
            ],
        );
        assert!(initdb.success(), "initdb failed");
        let opts = format!(
            "-p {port} -c listen_addresses=127.0.0.1 -k {} -c fsync=off",
            dir.display()
        );
        let start = pg.command(
            "pg_ctl",
            &[
                "-D",
                &data.display().to_string(),
                "-o",
                &opts,
                "-l",
                &dir.join("log").display().to_string(),
                "-w",
                "start",
            ],
        );
        assert!(
            start.success(),
            "pg_ctl start failed: see {}",
            dir.join("log").display()
        );
        Some(pg)
    }

    fn command(&self, tool: &str, args: &[&str]) -> std::process::ExitStatus {
        let exe = self.bin.join(tool);
        let mut c = if self.as_postgres {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(exe);
            c
        } else {
            Command::new(exe)
        };
        c.args(args)
            .stdout(std::process::Stdio::null())
            .status()
            .unwrap_or_else(|e| panic!("{tool}: {e}"))
    }
}

impl Drop for Postgres {
    fn drop(&mut self) {
        let data = self.dir.join("pgdata").display().to_string();
        self.command("pg_ctl", &["-D", &data, "-m", "immediate", "stop"]);
    }
}
