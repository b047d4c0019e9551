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
    // Each test binary (cli, cache, …) has a prefix of its own: they run in parallel.
    let d = std::env::temp_dir().join(format!(
        "zkgrad-{}-{name}-{}",
        env!("CARGO_CRATE_NAME"),
        std::process::id()
    ));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
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

pub mod hostile;
