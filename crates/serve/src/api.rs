//! The HTTP API: routes, authentication, limits, and the JSON shapes of requests and replies.
//! `/openapi.json` documents every route here (`openapi`).
//!
//! Every error is a 4xx or 5xx status with `{"error": "one line"}`. A request that is refused
//! stores nothing: a model is written to its place only after `zkgrad commit` has imported and
//! committed it, and a job row is inserted only after its request has been validated.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Path as UrlPath, Query, Request, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::middleware::{self, Next};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use base64::Engine as _;
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use serde_json::{json, Value};

use crate::runner::{with_fraction, RunnerConfig};
use crate::store::{now, JobRow, JobState, ModelRow, NewJob, Refused, Store};

/// The server's shared state.
pub struct App {
    pub store: Arc<dyn Store>,
    pub runner: Arc<RunnerConfig>,
    pub keys: Vec<ApiKey>,
    pub max_queue: i64,
    pub max_jobs_per_key: i64,
    pub job_time_limit_s: f64,
    pub max_model_bytes: usize,
    pub max_request_bytes: usize,
    pub model_dir: Option<PathBuf>,
    pub workers: usize,
    /// Wakes this server's idle workers when a job is queued.
    pub wake: Arc<crate::runner::Wake>,
    /// Model imports (`zkgrad commit` children) running at once: at most two.
    pub validations: tokio::sync::Semaphore,
}

/// An API key, kept as its BLAKE3 hash; jobs record the first 16 hex digits as the key's id.
pub struct ApiKey {
    hash: [u8; 32],
}

impl ApiKey {
    pub fn new(key: &str) -> Self {
        Self {
            hash: *blake3::hash(key.as_bytes()).as_bytes(),
        }
    }

    fn id(&self) -> String {
        hex(&self.hash[..8])
    }
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// 128 random bits as 32 hex digits.
pub fn random_id() -> String {
    let mut b = [0u8; 16];
    // getrandom fails only without an OS source of randomness; time and pid are the fallback.
    if getrandom::fill(&mut b).is_err() {
        let t = now().to_bits() ^ u64::from(std::process::id());
        b = *blake3::hash(&t.to_le_bytes())
            .as_bytes()
            .first_chunk()
            .unwrap_or(&[0; 16]);
    }
    hex(&b)
}

/// An error reply: a status and one line.
pub struct ApiError(StatusCode, String);

impl ApiError {
    fn bad(msg: impl Into<String>) -> Self {
        Self(StatusCode::BAD_REQUEST, msg.into())
    }
    fn not_found(what: impl Into<String>) -> Self {
        Self(StatusCode::NOT_FOUND, what.into())
    }
    fn conflict(msg: impl Into<String>) -> Self {
        Self(StatusCode::CONFLICT, msg.into())
    }
    fn internal(e: impl std::fmt::Display) -> Self {
        Self(
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("internal error: {e}"),
        )
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let line = self.1.replace('\n', " ");
        (self.0, Json(json!({ "error": line }))).into_response()
    }
}

impl From<anyhow::Error> for ApiError {
    fn from(e: anyhow::Error) -> Self {
        Self::internal(format!("{e:#}"))
    }
}

type ApiResult<T> = Result<T, ApiError>;

/// Runs blocking work (the database, child processes) off the async threads.
async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> ApiResult<T> + Send + 'static,
) -> ApiResult<T> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(ApiError::internal)?
}

/// Who is calling: the key's id, or `None` on a server without keys.
#[derive(Clone)]
struct Caller(Option<String>);

impl Caller {
    /// The caller as a model holder: its key id, `""` on a server without keys.
    fn holder(&self) -> &str {
        self.0.as_deref().unwrap_or("")
    }
}

/// The routes.
pub fn router(app: Arc<App>) -> Router {
    let request_limit = app.max_request_bytes;
    let v1 = Router::new()
        .route(
            "/v1/models",
            // Uploads are streamed to a file under their own limit (`max_model_bytes`).
            post(post_model)
                .layer(DefaultBodyLimit::disable())
                .get(list_models),
        )
        .route("/v1/models/{id}", get(get_model).delete(delete_model))
        .route("/v1/jobs", post(post_job).get(list_jobs))
        .route("/v1/jobs/{id}", get(get_job))
        .route("/v1/jobs/{id}/cancel", post(cancel_job))
        .route("/v1/jobs/{id}/proof", get(job_proof))
        .route("/v1/jobs/{id}/result", get(job_result))
        .route("/v1/jobs/{id}/events", get(job_events))
        .layer(middleware::from_fn_with_state(app.clone(), authenticate))
        .layer(DefaultBodyLimit::max(request_limit));
    Router::new()
        .route("/", get(status_page))
        .route("/health", get(health))
        .route("/metrics", get(metrics))
        .route("/openapi.json", get(openapi))
        .merge(v1)
        .fallback(|| async { ApiError::not_found("no such route; see /openapi.json") })
        .method_not_allowed_fallback(|| async {
            ApiError(
                StatusCode::METHOD_NOT_ALLOWED,
                "method not allowed on this route; see /openapi.json".into(),
            )
        })
        .layer(middleware::map_response(json_errors))
        .layer(middleware::from_fn_with_state(app.clone(), local_host_only))
        .with_state(app)
}

/// Every refusal as `{"error": "one line"}`, also the framework's own (a body over its limit,
/// a malformed query or path): a non-JSON error body becomes the error line.
async fn json_errors(resp: Response) -> Response {
    let status = resp.status();
    let is_json = resp
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    if !(status.is_client_error() || status.is_server_error()) || is_json {
        return resp;
    }
    let (parts, body) = resp.into_parts();
    let bytes = axum::body::to_bytes(body, 4096).await.unwrap_or_default();
    let text = String::from_utf8_lossy(&bytes).trim().to_string();
    let line = if text.is_empty() {
        status
            .canonical_reason()
            .unwrap_or("error")
            .to_ascii_lowercase()
    } else {
        text
    };
    let mut r = ApiError(status, line).into_response();
    for (k, v) in &parts.headers {
        if k != header::CONTENT_TYPE && k != header::CONTENT_LENGTH {
            r.headers_mut().insert(k.clone(), v.clone());
        }
    }
    r
}

/// A server without API keys answers only requests addressed to this machine by name
/// (`Host: localhost`, `127.0.0.1` or `[::1]`): a web page elsewhere cannot reach it by DNS
/// rebinding. (With keys, a page cannot know a key.)
async fn local_host_only(State(app): State<Arc<App>>, req: Request, next: Next) -> Response {
    if app.keys.is_empty() {
        let host = req
            .headers()
            .get(header::HOST)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        let name = match host.rsplit_once(':') {
            Some((h, port)) if port.bytes().all(|b| b.is_ascii_digit()) => h,
            _ => host,
        };
        if !["localhost", "127.0.0.1", "[::1]"].contains(&name.to_ascii_lowercase().as_str()) {
            return ApiError(
                StatusCode::FORBIDDEN,
                format!(
                    "this server has no API key and answers only requests to localhost, 127.0.0.1 or [::1] (Host: {host:?})"
                ),
            )
            .into_response();
        }
    }
    next.run(req).await
}

/// `Authorization: Bearer KEY` against the configured keys (none configured: everyone).
async fn authenticate(State(app): State<Arc<App>>, mut req: Request, next: Next) -> Response {
    if app.keys.is_empty() {
        req.extensions_mut().insert(Caller(None));
        return next.run(req).await;
    }
    let given = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(|k| *blake3::hash(k.trim().as_bytes()).as_bytes());
    match given.and_then(|h| app.keys.iter().find(|k| k.hash == h)) {
        Some(k) => {
            req.extensions_mut().insert(Caller(Some(k.id())));
            next.run(req).await
        }
        None => {
            let mut r = ApiError(
                StatusCode::UNAUTHORIZED,
                "missing or unknown API key: send Authorization: Bearer KEY".into(),
            )
            .into_response();
            r.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                header::HeaderValue::from_static("Bearer"),
            );
            r
        }
    }
}

async fn status_page() -> Html<&'static str> {
    Html(include_str!("page.html"))
}

async fn openapi() -> Json<Value> {
    Json(crate::openapi::document())
}

async fn health(State(app): State<Arc<App>>) -> ApiResult<Json<Value>> {
    let a = app.clone();
    let counts = blocking(move || Ok(a.store.counts()?)).await?;
    let queued = counts
        .iter()
        .find(|(s, _)| *s == JobState::Queued)
        .map_or(0, |c| c.1);
    Ok(Json(json!({
        "status": "ok",
        "version": env!("CARGO_PKG_VERSION"),
        "database": app.store.engine(),
        "workers": app.workers,
        "queued": queued,
        "auth": !app.keys.is_empty(),
    })))
}

/// Prometheus text format: queue depth, jobs by state, a histogram of prove jobs' seconds.
async fn metrics(State(app): State<Arc<App>>) -> ApiResult<Response> {
    let a = app.clone();
    let (counts, durations) =
        blocking(move || Ok((a.store.counts()?, a.store.prove_durations()?))).await?;
    let mut s = String::new();
    let queued = counts
        .iter()
        .find(|(st, _)| *st == JobState::Queued)
        .map_or(0, |c| c.1);
    s.push_str("# HELP zkgrad_queue_depth Jobs waiting to run.\n# TYPE zkgrad_queue_depth gauge\n");
    s.push_str(&format!("zkgrad_queue_depth {queued}\n"));
    s.push_str("# HELP zkgrad_jobs Jobs by state.\n# TYPE zkgrad_jobs gauge\n");
    for (st, n) in &counts {
        s.push_str(&format!("zkgrad_jobs{{state=\"{}\"}} {n}\n", st.name()));
    }
    s.push_str(
        "# HELP zkgrad_prove_seconds Seconds from start to end of succeeded prove jobs.\n\
         # TYPE zkgrad_prove_seconds histogram\n",
    );
    let bounds = [0.1, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0, 1800.0];
    for b in bounds {
        let n = durations.iter().filter(|d| **d <= b).count();
        s.push_str(&format!("zkgrad_prove_seconds_bucket{{le=\"{b}\"}} {n}\n"));
    }
    s.push_str(&format!(
        "zkgrad_prove_seconds_bucket{{le=\"+Inf\"}} {}\n",
        durations.len()
    ));
    s.push_str(&format!(
        "zkgrad_prove_seconds_sum {}\nzkgrad_prove_seconds_count {}\n",
        durations.iter().sum::<f64>(),
        durations.len()
    ));
    Ok(([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], s).into_response())
}

// ---------------------------------------------------------------------------------------------
// Models

fn model_json(m: &ModelRow) -> Value {
    let mut v = json!({
        "model_id": m.id,
        "commitment": m.id,
        "created_at": m.created_at,
        "size_bytes": m.size_bytes,
    });
    if let (Some(o), Some(info)) = (v.as_object_mut(), m.info.as_object()) {
        for k in [
            "parameters",
            "inputs",
            "input_values",
            "dynamic_input",
            "outputs",
            "pcs",
            "act_frac",
            "weight_frac",
            "table_bits",
            "weight_root",
        ] {
            if let Some(x) = info.get(k) {
                o.insert(k.into(), x.clone());
            }
        }
    }
    v
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ModelByPath {
    path: String,
}

/// The media type a request declares (without parameters), lower case.
fn content_type(headers: &HeaderMap) -> String {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .map(|v| v.trim().to_ascii_lowercase())
        .unwrap_or_default()
}

fn unsupported_type(expected: &str) -> ApiError {
    ApiError(
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        format!("send the body with Content-Type: {expected}"),
    )
}

/// `POST /v1/models`: the ONNX file as the body (`application/octet-stream`), or
/// `{"path": …}` (`application/json`) under `--model-dir`. The upload is streamed to a fresh
/// file under `tmp/` (hashed on the way), checked by `zkgrad commit`, and only then moved into
/// `models/`.
async fn post_model(
    State(app): State<Arc<App>>,
    axum::Extension(caller): axum::Extension<Caller>,
    headers: HeaderMap,
    body: axum::body::Body,
) -> ApiResult<Response> {
    let kind = content_type(&headers);
    let (path, owned, hash) = match kind.as_str() {
        "application/json" => {
            let bytes = axum::body::to_bytes(body, 64 << 10).await.map_err(|_| {
                ApiError(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    "model request: over 64 KiB".into(),
                )
            })?;
            let req: ModelByPath = serde_json::from_slice(&bytes)
                .map_err(|e| ApiError::bad(format!("model request: {e}")))?;
            let a = app.clone();
            let path = blocking(move || server_path(&a, &req.path)).await?;
            (path, false, None)
        }
        "application/octet-stream" => {
            let tmp = app
                .runner
                .data
                .join("tmp")
                .join(format!("upload-{}.onnx", random_id()));
            let declared = headers
                .get(header::CONTENT_LENGTH)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.parse::<u64>().ok());
            match stream_to_file(body, declared, &tmp, app.max_model_bytes).await {
                Ok(hash) => (tmp, true, Some(hash)),
                Err(e) => {
                    let _ = tokio::fs::remove_file(&tmp).await;
                    return Err(e);
                }
            }
        }
        _ => {
            return Err(unsupported_type(
                "application/octet-stream (the ONNX file) or application/json ({\"path\": …})",
            ))
        }
    };
    // At most two models are imported at once: an import costs memory and time.
    let gate = app.clone();
    let _permit = gate
        .validations
        .acquire()
        .await
        .map_err(ApiError::internal)?;
    blocking(move || {
        let cleanup = |e: ApiError| {
            if owned {
                let _ = std::fs::remove_file(&path);
            }
            e
        };
        let hash = match hash {
            Some(h) => h,
            None => file_hash(&path).map_err(|e| ApiError::bad(format!("model: {e}")))?,
        };
        let mut info = commit_model(&app.runner, &path, app.job_time_limit_s).map_err(cleanup)?;
        if let Some(o) = info.as_object_mut() {
            o.insert("file_blake3".into(), json!(hash));
        }
        let id = info
            .get("model_commitment")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string();
        let holder = caller.holder().to_string();
        if let Some(existing) = app.store.model(&id)? {
            if owned {
                let _ = std::fs::remove_file(&path);
            }
            // The same model again: whoever uploads it holds it too.
            app.store.put_model(&existing, &holder)?;
            return Ok((StatusCode::OK, Json(model_json(&existing))).into_response());
        }
        let size = std::fs::metadata(&path).map_or(0, |m| m.len() as i64);
        let stored = if owned {
            let dest = app.runner.data.join("models").join(format!("{id}.onnx"));
            std::fs::File::open(&path)
                .and_then(|f| f.sync_all())
                .and_then(|()| std::fs::rename(&path, &dest))
                .map_err(|e| cleanup(ApiError::internal(e)))?;
            dest
        } else {
            path
        };
        let row = ModelRow {
            id: id.clone(),
            created_at: now(),
            path: stored.display().to_string(),
            size_bytes: size,
            info,
        };
        if !app.store.put_model(&row, &holder)? {
            // Another upload of the same model won the race; the file is the same.
            let existing = app.store.model(&id)?.unwrap_or(row);
            return Ok((StatusCode::OK, Json(model_json(&existing))).into_response());
        }
        Ok((StatusCode::CREATED, Json(model_json(&row))).into_response())
    })
    .await
}

/// Writes a request body to `path`, refusing it past `limit` bytes (413, after [`drain`]; one
/// whose Content-Length is already past it before anything is written); its BLAKE3 hash.
async fn stream_to_file(
    body: axum::body::Body,
    declared: Option<u64>,
    path: &Path,
    limit: usize,
) -> ApiResult<String> {
    use tokio::io::AsyncWriteExt as _;
    use tokio_stream::StreamExt as _;
    let too_large = || {
        ApiError(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!(
                "model upload: over the server's limit of {} MiB",
                limit >> 20
            ),
        )
    };
    let upto = limit.saturating_add(DRAIN_PAST_LIMIT);
    let mut stream = body.into_data_stream();
    if declared.is_some_and(|d| d > limit as u64) {
        drain(&mut stream, 0, declared, upto).await;
        return Err(too_large());
    }
    let mut file = tokio::fs::File::create(path)
        .await
        .map_err(ApiError::internal)?;
    let mut hasher = blake3::Hasher::new();
    let mut n = 0usize;
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|e| ApiError::bad(format!("model upload: {e}")))?;
        n += chunk.len();
        if n > limit {
            drain(&mut stream, n, declared, upto).await;
            return Err(too_large());
        }
        hasher.update(&chunk);
        file.write_all(&chunk).await.map_err(ApiError::internal)?;
    }
    if n == 0 {
        return Err(ApiError::bad(
            "empty body: send the ONNX file as the request body (or {\"path\": …} as JSON)",
        ));
    }
    file.flush().await.map_err(ApiError::internal)?;
    Ok(hasher.finalize().to_hex().to_string())
}

/// How far past its limit a refused upload is still read (and discarded) before the 413 is sent.
///
/// A server that answers while the client is still writing, and then closes the connection,
/// makes the client's write fail (a broken pipe or a reset) before it can read the answer: the
/// caller sees a transport error instead of the 413 and its message. Reading the rest of a body
/// that is only somewhat over the limit lets the answer arrive; past this many bytes the
/// connection is closed anyway, so a huge upload costs the server at most this much reading.
const DRAIN_PAST_LIMIT: usize = 32 << 20;

/// How long a refused upload's rest is read before the 413 is sent regardless: a client that
/// declared more than it sends (or sends slowly) holds the answer back this long at most.
const DRAIN_FOR: Duration = Duration::from_secs(2);

/// Reads and discards the rest of a refused body, until it ends, `read` reaches `upto` bytes or
/// [`DRAIN_FOR`] has passed. A body that declared (Content-Length) more than `upto` is not read
/// at all: it would be cut off anyway.
async fn drain<S, E>(stream: &mut S, mut read: usize, declared: Option<u64>, upto: usize)
where
    S: tokio_stream::Stream<Item = Result<Bytes, E>> + Unpin,
{
    use tokio_stream::StreamExt as _;
    if declared.is_some_and(|d| d > upto as u64) {
        return;
    }
    let _ = tokio::time::timeout(DRAIN_FOR, async {
        while read < upto {
            match stream.next().await {
                Some(Ok(chunk)) => read += chunk.len(),
                _ => break,
            }
        }
    })
    .await;
}

/// A file's BLAKE3 hash, read in chunks.
pub fn file_hash(path: &Path) -> std::io::Result<String> {
    let mut h = blake3::Hasher::new();
    h.update_reader(std::fs::File::open(path)?)?;
    Ok(h.finalize().to_hex().to_string())
}

/// A path under `--model-dir`: relative, no `..`, resolving (links followed) inside it.
fn server_path(app: &App, rel: &str) -> ApiResult<PathBuf> {
    let Some(dir) = &app.model_dir else {
        return Err(ApiError(
            StatusCode::FORBIDDEN,
            "models by server path are not allowed on this server (start it with --model-dir)"
                .into(),
        ));
    };
    let p = Path::new(rel);
    if rel.is_empty()
        || p.is_absolute()
        || p.components()
            .any(|c| !matches!(c, std::path::Component::Normal(_)))
    {
        return Err(ApiError::bad(format!(
            "path {rel:?}: give a path relative to the model directory, without '..'"
        )));
    }
    let full = dir
        .join(p)
        .canonicalize()
        .map_err(|e| ApiError::bad(format!("path {rel:?}: {e}")))?;
    if !full.starts_with(dir) || !full.is_file() {
        return Err(ApiError::bad(format!(
            "path {rel:?} is not a file inside the model directory"
        )));
    }
    Ok(full)
}

/// Imports and commits a model with `zkgrad commit --json` (a child process, stopped after
/// `limit_s`): its summary, or a 400 with the CLI's one-line reason.
fn commit_model(cfg: &RunnerConfig, path: &Path, limit_s: f64) -> ApiResult<Value> {
    let mut child = std::process::Command::new(&cfg.exe)
        .arg("commit")
        .arg("--model")
        .arg(path)
        .arg("--json")
        .env("ZKGRAD_CACHE_DIR", cfg.data.join("cache"))
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .map_err(ApiError::internal)?;
    let (mut out, mut err) = (child.stdout.take(), child.stderr.take());
    let readers = (
        std::thread::spawn(move || {
            let mut b = Vec::new();
            if let Some(o) = out.as_mut() {
                let _ = std::io::Read::read_to_end(o, &mut b);
            }
            b
        }),
        std::thread::spawn(move || {
            let mut b = Vec::new();
            if let Some(e) = err.as_mut() {
                let _ = std::io::Read::read_to_end(e, &mut b);
            }
            b
        }),
    );
    let t0 = std::time::Instant::now();
    let status = loop {
        if let Some(st) = child.try_wait().map_err(ApiError::internal)? {
            break st;
        }
        if t0.elapsed().as_secs_f64() > limit_s {
            let _ = child.kill();
            let _ = child.wait();
            return Err(ApiError::bad(format!(
                "model rejected: importing and committing it took more than {limit_s} s"
            )));
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    let stdout = readers.0.join().unwrap_or_default();
    let stderr = readers.1.join().unwrap_or_default();
    if !status.success() {
        let err = String::from_utf8_lossy(&stderr);
        let line = err
            .lines()
            .rev()
            .find(|l| l.starts_with("error"))
            .unwrap_or("the model could not be imported");
        let line = line.strip_prefix("error: ").unwrap_or(line);
        let line = line.replace(&path.display().to_string(), "the model");
        let line = line.replace(&cfg.data.display().to_string(), "<data>");
        return Err(ApiError::bad(format!("model rejected: {line}")));
    }
    serde_json::from_slice(&stdout).map_err(ApiError::internal)
}

async fn list_models(
    State(app): State<Arc<App>>,
    axum::Extension(caller): axum::Extension<Caller>,
) -> ApiResult<Json<Value>> {
    let rows = blocking(move || Ok(app.store.models_for(caller.holder())?)).await?;
    Ok(Json(json!({
        "models": rows.iter().map(model_json).collect::<Vec<_>>()
    })))
}

fn check_id(id: &str) -> ApiResult<()> {
    if id.is_empty() || id.len() > 64 || !id.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(ApiError::not_found(format!("no such id {id:?}")));
    }
    Ok(())
}

async fn get_model(
    State(app): State<Arc<App>>,
    axum::Extension(caller): axum::Extension<Caller>,
    UrlPath(id): UrlPath<String>,
) -> ApiResult<Json<Value>> {
    check_id(&id)?;
    let row = blocking(move || Ok(app.store.model_for(&id, caller.holder())?)).await?;
    row.map(|m| Json(model_json(&m)))
        .ok_or_else(|| ApiError::not_found("no such model"))
}

/// Deletes the caller's hold on a model; the model itself goes with its last holder.
async fn delete_model(
    State(app): State<Arc<App>>,
    axum::Extension(caller): axum::Extension<Caller>,
    UrlPath(id): UrlPath<String>,
) -> ApiResult<Response> {
    check_id(&id)?;
    blocking(move || {
        let Some(m) = app.store.model_for(&id, caller.holder())? else {
            return Err(ApiError::not_found("no such model"));
        };
        let active = app.store.active_jobs_of_model(&id)?;
        if active > 0 {
            return Err(ApiError::conflict(format!(
                "model has {active} queued or running job(s); cancel them or wait"
            )));
        }
        if app.store.release_model(&id, caller.holder())? == Some(true) {
            let ours = app.runner.data.join("models");
            if Path::new(&m.path).starts_with(&ours) {
                let _ = std::fs::remove_file(&m.path);
            }
        }
        Ok(StatusCode::NO_CONTENT.into_response())
    })
    .await
}

// ---------------------------------------------------------------------------------------------
// Jobs

/// A prove or verify job's options, as the CLI's flags; stored normalized (unset ones left out),
/// and passed on from there.
#[derive(Deserialize, Serialize, Default)]
#[serde(deny_unknown_fields)]
struct ProveOptions {
    #[serde(skip_serializing_if = "Option::is_none")]
    pcs: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    table_bits: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    act_frac: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    weight_frac: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    per_tensor_scales: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    global_scale: Option<bool>,
}

impl ProveOptions {
    fn check(&self) -> ApiResult<()> {
        if let Some(p) = &self.pcs {
            if !["auto", "ligero", "whir", "whir-unique"].contains(&p.as_str()) {
                return Err(ApiError::bad(format!(
                    "options.pcs must be \"auto\", \"ligero\", \"whir\" or \"whir-unique\", got {p:?}"
                )));
            }
        }
        check_precision(self.table_bits, self.act_frac, self.weight_frac)?;
        if self.per_tensor_scales == Some(true) && self.global_scale == Some(true) {
            return Err(ApiError::bad(
                "options.per_tensor_scales and options.global_scale exclude each other",
            ));
        }
        Ok(())
    }
}

/// The precision options' ranges, as the CLI's: tables of 2^4..2^20, fractional bits ≤ 40.
fn check_precision(
    table_bits: Option<u32>,
    act_frac: Option<u32>,
    weight_frac: Option<u32>,
) -> ApiResult<()> {
    if let Some(t) = table_bits {
        if !(4..=20).contains(&t) {
            return Err(ApiError::bad(format!(
                "options.table_bits must be within 4..=20, got {t}"
            )));
        }
    }
    for (name, v) in [("act_frac", act_frac), ("weight_frac", weight_frac)] {
        if v.is_some_and(|v| v > 40) {
            return Err(ApiError::bad(format!("options.{name} must be at most 40")));
        }
    }
    Ok(())
}

/// A training job's options, as `zkgrad train`'s flags; stored normalized and passed on from
/// there.
#[derive(Deserialize, Serialize, Default)]
#[serde(deny_unknown_fields)]
struct TrainOptions {
    #[serde(skip_serializing_if = "Option::is_none")]
    steps: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    loss: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    lr: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    batch: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    prove: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    shuffle: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    lora_rank: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    lora_alpha: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    lora_targets: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    table_bits: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    act_frac: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    weight_frac: Option<u32>,
}

impl TrainOptions {
    fn check(&self) -> ApiResult<()> {
        if self.lr.is_none() {
            return Err(ApiError::bad("options.lr (the learning rate) is required"));
        }
        if self.loss.is_none() {
            return Err(ApiError::bad(
                "options.loss (\"mse\" or \"xent\") is required",
            ));
        }
        if self.lr.is_some_and(|lr| !(lr.is_finite() && lr > 0.0)) {
            return Err(ApiError::bad("options.lr must be a positive number"));
        }
        if let Some(l) = &self.loss {
            if !["mse", "xent"].contains(&l.as_str()) {
                return Err(ApiError::bad(format!(
                    "options.loss must be \"mse\" or \"xent\", got {l:?}"
                )));
            }
        }
        if self.steps == Some(0) || self.batch == Some(0) {
            return Err(ApiError::bad(
                "options.steps and options.batch must be at least 1",
            ));
        }
        if let Some(t) = &self.lora_targets {
            if t.is_empty() || t.split(',').any(|n| n.is_empty() || n.starts_with('-')) {
                return Err(ApiError::bad(
                    "options.lora_targets: node names, comma-separated",
                ));
            }
        }
        check_precision(self.table_bits, self.act_frac, self.weight_frac)?;
        if self.lora_rank == Some(0) {
            return Err(ApiError::bad("options.lora_rank must be at least 1"));
        }
        if self.lora_alpha.is_some_and(|a| !(a.is_finite() && a > 0.0)) {
            return Err(ApiError::bad(
                "options.lora_alpha must be a positive number",
            ));
        }
        if self.lora_rank.is_none() && (self.lora_alpha.is_some() || self.lora_targets.is_some()) {
            return Err(ApiError::bad(
                "options.lora_alpha and options.lora_targets need options.lora_rank",
            ));
        }
        Ok(())
    }
}

/// A job request's kind, read first: the body is then read once more into that kind's shape
/// (serde skips the other fields without building them).
#[derive(Deserialize)]
struct KindOnly {
    kind: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ProveRequest<'a> {
    #[allow(dead_code)]
    kind: &'a str,
    model_id: String,
    #[serde(borrow)]
    input: &'a RawValue,
    #[serde(borrow, default)]
    options: Option<&'a RawValue>,
    time_limit_s: Option<f64>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct VerifyRequest<'a> {
    #[allow(dead_code)]
    kind: &'a str,
    model_id: Option<String>,
    commitment: Option<String>,
    proof_base64: Option<String>,
    proof_job_id: Option<String>,
    #[serde(borrow, default)]
    options: Option<&'a RawValue>,
    time_limit_s: Option<f64>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TrainRequest<'a> {
    #[allow(dead_code)]
    kind: &'a str,
    model_id: String,
    #[serde(borrow)]
    data: &'a RawValue,
    #[serde(borrow, default)]
    options: Option<&'a RawValue>,
    time_limit_s: Option<f64>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TrainData<'a> {
    #[serde(borrow)]
    x: &'a RawValue,
    #[serde(borrow)]
    y: &'a RawValue,
}

/// Options: absent, `null`, or an object of the kind's fields (not an array, which serde would
/// read field by field).
fn parse_options<T: for<'de> Deserialize<'de> + Default>(raw: Option<&RawValue>) -> ApiResult<T> {
    let Some(raw) = raw else {
        return Ok(T::default());
    };
    let text = raw.get().trim_start();
    if text == "null" {
        return Ok(T::default());
    }
    if !text.starts_with('{') {
        return Err(ApiError::bad("options: expected an object"));
    }
    serde_json::from_str(raw.get()).map_err(|e| ApiError::bad(format!("options: {e}")))
}

/// The deepest nesting of arrays an input or data set may have (a tensor of rank 16, and
/// more than any model's input).
const MAX_DEPTH: usize = 16;

/// The numbers in a JSON value made of nested arrays of finite numbers, counted on its text
/// (valid JSON: serde has parsed it): nothing is built, whatever its size.
fn count_numbers(raw: &RawValue, what: &str) -> ApiResult<usize> {
    let t = raw.get().as_bytes();
    let (mut i, mut n, mut depth) = (0, 0, 0usize);
    while i < t.len() {
        match t[i] {
            b'[' => {
                depth += 1;
                if depth > MAX_DEPTH {
                    return Err(ApiError::bad(format!(
                        "{what}: arrays nested deeper than {MAX_DEPTH}"
                    )));
                }
                i += 1;
            }
            b']' => {
                depth = depth.saturating_sub(1);
                i += 1;
            }
            b' ' | b'\n' | b'\r' | b'\t' | b',' => i += 1,
            b'"' => {
                return Err(ApiError::bad(format!(
                    "{what}: expected numbers, found a string"
                )))
            }
            b'{' => {
                return Err(ApiError::bad(format!(
                    "{what}: expected numbers, found an object"
                )))
            }
            b't' | b'f' => {
                return Err(ApiError::bad(format!(
                    "{what}: expected numbers, found a boolean"
                )))
            }
            b'n' => {
                return Err(ApiError::bad(format!(
                    "{what}: expected numbers, found null"
                )))
            }
            _ => {
                let start = i;
                while i < t.len() && !matches!(t[i], b',' | b']' | b' ' | b'\n' | b'\r' | b'\t') {
                    i += 1;
                }
                let tok = std::str::from_utf8(&t[start..i]).unwrap_or("");
                match tok.parse::<f64>() {
                    Ok(x) if x.is_finite() => n += 1,
                    _ => {
                        return Err(ApiError::bad(format!(
                            "{what}: {tok} is not a finite number"
                        )))
                    }
                }
            }
        }
    }
    if !raw.get().trim_start().starts_with('[') {
        return Err(ApiError::bad(format!(
            "{what}: expected an array of numbers"
        )));
    }
    Ok(n)
}

/// A validated job: its kind, its spec (small: ids and normalized options), its payload (the
/// input, data or proof, written to a file beside the job) and its time limit.
struct Validated {
    kind: &'static str,
    spec: Value,
    payload: Vec<u8>,
    time_limit_s: Option<f64>,
}

/// Validates a job request against the caller's models and jobs.
fn validate(app: &App, body: &[u8], caller: &Caller) -> ApiResult<Validated> {
    let kind: KindOnly = serde_json::from_slice(body).map_err(|e| {
        ApiError::bad(format!(
            "job request: {e} (expected {{\"kind\": \"prove\" | \"verify\" | \"train\", …}})"
        ))
    })?;
    let bad_request = |e: serde_json::Error| ApiError::bad(format!("job request: {e}"));
    let model = |id: &str| -> ApiResult<ModelRow> {
        check_id(id).map_err(|_| ApiError::bad(format!("model_id {id:?} is not a model id")))?;
        app.store.model_for(id, caller.holder())?.ok_or_else(|| {
            ApiError::bad(format!(
                "model {id} is not stored: upload it first (POST /v1/models)"
            ))
        })
    };
    match kind.kind.as_str() {
        "prove" => {
            let r: ProveRequest = serde_json::from_slice(body).map_err(bad_request)?;
            let m = model(&r.model_id)?;
            let o: ProveOptions = parse_options(r.options)?;
            o.check()?;
            // `{"input_data": …}` or the array itself.
            let data: &RawValue = if r.input.get().trim_start().starts_with('{') {
                #[derive(Deserialize)]
                #[serde(deny_unknown_fields)]
                struct Wrapped<'a> {
                    #[serde(borrow)]
                    input_data: &'a RawValue,
                }
                let w: Wrapped = serde_json::from_str(r.input.get()).map_err(|e| {
                    ApiError::bad(format!("input: expected {{\"input_data\": [[...]]}} ({e})"))
                })?;
                w.input_data
            } else {
                r.input
            };
            let n = count_numbers(data, "input")?;
            let expected = m.info.get("input_values").and_then(Value::as_u64);
            let dynamic = m.info.get("dynamic_input").and_then(Value::as_bool) == Some(true);
            if let (Some(e), false) = (expected, dynamic) {
                if n as u64 != e {
                    return Err(ApiError::bad(format!(
                        "input: {n} values, but the model takes {e} (inputs {})",
                        m.info
                            .get("inputs")
                            .map_or(String::from("?"), Value::to_string)
                    )));
                }
            }
            Ok(Validated {
                kind: "prove",
                spec: json!({"kind": "prove", "model_id": r.model_id, "options": o}),
                payload: format!("{{\"input_data\": {}}}", data.get()).into_bytes(),
                time_limit_s: r.time_limit_s,
            })
        }
        "verify" => {
            let r: VerifyRequest = serde_json::from_slice(body).map_err(bad_request)?;
            let o: ProveOptions = parse_options(r.options)?;
            o.check()?;
            match (&r.model_id, &r.commitment) {
                (Some(id), None) => {
                    model(id)?;
                }
                (None, Some(c)) => {
                    if c.len() != 64 || !c.bytes().all(|b| b.is_ascii_hexdigit()) {
                        return Err(ApiError::bad("commitment: 64 hex digits"));
                    }
                    if serde_json::to_value(&o).is_ok_and(|v| v != json!({})) {
                        return Err(ApiError::bad(
                            "options go with model_id: a commitment binds the precision and scheme itself",
                        ));
                    }
                }
                _ => {
                    return Err(ApiError::bad(
                        "verify: give exactly one of model_id and commitment",
                    ))
                }
            }
            let payload = match (&r.proof_base64, &r.proof_job_id) {
                (Some(b), None) => {
                    let bytes = base64::engine::general_purpose::STANDARD
                        .decode(b)
                        .map_err(|e| ApiError::bad(format!("proof_base64: {e}")))?;
                    zkgrad_verifier::ProofFile::from_bytes(&bytes).map_err(|e| {
                        ApiError::bad(format!("proof: not a zkgrad proof file: {e}"))
                    })?;
                    bytes
                }
                (None, Some(j)) => {
                    check_id(j).map_err(|_| ApiError::bad("proof_job_id: not a job id"))?;
                    let job = app.store.job(j)?.filter(|job| visible(job, caller));
                    match job {
                        Some(job) if job.kind == "prove" && job.state == JobState::Succeeded => {
                            std::fs::read(app.runner.proof_path(&job.id, job.attempts))
                                .map_err(ApiError::internal)?
                        }
                        Some(_) => {
                            return Err(ApiError::bad(format!(
                                "proof_job_id {j}: not a succeeded prove job"
                            )))
                        }
                        None => {
                            return Err(ApiError::bad(format!("proof_job_id {j}: no such job")))
                        }
                    }
                }
                _ => {
                    return Err(ApiError::bad(
                        "verify: give exactly one of proof_base64 and proof_job_id",
                    ))
                }
            };
            Ok(Validated {
                kind: "verify",
                spec: json!({
                    "kind": "verify", "model_id": r.model_id, "commitment": r.commitment,
                    "proof_job_id": r.proof_job_id, "options": o,
                }),
                payload,
                time_limit_s: r.time_limit_s,
            })
        }
        "train" => {
            let r: TrainRequest = serde_json::from_slice(body).map_err(bad_request)?;
            model(&r.model_id)?;
            let o: TrainOptions = parse_options(r.options)?;
            o.check()?;
            let d: TrainData = serde_json::from_str(r.data.get()).map_err(|e| {
                ApiError::bad(format!(
                    "data: expected {{\"x\": [[...]], \"y\": [[...]]}} ({e})"
                ))
            })?;
            count_numbers(d.x, "data.x")?;
            count_numbers(d.y, "data.y")?;
            Ok(Validated {
                kind: "train",
                spec: json!({"kind": "train", "model_id": r.model_id, "options": o}),
                payload: format!("{{\"x\": {}, \"y\": {}}}", d.x.get(), d.y.get()).into_bytes(),
                time_limit_s: r.time_limit_s,
            })
        }
        other => Err(ApiError::bad(format!(
            "job request: unknown kind {other:?} (expected \"prove\", \"verify\" or \"train\")"
        ))),
    }
}

/// Whether `caller` may see `job`: its own jobs (every job on a server without keys).
fn visible(job: &JobRow, caller: &Caller) -> bool {
    caller.0.is_none() || job.key_id == caller.0
}

fn job_json(j: &JobRow) -> Value {
    let progress = if j.state == JobState::Succeeded {
        json!({"stage": "done", "done": 1, "of": 1, "fraction": 1.0})
    } else if j.progress.get("stage").is_some() {
        with_fraction(&j.progress)
    } else {
        json!({"stage": j.state.name(), "done": 0, "of": 1, "fraction": 0.0})
    };
    let end = j.finished_at.unwrap_or_else(now);
    json!({
        "job_id": j.id,
        "kind": j.kind,
        "state": j.state,
        "model_id": j.spec.get("model_id"),
        "created_at": j.created_at,
        "started_at": j.started_at,
        "finished_at": j.finished_at,
        "timings": {
            "queued_s": j.started_at.map(|s| s - j.created_at),
            "running_s": j.started_at.map(|s| end - s),
        },
        "progress": progress,
        "attempts": j.attempts,
        "worker": j.lease_owner,
        "cancel_requested": j.cancel_requested,
        "time_limit_s": j.time_limit_s,
        "error": j.error,
        "links": {
            "self": format!("/v1/jobs/{}", j.id),
            "result": format!("/v1/jobs/{}/result", j.id),
            "proof": format!("/v1/jobs/{}/proof", j.id),
            "events": format!("/v1/jobs/{}/events", j.id),
        },
    })
}

async fn post_job(
    State(app): State<Arc<App>>,
    axum::Extension(caller): axum::Extension<Caller>,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult<Response> {
    if content_type(&headers) != "application/json" {
        return Err(unsupported_type("application/json"));
    }
    blocking(move || {
        let v = validate(&app, &body, &caller)?;
        drop(body);
        let limit = match v.time_limit_s {
            None => app.job_time_limit_s,
            Some(l) if l.is_finite() && l > 0.0 => l.min(app.job_time_limit_s),
            Some(l) => {
                return Err(ApiError::bad(format!(
                    "time_limit_s must be positive, got {l}"
                )))
            }
        };
        let job = NewJob {
            id: random_id(),
            kind: v.kind.to_string(),
            spec: v.spec,
            key_id: caller.0.clone(),
            created_at: now(),
            time_limit_s: limit,
        };
        // The payload is in place (synced) before the row that names it.
        let payload = app.runner.payload_path(&job.id);
        std::fs::write(&payload, &v.payload)
            .and_then(|()| std::fs::File::open(&payload)?.sync_all())
            .map_err(ApiError::internal)?;
        let inserted = app
            .store
            .insert_job(&job, app.max_queue, app.max_jobs_per_key);
        if !matches!(inserted, Ok(Ok(_))) {
            let _ = std::fs::remove_file(&payload);
        }
        match inserted? {
            Ok(row) => {
                app.wake.notify();
                Ok((
                    StatusCode::ACCEPTED,
                    [(header::LOCATION, format!("/v1/jobs/{}", row.id))],
                    Json(
                        json!({"job_id": row.id, "state": row.state, "links": job_json(&row)["links"]}),
                    ),
                )
                    .into_response())
            }
            Err(Refused::QueueFull) => Err(ApiError(
                StatusCode::TOO_MANY_REQUESTS,
                format!(
                    "the queue is full ({} jobs waiting); retry later",
                    app.max_queue
                ),
            )),
            Err(Refused::KeyBusy) => Err(ApiError(
                StatusCode::TOO_MANY_REQUESTS,
                format!(
                    "this API key has {} jobs queued or running already; retry when some end",
                    app.max_jobs_per_key
                ),
            )),
        }
    })
    .await
}

#[derive(Deserialize)]
struct ListQuery {
    limit: Option<i64>,
    state: Option<String>,
}

async fn list_jobs(
    State(app): State<Arc<App>>,
    axum::Extension(caller): axum::Extension<Caller>,
    q: Result<Query<ListQuery>, axum::extract::rejection::QueryRejection>,
) -> ApiResult<Json<Value>> {
    let Query(q) = q.map_err(|e| ApiError::bad(format!("query: {}", e.body_text())))?;
    let limit = q.limit.unwrap_or(100).clamp(1, 1000);
    let state = match &q.state {
        None => None,
        Some(s) => Some(
            JobState::parse(s)
                .ok_or_else(|| ApiError::bad(format!("state {s:?}: not a job state")))?,
        ),
    };
    let rows = blocking(move || Ok(app.store.jobs(limit, caller.0.as_deref(), state)?)).await?;
    Ok(Json(json!({
        "jobs": rows.iter().map(job_json).collect::<Vec<_>>()
    })))
}

async fn find_job(app: &Arc<App>, id: String, caller: &Caller) -> ApiResult<JobRow> {
    check_id(&id)?;
    let a = app.clone();
    let row = blocking(move || Ok(a.store.job(&id)?)).await?;
    row.filter(|j| visible(j, caller))
        .ok_or_else(|| ApiError::not_found("no such job"))
}

async fn get_job(
    State(app): State<Arc<App>>,
    axum::Extension(caller): axum::Extension<Caller>,
    UrlPath(id): UrlPath<String>,
) -> ApiResult<Json<Value>> {
    Ok(Json(job_json(&find_job(&app, id, &caller).await?)))
}

async fn cancel_job(
    State(app): State<Arc<App>>,
    axum::Extension(caller): axum::Extension<Caller>,
    UrlPath(id): UrlPath<String>,
) -> ApiResult<Response> {
    let job = find_job(&app, id, &caller).await?;
    if job.state.is_terminal() {
        return Err(ApiError::conflict(format!(
            "job is {} already",
            job.state.name()
        )));
    }
    let a = app.clone();
    let row = blocking(move || Ok(a.store.request_cancel(&job.id, now())?))
        .await?
        .ok_or_else(|| ApiError::not_found("no such job"))?;
    let status = if row.state == JobState::Cancelled {
        let _ = std::fs::remove_file(app.runner.payload_path(&row.id));
        StatusCode::OK
    } else {
        StatusCode::ACCEPTED
    };
    Ok((status, Json(job_json(&row))).into_response())
}

fn not_ready(job: &JobRow) -> ApiError {
    match job.state {
        JobState::Queued | JobState::Running => {
            ApiError::conflict(format!("job is {}; no result yet", job.state.name()))
        }
        s => ApiError::conflict(format!(
            "job {}: {}",
            s.name(),
            job.error.as_deref().unwrap_or("no result")
        )),
    }
}

async fn job_result(
    State(app): State<Arc<App>>,
    axum::Extension(caller): axum::Extension<Caller>,
    UrlPath(id): UrlPath<String>,
) -> ApiResult<Json<Value>> {
    let job = find_job(&app, id, &caller).await?;
    if job.state != JobState::Succeeded {
        return Err(not_ready(&job));
    }
    Ok(Json(job.result.unwrap_or(Value::Null)))
}

/// A download: the bytes with their type and file name.
fn attachment(content_type: &str, file_name: &str, bytes: Vec<u8>) -> Response {
    (
        [
            (header::CONTENT_TYPE, content_type.to_string()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{file_name}\""),
            ),
        ],
        bytes,
    )
        .into_response()
}

async fn job_proof(
    State(app): State<Arc<App>>,
    axum::Extension(caller): axum::Extension<Caller>,
    UrlPath(id): UrlPath<String>,
) -> ApiResult<Response> {
    let job = find_job(&app, id, &caller).await?;
    if job.state != JobState::Succeeded {
        return Err(not_ready(&job));
    }
    let cfg = app.runner.clone();
    blocking(move || match job.kind.as_str() {
        "prove" => {
            let bytes =
                std::fs::read(cfg.proof_path(&job.id, job.attempts)).map_err(ApiError::internal)?;
            Ok(attachment(
                "application/octet-stream",
                &format!("{}.zkp", job.id),
                bytes,
            ))
        }
        "train" => {
            let bytes = crate::tar::archive(
                &cfg.run_dir(&job.id, job.attempts),
                &format!("run-{}", job.id),
            )?;
            Ok(attachment(
                "application/x-tar",
                &format!("run-{}.tar", job.id),
                bytes,
            ))
        }
        _ => Err(ApiError::not_found(
            "a verify job has no proof file; see /result",
        )),
    })
    .await
}

/// Server-sent events: the job's JSON (event `job`) whenever its state or progress changes,
/// until it ends.
async fn job_events(
    State(app): State<Arc<App>>,
    axum::Extension(caller): axum::Extension<Caller>,
    UrlPath(id): UrlPath<String>,
) -> ApiResult<Response> {
    let first = find_job(&app, id, &caller).await?;
    let (tx, rx) = tokio::sync::mpsc::channel::<Result<Event, std::convert::Infallible>>(16);
    tokio::spawn(async move {
        let mut last = Value::Null;
        let mut job = first;
        loop {
            let v = job_json(&job);
            let key = json!([v["state"], v["progress"], v["error"]]);
            if key != last {
                last = key;
                if tx
                    .send(Ok(Event::default().event("job").data(v.to_string())))
                    .await
                    .is_err()
                {
                    return;
                }
            }
            if job.state.is_terminal() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
            let (a, id) = (app.clone(), job.id.clone());
            match blocking(move || Ok(a.store.job(&id)?)).await {
                Ok(Some(j)) => job = j,
                _ => return,
            }
        }
    });
    let stream = tokio_stream::wrappers::ReceiverStream::new(rx);
    Ok(Sse::new(stream)
        .keep_alive(KeepAlive::default())
        .into_response())
}
