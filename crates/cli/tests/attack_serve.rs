//! Attacks on `zkgrad serve`: a real server process per test, driven by a real HTTP client and,
//! where the attack needs bytes no well-behaved client sends (non-UTF-8 paths, chunked bodies,
//! forged `Host` headers), by raw HTTP/1.1 over a TCP socket.
//!
//! What is attacked: authentication and the isolation of API keys; reads and writes outside the
//! data directory and `--model-dir`; argument injection into the job's child process; malformed
//! requests (4xx with a one-line `{"error": …}`, nothing stored, never a 5xx); the queue, per-key
//! and body limits, also under racing clients; and crash consistency under `kill -9`.
//!
//! The review that wrote these found ten weaknesses (models shared across keys, a model file
//! swapped after registration, a proof-header overflow, memory ~33× a job body, CORS-simple
//! requests and DNS rebinding against a keyless server, non-JSON refusals, ill-typed options
//! reaching the child, server paths in errors, the list limit applied before the key filter,
//! two servers on one data directory); each test below that names one now checks its fix.

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use base64::Engine as _;
use common::server::{Reply, Server};
use common::{bin, example, run, tmpdir};
use serde_json::{json, Value};

const KEY_A: &str = "attack-key-A-0123456789abcdef";
const KEY_B: &str = "attack-key-B-0123456789abcdef";

fn mlp() -> PathBuf {
    example("mlp/mlp.onnx")
}

/// An input the MLP proves (within its calibrated range).
fn input(i: usize) -> Value {
    let x = ((i % 8) as f64) / 10.0;
    json!({"input_data": [[0.9 - x, -0.26, 0.1 + x, 0.18, 0.69 - x / 2.0]]})
}

fn strings(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| (*s).to_string()).collect()
}

fn start(data: &Path, args: &[String], key: Option<&str>) -> Server {
    let a: Vec<&str> = args.iter().map(String::as_str).collect();
    Server::start_with_key(data, &a, key)
}

/// A server with keys A (the helper's own) and B.
fn start_two_keys(data: &Path, args: &[&str]) -> Server {
    let mut a = strings(args);
    a.extend(strings(&["--api-key", KEY_B]));
    start(data, &a, Some(KEY_A))
}

fn bearer(k: &str) -> String {
    format!("Bearer {k}")
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// A refusal as the API promises it: a 4xx status (never 5xx) and a body that is exactly
/// `{"error": "one line"}`.
fn assert_refusal(status: u16, body: &[u8], what: &str) {
    assert!(
        (400..500).contains(&status),
        "{what}: expected a 4xx, got {status}: {}",
        text(body)
    );
    let v: Value = serde_json::from_slice(body).unwrap_or_else(|e| {
        panic!(
            "{what}: {status} with a body that is not JSON ({e}): {:?}",
            text(body)
        )
    });
    let o = v
        .as_object()
        .unwrap_or_else(|| panic!("{what}: not an object: {v}"));
    assert_eq!(o.len(), 1, "{what}: {v}");
    let e = o["error"]
        .as_str()
        .unwrap_or_else(|| panic!("{what}: no error line: {v}"));
    assert!(!e.is_empty() && !e.contains('\n'), "{what}: {e:?}");
}

fn refused(r: &Reply, status: u16, what: &str) {
    assert_eq!(r.status, status, "{what}: {}", text(&r.body));
    assert_refusal(r.status, &r.body, what);
}

/// The number of entries in `data/sub`.
fn entries(data: &Path, sub: &str) -> usize {
    std::fs::read_dir(data.join(sub)).map_or(0, |d| d.count())
}

/// Asserts that nothing is stored: no job (as `key` sees them; all of them without keys), no
/// model, and nothing in `models/`, `tmp/`, `proofs/`, `runs/`, `work/`.
fn assert_nothing_stored(srv: &Server, what: &str) {
    let jobs = srv.get("/v1/jobs?limit=1000").json();
    assert_eq!(jobs["jobs"], json!([]), "{what}: a job was stored");
    let models = srv.get("/v1/models").json();
    assert_eq!(models["models"], json!([]), "{what}: a model was stored");
    for sub in ["models", "tmp", "proofs", "runs", "work"] {
        assert_eq!(
            entries(&srv.data, sub),
            0,
            "{what}: a file was left in {sub}/"
        );
    }
}

fn job_count(srv: &Server) -> usize {
    srv.get("/v1/jobs?limit=1000").json()["jobs"]
        .as_array()
        .unwrap()
        .len()
}

/// What a raw HTTP exchange got back.
struct Raw {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Raw {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// One HTTP/1.1 request written byte for byte: `target` is sent as given (no normalization,
/// no percent-encoding), `Host` and `Content-Length` are added unless `headers` has them (or
/// `Transfer-Encoding`), and the connection is closed after the reply.
fn raw(srv: &Server, method: &str, target: &[u8], headers: &[(&str, &str)], body: &[u8]) -> Raw {
    let addr = srv.url.trim_start_matches("http://");
    let mut req = Vec::new();
    req.extend_from_slice(method.as_bytes());
    req.push(b' ');
    req.extend_from_slice(target);
    req.extend_from_slice(b" HTTP/1.1\r\n");
    let has = |n: &str| headers.iter().any(|(k, _)| k.eq_ignore_ascii_case(n));
    if !has("host") {
        req.extend_from_slice(format!("Host: {addr}\r\n").as_bytes());
    }
    let chunked = has("transfer-encoding");
    if !chunked && !has("content-length") && (!body.is_empty() || method == "POST") {
        req.extend_from_slice(format!("Content-Length: {}\r\n", body.len()).as_bytes());
    }
    for (k, v) in headers {
        req.extend_from_slice(format!("{k}: {v}\r\n").as_bytes());
    }
    req.extend_from_slice(b"Connection: close\r\n\r\n");
    if chunked {
        for c in body.chunks(64 << 10) {
            req.extend_from_slice(format!("{:x}\r\n", c.len()).as_bytes());
            req.extend_from_slice(c);
            req.extend_from_slice(b"\r\n");
        }
        req.extend_from_slice(b"0\r\n\r\n");
    } else {
        req.extend_from_slice(body);
    }
    let mut s = TcpStream::connect(addr).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
    // The server may answer (413) and close before it has read the whole body.
    let _ = s.write_all(&req);
    let mut buf = Vec::new();
    let mut chunk = [0u8; 65536];
    loop {
        match s.read(&mut chunk) {
            Ok(0) | Err(_) => break,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
    }
    let end = buf
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .unwrap_or_else(|| panic!("no HTTP reply: {:?}", text(&buf)));
    let head = text(&buf[..end]);
    let mut lines = head.split("\r\n");
    let status = lines
        .next()
        .and_then(|l| l.split(' ').nth(1))
        .and_then(|c| c.parse().ok())
        .unwrap_or_else(|| panic!("bad status line: {head}"));
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        .collect();
    let mut body = buf[end + 4..].to_vec();
    let is_chunked = headers.iter().any(|(k, v)| {
        k.eq_ignore_ascii_case("transfer-encoding") && v.eq_ignore_ascii_case("chunked")
    });
    if is_chunked {
        let (mut out, mut rest) = (Vec::new(), &body[..]);
        while let Some(p) = rest.windows(2).position(|w| w == b"\r\n") {
            let n = usize::from_str_radix(text(&rest[..p]).trim(), 16).unwrap_or(0);
            if n == 0 || rest.len() < p + 2 + n {
                break;
            }
            out.extend_from_slice(&rest[p + 2..p + 2 + n]);
            rest = &rest[(p + 4 + n).min(rest.len())..];
        }
        body = out;
    }
    Raw {
        status,
        headers,
        body,
    }
}

/// `zkgrad verify` of a proof file against the MLP.
fn cli_verifies(proof: &Path) -> bool {
    run(bin()
        .args(["verify", "--model"])
        .arg(mlp())
        .arg("--proof")
        .arg(proof))
    .status
    .success()
}

/// Key B uploads the model too (models are held per key; the same upload grants it).
fn upload_as_b(srv: &Server) {
    let r = srv.post_as(
        "/v1/models",
        "application/octet-stream",
        &std::fs::read(mlp()).unwrap(),
        Some(&bearer(KEY_B)),
    );
    assert!(r.status == 200 || r.status == 201, "{}", text(&r.body));
}

fn job_id(r: &Reply) -> String {
    assert_eq!(r.status, 202, "{}", text(&r.body));
    r.json()["job_id"].as_str().unwrap().to_string()
}

// ---------------------------------------------------------------------------------------------
// 1. Authentication and the isolation of keys

#[test]
fn every_v1_route_needs_a_valid_key_and_only_the_public_routes_do_not() {
    let dir = tmpdir("atk-auth");
    let srv = start_two_keys(&dir.join("data"), &["--workers", "0"]);
    let id = "0123456789abcdef0123456789abcdef";
    let near = &KEY_A[..KEY_A.len() - 1];
    let wrong: Vec<Option<String>> = vec![
        None,
        Some(String::new()),
        Some("Bearer".into()),
        Some("Bearer ".into()),
        Some(bearer("wrong-key-00000000000000")),
        Some(bearer(near)),
        Some(bearer(&format!("{KEY_A}x"))),
        Some(bearer(&format!("{KEY_A} {KEY_B}"))),
        Some(format!("Basic {KEY_A}")),
        Some(format!("Token {KEY_A}")),
        Some(KEY_A.to_string()),
        Some(format!("Bearer{KEY_A}")),
    ];
    for (path, methods) in zkgrad_serve::openapi::PATHS {
        let p = path.replace("{id}", id);
        if !p.starts_with("/v1/") {
            // Public: no key needed.
            let r = srv.get_as(&p, None);
            assert_eq!(r.status, 200, "GET {p} without a key: {}", text(&r.body));
            continue;
        }
        for m in *methods {
            for auth in &wrong {
                let mut h: Vec<(&str, &str)> = vec![("Content-Type", "application/json")];
                if let Some(a) = auth {
                    h.push(("Authorization", a));
                }
                let body: &[u8] = if *m == "post" { b"{}" } else { b"" };
                let r = raw(&srv, &m.to_uppercase(), p.as_bytes(), &h, body);
                assert_eq!(r.status, 401, "{m} {p} with {auth:?}: {}", text(&r.body));
                assert_refusal(r.status, &r.body, &format!("{m} {p} with {auth:?}"));
                assert_eq!(r.header("www-authenticate"), Some("Bearer"));
            }
        }
    }
    // The right keys pass (surrounding white space is forgiven).
    for k in [KEY_A, KEY_B] {
        assert_eq!(srv.get_as("/v1/jobs", Some(&bearer(k))).status, 200);
    }
    assert_eq!(
        srv.get_as("/v1/jobs", Some(&format!("Bearer   {KEY_A}  ")))
            .status,
        200
    );
    // A wrong key posts nothing.
    let r = srv.post_as(
        "/v1/models",
        "application/octet-stream",
        &std::fs::read(mlp()).unwrap(),
        Some(&bearer("wrong-key-00000000000000")),
    );
    assert_eq!(r.status, 401);
    assert_nothing_stored(&srv, "unauthenticated upload");
}

#[test]
fn a_key_cannot_see_touch_or_verify_another_keys_jobs() {
    let dir = tmpdir("atk-isolation");
    let srv = start_two_keys(&dir.join("data"), &["--workers", "1"]);
    let a = bearer(KEY_A);
    let b = bearer(KEY_B);
    let model = srv.upload(&mlp());
    let done = srv.prove(&model, &input(0));
    assert_eq!(srv.wait(&done, 60)["state"], "succeeded");
    let pending = srv.prove(&model, &input(1));
    let nobody = "00000000000000000000000000000000";

    // B cancels A's jobs (queued, running or over): 404, and A's jobs are untouched.
    for id in [&pending, &done] {
        let r = srv.post_as(
            &format!("/v1/jobs/{id}/cancel"),
            "application/json",
            b"",
            Some(&b),
        );
        refused(&r, 404, "B cancels A's job");
    }
    for id in [&done, &pending] {
        for suffix in ["", "/result", "/proof", "/events"] {
            let r = srv.get_as(&format!("/v1/jobs/{id}{suffix}"), Some(&b));
            refused(&r, 404, &format!("B GET {suffix} of A's job"));
            // No oracle: the refusal is the one a job that does not exist gets.
            let n = srv.get_as(&format!("/v1/jobs/{nobody}{suffix}"), Some(&b));
            assert_eq!((r.status, r.body), (n.status, n.body), "{suffix}");
        }
    }
    for q in ["", "?state=succeeded", "?limit=1000", "?state=queued"] {
        let l = srv.get_as(&format!("/v1/jobs{q}"), Some(&b)).json();
        assert_eq!(l["jobs"], json!([]), "B lists {q}: {l}");
    }
    // B verifies against A's proof by job id (B holding the model too): refused as if there
    // were no such job, nothing stored for B.
    upload_as_b(&srv);
    let r = srv.post_as(
        "/v1/jobs",
        "application/json",
        json!({"kind": "verify", "model_id": model, "proof_job_id": done})
            .to_string()
            .as_bytes(),
        Some(&b),
    );
    refused(&r, 400, "B verifies A's proof by job id");
    assert!(r.json()["error"].as_str().unwrap().contains("no such job"));
    let l = srv.get_as("/v1/jobs", Some(&b)).json();
    assert_eq!(l["jobs"], json!([]));

    assert_eq!(
        srv.wait(&pending, 60)["state"],
        "succeeded",
        "B's cancel landed"
    );
    // A itself can do all of it.
    for suffix in ["", "/result", "/proof"] {
        let r = srv.get_as(&format!("/v1/jobs/{done}{suffix}"), Some(&a));
        assert_eq!(r.status, 200, "A GET {suffix}");
    }
    let r = srv.post_json(
        "/v1/jobs",
        &json!({"kind": "verify", "model_id": model, "proof_job_id": done}),
    );
    let v = job_id(&r);
    assert_eq!(srv.wait(&v, 60)["state"], "succeeded");
    assert_eq!(
        srv.get(&format!("/v1/jobs/{v}/result")).json()["verified"],
        true
    );
}

#[test]
fn a_key_cannot_list_use_or_delete_another_keys_model() {
    let dir = tmpdir("atk-models-shared");
    let srv = start_two_keys(&dir.join("data"), &["--workers", "0"]);
    let b = Some(bearer(KEY_B));
    let model = srv.upload(&mlp());
    let l = srv.get_as("/v1/models", b.as_deref()).json();
    assert_eq!(l["models"], json!([]), "B lists A's model: {l}");
    let r = srv.get_as(&format!("/v1/models/{model}"), b.as_deref());
    assert_eq!(r.status, 404, "B reads A's model: {}", text(&r.body));
    // Proving with A's model makes it an oracle for B: outputs of A's weights on any input.
    let r = srv.post_as(
        "/v1/jobs",
        "application/json",
        json!({"kind": "prove", "model_id": model, "input": input(0)})
            .to_string()
            .as_bytes(),
        b.as_deref(),
    );
    assert!(
        r.status == 400 || r.status == 404,
        "B proves with A's model: {} {}",
        r.status,
        text(&r.body)
    );
    let r = raw(
        &srv,
        "DELETE",
        format!("/v1/models/{model}").as_bytes(),
        &[("Authorization", &bearer(KEY_B))],
        b"",
    );
    assert_eq!(r.status, 404, "B deletes A's model: {}", text(&r.body));
    assert_eq!(srv.get(&format!("/v1/models/{model}")).status, 200);
}

#[test]
fn listing_finds_a_keys_jobs_whatever_other_keys_posted_since() {
    let dir = tmpdir("atk-list-limit");
    let srv = start_two_keys(&dir.join("data"), &["--workers", "0"]);
    let model = srv.upload(&mlp());
    upload_as_b(&srv);
    let b = bearer(KEY_B);
    let body = json!({"kind": "prove", "model_id": model, "input": input(0)}).to_string();
    let mine = job_id(&srv.post_as("/v1/jobs", "application/json", body.as_bytes(), Some(&b)));
    for i in 0..3 {
        srv.prove(&model, &input(i));
    }
    let l = srv.get_as("/v1/jobs?limit=2", Some(&b)).json();
    let ids: Vec<&str> = l["jobs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|j| j["job_id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, vec![mine.as_str()], "B's newest jobs: {l}");
}

// ---------------------------------------------------------------------------------------------
// 2. Nothing outside the data directory and --model-dir

#[test]
fn model_paths_cannot_leave_the_model_directory() {
    let dir = tmpdir("atk-paths");
    let md = dir.join("md");
    let outside = dir.join("outside");
    std::fs::create_dir_all(md.join("sub")).unwrap();
    std::fs::create_dir_all(md.join("dir.onnx")).unwrap();
    std::fs::create_dir_all(&outside).unwrap();
    // A valid model outside: were any of these to get through, it would be stored (201).
    std::fs::copy(mlp(), outside.join("secret.onnx")).unwrap();
    std::fs::copy(mlp(), md.join("sub/ok.onnx")).unwrap();
    std::fs::copy(
        example("unsupported/outside_data.onnx"),
        md.join("outside_data.onnx"),
    )
    .unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::symlink;
        symlink("../outside/secret.onnx", md.join("link.onnx")).unwrap();
        symlink(outside.join("secret.onnx"), md.join("abs.onnx")).unwrap();
        symlink("../outside", md.join("linkdir")).unwrap();
        symlink("sub/../../outside/secret.onnx", md.join("sublink.onnx")).unwrap();
        symlink("loop", md.join("loop")).unwrap();
        symlink("/dev/zero", md.join("zero.onnx")).unwrap();
    }
    let fifo = std::process::Command::new("mkfifo")
        .arg(md.join("fifo.onnx"))
        .status()
        .is_ok_and(|s| s.success());
    let mut args = strings(&["--workers", "0", "--model-dir"]);
    args.push(md.display().to_string());
    let srv = start(&dir.join("data"), &args, None);
    let secret_abs = outside.join("secret.onnx").display().to_string();
    let long = "a/".repeat(3000) + "m.onnx";
    let mut bad: Vec<Value> = [
        "../outside/secret.onnx",
        secret_abs.as_str(),
        "link.onnx",
        "abs.onnx",
        "linkdir/secret.onnx",
        "sublink.onnx",
        "sub/../../outside/secret.onnx",
        "sub/../sub/ok.onnx",
        "./sub/ok.onnx",
        "sub/ok.onnx/",
        "sub/ok.onnx/..",
        "..",
        ".",
        "",
        "sub",
        "dir.onnx",
        "loop",
        "zero.onnx",
        "missing.onnx",
        "%2e%2e/outside/secret.onnx",
        "..\\outside\\secret.onnx",
        "sub/ok.onnx\u{0}",
        "\u{0}",
        "outside_data.onnx",
        long.as_str(),
        "~/secret.onnx",
        "//etc/passwd",
        "/proc/self/environ",
    ]
    .iter()
    .map(|p| json!({ "path": p }))
    .collect();
    if fifo {
        bad.push(json!({"path": "fifo.onnx"}));
    }
    bad.extend([
        json!({"path": null}),
        json!({"path": 5}),
        json!({"path": ["sub/ok.onnx"]}),
        json!({"path": {"path": "sub/ok.onnx"}}),
        json!({"path": "sub/ok.onnx", "extra": 1}),
        json!({"paths": "sub/ok.onnx"}),
        json!({}),
        json!([]),
        json!("sub/ok.onnx"),
    ]);
    for b in &bad {
        let t = Instant::now();
        let r = srv.post_json("/v1/models", b);
        assert!(
            t.elapsed() < Duration::from_secs(10),
            "{b} took {:?}",
            t.elapsed()
        );
        assert_eq!(r.status, 400, "{b}: {}", text(&r.body));
        assert_refusal(r.status, &r.body, &b.to_string());
    }
    // The raw upload of a model whose external data points outside its directory.
    let r = srv.post(
        "/v1/models",
        "application/octet-stream",
        &std::fs::read(example("unsupported/outside_data.onnx")).unwrap(),
    );
    refused(&r, 400, "upload with external data outside");
    assert_nothing_stored(&srv, "model paths");
    // What is inside is served.
    let r = srv.post_json("/v1/models", &json!({"path": "sub/ok.onnx"}));
    assert_eq!(r.status, 201, "{}", text(&r.body));
    // And a server without --model-dir refuses paths altogether.
    let plain = start(&dir.join("data2"), &strings(&["--workers", "0"]), None);
    let r = plain.post_json("/v1/models", &json!({"path": "sub/ok.onnx"}));
    refused(&r, 403, "path without --model-dir");
    assert_nothing_stored(&plain, "no model dir");
}

#[test]
fn a_model_dir_file_swapped_after_registration_is_not_proven_under_the_old_id() {
    let dir = tmpdir("atk-path-swap");
    let md = dir.join("md");
    let outside = dir.join("outside");
    std::fs::create_dir_all(&md).unwrap();
    std::fs::create_dir_all(&outside).unwrap();
    std::fs::copy(mlp(), md.join("m.onnx")).unwrap();
    // Another model with the same input shape, and another commitment, outside the directory.
    std::fs::copy(example("mlp/mlp_matmul.onnx"), outside.join("other.onnx")).unwrap();
    let mut args = strings(&["--workers", "1", "--model-dir"]);
    args.push(md.display().to_string());
    let srv = start(&dir.join("data"), &args, None);
    let r = srv.post_json("/v1/models", &json!({"path": "m.onnx"}));
    assert_eq!(r.status, 201, "{}", text(&r.body));
    let model = r.json()["model_id"].as_str().unwrap().to_string();
    // Someone who can write to the model directory (which is what it is for) swaps the file.
    std::fs::remove_file(md.join("m.onnx")).unwrap();
    #[cfg(unix)]
    std::os::unix::fs::symlink(outside.join("other.onnx"), md.join("m.onnx")).unwrap();
    let id = srv.prove(&model, &input(0));
    let j = srv.wait(&id, 60);
    if j["state"] == "succeeded" {
        let res = srv.get(&format!("/v1/jobs/{id}/result")).json();
        assert_eq!(
            res["model_commitment"],
            model.as_str(),
            "job of model {model} proved a file outside --model-dir: {res}"
        );
    }
}

#[test]
fn a_second_server_on_the_same_data_directory_is_refused() {
    let dir = tmpdir("atk-two-servers");
    let data = dir.join("data");
    let _first = start(&data, &strings(&["--workers", "1"]), None);
    let mut second = bin()
        .args(["serve", "--addr", "127.0.0.1:0", "--workers", "1", "--data"])
        .arg(&data)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let err = second.stderr.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        use std::io::BufRead;
        for line in std::io::BufReader::new(err).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let t = Instant::now();
    let mut listening = false;
    while t.elapsed() < Duration::from_secs(20) {
        if let Ok(l) = rx.recv_timeout(Duration::from_millis(100)) {
            if l.contains("listening on") {
                listening = true;
                break;
            }
        }
        if second.try_wait().unwrap().is_some() {
            break;
        }
    }
    let _ = second.kill();
    let _ = second.wait();
    assert!(
        !listening,
        "a second server started on the same data directory"
    );
}

#[test]
fn ids_in_urls_must_be_hex_and_name_nothing_but_rows() {
    let dir = tmpdir("atk-url-ids");
    let srv = start(
        &dir.join("data"),
        &strings(&["--workers", "0"]),
        Some(KEY_A),
    );
    let a = bearer(KEY_A);
    let h = [("Authorization", a.as_str())];
    let long = "a".repeat(65);
    let targets: Vec<String> = [
        "/v1/jobs/..%2F..%2Fzkgrad.sqlite",
        "/v1/jobs/..%2fzkgrad.sqlite/proof",
        "/v1/jobs/%2e%2e",
        "/v1/jobs/%2Fetc%2Fpasswd/proof",
        "/v1/jobs/.%2e/result",
        "/v1/jobs/abc%00",
        "/v1/jobs/g123",
        "/v1/jobs/0x12",
        "/v1/jobs/-1/proof",
        "/v1/jobs/%20",
        "/v1/jobs/ab%20cd/events",
        "/v1/models/..%2Fzkgrad.sqlite",
        "/v1/models/%2Fetc%2Fpasswd",
        "/v1/models/..",
        "/v1/jobs/..",
    ]
    .iter()
    .map(|s| (*s).to_string())
    .chain([format!("/v1/jobs/{long}"), format!("/v1/models/{long}")])
    .collect();
    for t in &targets {
        let r = raw(&srv, "GET", t.as_bytes(), &h, b"");
        refused_raw(&r, 404, &format!("GET {t}"));
    }
    for t in [
        "/v1/jobs/..%2F..%2Fzkgrad.sqlite/cancel",
        "/v1/jobs/%2Fetc%2Fpasswd/cancel",
    ] {
        let r = raw(&srv, "POST", t.as_bytes(), &h, b"");
        refused_raw(&r, 404, &format!("POST {t}"));
    }
    let r = raw(&srv, "DELETE", b"/v1/models/..%2Fzkgrad.sqlite", &h, b"");
    refused_raw(&r, 404, "DELETE a path");
    // Dot segments are not resolved by the server: no route, not a file.
    for t in [
        "/v1/jobs/../../zkgrad.sqlite",
        "/v1/../zkgrad.sqlite",
        "/../../etc/passwd",
    ] {
        let r = raw(&srv, "GET", t.as_bytes(), &h, b"");
        assert_eq!(r.status, 404, "{t}: {}", text(&r.body));
    }
    // Not UTF-8: refused, never a 5xx.
    let r = raw(&srv, "GET", b"/v1/jobs/%FF%FE", &h, b"");
    assert!((400..500).contains(&r.status), "{}", r.status);
    assert!(srv.data.join("zkgrad.sqlite").is_file());
}

fn refused_raw(r: &Raw, status: u16, what: &str) {
    assert_eq!(r.status, status, "{what}: {}", text(&r.body));
    assert_refusal(r.status, &r.body, what);
}

// ---------------------------------------------------------------------------------------------
// 3. Argument injection into the child process

#[test]
fn request_fields_cannot_become_flags_or_change_files() {
    let dir = tmpdir("atk-inject");
    let srv = start(&dir.join("data"), &strings(&["--workers", "1"]), None);
    let model = srv.upload(&mlp());
    let m = model.as_str();
    let x = input(0);
    let long_hex = "0".repeat(64);
    let prove =
        |options: Value| json!({"kind": "prove", "model_id": m, "input": x, "options": options});
    let train = |options: Value| {
        let mut o = json!({"lr": 0.05, "loss": "mse"});
        for (k, v) in options.as_object().unwrap() {
            o[k] = v.clone();
        }
        json!({"kind": "train", "model_id": m,
               "data": {"x": [[0.1, 0.2, 0.3, 0.4, 0.5]], "y": [[1.0, 0.0]]}, "options": o})
    };
    let flagged = dir.join("flagged.zkp").display().to_string();
    let bad = vec![
        // Prove options: strings where numbers are expected, flags as values, wrong types.
        prove(json!({"pcs": "--help"})),
        prove(json!({"pcs": format!("--proof={flagged}")})),
        prove(json!({"pcs": "ligero --proof x"})),
        prove(json!({"pcs": "LIGERO"})),
        prove(json!({"pcs": ["ligero"]})),
        prove(json!({"pcs": 1})),
        prove(json!({"table_bits": "8"})),
        prove(json!({"table_bits": "--proof"})),
        prove(json!({"table_bits": -8})),
        prove(json!({"table_bits": 8.5})),
        prove(json!({"table_bits": 4294967296u64})),
        prove(json!({"table_bits": 1e10})),
        prove(json!({"table_bits": 3})),
        prove(json!({"table_bits": 21})),
        prove(json!({"act_frac": "-1"})),
        prove(json!({"act_frac": -1})),
        prove(json!({"act_frac": 41})),
        prove(json!({"weight_frac": "--input=/etc/passwd"})),
        prove(json!({"per_tensor_scales": "true"})),
        prove(json!({"per_tensor_scales": 1})),
        prove(json!({"per_tensor_scales": true, "global_scale": true})),
        prove(json!({"calibration": "/etc/passwd"})),
        prove(json!({"proof": flagged})),
        prove(json!({"model": "/etc/passwd"})),
        prove(json!({"output": flagged})),
        prove(json!({"no_cache": true})),
        prove(json!("--help")),
        prove(json!(["--proof", flagged])),
        prove(json!(5)),
        // Ids: flags, paths and wrong types.
        json!({"kind": "prove", "model_id": "--help", "input": x}),
        json!({"kind": "prove", "model_id": "../../etc/passwd", "input": x}),
        json!({"kind": "prove", "model_id": format!("{m}/../x"), "input": x}),
        json!({"kind": "prove", "model_id": 5, "input": x}),
        json!({"kind": "prove", "model_id": [m], "input": x}),
        json!({"kind": "verify", "model_id": m, "proof_job_id": "../../zkgrad.sqlite"}),
        json!({"kind": "verify", "model_id": m, "proof_job_id": "--proof=/etc/passwd"}),
        json!({"kind": "verify", "model_id": m, "proof_job_id": "00/../../x"}),
        json!({"kind": "verify", "model_id": m, "proof_job_id": long_hex}),
        json!({"kind": "verify", "model_id": m, "proof_job_id": 12}),
        json!({"kind": "verify", "commitment": "--model=/etc/passwd", "proof_job_id": "00"}),
        json!({"kind": "verify", "commitment": format!("--{}", &long_hex[2..]), "proof_base64": "AAAA"}),
        json!({"kind": "verify", "commitment": m, "model_id": m, "proof_base64": "AAAA"}),
        json!({"kind": "verify", "model_id": m, "proof_base64": "--proof"}),
        json!({"kind": "verify", "model_id": m, "proof_base64": "AAAA", "proof_job_id": "00"}),
        json!({"kind": "verify", "model_id": m}),
        // Training options.
        train(json!({"loss": "--json"})),
        train(json!({"loss": "mse --prove"})),
        train(json!({"lr": "-1"})),
        train(json!({"lr": "0.1"})),
        train(json!({"lr": -0.1})),
        train(json!({"lr": 0})),
        train(json!({"steps": -1})),
        train(json!({"steps": "1"})),
        train(json!({"steps": "--out=/tmp/x"})),
        train(json!({"steps": 0})),
        train(json!({"batch": 0})),
        train(json!({"shuffle": -1})),
        train(json!({"shuffle": "--prove"})),
        train(json!({"lora_rank": "-1"})),
        train(json!({"lora_alpha": "--out"})),
        train(json!({"lora_targets": "--out=/tmp/x"})),
        train(json!({"lora_targets": "-o"})),
        train(json!({"lora_targets": ["fc1", "--out=/tmp/x"]})),
        train(json!({"prove": "false"})),
        train(json!({"out": "/tmp/x"})),
        train(json!({"targets": 1})),
        json!({"kind": "train", "model_id": m, "data": {"x": [[1]], "y": [[1]]}, "options": {"loss": "mse"}}),
        json!({"kind": "train", "model_id": m, "data": "/etc/passwd", "options": {"lr": 0.1, "loss": "mse"}}),
        json!({"kind": "train", "model_id": m, "data": {"x": "/etc/passwd", "y": [[1]]}, "options": {"lr": 0.1, "loss": "mse"}}),
        json!({"kind": "prove", "model_id": m, "input": "/etc/passwd"}),
        json!({"kind": "prove", "model_id": m, "input": {"input_data": "/etc/passwd"}}),
        json!({"kind": "prove", "model_id": m, "input": x, "time_limit_s": "--help"}),
        json!({"kind": "prove", "model_id": m, "input": x, "time_limit_s": -1}),
        json!({"kind": "prove", "model_id": m, "input": x, "time_limit_s": 0}),
    ];
    for b in &bad {
        let r = srv.post_json("/v1/jobs", b);
        assert_eq!(r.status, 400, "{b}: {}", text(&r.body));
        assert_refusal(r.status, &r.body, &b.to_string());
    }
    assert_eq!(job_count(&srv), 0, "a refused request stored a job");

    // A flag-like node name inside `lora_targets` (a comma-separated list) is refused too,
    // although clap would take the whole argument as one value.
    let smuggled = dir.join("smuggled-run");
    let r = srv.post_json(
        "/v1/jobs",
        &train(json!({"lora_rank": 1, "lora_targets": format!("x,--out={},--prove", smuggled.display())})),
    );
    refused(&r, 400, "a flag-like LoRA target");
    assert!(!smuggled.exists());
    // A flag-like key beside `input_data` is refused: the input object has no other field.
    let r = srv.post_json(
        "/v1/jobs",
        &json!({"kind": "prove", "model_id": m, "input": {"input_data": [[0.1, 0.2, 0.3, 0.4, 0.5]], "--proof": flagged}}),
    );
    refused(&r, 400, "a flag-like key in the input");
    assert!(!Path::new(&flagged).exists());
    // Nothing outside the data directory was written.
    let left: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .flatten()
        .map(|e| e.file_name())
        .collect();
    assert_eq!(left, vec![std::ffi::OsString::from("data")], "{left:?}");
}

/// A `null` option means "unset": the job runs with the default, and `null` never reaches the
/// child as a value (`--pcs null` was the weakness). An options array (which serde would read
/// field by field) is refused.
#[test]
fn null_options_are_unset_and_an_options_array_is_refused() {
    let dir = tmpdir("atk-null-options");
    let srv = start(&dir.join("data"), &strings(&["--workers", "1"]), None);
    let model = srv.upload(&mlp());
    let x = input(0);
    let train = |o: Value| {
        json!({"kind": "train", "model_id": model,
               "data": {"x": [[0.1, 0.2, 0.3, 0.4, 0.5]], "y": [[1.0, 0.0]]}, "options": o})
    };
    for b in [
        json!({"kind": "prove", "model_id": model, "input": x, "options": {"pcs": null}}),
        json!({"kind": "prove", "model_id": model, "input": x, "options": {"table_bits": null}}),
        train(json!({"lr": 0.1, "loss": "mse", "steps": null})),
        train(json!({"lr": 0.1, "loss": "mse", "lora_alpha": null})),
    ] {
        let id = job_id(&srv.post_json("/v1/jobs", &b));
        let j = srv.wait(&id, 120);
        assert_eq!(j["state"], "succeeded", "{b}: {j}");
    }
    let r = srv.post_json(
        "/v1/jobs",
        &json!({"kind": "prove", "model_id": model, "input": x,
                "options": ["whir", 8, null, null, null, null]}),
    );
    refused(&r, 400, "an options array");
    assert_eq!(job_count(&srv), 4);
}

#[test]
fn options_the_cli_refuses_are_refused_up_front() {
    let dir = tmpdir("atk-cli-refuses");
    let srv = start(&dir.join("data"), &strings(&["--workers", "1"]), None);
    let model = srv.upload(&mlp());
    let proof = base64::engine::general_purpose::STANDARD.encode(a_proof(&srv, &model));
    let train = |o: Value| {
        let mut opts = json!({"lr": 0.05, "loss": "mse"});
        for (k, v) in o.as_object().unwrap() {
            opts[k] = v.clone();
        }
        json!({"kind": "train", "model_id": model,
               "data": {"x": [[0.1, 0.2, 0.3, 0.4, 0.5]], "y": [[1.0, 0.0]]}, "options": opts})
    };
    let mut accepted = Vec::new();
    for b in [
        train(json!({"table_bits": 99})),
        train(json!({"table_bits": 2})),
        train(json!({"lora_rank": 0})),
        train(json!({"lora_rank": 1, "lora_alpha": -1.0})),
        train(json!({"lora_alpha": 2.0})),
        train(json!({"lora_targets": "fc1"})),
        // `verify --commitment` takes no precision or scheme flag (clap: conflicts_with_all).
        json!({"kind": "verify", "commitment": model, "proof_base64": proof, "options": {"pcs": "ligero"}}),
    ] {
        let r = srv.post_json("/v1/jobs", &b);
        if r.status != 400 {
            let shown = b.to_string();
            accepted.push(format!(
                "{} -> {}",
                &shown[..shown.len().min(200)],
                r.status
            ));
        }
    }
    assert!(accepted.is_empty(), "accepted:\n{}", accepted.join("\n"));
}

/// A real proof of the MLP from a server, as bytes.
fn a_proof(srv: &Server, model: &str) -> Vec<u8> {
    let id = srv.prove(model, &input(0));
    assert_eq!(srv.wait(&id, 60)["state"], "succeeded");
    let r = srv.get(&format!("/v1/jobs/{id}/proof"));
    assert_eq!(r.status, 200);
    r.body
}

#[test]
fn a_proof_header_whose_precision_overflows_is_refused() {
    let dir = tmpdir("atk-proof-header");
    let srv = start(&dir.join("data"), &strings(&["--workers", "1"]), None);
    let model = srv.upload(&mlp());
    let mut p = a_proof(&srv, &model);
    // magic (8) | version u16 | act_frac u32 at offset 10.
    p[10..14].copy_from_slice(&u32::MAX.to_le_bytes());
    let r = srv.post_json(
        "/v1/jobs",
        &json!({"kind": "verify", "model_id": model,
                "proof_base64": base64::engine::general_purpose::STANDARD.encode(&p)}),
    );
    assert_eq!(r.status, 400, "{}", text(&r.body));
}

#[test]
fn tampered_proof_files_never_get_a_5xx() {
    let dir = tmpdir("atk-proof-fuzz");
    let srv = start(&dir.join("data"), &strings(&["--workers", "1"]), None);
    let model = srv.upload(&mlp());
    let p = a_proof(&srv, &model);
    let before = job_count(&srv);
    let mut seed: u64 = 0x2545_F491_4F6C_DD1D;
    let mut cases: Vec<Vec<u8>> = vec![
        Vec::new(),
        p[..p.len() / 2].to_vec(),
        [&p[..], b"x"].concat(),
    ];
    // Lengths in the header set to extremes; bytes flipped at random.
    for (at, width) in [(8usize, 2usize), (14, 4), (18, 4), (22, 1), (87, 4)] {
        for v in [0u64, 1, u64::MAX] {
            let mut q = p.clone();
            let b = v.to_le_bytes();
            q[at..at + width].copy_from_slice(&b[..width]);
            if q != p {
                cases.push(q);
            }
        }
    }
    for _ in 0..40 {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        let mut q = p.clone();
        let i = (seed as usize) % q.len();
        q[i] ^= 1u8 << (seed >> 61);
        cases.push(q);
    }
    for (n, q) in cases.iter().enumerate() {
        let r = srv.post_json(
            "/v1/jobs",
            &json!({"kind": "verify", "model_id": model,
                    "proof_base64": base64::engine::general_purpose::STANDARD.encode(q)}),
        );
        assert!(
            r.status == 202 || r.status == 400,
            "case {n}: {} {}",
            r.status,
            text(&r.body)
        );
        if r.status == 400 {
            assert_refusal(r.status, &r.body, &format!("case {n}"));
        }
    }
    assert_eq!(srv.get("/health").status, 200);
    eprintln!(
        "{} tampered proofs: {} accepted as jobs",
        cases.len(),
        job_count(&srv) - before
    );
    // Every accepted tampered proof verifies as invalid (or fails), never as valid.
    let jobs = srv.get("/v1/jobs?limit=1000").json();
    for j in jobs["jobs"]
        .as_array()
        .unwrap()
        .iter()
        .take(job_count(&srv) - before)
    {
        if j["kind"] != "verify" {
            continue;
        }
        let id = j["job_id"].as_str().unwrap();
        let done = srv.wait(id, 60);
        if done["state"] == "succeeded" {
            let res = srv.get(&format!("/v1/jobs/{id}/result")).json();
            assert_ne!(res["verified"], true, "a tampered proof verified: {res}");
        }
    }
}

// ---------------------------------------------------------------------------------------------
// 4. Malformed requests

#[test]
fn malformed_requests_get_a_one_line_json_4xx_and_store_nothing() {
    let dir = tmpdir("atk-malformed");
    let srv = start(&dir.join("data"), &strings(&["--workers", "0"]), None);
    let model = srv.upload(&mlp());
    let m = model.as_str();
    let deep_arrays = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
    let deep_objects = "{\"a\":".repeat(50_000);
    let deep_input = format!(
        "{{\"kind\":\"prove\",\"model_id\":\"{m}\",\"input\":{}1,2,3,4,5{}}}",
        "[".repeat(5000),
        "]".repeat(5000)
    );
    let valid =
        format!("{{\"kind\":\"prove\",\"model_id\":\"{m}\",\"input\":[[0.1,0.2,0.3,0.4,0.5]]");
    let mut bodies: Vec<Vec<u8>> = [
        "",
        " ",
        "{",
        "}",
        "null",
        "true",
        "0",
        "[]",
        "\"prove\"",
        "{}",
        "{\"kind\": null}",
        "{\"kind\": 5}",
        "{\"kind\": \"PROVE\"}",
        "{\"kind\": \"prove\"}",
        "{\"kind\": \"prove\", \"kind\": \"train\"}",
        "{\"kind\": [\"prove\"]}",
        "{\"kind\":\"prove\",\"model_id\":\"\",\"input\":[]}",
        "{\"kind\":\"prove\",\"model_id\":null,\"input\":[[1,2,3,4,5]]}",
        "{\"kind\":\"verify\",\"model_id\":null,\"commitment\":null,\"proof_base64\":null}",
        "{\"kind\":\"train\",\"model_id\":\"00\",\"data\":null}",
        deep_arrays.as_str(),
        deep_objects.as_str(),
        deep_input.as_str(),
    ]
    .iter()
    .map(|s| s.as_bytes().to_vec())
    .collect();
    for tail in [
        "}x",
        "} {}",
        ",\"bogus\":1}",
        ",\"time_limit_s\":1e999}",
        ",\"time_limit_s\":-0.0}",
        ",\"time_limit_s\":\"5\"}",
        ",\"time_limit_s\":null,\"options\":\"x\"}",
        ",\"options\":{\"pcs\":\"auto\",\"pcs\":\"--help\"}}",
        ",\"model_id\":\"00\"}",
    ] {
        bodies.push(format!("{valid}{tail}").into_bytes());
    }
    for input in [
        "[[1e400,2,3,4,5]]",
        "[[NaN,2,3,4,5]]",
        "[[Infinity,2,3,4,5]]",
        "[[-,2,3,4,5]]",
        "[[0x10,2,3,4,5]]",
        "[[\"1\",2,3,4,5]]",
        "[[null,2,3,4,5]]",
        "[[true,2,3,4,5]]",
        "[[{},2,3,4,5]]",
        "[[1,2,3,4]]",
        "[[1,2,3,4,5,6]]",
        "{\"input_data\":null}",
        "{\"data\":[[1,2,3,4,5]]}",
        "\"[[1,2,3,4,5]]\"",
        "1",
    ] {
        bodies.push(
            format!("{{\"kind\":\"prove\",\"model_id\":\"{m}\",\"input\":{input}}}").into_bytes(),
        );
    }
    // Not UTF-8, in a string and bare; a lone surrogate; a byte-order mark; UTF-16.
    bodies.push(
        [
            &b"{\"kind\":\"prove\",\"model_id\":\"\xff\xfe\""[..],
            b",\"input\":[]}",
        ]
        .concat(),
    );
    bodies.push(b"\xff\xfe\xfd".to_vec());
    bodies.push(
        format!("{{\"kind\":\"prove\",\"model_id\":\"\\ud800{m}\",\"input\":[[1,2,3,4,5]]}}")
            .into_bytes(),
    );
    bodies.push([&b"\xef\xbb\xbf"[..], format!("{valid}}}").as_bytes()].concat());
    bodies.push(
        format!("{valid}}}")
            .encode_utf16()
            .flat_map(u16::to_le_bytes)
            .collect(),
    );
    // A huge model id, control characters.
    bodies.push(
        format!(
            "{{\"kind\":\"prove\",\"model_id\":\"{}\",\"input\":[[1,2,3,4,5]]}}",
            "a".repeat(1 << 20)
        )
        .into_bytes(),
    );
    bodies.push(b"{\"kind\":\"prove\",\"model_id\":\"\x01\x02\",\"input\":[[1,2,3,4,5]]}".to_vec());

    let types = [
        Some("application/json"),
        Some("text/plain"),
        None,
        Some("application/x-www-form-urlencoded"),
        Some("multipart/form-data; boundary=x"),
        Some("application/json; charset=utf-16"),
    ];
    for (n, body) in bodies.iter().enumerate() {
        for ct in [types[n % types.len()], Some("application/json")] {
            let mut h = vec![];
            if let Some(c) = ct {
                h.push(("Content-Type", c));
            }
            let r = raw(&srv, "POST", b"/v1/jobs", &h, body);
            let shown = text(&body[..body.len().min(120)]);
            // 415 for a body that does not say it is JSON (a web page's simple requests).
            let expected = if ct.is_some_and(|c| c.starts_with("application/json")) {
                400
            } else {
                415
            };
            assert_eq!(
                r.status,
                expected,
                "body {n} ({ct:?}) {shown:?}: {}",
                text(&r.body)
            );
            assert_refusal(r.status, &r.body, &format!("body {n} {shown:?}"));
        }
    }
    // Model uploads that are not models.
    let onnx = std::fs::read(mlp()).unwrap();
    for (ct, body) in [
        ("application/octet-stream", Vec::new()),
        ("application/octet-stream", b"not an onnx file".to_vec()),
        ("application/octet-stream", onnx[..onnx.len() / 2].to_vec()),
        ("application/octet-stream", vec![0xff; 100_000]),
        (
            "application/octet-stream",
            [&onnx[..], &[0xff; 64][..]].concat(),
        ),
        ("application/json", onnx.clone()),
        ("application/json", b"{".to_vec()),
        ("application/json", Vec::new()),
        ("application/json", b"{\"path\": 1}".to_vec()),
    ] {
        let r = raw(&srv, "POST", b"/v1/models", &[("Content-Type", ct)], &body);
        assert!(
            r.status == 400 || r.status == 403,
            "model upload {ct} of {} bytes: {} {}",
            body.len(),
            r.status,
            text(&r.body)
        );
        assert_refusal(r.status, &r.body, "model upload");
    }
    // Query strings and methods: refused, never a 5xx.
    for t in [
        "/v1/jobs?state=nope",
        "/v1/jobs?state=",
        "/v1/jobs?limit=abc",
        "/v1/jobs?limit=99999999999999999999999",
        "/v1/jobs?limit=1&limit=2",
    ] {
        let r = raw(&srv, "GET", t.as_bytes(), &[], b"");
        assert_eq!(r.status, 400, "{t}: {}", text(&r.body));
    }
    for (method, t) in [
        ("DELETE", "/v1/jobs"),
        ("PUT", "/v1/jobs/00"),
        ("PATCH", "/v1/models"),
        ("POST", "/health"),
    ] {
        let r = raw(&srv, method, t.as_bytes(), &[], b"");
        assert_eq!(r.status, 405, "{method} {t}: {}", text(&r.body));
    }
    // Limits that are out of range are clamped, not errors.
    for t in [
        "/v1/jobs?limit=-5",
        "/v1/jobs?limit=0",
        "/v1/jobs?limit=9223372036854775807",
    ] {
        assert_eq!(raw(&srv, "GET", t.as_bytes(), &[], b"").status, 200, "{t}");
    }
    assert_eq!(srv.get("/health").status, 200, "the server died");
    assert_eq!(job_count(&srv), 0, "a malformed request stored a job");
    assert_eq!(
        srv.get("/v1/models").json()["models"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    for sub in ["tmp", "proofs", "runs", "work"] {
        assert_eq!(entries(&srv.data, sub), 0, "{sub}/");
    }
    assert_eq!(entries(&srv.data, "models"), 1);
}

#[test]
fn every_refusal_is_a_json_error_line() {
    let dir = tmpdir("atk-rejections");
    let srv = start(
        &dir.join("data"),
        &strings(&["--workers", "0", "--max-request-mib", "1"]),
        None,
    );
    let big = vec![b' '; 2 << 20];
    let cases: Vec<(&str, &[u8], &[u8])> = vec![
        ("GET", b"/v1/jobs?limit=abc", b""),
        ("GET", b"/v1/jobs?limit=1&limit=2", b""),
        ("GET", b"/v1/jobs/%FF", b""),
        ("DELETE", b"/v1/jobs/00", b""),
        ("POST", b"/v1/jobs", &big),
    ];
    for (method, t, body) in cases {
        let r = raw(
            &srv,
            method,
            t,
            &[("Content-Type", "application/json")],
            body,
        );
        assert_refusal(r.status, &r.body, &format!("{method} {}", text(t)));
    }
}

#[test]
fn job_errors_do_not_reveal_server_paths() {
    let dir = tmpdir("atk-path-leak");
    let srv = start(&dir.join("data"), &strings(&["--workers", "1"]), None);
    let model = srv.upload(&mlp());
    let data = srv.data.canonicalize().unwrap().display().to_string();
    for x in [json!([[1e308, 0, 0, 0, 0]]), json!([[1000, 2, 3, 4, 5]])] {
        let id = srv.prove(&model, &x);
        let j = srv.wait(&id, 60);
        assert_eq!(j["state"], "failed", "{j}");
        let e = j["error"].as_str().unwrap();
        assert!(!e.contains(&data) && !e.contains("/work/"), "{e}");
    }
}

// ---------------------------------------------------------------------------------------------
// Browsers: a keyless server listens on loopback, which any web page can reach

#[test]
fn a_web_page_cannot_drive_a_keyless_server() {
    let dir = tmpdir("atk-browser");
    let srv = start(&dir.join("data"), &strings(&["--workers", "0"]), None);
    let model = srv.upload(&mlp());
    let body = json!({"kind": "prove", "model_id": model, "input": input(0)}).to_string();
    // A cross-origin fetch() may send text/plain without a preflight.
    let r = raw(
        &srv,
        "POST",
        b"/v1/jobs",
        &[("Content-Type", "text/plain")],
        body.as_bytes(),
    );
    assert_eq!(r.status, 415, "text/plain job: {}", text(&r.body));
    // And a Blob without a type: no Content-Type at all.
    let onnx = std::fs::read(mlp()).unwrap();
    let r = raw(&srv, "POST", b"/v1/models", &[], &onnx);
    assert_eq!(r.status, 415, "untyped upload: {}", text(&r.body));
    // DNS rebinding: the page's own host name, resolved to 127.0.0.1.
    let r = raw(
        &srv,
        "GET",
        b"/v1/jobs",
        &[("Host", "rebind.attacker.example")],
        b"",
    );
    assert!(
        r.status == 421 || r.status == 403,
        "foreign Host: {} {}",
        r.status,
        text(&r.body)
    );
}

// ---------------------------------------------------------------------------------------------
// 5. Limits

#[test]
fn the_queue_bound_holds_against_forty_racing_clients() {
    let dir = tmpdir("atk-queue-race");
    let srv = start(
        &dir.join("data"),
        &strings(&["--workers", "0", "--max-queue", "5"]),
        None,
    );
    let model = srv.upload(&mlp());
    upload_as_b(&srv);
    let barrier = std::sync::Barrier::new(40);
    let statuses: Vec<(u16, Vec<u8>)> = std::thread::scope(|s| {
        let hs: Vec<_> = (0..40)
            .map(|i| {
                let (srv, model, barrier) = (&srv, &model, &barrier);
                s.spawn(move || {
                    let body = json!({"kind": "prove", "model_id": model, "input": input(i)});
                    barrier.wait();
                    let r = srv.post_json("/v1/jobs", &body);
                    (r.status, r.body)
                })
            })
            .collect();
        hs.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let accepted = statuses.iter().filter(|(s, _)| *s == 202).count();
    assert_eq!(
        accepted,
        5,
        "{:?}",
        statuses.iter().map(|s| s.0).collect::<Vec<_>>()
    );
    for (s, b) in statuses.iter().filter(|(s, _)| *s != 202) {
        assert_eq!(*s, 429);
        assert_refusal(*s, b, "over the queue");
    }
    assert_eq!(job_count(&srv), 5);
    assert_eq!(srv.get("/health").json()["queued"], 5);
}

#[test]
fn the_per_key_bound_holds_against_racing_clients_of_two_keys() {
    let dir = tmpdir("atk-key-race");
    let srv = start_two_keys(
        &dir.join("data"),
        &[
            "--workers",
            "0",
            "--max-queue",
            "100",
            "--max-jobs-per-key",
            "3",
        ],
    );
    let model = srv.upload(&mlp());
    upload_as_b(&srv);
    let barrier = std::sync::Barrier::new(40);
    let results: Vec<(usize, u16, Vec<u8>)> = std::thread::scope(|s| {
        let hs: Vec<_> = (0..40)
            .map(|i| {
                let (srv, model, barrier) = (&srv, &model, &barrier);
                s.spawn(move || {
                    let key = [KEY_A, KEY_B][i % 2];
                    let body = json!({"kind": "prove", "model_id": model, "input": input(i)});
                    barrier.wait();
                    let r = srv.post_as(
                        "/v1/jobs",
                        "application/json",
                        body.to_string().as_bytes(),
                        Some(&bearer(key)),
                    );
                    (i % 2, r.status, r.body)
                })
            })
            .collect();
        hs.into_iter().map(|h| h.join().unwrap()).collect()
    });
    for k in 0..2 {
        let ok = results
            .iter()
            .filter(|(key, s, _)| *key == k && *s == 202)
            .count();
        assert_eq!(ok, 3, "key {k}");
    }
    for (_, s, b) in results.iter().filter(|(_, s, _)| *s != 202) {
        assert_eq!(*s, 429);
        assert_refusal(*s, b, "over the key's share");
    }
    for k in [KEY_A, KEY_B] {
        let l = srv.get_as("/v1/jobs", Some(&bearer(k))).json();
        assert_eq!(l["jobs"].as_array().unwrap().len(), 3);
    }
    // A cancelled job frees its slot; the bound still holds.
    let l = srv.get("/v1/jobs").json();
    let first = l["jobs"][0]["job_id"].as_str().unwrap().to_string();
    assert_eq!(
        srv.post(&format!("/v1/jobs/{first}/cancel"), "application/json", b"")
            .status,
        200
    );
    let ok = json!({"kind": "prove", "model_id": model, "input": input(0)});
    assert_eq!(srv.post_json("/v1/jobs", &ok).status, 202);
    assert_eq!(srv.post_json("/v1/jobs", &ok).status, 429);
}

#[test]
fn bodies_over_the_limits_get_413_and_store_nothing() {
    let dir = tmpdir("atk-body-limits");
    let srv = start(
        &dir.join("data"),
        &strings(&[
            "--workers",
            "0",
            "--max-request-mib",
            "1",
            "--max-model-mib",
            "1",
        ]),
        None,
    );
    let over = {
        let n = (2 << 20) / 2;
        format!(
            "{{\"kind\":\"prove\",\"model_id\":\"{}\",\"input\":[{}0]}}",
            "0".repeat(64),
            "0,".repeat(n)
        )
        .into_bytes()
    };
    let onnx_like = vec![0x08u8; 2 << 20];
    for (t, ct, body) in [
        ("/v1/jobs", "application/json", &over),
        ("/v1/models", "application/octet-stream", &onnx_like),
        ("/v1/models", "application/json", &over),
    ] {
        for chunked in [false, true] {
            let mut h = vec![("Content-Type", ct)];
            if chunked {
                h.push(("Transfer-Encoding", "chunked"));
            }
            let r = raw(&srv, "POST", t.as_bytes(), &h, body);
            assert_eq!(
                r.status,
                413,
                "{t} {ct} chunked={chunked}: {}",
                text(&r.body)
            );
        }
        // A Content-Length that claims the moon: refused once the limit is crossed, the rest
        // never awaited.
        let r = raw(
            &srv,
            "POST",
            t.as_bytes(),
            &[("Content-Type", ct), ("Content-Length", "1099511627776")],
            body,
        );
        assert_eq!(r.status, 413, "{t}: {}", text(&r.body));
    }
    assert_eq!(srv.get("/health").status, 200);
    assert_nothing_stored(&srv, "over the limits");
}

/// The peak resident set of a process, in bytes (Linux).
fn peak_rss(pid: u32) -> Option<u64> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let kb: u64 = s
        .lines()
        .find(|l| l.starts_with("VmHWM:"))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()?;
    Some(kb * 1024)
}

#[test]
fn a_request_costs_memory_in_proportion_to_its_size() {
    let dir = tmpdir("atk-amplify");
    let srv = start(
        &dir.join("data"),
        &strings(&["--workers", "0", "--max-request-mib", "16"]),
        None,
    );
    let model = srv.upload(&mlp());
    let Some(before) = peak_rss(srv.child.id()) else {
        return;
    };
    let n = (16 << 20) / 2 - 64;
    let body = format!(
        "{{\"kind\":\"prove\",\"model_id\":\"{model}\",\"input\":[{}0]}}",
        "0,".repeat(n)
    );
    let r = srv.post("/v1/jobs", "application/json", body.as_bytes());
    assert_eq!(r.status, 400, "{}", text(&r.body));
    let grown = peak_rss(srv.child.id()).unwrap().saturating_sub(before);
    assert!(
        grown < 8 * body.len() as u64,
        "a {} MiB request grew the server by {} MiB",
        body.len() >> 20,
        grown >> 20
    );
}

// ---------------------------------------------------------------------------------------------
// 6. Crash consistency

#[test]
fn concurrent_uploads_of_one_model_store_it_once() {
    let dir = tmpdir("atk-upload-race");
    let srv = start(&dir.join("data"), &strings(&["--workers", "0"]), None);
    let onnx = std::fs::read(mlp()).unwrap();
    let replies: Vec<(u16, Value)> = std::thread::scope(|s| {
        let hs: Vec<_> = (0..8)
            .map(|_| {
                let (srv, onnx) = (&srv, &onnx);
                s.spawn(move || {
                    let r = srv.post("/v1/models", "application/octet-stream", onnx);
                    (r.status, r.json())
                })
            })
            .collect();
        hs.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let created = replies.iter().filter(|(s, _)| *s == 201).count();
    assert!(
        replies.iter().all(|(s, _)| *s == 200 || *s == 201),
        "{replies:?}"
    );
    assert_eq!(created, 1, "{replies:?}");
    let ids: std::collections::BTreeSet<String> = replies
        .iter()
        .map(|(_, v)| v["model_id"].to_string())
        .collect();
    assert_eq!(ids.len(), 1);
    assert_eq!(
        srv.get("/v1/models").json()["models"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    assert_eq!(entries(&srv.data, "models"), 1);
    assert_eq!(entries(&srv.data, "tmp"), 0);
}

#[test]
fn kill_9_never_leaves_a_succeeded_job_without_its_proof_nor_loses_one() {
    let dir = tmpdir("atk-kill9");
    let data = dir.join("data");
    let workers = strings(&["--workers", "2"]);
    let mut srv = start(&data, &workers, None);
    let model = srv.upload(&mlp());
    let mut ids: Vec<String> = (0..20).map(|i| srv.prove(&model, &input(i))).collect();
    let mut seed: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut checked_succeeded = 0;
    for round in 0..6 {
        seed = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        std::thread::sleep(Duration::from_millis(1 + (seed >> 33) % 40));
        srv.kill9();
        // Look at what the crash left, with no worker to change it.
        let look = start(&data, &strings(&["--workers", "0"]), None);
        let jobs = look.get("/v1/jobs?limit=1000").json();
        let jobs = jobs["jobs"].as_array().unwrap();
        assert_eq!(jobs.len(), ids.len(), "round {round}: a job was lost");
        for j in jobs {
            assert_ne!(
                j["state"], "running",
                "round {round}: still running after restart: {j}"
            );
            if j["state"] == "succeeded" {
                let p = data.join("proofs").join(format!(
                    "{}-{}.zkp",
                    j["job_id"].as_str().unwrap(),
                    j["attempts"]
                ));
                assert!(
                    p.is_file(),
                    "round {round}: succeeded without its proof: {j}"
                );
                assert!(
                    cli_verifies(&p),
                    "round {round}: a succeeded job's proof does not verify: {j}"
                );
                checked_succeeded += 1;
            }
        }
        drop(look);
        srv = start(&data, &workers, None);
        for i in 0..20 {
            ids.push(srv.prove(&model, &input(round + i)));
        }
    }
    let mut rerun = 0;
    for id in &ids {
        let j = srv.wait(id, 120);
        if j["attempts"].as_i64().unwrap() > 1 {
            rerun += 1;
        }
        match j["state"].as_str().unwrap() {
            "succeeded" => {
                let r = srv.get(&format!("/v1/jobs/{id}/proof"));
                assert_eq!(r.status, 200, "{j}");
                let p = dir.join(format!("{id}.zkp"));
                std::fs::write(&p, &r.body).unwrap();
                assert!(cli_verifies(&p), "{j}");
            }
            "failed" => assert!(j["error"].as_str().unwrap().contains("stopped"), "{j}"),
            _ => panic!("{j}"),
        }
    }
    eprintln!(
        "kill -9 x6: {} jobs, {rerun} run again after a kill, {checked_succeeded} succeeded \
         jobs' proofs checked right after a crash",
        ids.len()
    );
    assert!(
        checked_succeeded > 0,
        "no kill landed after a job had succeeded"
    );
    assert_eq!(entries(&data, "work"), 0);
    assert_eq!(entries(&data, "tmp"), 0);
}
