//! The harness of the hostile-input suites (issue 13): run `zkgrad` on a hostile file with a
//! wall-clock and memory watch, and check what a refusal must look like — exit 2, one line on
//! stderr that names what is wrong, within 2 s and 200 MB, and nothing written.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

/// Each hostile case must finish within this.
pub const MAX_SECONDS: f64 = 2.0;
/// And stay below this peak resident set.
pub const MAX_RSS_MB: f64 = 200.0;
/// A case still running after this is killed (and fails).
const KILL_AFTER: Duration = Duration::from_secs(20);

/// What a bounded run saw.
pub struct Bounded {
    pub status: Option<ExitStatus>,
    pub stdout: String,
    pub stderr: String,
    pub seconds: f64,
    /// The peak resident set (VmHWM), sampled every millisecond while the process ran.
    pub peak_rss_mb: f64,
    pub killed: bool,
}

impl Bounded {
    pub fn code(&self) -> Option<i32> {
        self.status.and_then(|s| s.code())
    }
}

fn vm_hwm_kb(pid: u32) -> Option<u64> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = s.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// Runs `c` (stdin closed), watching its time and peak memory; kills it after 20 s.
pub fn run_bounded(c: &mut Command) -> Bounded {
    let t0 = Instant::now();
    let mut child = c
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn zkgrad");
    let pid = child.id();
    let mut out = child.stdout.take().expect("stdout");
    let mut err = child.stderr.take().expect("stderr");
    let t_out = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = out.read_to_string(&mut s);
        s
    });
    let t_err = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = err.read_to_string(&mut s);
        s
    });
    let (mut peak_kb, mut killed) = (0u64, false);
    let status = loop {
        if let Some(kb) = vm_hwm_kb(pid) {
            peak_kb = peak_kb.max(kb);
        }
        match child.try_wait() {
            Ok(Some(s)) => break Some(s),
            Ok(None) if t0.elapsed() > KILL_AFTER => {
                let _ = child.kill();
                killed = true;
                break child.wait().ok();
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(1)),
            Err(_) => break None,
        }
    };
    Bounded {
        status,
        stdout: t_out.join().unwrap_or_default(),
        stderr: t_err.join().unwrap_or_default(),
        seconds: t0.elapsed().as_secs_f64(),
        peak_rss_mb: peak_kb as f64 / 1024.0,
        killed,
    }
}

/// Every file under `dir` (recursively), sorted: compared before and after a run to show that
/// nothing was written.
pub fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(rd) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in rd.flatten() {
            let p = e.path();
            if p.is_dir() && !p.is_symlink() {
                stack.push(p.clone());
            }
            out.push(p);
        }
    }
    out.sort();
    out
}

/// Asserts what refusing hostile input means: exit 2 (not killed, no panic or abort), one line
/// on stderr containing every one of `needles` (the file, what is wrong), within
/// [`MAX_SECONDS`] and [`MAX_RSS_MB`], and `dir` holding exactly the files it held before.
pub fn assert_refused(case: &str, b: &Bounded, needles: &[&str], dir: &Path, before: &[PathBuf]) {
    assert!(!b.killed, "{case}: still running after 20 s (a hang)");
    assert_eq!(
        b.code(),
        Some(2),
        "{case}: exit {:?}, want 2; stderr: {}",
        b.status,
        b.stderr
    );
    let lines: Vec<&str> = b.stderr.lines().filter(|l| !l.trim().is_empty()).collect();
    assert_eq!(
        lines.len(),
        1,
        "{case}: want one line on stderr, got:\n{}",
        b.stderr
    );
    for n in needles {
        assert!(
            lines[0].contains(n),
            "{case}: the message does not name {n:?}: {}",
            lines[0]
        );
    }
    assert!(
        b.seconds < MAX_SECONDS,
        "{case}: took {:.2} s (limit {MAX_SECONDS} s)",
        b.seconds
    );
    assert!(
        b.peak_rss_mb < MAX_RSS_MB,
        "{case}: peak RSS {:.0} MB (limit {MAX_RSS_MB} MB)",
        b.peak_rss_mb
    );
    assert_eq!(
        files_under(dir),
        before,
        "{case}: files were written or removed"
    );
}
