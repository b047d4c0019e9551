//! The hostile-input harness itself: a refusal passes, and each way of failing it is caught.

mod common;
use common::hostile::*;
use common::*;

#[test]
fn a_clear_refusal_passes_and_a_panic_a_write_or_a_second_line_do_not() {
    let dir = tmpdir("harness");
    let before = files_under(&dir);
    let missing = dir.join("missing.onnx");
    let b = run_bounded(bin().args(["inspect", "--model"]).arg(&missing));
    assert_refused("missing model", &b, &["missing.onnx"], &dir, &before);
    // A write is caught.
    std::fs::write(dir.join("x"), b"x").unwrap();
    let caught = std::panic::catch_unwind(|| {
        assert_refused("written", &b, &["missing.onnx"], &dir, &before);
    });
    assert!(caught.is_err(), "a file written must fail the check");
    // A message that does not name the file is caught.
    let caught = std::panic::catch_unwind(|| {
        assert_refused(
            "unnamed",
            &b,
            &["nonexistent-name"],
            &dir,
            &files_under(&dir),
        );
    });
    assert!(
        caught.is_err(),
        "a message without the file's name must fail the check"
    );
    // (A process this short may exit before the first memory sample: the watch bounds memory
    // by sampling every millisecond, and a millisecond cannot hold a runaway allocation.)
}
