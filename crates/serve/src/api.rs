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
use serde::Deserialize;
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

/// The routes.
pub fn router(app: Arc<App>) -> Router {
    let model_limit = app.max_model_bytes;
    let request_limit = app.max_request_bytes;
    let v1 = Router::new()
        .route(
            "/v1/models",
            post(post_model)
                .layer(DefaultBodyLimit::max(model_limit))
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
        .with_state(app)
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

/// `POST /v1/models`: the ONNX file as the body, or `{"path": …}` under `--model-dir`.
async fn post_model(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult<Response> {
    let is_json = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    blocking(move || {
        let (path, owned) = if is_json {
            let req: ModelByPath = serde_json::from_slice(&body)
                .map_err(|e| ApiError::bad(format!("model request: {e}")))?;
            (server_path(&app, &req.path)?, false)
        } else {
            if body.is_empty() {
                return Err(ApiError::bad(
                    "empty body: send the ONNX file as the request body (or {\"path\": …} as JSON)",
                ));
            }
            let tmp = app
                .runner
                .data
                .join("tmp")
                .join(format!("upload-{}.onnx", random_id()));
            std::fs::write(&tmp, &body).map_err(ApiError::internal)?;
            (tmp, true)
        };
        let committed = commit_model(&app.runner, &path);
        let info = match committed {
            Ok(info) => info,
            Err(e) => {
                if owned {
                    let _ = std::fs::remove_file(&path);
                }
                return Err(e);
            }
        };
        let id = info
            .get("model_commitment")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string();
        if let Some(existing) = app.store.model(&id)? {
            if owned {
                let _ = std::fs::remove_file(&path);
            }
            return Ok((StatusCode::OK, Json(model_json(&existing))).into_response());
        }
        let size = std::fs::metadata(&path).map_or(0, |m| m.len() as i64);
        let stored = if owned {
            let dest = app.runner.data.join("models").join(format!("{id}.onnx"));
            std::fs::File::open(&path)
                .and_then(|f| f.sync_all())
                .and_then(|()| std::fs::rename(&path, &dest))
                .map_err(ApiError::internal)?;
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
        if !app.store.put_model(&row)? {
            // Another upload of the same model won the race; the file is the same.
            let existing = app.store.model(&id)?.unwrap_or(row);
            return Ok((StatusCode::OK, Json(model_json(&existing))).into_response());
        }
        Ok((StatusCode::CREATED, Json(model_json(&row))).into_response())
    })
    .await
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
    if p.is_absolute()
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

/// Imports and commits a model with `zkgrad commit --json` (a child process): its summary, or
/// a 400 with the CLI's one-line reason.
fn commit_model(cfg: &RunnerConfig, path: &Path) -> ApiResult<Value> {
    let out = std::process::Command::new(&cfg.exe)
        .arg("commit")
        .arg("--model")
        .arg(path)
        .arg("--json")
        .env("ZKGRAD_CACHE_DIR", cfg.data.join("cache"))
        .stdin(std::process::Stdio::null())
        .output()
        .map_err(ApiError::internal)?;
    if !out.status.success() {
        let err = String::from_utf8_lossy(&out.stderr);
        let line = err
            .lines()
            .rev()
            .find(|l| l.starts_with("error"))
            .unwrap_or("the model could not be imported");
        let line = line.strip_prefix("error: ").unwrap_or(line);
        let line = line.replace(&path.display().to_string(), "the uploaded model");
        return Err(ApiError::bad(format!("model rejected: {line}")));
    }
    serde_json::from_slice(&out.stdout).map_err(ApiError::internal)
}

async fn list_models(State(app): State<Arc<App>>) -> ApiResult<Json<Value>> {
    let rows = blocking(move || Ok(app.store.models()?)).await?;
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
    UrlPath(id): UrlPath<String>,
) -> ApiResult<Json<Value>> {
    check_id(&id)?;
    let row = blocking(move || Ok(app.store.model(&id)?)).await?;
    row.map(|m| Json(model_json(&m)))
        .ok_or_else(|| ApiError::not_found("no such model"))
}

async fn delete_model(
    State(app): State<Arc<App>>,
    UrlPath(id): UrlPath<String>,
) -> ApiResult<Response> {
    check_id(&id)?;
    blocking(move || {
        let Some(m) = app.store.model(&id)? else {
            return Err(ApiError::not_found("no such model"));
        };
        let active = app.store.active_jobs_of_model(&id)?;
        if active > 0 {
            return Err(ApiError::conflict(format!(
                "model has {active} queued or running job(s); cancel them or wait"
            )));
        }
        app.store.delete_model(&id)?;
        let ours = app.runner.data.join("models");
        if Path::new(&m.path).starts_with(&ours) {
            let _ = std::fs::remove_file(&m.path);
        }
        Ok(StatusCode::NO_CONTENT.into_response())
    })
    .await
}

// ---------------------------------------------------------------------------------------------
// Jobs

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct ProveOptions {
    pcs: Option<String>,
    table_bits: Option<u32>,
    act_frac: Option<u32>,
    weight_frac: Option<u32>,
    per_tensor_scales: Option<bool>,
    global_scale: Option<bool>,
}

impl ProveOptions {
    fn check(&self) -> ApiResult<()> {
        if let Some(p) = &self.pcs {
            if !["auto", "ligero", "whir"].contains(&p.as_str()) {
                return Err(ApiError::bad(format!(
                    "options.pcs must be \"auto\", \"ligero\" or \"whir\", got {p:?}"
                )));
            }
        }
        if let Some(t) = self.table_bits {
            if !(4..=20).contains(&t) {
                return Err(ApiError::bad(format!(
                    "options.table_bits must be within 4..=20, got {t}"
                )));
            }
        }
        for (name, v) in [
            ("act_frac", self.act_frac),
            ("weight_frac", self.weight_frac),
        ] {
            if v.is_some_and(|v| v > 40) {
                return Err(ApiError::bad(format!("options.{name} must be at most 40")));
            }
        }
        if self.per_tensor_scales == Some(true) && self.global_scale == Some(true) {
            return Err(ApiError::bad(
                "options.per_tensor_scales and options.global_scale exclude each other",
            ));
        }
        Ok(())
    }
}

/// A training job's options: parsed here to refuse unknown or ill-typed ones before the job is
/// stored; the runner passes them on from the stored spec.
#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)] // fields read only through the stored spec
struct TrainOptions {
    steps: Option<u32>,
    loss: Option<String>,
    lr: Option<f64>,
    batch: Option<u32>,
    prove: Option<bool>,
    shuffle: Option<u64>,
    lora_rank: Option<u32>,
    lora_alpha: Option<f64>,
    lora_targets: Option<String>,
    table_bits: Option<u32>,
    act_frac: Option<u32>,
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
            if t.starts_with('-') {
                return Err(ApiError::bad(
                    "options.lora_targets: node names, comma-separated",
                ));
            }
        }
        Ok(())
    }
}

#[derive(Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
enum JobRequest {
    Prove {
        model_id: String,
        input: Value,
        #[serde(default)]
        options: Option<Value>,
        time_limit_s: Option<f64>,
    },
    Verify {
        model_id: Option<String>,
        commitment: Option<String>,
        proof_base64: Option<String>,
        proof_job_id: Option<String>,
        #[serde(default)]
        options: Option<Value>,
        time_limit_s: Option<f64>,
    },
    Train {
        model_id: String,
        data: Value,
        #[serde(default)]
        options: Option<Value>,
        time_limit_s: Option<f64>,
    },
}

fn parse_options<T: for<'de> Deserialize<'de> + Default>(v: &Option<Value>) -> ApiResult<T> {
    match v {
        None => Ok(T::default()),
        Some(v) => {
            serde_json::from_value(v.clone()).map_err(|e| ApiError::bad(format!("options: {e}")))
        }
    }
}

/// The numbers of an input (`{"input_data": …}` or a bare array), all finite.
fn count_numbers(v: &Value, what: &str) -> ApiResult<usize> {
    match v {
        Value::Number(n) => match n.as_f64() {
            Some(x) if x.is_finite() => Ok(1),
            _ => Err(ApiError::bad(format!("{what}: a number is not finite"))),
        },
        Value::Array(a) => a.iter().map(|x| count_numbers(x, what)).sum(),
        _ => Err(ApiError::bad(format!(
            "{what}: expected numbers in nested arrays, found {}",
            match v {
                Value::Null => "null",
                Value::Bool(_) => "a boolean",
                Value::String(_) => "a string",
                Value::Object(_) => "an object",
                _ => "something else",
            }
        ))),
    }
}

/// Validates a job request against the stored models and jobs; the spec to store.
fn validate(
    app: &App,
    req: JobRequest,
    caller: &Caller,
) -> ApiResult<(String, Value, Option<f64>)> {
    let model = |id: &str| -> ApiResult<ModelRow> {
        check_id(id).map_err(|_| ApiError::bad(format!("model_id {id:?} is not a model id")))?;
        app.store.model(id)?.ok_or_else(|| {
            ApiError::bad(format!(
                "model {id} is not stored: upload it first (POST /v1/models)"
            ))
        })
    };
    match req {
        JobRequest::Prove {
            model_id,
            input,
            options,
            time_limit_s,
        } => {
            let m = model(&model_id)?;
            let o: ProveOptions = parse_options(&options)?;
            o.check()?;
            let data = match &input {
                Value::Object(obj) => obj.get("input_data").ok_or_else(|| {
                    ApiError::bad("input: expected {\"input_data\": [[...]]} or an array")
                })?,
                v => v,
            };
            if !data.is_array() {
                return Err(ApiError::bad(
                    "input: expected {\"input_data\": [[...]]} or an array",
                ));
            }
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
            let spec = json!({
                "kind": "prove", "model_id": model_id,
                "input": {"input_data": data}, "options": options.unwrap_or(json!({})),
            });
            Ok(("prove".into(), spec, time_limit_s))
        }
        JobRequest::Verify {
            model_id,
            commitment,
            proof_base64,
            proof_job_id,
            options,
            time_limit_s,
        } => {
            let o: ProveOptions = parse_options(&options)?;
            o.check()?;
            match (&model_id, &commitment) {
                (Some(id), None) => {
                    model(id)?;
                }
                (None, Some(c)) => {
                    if c.len() != 64 || !c.bytes().all(|b| b.is_ascii_hexdigit()) {
                        return Err(ApiError::bad("commitment: 64 hex digits"));
                    }
                }
                _ => {
                    return Err(ApiError::bad(
                        "verify: give exactly one of model_id and commitment",
                    ))
                }
            }
            match (&proof_base64, &proof_job_id) {
                (Some(b), None) => {
                    let bytes = base64::engine::general_purpose::STANDARD
                        .decode(b)
                        .map_err(|e| ApiError::bad(format!("proof_base64: {e}")))?;
                    zkgrad_verifier::ProofFile::from_bytes(&bytes).map_err(|e| {
                        ApiError::bad(format!("proof: not a zkgrad proof file: {e}"))
                    })?;
                }
                (None, Some(j)) => {
                    check_id(j).map_err(|_| ApiError::bad("proof_job_id: not a job id"))?;
                    let job = app.store.job(j)?.filter(|job| visible(job, caller));
                    match job {
                        Some(job) if job.kind == "prove" && job.state == JobState::Succeeded => {}
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
            }
            let spec = json!({
                "kind": "verify", "model_id": model_id, "commitment": commitment,
                "proof_base64": proof_base64, "proof_job_id": proof_job_id,
                "options": options.unwrap_or(json!({})),
            });
            Ok(("verify".into(), spec, time_limit_s))
        }
        JobRequest::Train {
            model_id,
            data,
            options,
            time_limit_s,
        } => {
            model(&model_id)?;
            let o: TrainOptions = parse_options(&options)?;
            o.check()?;
            let (Some(x), Some(y)) = (data.get("x"), data.get("y")) else {
                return Err(ApiError::bad(
                    "data: expected {\"x\": [[...]], \"y\": [[...]]}",
                ));
            };
            count_numbers(x, "data.x")?;
            count_numbers(y, "data.y")?;
            let spec = json!({
                "kind": "train", "model_id": model_id, "data": {"x": x, "y": y},
                "options": options.unwrap_or(json!({})),
            });
            Ok(("train".into(), spec, time_limit_s))
        }
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
    body: Bytes,
) -> ApiResult<Response> {
    let req: JobRequest = serde_json::from_slice(&body).map_err(|e| {
        ApiError::bad(format!(
            "job request: {e} (expected {{\"kind\": \"prove\" | \"verify\" | \"train\", …}})"
        ))
    })?;
    blocking(move || {
        let (kind, spec, limit) = validate(&app, req, &caller)?;
        let limit = match limit {
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
            kind,
            spec,
            key_id: caller.0.clone(),
            created_at: now(),
            time_limit_s: limit,
        };
        match app
            .store
            .insert_job(&job, app.max_queue, app.max_jobs_per_key)?
        {
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
    Query(q): Query<ListQuery>,
) -> ApiResult<Json<Value>> {
    let limit = q.limit.unwrap_or(100).clamp(1, 1000);
    let state = match &q.state {
        None => None,
        Some(s) => Some(
            JobState::parse(s)
                .ok_or_else(|| ApiError::bad(format!("state {s:?}: not a job state")))?,
        ),
    };
    let rows = blocking(move || Ok(app.store.jobs(limit)?)).await?;
    Ok(Json(json!({
        "jobs": rows
            .iter()
            .filter(|j| visible(j, &caller) && state.is_none_or(|s| j.state == s))
            .map(job_json)
            .collect::<Vec<_>>()
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
    let row = blocking(move || Ok(app.store.request_cancel(&job.id, now())?))
        .await?
        .ok_or_else(|| ApiError::not_found("no such job"))?;
    let status = if row.state == JobState::Cancelled {
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
            let bytes = std::fs::read(cfg.proof_path(&job.id)).map_err(ApiError::internal)?;
            Ok((
                [
                    (header::CONTENT_TYPE, "application/octet-stream".to_string()),
                    (
                        header::CONTENT_DISPOSITION,
                        format!("attachment; filename=\"{}.zkp\"", job.id),
                    ),
                ],
                bytes,
            )
                .into_response())
        }
        "train" => {
            let bytes = crate::tar::archive(&cfg.run_dir(&job.id), &format!("run-{}", job.id))?;
            Ok((
                [
                    (header::CONTENT_TYPE, "application/x-tar".to_string()),
                    (
                        header::CONTENT_DISPOSITION,
                        format!("attachment; filename=\"run-{}.tar\"", job.id),
                    ),
                ],
                bytes,
            )
                .into_response())
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
