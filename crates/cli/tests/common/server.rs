//! A real `zkgrad serve` (or `zkgrad worker`) process for the service's tests, and a real HTTP
//! client (ureq) to talk to it.
#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use super::bin;

/// A running server; killed (SIGKILL) when dropped.
pub struct Server {
    pub child: Child,
    pub url: String,
    pub data: PathBuf,
    pub key: Option<String>,
    agent: ureq::Agent,
}

/// A reply: status and body.
pub struct Reply {
    pub status: u16,
    pub body: Vec<u8>,
}

impl Reply {
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&self.body)))
    }
}

impl Server {
    /// Starts `zkgrad serve --addr 127.0.0.1:0 --data DATA ARGS…` and waits for it to listen.
    pub fn start(data: &Path, args: &[&str]) -> Server {
        Self::start_with_key(data, args, None)
    }

    pub fn start_with_key(data: &Path, args: &[&str], key: Option<&str>) -> Server {
        let mut c = bin();
        c.args(["serve", "--addr", "127.0.0.1:0", "--data"])
            .arg(data)
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        if let Some(k) = key {
            c.args(["--api-key", k]);
        }
        let mut child = c.spawn().expect("start zkgrad serve");
        let stderr = child.stderr.take().unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut sent = false;
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if !sent {
                    if let Some(rest) = line.split("listening on ").nth(1) {
                        let url = rest.split([';', ' ']).next().unwrap();
                        let _ = tx.send(url.to_string());
                        sent = true;
                    }
                }
                eprintln!("[server] {line}");
            }
        });
        let url = rx
            .recv_timeout(Duration::from_secs(60))
            .expect("the server did not start listening");
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(Duration::from_secs(120)))
            .build()
            .into();
        Server {
            child,
            url,
            data: data.to_path_buf(),
            key: key.map(String::from),
            agent,
        }
    }

    fn auth(&self) -> Option<String> {
        self.key.as_ref().map(|k| format!("Bearer {k}"))
    }

    pub fn get(&self, path: &str) -> Reply {
        self.get_as(path, self.auth().as_deref())
    }

    pub fn get_as(&self, path: &str, auth: Option<&str>) -> Reply {
        let mut r = self.agent.get(format!("{}{path}", self.url));
        if let Some(a) = auth {
            r = r.header("Authorization", a);
        }
        reply(r.call().expect("GET"))
    }

    pub fn delete(&self, path: &str) -> Reply {
        let mut r = self.agent.delete(format!("{}{path}", self.url));
        if let Some(a) = self.auth() {
            r = r.header("Authorization", &a);
        }
        reply(r.call().expect("DELETE"))
    }

    pub fn post(&self, path: &str, content_type: &str, body: &[u8]) -> Reply {
        self.post_as(path, content_type, body, self.auth().as_deref())
    }

    pub fn post_as(
        &self,
        path: &str,
        content_type: &str,
        body: &[u8],
        auth: Option<&str>,
    ) -> Reply {
        let mut r = self
            .agent
            .post(format!("{}{path}", self.url))
            .header("Content-Type", content_type);
        if let Some(a) = auth {
            r = r.header("Authorization", a);
        }
        reply(r.send(body).expect("POST"))
    }

    pub fn post_json(&self, path: &str, v: &Value) -> Reply {
        self.post(path, "application/json", v.to_string().as_bytes())
    }

    /// Uploads a model file; its id.
    pub fn upload(&self, model: &Path) -> String {
        let r = self.post(
            "/v1/models",
            "application/octet-stream",
            &std::fs::read(model).unwrap(),
        );
        assert!(
            r.status == 201 || r.status == 200,
            "upload {}: {} {}",
            model.display(),
            r.status,
            String::from_utf8_lossy(&r.body)
        );
        r.json()["model_id"].as_str().unwrap().to_string()
    }

    /// Posts a prove job; its id.
    pub fn prove(&self, model_id: &str, input: &Value) -> String {
        let r = self.post_json(
            "/v1/jobs",
            &serde_json::json!({"kind": "prove", "model_id": model_id, "input": input}),
        );
        assert_eq!(r.status, 202, "{}", String::from_utf8_lossy(&r.body));
        r.json()["job_id"].as_str().unwrap().to_string()
    }

    pub fn job(&self, id: &str) -> Value {
        let r = self.get(&format!("/v1/jobs/{id}"));
        assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
        r.json()
    }

    /// Waits until the job is over (or `secs` pass); the job.
    pub fn wait(&self, id: &str, secs: u64) -> Value {
        let t = Instant::now();
        loop {
            let j = self.job(id);
            let s = j["state"].as_str().unwrap();
            if !["queued", "running"].contains(&s) {
                return j;
            }
            assert!(
                t.elapsed() < Duration::from_secs(secs),
                "job {id} still {s}: {j}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Waits until the job is in `state`.
    pub fn wait_for_state(&self, id: &str, state: &str, secs: u64) -> Value {
        let t = Instant::now();
        loop {
            let j = self.job(id);
            if j["state"] == state {
                return j;
            }
            assert!(
                t.elapsed() < Duration::from_secs(secs),
                "job {id} never {state}: {j}"
            );
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    pub fn kill9(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.kill9();
    }
}

fn reply(mut r: ureq::http::Response<ureq::Body>) -> Reply {
    let status = r.status().as_u16();
    let body = r
        .body_mut()
        .with_config()
        .limit(1 << 30)
        .read_to_vec()
        .unwrap_or_default();
    Reply { status, body }
}

/// The ids of the processes whose command line contains `needle` (Linux `/proc`).
pub fn processes_with(needle: &str) -> Vec<u32> {
    let mut out = Vec::new();
    for e in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        let Ok(pid) = e.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        if let Ok(cmd) = std::fs::read(e.path().join("cmdline")) {
            let cmd = String::from_utf8_lossy(&cmd).replace('\0', " ");
            if cmd.contains(needle) && !cmd.contains("cargo") {
                out.push(pid);
            }
        }
    }
    out
}

/// A running `zkgrad worker`; its stderr lines collected; killed (SIGKILL) when dropped.
pub struct Worker {
    pub child: Child,
    pub lines: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
}

impl Worker {
    pub fn start(database: &str, data: &Path, lease: &str) -> Worker {
        let mut child = bin()
            .args(["worker", "--database", database, "--lease", lease, "--data"])
            .arg(data)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start zkgrad worker");
        let stderr = child.stderr.take().unwrap();
        let lines = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let l = lines.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                eprintln!("[worker {}] {line}", std::process::id());
                l.lock().unwrap().push(line);
            }
        });
        Worker { child, lines }
    }

    /// The worker's name in leases (from its first line).
    pub fn name(&self) -> Option<String> {
        let lines = self.lines.lock().unwrap();
        let first = lines.first()?;
        let rest = first.strip_prefix("zkgrad worker ")?;
        Some(rest.split(':').next()?.to_string())
    }

    /// The jobs this worker recorded as ended: `(job id, state)`.
    pub fn ended(&self) -> Vec<(String, String)> {
        self.lines
            .lock()
            .unwrap()
            .iter()
            .filter_map(|l| {
                let rest = l.split(": job ").nth(1)?;
                let mut w = rest.split(' ');
                let (id, state) = (w.next()?, w.next()?);
                (!state.ends_with(':')).then(|| (id.to_string(), state.to_string()))
            })
            .collect()
    }

    pub fn kill9(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Worker {
    fn drop(&mut self) {
        self.kill9();
    }
}
