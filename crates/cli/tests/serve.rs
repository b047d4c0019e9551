//! `zkgrad serve` end to end: a real server process, a real HTTP client, real proofs checked by
//! `zkgrad verify`. Each test has its own server and data directory.

mod common;

use std::path::Path;
use std::time::{Duration, Instant};

use base64::Engine as _;
use common::server::{processes_with, Server};
use common::{bin, example, run, tmpdir};
use serde_json::{json, Value};

fn mlp() -> std::path::PathBuf {
    example("mlp/mlp.onnx")
}

fn input(i: usize) -> Value {
    let x = (i as f64) / 10.0;
    json!({"input_data": [[0.9 - x, -0.26, 0.1 + x, 0.18, 0.69 - x / 2.0]]})
}

/// `zkgrad verify` of a downloaded proof against the model file: its exit code.
fn cli_verifies(dir: &Path, name: &str, proof: &[u8], model: &Path) -> bool {
    let p = dir.join(name);
    std::fs::write(&p, proof).unwrap();
    let o = run(bin()
        .args(["verify", "--model"])
        .arg(model)
        .arg("--proof")
        .arg(&p));
    o.status.success()
}

/// nanoGPT's example input: its proof takes ~0.5 s, long enough to kill or cancel mid-job.
fn nanogpt_input() -> Value {
    serde_json::from_slice(&std::fs::read(example("transformers/nanogpt/input.json")).unwrap())
        .unwrap()
}

#[test]
fn eight_concurrent_prove_jobs_all_prove_and_verify() {
    let dir = tmpdir("serve-eight");
    let srv = Server::start(&dir.join("data"), &["--workers", "2"]);
    let model = srv.upload(&mlp());
    // Re-uploading is idempotent: the same id, 200 instead of 201.
    let again = srv.post(
        "/v1/models",
        "application/octet-stream",
        &std::fs::read(mlp()).unwrap(),
    );
    assert_eq!(again.status, 200);
    assert_eq!(again.json()["model_id"], model.as_str());

    let ids: Vec<String> = std::thread::scope(|s| {
        let hs: Vec<_> = (0..8)
            .map(|i| {
                let (srv, model) = (&srv, &model);
                s.spawn(move || srv.prove(model, &input(i)))
            })
            .collect();
        hs.into_iter().map(|h| h.join().unwrap()).collect()
    });
    for (i, id) in ids.iter().enumerate() {
        let j = srv.wait(id, 120);
        assert_eq!(j["state"], "succeeded", "{j}");
        assert_eq!(j["progress"]["fraction"], 1.0);
        let result = srv.get(&format!("/v1/jobs/{id}/result")).json();
        assert_eq!(result["model_commitment"], model.as_str());
        let proof = srv.get(&format!("/v1/jobs/{id}/proof"));
        assert_eq!(proof.status, 200);
        assert!(cli_verifies(
            &dir,
            &format!("p{i}.zkp"),
            &proof.body,
            &mlp()
        ));
        // The proof is of this job's input: its public output is the job's output.
        let out = run(bin()
            .args(["verify", "--json", "--model"])
            .arg(mlp())
            .arg("--proof")
            .arg(dir.join(format!("p{i}.zkp"))));
        let v: Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(v["output_data"], result["output_data"], "{v}");
    }
    // Verify jobs: by the prove job's proof, by upload, and a tampered upload.
    let proof = srv.get(&format!("/v1/jobs/{}/proof", ids[0])).body;
    let by_job = srv.post_json(
        "/v1/jobs",
        &json!({"kind": "verify", "model_id": model, "proof_job_id": ids[0]}),
    );
    assert_eq!(by_job.status, 202);
    let good = srv.post_json(
        "/v1/jobs",
        &json!({"kind": "verify", "commitment": model,
                "proof_base64": base64::engine::general_purpose::STANDARD.encode(&proof)}),
    );
    let mut bad_bytes = proof.clone();
    let k = bad_bytes.len() - 40;
    bad_bytes[k] ^= 1;
    let bad = srv.post_json(
        "/v1/jobs",
        &json!({"kind": "verify", "model_id": model,
                "proof_base64": base64::engine::general_purpose::STANDARD.encode(&bad_bytes)}),
    );
    for (r, valid) in [(by_job, true), (good, true), (bad, false)] {
        let id = r.json()["job_id"].as_str().unwrap().to_string();
        let j = srv.wait(&id, 60);
        assert_eq!(j["state"], "succeeded", "{j}");
        let res = srv.get(&format!("/v1/jobs/{id}/result")).json();
        assert_eq!(res["verified"], valid, "{res}");
    }
    // Metrics count them.
    let m = String::from_utf8(srv.get("/metrics").body).unwrap();
    assert!(m.contains("zkgrad_jobs{state=\"succeeded\"} 11"), "{m}");
    assert!(m.contains("zkgrad_prove_seconds_count 8"), "{m}");
    assert!(m.contains("zkgrad_queue_depth 0"), "{m}");
}

#[test]
fn kill_9_while_jobs_run_then_restart_loses_no_job() {
    let dir = tmpdir("serve-kill9");
    let data = dir.join("data");
    let model_path = example("transformers/nanogpt/model.onnx");
    let input = nanogpt_input();
    let mut srv = Server::start(&data, &["--workers", "1"]);
    let model = srv.upload(&model_path);
    let ids: Vec<String> = (0..4).map(|_| srv.prove(&model, &input)).collect();
    // Kill the server while the first job's prover runs.
    let first = srv.wait_for_state(&ids[0], "running", 60);
    assert_eq!(first["attempts"], 1);
    std::thread::sleep(Duration::from_millis(150));
    let dir_s = data.display().to_string();
    srv.kill9();
    // Its child prover exits with it (no orphan keeps proving).
    let t = Instant::now();
    while !processes_with(&format!("{dir_s}/work")).is_empty() {
        assert!(
            t.elapsed() < Duration::from_secs(10),
            "an orphaned prover is still running"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let srv = Server::start(&data, &["--workers", "1"]);
    for id in &ids {
        let j = srv.wait(id, 300);
        assert_eq!(j["state"], "succeeded", "{j}");
        let proof = srv.get(&format!("/v1/jobs/{id}/proof"));
        assert!(cli_verifies(
            &dir,
            &format!("{id}.zkp"),
            &proof.body,
            &model_path
        ));
    }
    // The job that was running was run again.
    assert_eq!(srv.job(&ids[0])["attempts"], 2);
    // No work directory is left behind.
    let left: Vec<_> = std::fs::read_dir(data.join("work")).unwrap().collect();
    assert!(left.is_empty(), "{left:?}");
}

#[test]
fn cancel_and_time_limit_stop_jobs() {
    let dir = tmpdir("serve-cancel");
    let srv = Server::start(&dir.join("data"), &["--workers", "1"]);
    let model = srv.upload(&example("transformers/nanogpt/model.onnx"));
    let input = nanogpt_input();
    // A job with a time limit shorter than its proof: timed out, with the reason. (With WHIR
    // and 50 ms: the Ligero job under 0.2 s it had before finished in 0.18 s once loading
    // got faster.)
    let r = srv.post_json(
        "/v1/jobs",
        &json!({"kind": "prove", "model_id": model, "input": input, "time_limit_s": 0.05,
                "options": {"pcs": "whir"}}),
    );
    let slow = r.json()["job_id"].as_str().unwrap().to_string();
    // Two more behind it: the first is cancelled while it runs, the second while queued.
    // (WHIR makes the nanoGPT proof slower: the cancel lands while it runs.)
    let slower =
        json!({"kind": "prove", "model_id": model, "input": input, "options": {"pcs": "whir"}});
    let running = srv.post_json("/v1/jobs", &slower).json()["job_id"]
        .as_str()
        .unwrap()
        .to_string();
    let queued = srv.prove(&model, &input);
    let j = srv.wait(&slow, 60);
    assert_eq!(j["state"], "timed_out", "{j}");
    assert!(j["error"].as_str().unwrap().contains("time limit"), "{j}");
    assert_eq!(srv.get(&format!("/v1/jobs/{slow}/proof")).status, 409);

    let r = srv.post(
        &format!("/v1/jobs/{queued}/cancel"),
        "application/json",
        b"",
    );
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    assert_eq!(r.json()["state"], "cancelled");

    srv.wait_for_state(&running, "running", 60);
    let t = Instant::now();
    let r = srv.post(
        &format!("/v1/jobs/{running}/cancel"),
        "application/json",
        b"",
    );
    assert_eq!(r.status, 202);
    let j = srv.wait(&running, 30);
    assert_eq!(j["state"], "cancelled", "{j}");
    assert!(
        t.elapsed() < Duration::from_secs(3),
        "cancel took {:?}",
        t.elapsed()
    );
    // Cancelling an ended job is refused.
    let r = srv.post(
        &format!("/v1/jobs/{running}/cancel"),
        "application/json",
        b"",
    );
    assert_eq!(r.status, 409);
}

#[test]
fn keys_limits_and_bad_requests_are_refused_and_store_nothing() {
    let dir = tmpdir("serve-refuse");
    let data = dir.join("data");
    std::fs::create_dir_all(dir.join("models/sub")).unwrap();
    std::fs::copy(mlp(), dir.join("models/sub/m.onnx")).unwrap();
    std::fs::write(dir.join("secret.onnx"), b"x").unwrap();
    let key = "test-key-0123456789abcdef";
    let srv = Server::start_with_key(
        &data,
        &[
            "--workers",
            "0",
            "--max-queue",
            "3",
            "--max-jobs-per-key",
            "2",
            "--max-model-mib",
            "1",
            "--model-dir",
        ]
        .into_iter()
        .map(String::from)
        .chain([dir.join("models").display().to_string()])
        .collect::<Vec<_>>()
        .iter()
        .map(String::as_str)
        .collect::<Vec<_>>(),
        Some(key),
    );
    // No key, a wrong key: 401. Health needs none.
    assert_eq!(srv.get_as("/v1/jobs", None).status, 401);
    assert_eq!(
        srv.get_as("/v1/models", Some("Bearer wrong-key-0000000000"))
            .status,
        401
    );
    assert_eq!(srv.get_as("/health", None).status, 200);

    // A malformed model: 400 with one line, nothing stored.
    let r = srv.post(
        "/v1/models",
        "application/octet-stream",
        b"not an onnx file at all",
    );
    assert_eq!(r.status, 400);
    let e = r.json()["error"].as_str().unwrap().to_string();
    assert!(e.starts_with("model rejected") && !e.contains('\n'), "{e}");
    let r = srv.post(
        "/v1/models",
        "application/octet-stream",
        &std::fs::read(example("unsupported/softsign.onnx")).unwrap(),
    );
    assert_eq!(r.status, 400);
    assert!(
        r.json()["error"].as_str().unwrap().contains("Softsign"),
        "{}",
        r.json()
    );
    assert_eq!(srv.get("/v1/models").json()["models"], json!([]));
    assert_eq!(std::fs::read_dir(data.join("models")).unwrap().count(), 0);
    assert_eq!(std::fs::read_dir(data.join("tmp")).unwrap().count(), 0);
    // Too large a body: 413, which the client gets to read (the server reads the rest of the
    // body first, so the client's write does not end in a broken pipe: CI once saw one here).
    for mib in [2, 8, 2, 8, 2, 8] {
        let r = srv.post(
            "/v1/models",
            "application/octet-stream",
            &vec![0u8; mib << 20],
        );
        assert_eq!(r.status, 413);
        assert!(
            r.json()["error"].as_str().unwrap().contains("limit"),
            "{}",
            r.json()
        );
    }

    // Models by server path: inside the directory only.
    for bad in [
        "../secret.onnx",
        "/etc/passwd",
        "sub/../../secret.onnx",
        "missing.onnx",
    ] {
        let r = srv.post_json("/v1/models", &json!({ "path": bad }));
        assert_eq!(r.status, 400, "{bad}: {}", String::from_utf8_lossy(&r.body));
    }
    let r = srv.post_json("/v1/models", &json!({"path": "sub/m.onnx"}));
    assert_eq!(r.status, 201, "{}", String::from_utf8_lossy(&r.body));
    let model = r.json()["model_id"].as_str().unwrap().to_string();

    // Bad jobs: 400, no job stored.
    for bad in [
        json!({"kind": "prove", "model_id": model, "input": {"input_data": [[1, 2, 3]]}}),
        json!({"kind": "prove", "model_id": model, "input": {"input_data": [["a", 2, 3, 4, 5]]}}),
        json!({"kind": "prove", "model_id": model, "input": {"input_data": [[1, 2, 3, 4, 5]]}, "options": {"pcs": "magic"}}),
        json!({"kind": "prove", "model_id": model, "input": {"input_data": [[1, 2, 3, 4, 5]]}, "bogus": 1}),
        json!({"kind": "prove", "model_id": "00", "input": [[1, 2, 3, 4, 5]]}),
        json!({"kind": "verify", "model_id": model, "proof_base64": "!!!"}),
        json!({"kind": "verify", "model_id": model, "proof_base64": base64::engine::general_purpose::STANDARD.encode(b"ZKGRAD truncated")}),
        json!({"kind": "train", "model_id": model, "data": {"x": [[1]]}, "options": {"lr": 0.1, "loss": "mse"}}),
        json!({"kind": "mine"}),
    ] {
        let r = srv.post_json("/v1/jobs", &bad);
        assert_eq!(r.status, 400, "{bad}: {}", String::from_utf8_lossy(&r.body));
        assert!(!r.json()["error"].as_str().unwrap().contains('\n'));
    }
    assert_eq!(srv.get("/v1/jobs").json()["jobs"], json!([]));

    // The key's share: 2 jobs, then 429.
    let ok = json!({"kind": "prove", "model_id": model, "input": [[1, 2, 3, 4, 5]]});
    assert_eq!(srv.post_json("/v1/jobs", &ok).status, 202);
    assert_eq!(srv.post_json("/v1/jobs", &ok).status, 202);
    let r = srv.post_json("/v1/jobs", &ok);
    assert_eq!(r.status, 429, "{}", String::from_utf8_lossy(&r.body));
    // Deleting a model with queued jobs is refused.
    assert_eq!(srv.delete(&format!("/v1/models/{model}")).status, 409);
}

#[test]
fn full_queue_is_refused_with_429() {
    let dir = tmpdir("serve-queue");
    let srv = Server::start(&dir.join("data"), &["--workers", "0", "--max-queue", "2"]);
    let model = srv.upload(&mlp());
    srv.prove(&model, &input(0));
    srv.prove(&model, &input(1));
    let r = srv.post_json(
        "/v1/jobs",
        &json!({"kind": "prove", "model_id": model, "input": input(2)}),
    );
    assert_eq!(r.status, 429);
    assert!(r.json()["error"]
        .as_str()
        .unwrap()
        .contains("queue is full"));
}

#[test]
fn every_documented_route_is_served_and_events_follow_a_job() {
    let dir = tmpdir("serve-routes");
    let srv = Server::start(&dir.join("data"), &[]);
    let doc = srv.get("/openapi.json").json();
    assert_eq!(doc["openapi"], "3.1.0");
    let model = srv.upload(&mlp());
    let id = srv.prove(&model, &input(0));
    srv.wait(&id, 60);
    for (path, methods) in zkgrad_serve::openapi::PATHS {
        assert!(doc["paths"][*path].is_object(), "{path} undocumented");
        let p = path.replace("{id}", if path.contains("models") { &model } else { &id });
        for m in *methods {
            let r = match *m {
                "get" => srv.get(&p),
                "post" => srv.post(&p, "application/json", b"{}"),
                "delete" => continue, // would delete the model
                _ => unreachable!(),
            };
            let text = String::from_utf8_lossy(&r.body);
            assert!(!text.contains("no such route"), "{m} {p}: {text}");
        }
    }
    assert_eq!(srv.get("/nope").status, 404);
    // Server-sent events: a new job's events end with its terminal state.
    let id = srv.prove(&model, &input(1));
    let r = srv.get(&format!("/v1/jobs/{id}/events"));
    let text = String::from_utf8(r.body).unwrap();
    let last = text
        .lines()
        .filter_map(|l| l.strip_prefix("data: "))
        .next_back()
        .unwrap();
    let j: Value = serde_json::from_str(last).unwrap();
    assert_eq!(j["state"], "succeeded", "{text}");
    assert!(text.contains("event: job"));
    // The status page is served.
    let page = String::from_utf8(srv.get("/").body).unwrap();
    assert!(page.contains("zkgrad proving service"));
    // Deleting the model with no active job.
    assert_eq!(srv.delete(&format!("/v1/models/{model}")).status, 204);
    assert_eq!(srv.get(&format!("/v1/models/{model}")).status, 404);
}

#[test]
fn a_training_job_proves_its_steps_and_downloads_its_run() {
    let dir = tmpdir("serve-train");
    let srv = Server::start(&dir.join("data"), &[]);
    let model = srv.upload(&mlp());
    let r = srv.post_json(
        "/v1/jobs",
        &json!({"kind": "train", "model_id": model,
                "data": {"x": [[0.1, 0.2, 0.3, 0.4, 0.5], [0.5, 0.4, 0.3, 0.2, 0.1]], "y": [[1.0, 0.0], [0.0, 1.0]]},
                "options": {"lr": 0.05, "loss": "mse", "steps": 2}}),
    );
    assert_eq!(r.status, 202, "{}", String::from_utf8_lossy(&r.body));
    let id = r.json()["job_id"].as_str().unwrap().to_string();
    let j = srv.wait(&id, 120);
    assert_eq!(j["state"], "succeeded", "{j}");
    let res = srv.get(&format!("/v1/jobs/{id}/result")).json();
    assert_eq!(res["steps"], 2, "{res}");
    let tar = srv.get(&format!("/v1/jobs/{id}/proof"));
    assert_eq!(tar.status, 200);
    let out = dir.join("untar");
    std::fs::create_dir_all(&out).unwrap();
    std::fs::write(dir.join("run.tar"), &tar.body).unwrap();
    let st = std::process::Command::new("tar")
        .arg("-xf")
        .arg(dir.join("run.tar"))
        .arg("-C")
        .arg(&out)
        .status()
        .unwrap();
    assert!(st.success());
    let run_dir = out.join(format!("run-{id}"));
    // The run directory as `zkgrad train` writes it: its manifest and both steps' proofs.
    assert!(run_dir.join("manifest.json").is_file(), "{run_dir:?}");
    let proofs = std::fs::read_dir(&run_dir)
        .unwrap()
        .flatten()
        .filter(|e| e.path().extension().is_some_and(|x| x == "zkp"))
        .count();
    assert_eq!(proofs, 2, "{run_dir:?}");
}

#[test]
fn two_postgres_workers_share_twenty_jobs_and_one_is_killed_mid_job() {
    let dir = tmpdir("serve-postgres");
    let Some(pg) = common::postgres::Postgres::start(&dir.join("pg")) else {
        return;
    };
    let data = dir.join("data");
    let srv = Server::start(&data, &["--database", &pg.url, "--workers", "0"]);
    assert_eq!(srv.get("/health").json()["database"], "postgres");
    let model_path = example("transformers/nanogpt/model.onnx");
    let input = nanogpt_input();
    let model = srv.upload(&model_path);
    let ids: Vec<String> = (0..20).map(|_| srv.prove(&model, &input)).collect();
    let mut a = common::server::Worker::start(&pg.url, &data, "2");
    let b = common::server::Worker::start(&pg.url, &data, "2");
    // Kill worker A once it has finished a job and is in the middle of its next one.
    let t = Instant::now();
    let in_flight = loop {
        assert!(
            t.elapsed() < Duration::from_secs(120),
            "worker A ended no job"
        );
        if let (false, Some(name)) = (a.ended().is_empty(), a.name()) {
            let mine = srv.get("/v1/jobs?state=running").json()["jobs"]
                .as_array()
                .unwrap()
                .iter()
                .find(|j| j["worker"].as_str().is_some_and(|w| w.starts_with(&name)))
                .map(|j| j["job_id"].as_str().unwrap().to_string());
            if let Some(id) = mine {
                break id;
            }
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    a.kill9();
    for id in &ids {
        let j = srv.wait(id, 300);
        assert_eq!(j["state"], "succeeded", "{j}");
    }
    // Exactly once: every job's end was recorded by one worker, once.
    let mut ended: Vec<(String, String)> = a.ended();
    ended.extend(b.ended());
    for id in &ids {
        let n = ended.iter().filter(|(j, _)| j == id).count();
        assert_eq!(n, 1, "job {id} recorded {n} times: {ended:?}");
    }
    // A's job in flight was taken over by B (a second attempt), and B did some of the work.
    let retried: Vec<&String> = ids
        .iter()
        .filter(|id| srv.job(id)["attempts"] == 2)
        .collect();
    assert_eq!(
        retried,
        vec![&in_flight],
        "A was running {in_flight} when it died"
    );
    assert!(!b.ended().is_empty());
    for id in ids.iter().step_by(5) {
        let proof = srv.get(&format!("/v1/jobs/{id}/proof"));
        assert!(cli_verifies(
            &dir,
            &format!("{id}.zkp"),
            &proof.body,
            &model_path
        ));
    }
    drop(pg);
}

#[test]
fn kill_9_at_random_moments_never_loses_or_corrupts_a_job() {
    let dir = tmpdir("serve-kill9-random");
    let data = dir.join("data");
    let model_path = example("transformers/nanogpt/model.onnx");
    let input = nanogpt_input();
    let mut srv = Server::start(&data, &["--workers", "2"]);
    let model = srv.upload(&model_path);
    let mut ids: Vec<String> = (0..6).map(|_| srv.prove(&model, &input)).collect();
    // Kill -9 five times at pseudo-random moments (a fixed seed), posting more jobs between.
    let mut seed: u64 = 0x9E37_79B9_7F4A_7C15;
    for round in 0..5 {
        seed = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        let delay = 50 + (seed >> 33) % 650;
        std::thread::sleep(Duration::from_millis(delay));
        srv.kill9();
        srv = Server::start(&data, &["--workers", "2"]);
        if round % 2 == 0 {
            ids.push(srv.prove(&model, &input));
        }
    }
    let listed = srv.get("/v1/jobs?limit=1000").json()["jobs"]
        .as_array()
        .unwrap()
        .len();
    assert_eq!(listed, ids.len(), "a job was lost");
    for id in &ids {
        let j = srv.wait(id, 300);
        match j["state"].as_str().unwrap() {
            "succeeded" => {
                // Never reported succeeded without its (whole) proof.
                let proof = srv.get(&format!("/v1/jobs/{id}/proof"));
                assert_eq!(proof.status, 200);
                assert!(
                    cli_verifies(&dir, &format!("{id}.zkp"), &proof.body, &model_path),
                    "{j}"
                );
            }
            // Killed while running three times: failed, with the reason.
            "failed" => assert!(j["error"].as_str().unwrap().contains("stopped"), "{j}"),
            _ => panic!("{j}"),
        }
    }
}
