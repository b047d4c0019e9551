//! The authenticated cache of weight roots and calibrations, as users meet it: one entry per
//! model and precision, and no poisoned, corrupt, racing or readable-by-others entry ever
//! changes a verdict.

mod common;
use common::*;

use std::path::{Path, PathBuf};
use std::process::Command;

/// `zkgrad` with its cache and cache key under `d` (tests share no cache state).
fn cached_bin(d: &Path) -> Command {
    let mut c = bin();
    c.env("ZKGRAD_CACHE_DIR", d.join("cache"))
        .env("XDG_CONFIG_HOME", d.join("config"));
    c
}

/// The entry files of one kind in the cache under `d`.
fn cache_entries(d: &Path, kind: &str) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(d.join("cache").join(kind))
        .map(|r| r.filter_map(|e| e.ok().map(|e| e.path())).collect())
        .unwrap_or_default();
    v.retain(|p| !p.file_name().unwrap().to_string_lossy().starts_with('.'));
    v.sort();
    v
}

#[test]
fn weight_roots_are_cached_per_model_and_precision() {
    let d = tmpdir("cache");
    let model = example("mlp/mlp.onnx");
    assert!(prove(&d, &model, &example("mlp/input.json"))
        .status
        .success());
    let verify = |extra: &[&str]| {
        run(cached_bin(&d)
            .args(["verify", "--model"])
            .arg(&model)
            .arg("--proof")
            .arg(d.join("p.zkp"))
            .args(extra))
    };
    assert_eq!(verify(&[]).status.code(), Some(0));
    assert_eq!(
        cache_entries(&d, "weight-roots").len(),
        1,
        "one cached root"
    );
    assert_eq!(cache_entries(&d, "act-frac").len(), 1, "one calibration");
    // The key lives outside the cache, private to its owner.
    let key = d.join("config/zkgrad/cache-key");
    assert_eq!(std::fs::read(&key).unwrap().len(), 32);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&key).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600, "{mode:o}");
    }
    // A second verification reads the entries silently; another precision is another entry.
    let o = verify(&[]);
    assert_eq!(o.status.code(), Some(0));
    assert!(!stderr(&o).contains("cache entry"), "{}", stderr(&o));
    let o = verify(&["--table-bits", "19"]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert_eq!(cache_entries(&d, "act-frac").len(), 2);
    // A damaged entry is recomputed, never trusted, and said so.
    for e in cache_entries(&d, "weight-roots") {
        std::fs::write(&e, b"garbage").unwrap();
    }
    let o = verify(&[]);
    assert_eq!(o.status.code(), Some(0));
    assert!(
        stderr(&o).contains("failed its integrity check; recomputed"),
        "{}",
        stderr(&o)
    );
    assert_eq!(verify(&["--no-cache"]).status.code(), Some(0));
}

/// The model with every Linear weight doubled: same circuit, other weights.
fn scaled_model(src: &Path, dst: &Path) {
    let bytes = std::fs::read(src).unwrap();
    let (mut g, sources) = zkgrad_onnx::import_with_sources(&bytes).unwrap();
    for n in g.nodes.iter_mut() {
        if let zkgrad_model::Op::Linear { w, .. } = &mut n.op {
            w.iter_mut().for_each(|v| *v *= 2.0);
        }
    }
    std::fs::write(
        dst,
        zkgrad_onnx::export_weights(&bytes, &g, &sources).unwrap(),
    )
    .unwrap();
}

/// A cache entry can never change a verdict or a printed commitment: another model's valid
/// entry copied over this model's, a hand-written entry holding another model's root, random
/// bytes, a FIFO. Each is recomputed (and said so) and the verdict is `--no-cache`'s.
#[test]
fn poisoned_or_corrupt_cache_entries_never_change_a_verdict() {
    let d = tmpdir("poison");
    let model = example("mlp/mlp.onnx");
    let other = d.join("other.onnx");
    scaled_model(&model, &other);
    // A fixed precision: the weight root is the only cached value in play.
    let fixed = ["--act-frac", "16"];
    let input = example("mlp/input.json");
    for (m, name) in [(&model, "honest.zkp"), (&other, "other.zkp")] {
        let o = prove_flags(&fixed, m, &input, &d.join(name));
        assert!(o.status.success(), "{}", stderr(&o));
    }
    let commit = |m: &Path, extra: &[&str]| -> serde_json::Value {
        let o = run(cached_bin(&d)
            .args(["commit", "--json", "--model"])
            .arg(m)
            .args(fixed)
            .args(extra));
        assert!(o.status.success(), "{}", stderr(&o));
        serde_json::from_slice(&o.stdout).unwrap()
    };
    let verify = |proof: &str, extra: &[&str]| {
        run(cached_bin(&d)
            .args(["verify", "--model"])
            .arg(&model)
            .arg("--proof")
            .arg(d.join(proof))
            .args(fixed)
            .args(extra))
    };
    // Fill the cache with both models' entries and tell them apart.
    let truth = commit(&model, &[]);
    let entries = cache_entries(&d, "weight-roots");
    assert_eq!(entries.len(), 1);
    let own = entries[0].clone();
    let other_root = commit(&other, &[])["weight_root"]
        .as_str()
        .unwrap()
        .to_string();
    let other_entry = cache_entries(&d, "weight-roots")
        .into_iter()
        .find(|e| *e != own)
        .unwrap();
    let good_entry = std::fs::read(&own).unwrap();
    let expected = [
        (
            "honest.zkp",
            verify("honest.zkp", &["--no-cache"]).status.code(),
        ),
        (
            "other.zkp",
            verify("other.zkp", &["--no-cache"]).status.code(),
        ),
    ];
    assert_eq!(expected, [("honest.zkp", Some(0)), ("other.zkp", Some(1))]);

    let hex = |s: &str| -> Vec<u8> {
        (0..s.len() / 2)
            .map(|i| u8::from_str_radix(&s[2 * i..2 * i + 2], 16).unwrap())
            .collect()
    };
    type Poison<'a> = Box<dyn Fn() + 'a>;
    let poisons: Vec<(&str, Poison)> = vec![
        (
            "another model's valid entry copied over this one",
            Box::new(|| {
                std::fs::copy(&other_entry, &own).unwrap();
            }),
        ),
        (
            "an entry edited to hold another model's root",
            Box::new(|| {
                let mut e = good_entry.clone();
                e[48..80].copy_from_slice(&hex(&other_root));
                std::fs::write(&own, e).unwrap();
            }),
        ),
        (
            "random bytes",
            Box::new(|| {
                let junk: Vec<u8> = (0..good_entry.len() as u32)
                    .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
                    .collect();
                std::fs::write(&own, junk).unwrap();
            }),
        ),
        (
            "a long file",
            Box::new(|| std::fs::write(&own, vec![7u8; 1 << 20]).unwrap()),
        ),
    ];
    for (what, poison) in &poisons {
        for (proof, want) in expected {
            poison();
            let o = verify(proof, &[]);
            assert_eq!(o.status.code(), want, "{what}, {proof}: {}", stderr(&o));
            assert!(
                stderr(&o).contains("failed its integrity check; recomputed"),
                "{what}: {}",
                stderr(&o)
            );
        }
        // The entry was overwritten with the right value: a silent, correct read now.
        let o = verify("honest.zkp", &[]);
        assert_eq!(o.status.code(), Some(0));
        assert!(!stderr(&o).contains("cache entry"), "{}", stderr(&o));
        poison();
        assert_eq!(
            commit(&model, &[]),
            truth,
            "{what}: commit printed another commitment"
        );
    }
    // A FIFO where an entry should be: no hang, recomputed.
    #[cfg(unix)]
    if std::fs::remove_file(&own).is_ok()
        && Command::new("mkfifo")
            .arg(&own)
            .status()
            .is_ok_and(|s| s.success())
    {
        let o = verify("honest.zkp", &[]);
        assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
        let o = verify("other.zkp", &[]);
        assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    }
}

/// Processes that find no cache key create it at once: one wins, all use the winner's, and
/// the entries they write check out afterwards.
#[test]
fn parallel_first_runs_agree_on_one_cache_key() {
    let d = tmpdir("keyrace");
    let model = example("mlp/mlp.onnx");
    assert!(prove(&d, &model, &example("mlp/input.json"))
        .status
        .success());
    let children: Vec<_> = (0..6)
        .map(|_| {
            cached_bin(&d)
                .args(["verify", "--model"])
                .arg(&model)
                .arg("--proof")
                .arg(d.join("p.zkp"))
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    for c in children {
        let o = c.wait_with_output().unwrap();
        assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    }
    let o = run(cached_bin(&d)
        .args(["verify", "--model"])
        .arg(&model)
        .arg("--proof")
        .arg(d.join("p.zkp")));
    assert_eq!(o.status.code(), Some(0));
    assert!(!stderr(&o).contains("cache"), "{}", stderr(&o));
    let leftovers: Vec<_> = std::fs::read_dir(d.join("config/zkgrad"))
        .unwrap()
        .filter_map(|e| e.ok())
        .map(|e| e.file_name())
        .collect();
    assert_eq!(leftovers, vec![std::ffi::OsString::from("cache-key")]);
}

/// A cache key others can read or write is not used: the verdict is computed afresh.
#[cfg(unix)]
#[test]
fn a_cache_key_others_can_read_is_not_used() {
    use std::os::unix::fs::PermissionsExt;
    let d = tmpdir("keymode");
    let model = example("mlp/mlp.onnx");
    assert!(prove(&d, &model, &example("mlp/input.json"))
        .status
        .success());
    let key = d.join("config/zkgrad/cache-key");
    std::fs::create_dir_all(key.parent().unwrap()).unwrap();
    std::fs::write(&key, [9u8; 32]).unwrap();
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o644)).unwrap();
    let o = run(cached_bin(&d)
        .args(["verify", "--model"])
        .arg(&model)
        .arg("--proof")
        .arg(d.join("p.zkp")));
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(stderr(&o).contains("not using the cache"), "{}", stderr(&o));
    assert!(cache_entries(&d, "weight-roots").is_empty());
    // Nor is a key inside the cache directory, which whoever writes the cache could replace.
    let o = run(bin()
        .env("ZKGRAD_CACHE_DIR", d.join("config"))
        .env("XDG_CONFIG_HOME", d.join("config"))
        .args(["verify", "--model"])
        .arg(&model)
        .arg("--proof")
        .arg(d.join("p.zkp")));
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("inside the cache directory"),
        "{}",
        stderr(&o)
    );
}

/// A transformer's per-tensor scales (its default) are cached like `act_frac`: `verify
/// --model` stores them once and reads them after; a damaged entry is recomputed and said so,
/// and the verdict never changes.
#[test]
fn per_tensor_scales_are_cached_and_a_damaged_entry_is_recomputed() {
    let d = tmpdir("cache-per-tensor");
    let model = example("transformers/gpt2_tiny/model.onnx");
    assert!(
        prove(&d, &model, &example("transformers/gpt2_tiny/input.json"))
            .status
            .success()
    );
    let verify = || {
        run(cached_bin(&d)
            .args(["verify", "--model"])
            .arg(&model)
            .arg("--proof")
            .arg(d.join("p.zkp")))
    };
    assert_eq!(verify().status.code(), Some(0));
    assert_eq!(cache_entries(&d, "per-tensor-fracs").len(), 1);
    let o = verify();
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(!stderr(&o).contains("cache entry"), "{}", stderr(&o));
    for e in cache_entries(&d, "per-tensor-fracs") {
        let mut b = std::fs::read(&e).unwrap();
        let n = b.len();
        b[n - 40] ^= 1; // a scale, under the entry's MAC
        std::fs::write(&e, b).unwrap();
    }
    let o = verify();
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("failed its integrity check; recomputed"),
        "{}",
        stderr(&o)
    );
}
