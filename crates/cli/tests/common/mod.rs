//! Shared helpers of the CLI's integration tests: the binary, the examples, a fresh temporary
//! directory per test, and the prove/verify invocations most tests make.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

pub fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_zkgrad"))
}

pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

pub fn example(p: &str) -> PathBuf {
    root().join("examples").join(p)
}

pub fn tmpdir(name: &str) -> PathBuf {
    static SWEEP: std::sync::Once = std::sync::Once::new();
    SWEEP.call_once(sweep_finished_runs);
    // Each test binary (cli, cache, …) has a prefix of its own: they run in parallel.
    let d = std::env::temp_dir().join(format!(
        "{TEST_DIR_PREFIX}{}-{name}-{}",
        env!("CARGO_CRATE_NAME"),
        std::process::id()
    ));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// How a test's own directory is named (see [`sweep_finished_runs`]); nothing is written
/// inside it but what the test writes (several tests list it).
const TEST_DIR_PREFIX: &str = "zkgrad-test-";

/// Removes what earlier test runs left in the temporary directory (a full run left ~80
/// directories, megabytes of proofs and models): directories named as a test's own whose
/// process — the pid their name ends with — has exited. Where `/proc` is missing the
/// directories stay.
fn sweep_finished_runs() {
    if !Path::new("/proc/self").exists() {
        return;
    }
    let Ok(entries) = std::fs::read_dir(std::env::temp_dir()) else {
        return;
    };
    for e in entries.flatten() {
        let path = e.path();
        let Some(name) = path.file_name().and_then(|n| n.to_str()) else {
            continue;
        };
        if !name.starts_with(TEST_DIR_PREFIX) || !path.is_dir() || path.is_symlink() {
            continue;
        }
        let Some(pid) = name.rsplit('-').next().and_then(|p| p.parse::<u32>().ok()) else {
            continue;
        };
        if pid != std::process::id() && !Path::new(&format!("/proc/{pid}")).exists() {
            let _ = std::fs::remove_dir_all(&path);
        }
    }
}

pub fn run(c: &mut Command) -> Output {
    c.output().unwrap()
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

pub fn verify(model: impl AsRef<Path>, proof: impl AsRef<Path>) -> Output {
    run(bin()
        .args(["verify", "--model"])
        .arg(model.as_ref())
        .arg("--proof")
        .arg(proof.as_ref()))
}

pub fn prove(dir: &Path, model: &Path, input: &Path) -> Output {
    run(bin()
        .args(["prove", "--model"])
        .arg(model)
        .arg("--input")
        .arg(input)
        .arg("--proof")
        .arg(dir.join("p.zkp"))
        .arg("--output")
        .arg(dir.join("out.json")))
}

/// `zkgrad prove FLAGS --model M --input I --proof P`.
pub fn prove_flags(flags: &[&str], model: &Path, input: &Path, proof: &Path) -> Output {
    run(bin()
        .arg("prove")
        .args(flags)
        .arg("--model")
        .arg(model)
        .arg("--input")
        .arg(input)
        .arg("--proof")
        .arg(proof))
}

pub mod browser;
pub mod hostile;
pub mod postgres;
pub mod server;
