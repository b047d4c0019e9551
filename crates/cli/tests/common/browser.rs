//! A real headless browser for the status page's tests: Chromium (Debian's `chromium`
//! package; `.ci/run` installs it) driven over the Chrome DevTools Protocol on a websocket.
#![allow(dead_code)]

use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use tungstenite::{Message, WebSocket};

pub struct Browser {
    child: Child,
    ws: WebSocket<TcpStream>,
    next_id: u64,
}

fn chromium() -> Option<PathBuf> {
    [
        "/usr/bin/chromium",
        "/usr/bin/chromium-browser",
        "/usr/bin/google-chrome",
    ]
    .iter()
    .map(PathBuf::from)
    .find(|p| p.is_file())
}

impl Browser {
    /// Starts headless Chromium with a fresh profile under `dir`; `None` (with a message) where
    /// it is not installed and not required (`ZKGRAD_REQUIRE_SERVICES=1`).
    pub fn start(dir: &Path) -> Option<Browser> {
        let Some(exe) = chromium() else {
            assert!(
                !super::postgres::required(),
                "Chromium is not installed (apt-get install chromium)"
            );
            eprintln!(
                "SKIPPED: Chromium is not installed (apt-get install chromium; .ci/run does)"
            );
            return None;
        };
        let profile = dir.join("profile");
        std::fs::create_dir_all(&profile).unwrap();
        let child = Command::new(exe)
            .args([
                "--headless=new",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-dev-shm-usage",
                "--no-first-run",
                "--remote-debugging-port=0",
                "--remote-allow-origins=*",
            ])
            .arg(format!("--user-data-dir={}", profile.display()))
            .arg("about:blank")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start chromium");
        // Chromium writes its DevTools port to the profile once it listens.
        let t = Instant::now();
        let port = loop {
            if let Ok(s) = std::fs::read_to_string(profile.join("DevToolsActivePort")) {
                if let Some(p) = s.lines().next().and_then(|l| l.trim().parse::<u16>().ok()) {
                    break p;
                }
            }
            assert!(
                t.elapsed() < Duration::from_secs(60),
                "Chromium did not start"
            );
            std::thread::sleep(Duration::from_millis(50));
        };
        // The page target's websocket.
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .build()
            .into();
        let t = Instant::now();
        let ws_url = loop {
            let list: Option<Value> = agent
                .get(format!("http://127.0.0.1:{port}/json/list"))
                .call()
                .ok()
                .and_then(|mut r| r.body_mut().read_json().ok());
            let page = list.as_ref().and_then(|l| {
                l.as_array()?.iter().find(|t| t["type"] == "page")?["webSocketDebuggerUrl"]
                    .as_str()
                    .map(String::from)
            });
            if let Some(u) = page {
                break u;
            }
            assert!(t.elapsed() < Duration::from_secs(30), "no page target");
            std::thread::sleep(Duration::from_millis(50));
        };
        let stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(60)))
            .unwrap();
        let (ws, _) = tungstenite::client::client(ws_url.as_str(), stream).expect("websocket");
        Some(Browser {
            child,
            ws,
            next_id: 1,
        })
    }

    /// Sends a DevTools command and waits for its reply's `result`.
    pub fn call(&mut self, method: &str, params: Value) -> Value {
        let id = self.next_id;
        self.next_id += 1;
        let msg = json!({"id": id, "method": method, "params": params});
        self.ws.send(Message::text(msg.to_string())).unwrap();
        loop {
            let m = self.ws.read().expect("DevTools connection");
            if let Message::Text(t) = m {
                let v: Value = serde_json::from_str(t.as_str()).unwrap();
                if v["id"] == id {
                    assert!(v.get("error").is_none(), "{method}: {v}");
                    return v["result"].clone();
                }
            }
        }
    }

    /// Evaluates JavaScript in the page (awaiting a promise); its value.
    pub fn eval(&mut self, js: &str) -> Value {
        let r = self.call(
            "Runtime.evaluate",
            json!({"expression": js, "awaitPromise": true, "returnByValue": true}),
        );
        assert!(r.get("exceptionDetails").is_none(), "{js}: {r}");
        r["result"]["value"].clone()
    }

    /// Waits until `js` evaluates to true.
    pub fn wait_until(&mut self, js: &str, secs: u64) {
        let t = Instant::now();
        while self.eval(js) != json!(true) {
            let msg = self.eval("document.getElementById('message') && document.getElementById('message').textContent");
            assert!(
                t.elapsed() < Duration::from_secs(secs),
                "never true: {js} (message: {msg})"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    pub fn navigate(&mut self, url: &str) {
        self.call("Page.enable", json!({}));
        self.call("Page.navigate", json!({ "url": url }));
        self.wait_until("document.readyState === 'complete'", 30);
    }

    /// Puts files in a file input, as a user choosing them would.
    pub fn set_files(&mut self, selector: &str, files: &[&Path]) {
        let doc = self.call("DOM.getDocument", json!({}));
        let root = doc["root"]["nodeId"].clone();
        let node = self.call(
            "DOM.querySelector",
            json!({"nodeId": root, "selector": selector}),
        );
        let files: Vec<String> = files
            .iter()
            .map(|f| f.canonicalize().unwrap().display().to_string())
            .collect();
        self.call(
            "DOM.setFileInputFiles",
            json!({"nodeId": node["nodeId"], "files": files}),
        );
    }

    /// Downloads go to `dir`.
    pub fn download_to(&mut self, dir: &Path) {
        self.call(
            "Browser.setDownloadBehavior",
            json!({"behavior": "allow", "downloadPath": dir.display().to_string()}),
        );
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
