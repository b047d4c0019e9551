//! The service's status page in a real headless browser (Chromium over the DevTools
//! protocol): upload a model, prove an input, watch the job's progress bar reach the end,
//! download the proof (checked by `zkgrad verify`), and verify it by upload.

mod common;

use common::browser::Browser;
use common::server::Server;
use common::{bin, example, run, tmpdir};

#[test]
fn status_page_uploads_proves_downloads_and_verifies_in_a_real_browser() {
    let dir = tmpdir("status-page");
    let Some(mut b) = Browser::start(&dir.join("browser")) else {
        return;
    };
    let srv = Server::start(&dir.join("data"), &[]);
    let downloads = dir.join("downloads");
    std::fs::create_dir_all(&downloads).unwrap();
    b.download_to(&downloads);
    b.navigate(&format!("{}/", srv.url));
    assert_eq!(b.eval("document.title"), "zkgrad — proving service");

    // Upload the seed MLP through the form.
    b.set_files("#model-file", &[&example("mlp/mlp.onnx")]);
    b.eval("document.querySelector('#upload-form button').click()");
    b.wait_until(
        "document.getElementById('message').textContent.startsWith('model stored')",
        60,
    );
    b.wait_until("document.querySelectorAll('#models tr').length === 1", 10);

    // Prove an input typed into the form.
    let input = std::fs::read_to_string(example("mlp/input.json")).unwrap();
    b.eval(&format!(
        "document.getElementById('prove-input').value = {}",
        serde_json::to_string(&input).unwrap()
    ));
    b.eval("document.querySelector('#prove-form button').click()");
    b.wait_until(
        "document.getElementById('message').textContent.startsWith('prove job queued')",
        30,
    );
    // Its row reaches succeeded with a full progress bar.
    b.wait_until(
        "[...document.querySelectorAll('#jobs tr')].some(r => r.textContent.includes('succeeded') && r.querySelector('progress').value === 1)",
        60,
    );

    // Download the proof.
    b.eval("document.querySelector('#jobs button.download').click()");
    let t = std::time::Instant::now();
    let proof = loop {
        let done: Vec<_> = std::fs::read_dir(&downloads)
            .unwrap()
            .flatten()
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|x| x == "zkp"))
            .collect();
        if let Some(p) = done.first() {
            break p.clone();
        }
        assert!(t.elapsed().as_secs() < 30, "no download");
        std::thread::sleep(std::time::Duration::from_millis(100));
    };
    let o = run(bin()
        .args(["verify", "--model"])
        .arg(example("mlp/mlp.onnx"))
        .arg("--proof")
        .arg(&proof));
    assert!(o.status.success(), "the downloaded proof does not verify");

    // Verify it by upload: a verify job that succeeds with verified = true.
    b.set_files("#verify-file", &[&proof]);
    b.eval("document.querySelector('#verify-form button').click()");
    b.wait_until(
        "document.getElementById('message').textContent.startsWith('verify job queued')",
        30,
    );
    b.wait_until(
        "[...document.querySelectorAll('#jobs tr')].some(r => r.textContent.includes('verify') && r.textContent.includes('succeeded'))",
        60,
    );
    b.eval("[...document.querySelectorAll('#jobs tr')].find(r => r.textContent.includes('verify')).querySelector('button').click()");
    b.wait_until(
        "document.getElementById('message').textContent.includes('\"verified\":true')",
        30,
    );
}
