//! The shared store: PostgreSQL, for a server and any number of `zkgrad worker` processes on
//! other machines. Workers claim jobs with `SELECT … FOR UPDATE SKIP LOCKED` (two workers never
//! claim the same queued job, and neither waits on the other's lock) under a lease that
//! [`Store::sweep`] takes back when a worker stops renewing it.
//!
//! Times are seconds since the Unix epoch from each process's clock: leases assume the
//! machines' clocks agree to well within the lease (30 s by default).

use std::sync::Mutex;

use anyhow::{anyhow, Context, Result};
use postgres::{Client, NoTls, Row};
use serde_json::Value;

use super::{
    gave_up_reason, JobRow, JobState, Lease, ModelRow, NewJob, Refused, Store, MAX_ATTEMPTS,
};

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS models (
    id TEXT PRIMARY KEY,
    created_at DOUBLE PRECISION NOT NULL,
    path TEXT NOT NULL,
    size_bytes BIGINT NOT NULL,
    info TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS jobs (
    seq BIGSERIAL PRIMARY KEY,
    id TEXT NOT NULL UNIQUE,
    kind TEXT NOT NULL,
    state TEXT NOT NULL,
    spec TEXT NOT NULL,
    key_id TEXT,
    created_at DOUBLE PRECISION NOT NULL,
    started_at DOUBLE PRECISION,
    finished_at DOUBLE PRECISION,
    progress TEXT NOT NULL DEFAULT '{}',
    error TEXT,
    result TEXT,
    attempts BIGINT NOT NULL DEFAULT 0,
    lease_owner TEXT,
    lease_until DOUBLE PRECISION,
    cancel_requested BOOLEAN NOT NULL DEFAULT FALSE,
    time_limit_s DOUBLE PRECISION NOT NULL
);
CREATE INDEX IF NOT EXISTS jobs_by_state ON jobs (state, seq);
CREATE INDEX IF NOT EXISTS jobs_by_key ON jobs (key_id, seq);
CREATE TABLE IF NOT EXISTS model_keys (
    model_id TEXT NOT NULL,
    key_id TEXT NOT NULL,
    PRIMARY KEY (model_id, key_id)
);
";

const JOB_COLUMNS: &str = "id, kind, state, spec, key_id, created_at, started_at, finished_at, \
    progress, error, result, attempts, lease_owner, lease_until, cancel_requested, time_limit_s";

pub struct PgStore {
    client: Mutex<Client>,
}

impl PgStore {
    /// Connects and creates the tables if needed (concurrent creators are serialized by an
    /// advisory lock).
    pub fn open(url: &str) -> Result<Self> {
        let mut client = Client::connect(url, NoTls)
            .with_context(|| format!("cannot connect to PostgreSQL at {}", redact(url)))?;
        let mut tx = client.transaction()?;
        tx.execute("SELECT pg_advisory_xact_lock(7240291)", &[])?;
        tx.batch_execute(SCHEMA)
            .context("cannot create the tables in PostgreSQL")?;
        tx.commit()?;
        Ok(Self {
            client: Mutex::new(client),
        })
    }

    fn client(&self) -> Result<std::sync::MutexGuard<'_, Client>> {
        self.client
            .lock()
            .map_err(|_| anyhow!("the database connection was poisoned by a panic"))
    }
}

/// The URL without its password, for messages.
pub fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(s), Some(at)) if at > s => {
            let creds = &url[s + 3..at];
            let user = creds.split(':').next().unwrap_or("");
            format!("{}{user}:***{}", &url[..s + 3], &url[at..])
        }
        _ => url.to_string(),
    }
}

fn json(s: &str) -> Value {
    serde_json::from_str(s).unwrap_or(Value::Null)
}

fn job_row(row: &Row) -> Result<JobRow> {
    let state: String = row.try_get(2)?;
    let spec: String = row.try_get(3)?;
    let progress: String = row.try_get(8)?;
    let result: Option<String> = row.try_get(10)?;
    Ok(JobRow {
        id: row.try_get(0)?,
        kind: row.try_get(1)?,
        state: JobState::parse(&state).unwrap_or(JobState::Failed),
        spec: json(&spec),
        key_id: row.try_get(4)?,
        created_at: row.try_get(5)?,
        started_at: row.try_get(6)?,
        finished_at: row.try_get(7)?,
        progress: json(&progress),
        error: row.try_get(9)?,
        result: result.map(|s| json(&s)),
        attempts: row.try_get(11)?,
        lease_owner: row.try_get(12)?,
        lease_until: row.try_get(13)?,
        cancel_requested: row.try_get(14)?,
        time_limit_s: row.try_get(15)?,
    })
}

fn model_row(row: &Row) -> Result<ModelRow> {
    let info: String = row.try_get(4)?;
    Ok(ModelRow {
        id: row.try_get(0)?,
        created_at: row.try_get(1)?,
        path: row.try_get(2)?,
        size_bytes: row.try_get(3)?,
        info: json(&info),
    })
}

fn get_job(c: &mut impl postgres::GenericClient, id: &str) -> Result<Option<JobRow>> {
    c.query_opt(
        &format!("SELECT {JOB_COLUMNS} FROM jobs WHERE id = $1"),
        &[&id],
    )?
    .as_ref()
    .map(job_row)
    .transpose()
}

impl Store for PgStore {
    fn engine(&self) -> &'static str {
        "postgres"
    }

    fn put_model(&self, m: &ModelRow, key: &str) -> Result<bool> {
        let mut c = self.client()?;
        let mut tx = c.transaction()?;
        let n = tx.execute(
            "INSERT INTO models (id, created_at, path, size_bytes, info) VALUES ($1, $2, $3, $4, $5)
             ON CONFLICT (id) DO NOTHING",
            &[&m.id, &m.created_at, &m.path, &m.size_bytes, &m.info.to_string()],
        )?;
        tx.execute(
            "INSERT INTO model_keys (model_id, key_id) VALUES ($1, $2) ON CONFLICT DO NOTHING",
            &[&m.id, &key],
        )?;
        tx.commit()?;
        Ok(n == 1)
    }

    fn model(&self, id: &str) -> Result<Option<ModelRow>> {
        self.client()?
            .query_opt(
                "SELECT id, created_at, path, size_bytes, info FROM models WHERE id = $1",
                &[&id],
            )?
            .as_ref()
            .map(model_row)
            .transpose()
    }

    fn model_for(&self, id: &str, key: &str) -> Result<Option<ModelRow>> {
        self.client()?
            .query_opt(
                "SELECT m.id, m.created_at, m.path, m.size_bytes, m.info FROM models m
                 JOIN model_keys k ON k.model_id = m.id WHERE m.id = $1 AND k.key_id = $2",
                &[&id, &key],
            )?
            .as_ref()
            .map(model_row)
            .transpose()
    }

    fn models_for(&self, key: &str) -> Result<Vec<ModelRow>> {
        self.client()?
            .query(
                "SELECT m.id, m.created_at, m.path, m.size_bytes, m.info FROM models m
                 JOIN model_keys k ON k.model_id = m.id WHERE k.key_id = $1 ORDER BY m.created_at",
                &[&key],
            )?
            .iter()
            .map(model_row)
            .collect()
    }

    fn release_model(&self, id: &str, key: &str) -> Result<Option<bool>> {
        let mut c = self.client()?;
        let mut tx = c.transaction()?;
        let n = tx.execute(
            "DELETE FROM model_keys WHERE model_id = $1 AND key_id = $2",
            &[&id, &key],
        )?;
        if n == 0 {
            return Ok(None);
        }
        let left: i64 = tx
            .query_one(
                "SELECT COUNT(*) FROM model_keys WHERE model_id = $1",
                &[&id],
            )?
            .try_get(0)?;
        if left == 0 {
            tx.execute("DELETE FROM models WHERE id = $1", &[&id])?;
        }
        tx.commit()?;
        Ok(Some(left == 0))
    }

    fn active_jobs_of_model(&self, id: &str) -> Result<i64> {
        Ok(self
            .client()?
            .query_one(
                "SELECT COUNT(*) FROM jobs WHERE state IN ('queued', 'running')
                 AND (spec::jsonb ->> 'model_id') = $1",
                &[&id],
            )?
            .try_get(0)?)
    }

    fn insert_job(
        &self,
        j: &NewJob,
        max_queue: i64,
        max_per_key: i64,
    ) -> Result<std::result::Result<JobRow, Refused>> {
        let mut c = self.client()?;
        let mut tx = c.transaction()?;
        // Serializes admissions, so that the bounds hold under concurrent inserts.
        tx.execute("SELECT pg_advisory_xact_lock(7240292)", &[])?;
        let queued: i64 = tx
            .query_one("SELECT COUNT(*) FROM jobs WHERE state = 'queued'", &[])?
            .try_get(0)?;
        if queued >= max_queue {
            return Ok(Err(Refused::QueueFull));
        }
        if let Some(k) = &j.key_id {
            let active: i64 = tx
                .query_one(
                    "SELECT COUNT(*) FROM jobs WHERE key_id = $1 AND state IN ('queued', 'running')",
                    &[k],
                )?
                .try_get(0)?;
            if active >= max_per_key {
                return Ok(Err(Refused::KeyBusy));
            }
        }
        tx.execute(
            "INSERT INTO jobs (id, kind, state, spec, key_id, created_at, time_limit_s)
             VALUES ($1, $2, 'queued', $3, $4, $5, $6)",
            &[
                &j.id,
                &j.kind,
                &j.spec.to_string(),
                &j.key_id,
                &j.created_at,
                &j.time_limit_s,
            ],
        )?;
        let row = get_job(&mut tx, &j.id)?.ok_or_else(|| anyhow!("inserted job vanished"))?;
        tx.commit()?;
        Ok(Ok(row))
    }

    fn job(&self, id: &str) -> Result<Option<JobRow>> {
        get_job(&mut *self.client()?, id)
    }

    fn jobs(&self, limit: i64, key: Option<&str>, state: Option<JobState>) -> Result<Vec<JobRow>> {
        let state = state.map(JobState::name);
        self.client()?
            .query(
                &format!(
                    "SELECT {JOB_COLUMNS} FROM jobs WHERE ($2::TEXT IS NULL OR key_id = $2)
                     AND ($3::TEXT IS NULL OR state = $3) ORDER BY seq DESC LIMIT $1"
                ),
                &[&limit, &key, &state],
            )?
            .iter()
            .map(job_row)
            .collect()
    }

    fn claim(&self, worker: &str, now: f64, lease_s: f64) -> Result<Option<JobRow>> {
        let until = now + lease_s;
        self.client()?
            .query_opt(
                &format!(
                    "UPDATE jobs SET state = 'running', lease_owner = $1, lease_until = $2,
                     attempts = attempts + 1, started_at = $3, progress = '{{}}'
                     WHERE id = (SELECT id FROM jobs WHERE state = 'queued' ORDER BY seq
                                 FOR UPDATE SKIP LOCKED LIMIT 1)
                     RETURNING {JOB_COLUMNS}"
                ),
                &[&worker, &until, &now],
            )?
            .as_ref()
            .map(job_row)
            .transpose()
    }

    fn heartbeat(
        &self,
        id: &str,
        worker: &str,
        now: f64,
        lease_s: f64,
        progress: &Value,
    ) -> Result<Lease> {
        let until = now + lease_s;
        let row = self.client()?.query_opt(
            "UPDATE jobs SET lease_until = $3, progress = $4
             WHERE id = $1 AND state = 'running' AND lease_owner = $2
             RETURNING cancel_requested",
            &[&id, &worker, &until, &progress.to_string()],
        )?;
        Ok(match row {
            Some(r) => Lease::Held {
                cancel: r.try_get(0)?,
            },
            None => Lease::Lost,
        })
    }

    fn finish(
        &self,
        id: &str,
        worker: &str,
        state: JobState,
        now: f64,
        result: Option<&Value>,
        error: Option<&str>,
    ) -> Result<bool> {
        let result = result.map(|r| r.to_string());
        let n = self.client()?.execute(
            "UPDATE jobs SET state = $3, finished_at = $4, result = $5, error = $6,
             lease_owner = NULL, lease_until = NULL
             WHERE id = $1 AND state = 'running' AND lease_owner = $2",
            &[&id, &worker, &state.name(), &now, &result, &error],
        )?;
        Ok(n == 1)
    }

    fn request_cancel(&self, id: &str, now: f64) -> Result<Option<JobRow>> {
        let mut c = self.client()?;
        let mut tx = c.transaction()?;
        tx.execute(
            "UPDATE jobs SET state = 'cancelled', finished_at = $2,
             error = 'cancelled before it started'
             WHERE id = $1 AND state = 'queued'",
            &[&id, &now],
        )?;
        tx.execute(
            "UPDATE jobs SET cancel_requested = TRUE WHERE id = $1 AND state = 'running'",
            &[&id],
        )?;
        let row = get_job(&mut tx, id)?;
        tx.commit()?;
        Ok(row)
    }

    fn sweep(&self, now: f64) -> Result<usize> {
        let mut c = self.client()?;
        let mut tx = c.transaction()?;
        let failed = tx.execute(
            "UPDATE jobs SET state = 'failed', finished_at = $1, error = $3,
             lease_owner = NULL, lease_until = NULL
             WHERE state = 'running' AND lease_until < $1 AND attempts >= $2",
            &[&now, &MAX_ATTEMPTS, &gave_up_reason()],
        )?;
        let cancelled = tx.execute(
            "UPDATE jobs SET state = 'cancelled', finished_at = $1, error = 'cancelled',
             lease_owner = NULL, lease_until = NULL
             WHERE state = 'running' AND lease_until < $1 AND cancel_requested",
            &[&now],
        )?;
        let requeued = tx.execute(
            "UPDATE jobs SET state = 'queued', lease_owner = NULL, lease_until = NULL,
             progress = '{}'
             WHERE state = 'running' AND lease_until < $1",
            &[&now],
        )?;
        tx.commit()?;
        Ok((failed + cancelled + requeued) as usize)
    }

    fn release_all_leases(&self) -> Result<usize> {
        Ok(self.client()?.execute(
            "UPDATE jobs SET lease_until = 0 WHERE state = 'running'",
            &[],
        )? as usize)
    }

    fn counts(&self) -> Result<Vec<(JobState, i64)>> {
        let rows = self
            .client()?
            .query("SELECT state, COUNT(*) FROM jobs GROUP BY state", &[])?;
        let mut out = Vec::new();
        for s in JobState::ALL {
            let mut n = 0;
            for r in &rows {
                let name: String = r.try_get(0)?;
                if name == s.name() {
                    n = r.try_get(1)?;
                }
            }
            out.push((s, n));
        }
        Ok(out)
    }

    fn prove_durations(&self) -> Result<Vec<f64>> {
        self.client()?
            .query(
                "SELECT finished_at - started_at FROM jobs
                 WHERE kind = 'prove' AND state = 'succeeded' AND started_at IS NOT NULL",
                &[],
            )?
            .iter()
            .map(|r| Ok(r.try_get(0)?))
            .collect()
    }
}
