//! The embedded store: one SQLite file in WAL mode with `synchronous = FULL`, so that a
//! committed transaction survives `kill -9` (and a power cut) and readers never block the
//! writer. One connection behind a mutex: the service's own writes are few and short.

use std::path::Path;
use std::sync::Mutex;

use anyhow::{anyhow, Context, Result};
use rusqlite::{params, Connection, OptionalExtension, Row, TransactionBehavior};
use serde_json::Value;

use super::{
    gave_up_reason, JobRow, JobState, Lease, ModelRow, NewJob, Refused, Store, MAX_ATTEMPTS,
};

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS models (
    id TEXT PRIMARY KEY,
    created_at REAL NOT NULL,
    path TEXT NOT NULL,
    size_bytes INTEGER NOT NULL,
    info TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS jobs (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL UNIQUE,
    kind TEXT NOT NULL,
    state TEXT NOT NULL,
    spec TEXT NOT NULL,
    key_id TEXT,
    created_at REAL NOT NULL,
    started_at REAL,
    finished_at REAL,
    progress TEXT NOT NULL DEFAULT '{}',
    error TEXT,
    result TEXT,
    attempts INTEGER NOT NULL DEFAULT 0,
    lease_owner TEXT,
    lease_until REAL,
    cancel_requested INTEGER NOT NULL DEFAULT 0,
    time_limit_s REAL NOT NULL
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

pub struct SqliteStore {
    conn: Mutex<Connection>,
}

impl SqliteStore {
    /// Opens (creating if needed) the database file.
    pub fn open(path: &Path) -> Result<Self> {
        let conn = Connection::open(path)
            .with_context(|| format!("cannot open SQLite database {}", path.display()))?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "FULL")?;
        conn.busy_timeout(std::time::Duration::from_secs(10))?;
        conn.execute_batch(SCHEMA)
            .with_context(|| format!("cannot create the tables in {}", path.display()))?;
        Ok(Self {
            conn: Mutex::new(conn),
        })
    }

    fn conn(&self) -> Result<std::sync::MutexGuard<'_, Connection>> {
        self.conn
            .lock()
            .map_err(|_| anyhow!("the database connection was poisoned by a panic"))
    }
}

fn json_col(row: &Row, i: usize) -> rusqlite::Result<Value> {
    let s: String = row.get(i)?;
    Ok(serde_json::from_str(&s).unwrap_or(Value::Null))
}

fn job_row(row: &Row) -> rusqlite::Result<JobRow> {
    let state: String = row.get(2)?;
    let result: Option<String> = row.get(10)?;
    Ok(JobRow {
        id: row.get(0)?,
        kind: row.get(1)?,
        state: JobState::parse(&state).unwrap_or(JobState::Failed),
        spec: json_col(row, 3)?,
        key_id: row.get(4)?,
        created_at: row.get(5)?,
        started_at: row.get(6)?,
        finished_at: row.get(7)?,
        progress: json_col(row, 8)?,
        error: row.get(9)?,
        result: result.and_then(|s| serde_json::from_str(&s).ok()),
        attempts: row.get(11)?,
        lease_owner: row.get(12)?,
        lease_until: row.get(13)?,
        cancel_requested: row.get::<_, i64>(14)? != 0,
        time_limit_s: row.get(15)?,
    })
}

fn model_row(row: &Row) -> rusqlite::Result<ModelRow> {
    Ok(ModelRow {
        id: row.get(0)?,
        created_at: row.get(1)?,
        path: row.get(2)?,
        size_bytes: row.get(3)?,
        info: json_col(row, 4)?,
    })
}

fn get_job(conn: &Connection, id: &str) -> Result<Option<JobRow>> {
    Ok(conn
        .query_row(
            &format!("SELECT {JOB_COLUMNS} FROM jobs WHERE id = ?1"),
            params![id],
            job_row,
        )
        .optional()?)
}

impl Store for SqliteStore {
    fn engine(&self) -> &'static str {
        "sqlite"
    }

    fn put_model(&self, m: &ModelRow, key: &str) -> Result<bool> {
        let mut conn = self.conn()?;
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let n = tx.execute(
            "INSERT INTO models (id, created_at, path, size_bytes, info) VALUES (?1, ?2, ?3, ?4, ?5)
             ON CONFLICT (id) DO NOTHING",
            params![m.id, m.created_at, m.path, m.size_bytes, m.info.to_string()],
        )?;
        tx.execute(
            "INSERT INTO model_keys (model_id, key_id) VALUES (?1, ?2) ON CONFLICT DO NOTHING",
            params![m.id, key],
        )?;
        tx.commit()?;
        Ok(n == 1)
    }

    fn model(&self, id: &str) -> Result<Option<ModelRow>> {
        Ok(self
            .conn()?
            .query_row(
                "SELECT id, created_at, path, size_bytes, info FROM models WHERE id = ?1",
                params![id],
                model_row,
            )
            .optional()?)
    }

    fn model_for(&self, id: &str, key: &str) -> Result<Option<ModelRow>> {
        Ok(self
            .conn()?
            .query_row(
                "SELECT m.id, m.created_at, m.path, m.size_bytes, m.info FROM models m
                 JOIN model_keys k ON k.model_id = m.id WHERE m.id = ?1 AND k.key_id = ?2",
                params![id, key],
                model_row,
            )
            .optional()?)
    }

    fn models_for(&self, key: &str) -> Result<Vec<ModelRow>> {
        let conn = self.conn()?;
        let mut st = conn.prepare(
            "SELECT m.id, m.created_at, m.path, m.size_bytes, m.info FROM models m
             JOIN model_keys k ON k.model_id = m.id WHERE k.key_id = ?1 ORDER BY m.created_at",
        )?;
        let rows = st
            .query_map(params![key], model_row)?
            .collect::<Result<Vec<_>, _>>()?;
        Ok(rows)
    }

    fn release_model(&self, id: &str, key: &str) -> Result<Option<bool>> {
        let mut conn = self.conn()?;
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let n = tx.execute(
            "DELETE FROM model_keys WHERE model_id = ?1 AND key_id = ?2",
            params![id, key],
        )?;
        if n == 0 {
            return Ok(None);
        }
        let left: i64 = tx.query_row(
            "SELECT COUNT(*) FROM model_keys WHERE model_id = ?1",
            params![id],
            |r| r.get(0),
        )?;
        if left == 0 {
            tx.execute("DELETE FROM models WHERE id = ?1", params![id])?;
        }
        tx.commit()?;
        Ok(Some(left == 0))
    }

    fn active_jobs_of_model(&self, id: &str) -> Result<i64> {
        Ok(self.conn()?.query_row(
            "SELECT COUNT(*) FROM jobs WHERE state IN ('queued', 'running')
             AND json_extract(spec, '$.model_id') = ?1",
            params![id],
            |r| r.get(0),
        )?)
    }

    fn insert_job(
        &self,
        j: &NewJob,
        max_queue: i64,
        max_per_key: i64,
    ) -> Result<std::result::Result<JobRow, Refused>> {
        let mut conn = self.conn()?;
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let queued: i64 = tx.query_row(
            "SELECT COUNT(*) FROM jobs WHERE state = 'queued'",
            [],
            |r| r.get(0),
        )?;
        if queued >= max_queue {
            return Ok(Err(Refused::QueueFull));
        }
        if let Some(k) = &j.key_id {
            let active: i64 = tx.query_row(
                "SELECT COUNT(*) FROM jobs WHERE key_id = ?1 AND state IN ('queued', 'running')",
                params![k],
                |r| r.get(0),
            )?;
            if active >= max_per_key {
                return Ok(Err(Refused::KeyBusy));
            }
        }
        tx.execute(
            "INSERT INTO jobs (id, kind, state, spec, key_id, created_at, time_limit_s)
             VALUES (?1, ?2, 'queued', ?3, ?4, ?5, ?6)",
            params![
                j.id,
                j.kind,
                j.spec.to_string(),
                j.key_id,
                j.created_at,
                j.time_limit_s
            ],
        )?;
        let row = get_job(&tx, &j.id)?.ok_or_else(|| anyhow!("inserted job vanished"))?;
        tx.commit()?;
        Ok(Ok(row))
    }

    fn job(&self, id: &str) -> Result<Option<JobRow>> {
        get_job(&*self.conn()?, id)
    }

    fn jobs(&self, limit: i64, key: Option<&str>, state: Option<JobState>) -> Result<Vec<JobRow>> {
        let conn = self.conn()?;
        let mut st = conn.prepare(&format!(
            "SELECT {JOB_COLUMNS} FROM jobs WHERE (?2 IS NULL OR key_id = ?2)
             AND (?3 IS NULL OR state = ?3) ORDER BY seq DESC LIMIT ?1"
        ))?;
        let rows = st
            .query_map(params![limit, key, state.map(JobState::name)], job_row)?
            .collect::<Result<Vec<_>, _>>()?;
        Ok(rows)
    }

    fn claim(&self, worker: &str, now: f64, lease_s: f64) -> Result<Option<JobRow>> {
        let mut conn = self.conn()?;
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let id: Option<String> = tx
            .query_row(
                "SELECT id FROM jobs WHERE state = 'queued' ORDER BY seq LIMIT 1",
                [],
                |r| r.get(0),
            )
            .optional()?;
        let Some(id) = id else {
            return Ok(None);
        };
        tx.execute(
            "UPDATE jobs SET state = 'running', lease_owner = ?2, lease_until = ?3,
             attempts = attempts + 1, started_at = ?4, progress = '{}'
             WHERE id = ?1",
            params![id, worker, now + lease_s, now],
        )?;
        let row = get_job(&tx, &id)?;
        tx.commit()?;
        Ok(row)
    }

    fn heartbeat(
        &self,
        id: &str,
        worker: &str,
        now: f64,
        lease_s: f64,
        progress: &Value,
    ) -> Result<Lease> {
        let conn = self.conn()?;
        let n = conn.execute(
            "UPDATE jobs SET lease_until = ?3, progress = ?4
             WHERE id = ?1 AND state = 'running' AND lease_owner = ?2",
            params![id, worker, now + lease_s, progress.to_string()],
        )?;
        if n == 0 {
            return Ok(Lease::Lost);
        }
        let cancel: i64 = conn.query_row(
            "SELECT cancel_requested FROM jobs WHERE id = ?1",
            params![id],
            |r| r.get(0),
        )?;
        Ok(Lease::Held {
            cancel: cancel != 0,
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
        let n = self.conn()?.execute(
            "UPDATE jobs SET state = ?3, finished_at = ?4, result = ?5, error = ?6,
             lease_owner = NULL, lease_until = NULL
             WHERE id = ?1 AND state = 'running' AND lease_owner = ?2",
            params![
                id,
                worker,
                state.name(),
                now,
                result.map(|r| r.to_string()),
                error
            ],
        )?;
        Ok(n == 1)
    }

    fn request_cancel(&self, id: &str, now: f64) -> Result<Option<JobRow>> {
        let mut conn = self.conn()?;
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        tx.execute(
            "UPDATE jobs SET state = 'cancelled', finished_at = ?2, error = 'cancelled before it started'
             WHERE id = ?1 AND state = 'queued'",
            params![id, now],
        )?;
        tx.execute(
            "UPDATE jobs SET cancel_requested = 1 WHERE id = ?1 AND state = 'running'",
            params![id],
        )?;
        let row = get_job(&tx, id)?;
        tx.commit()?;
        Ok(row)
    }

    fn sweep(&self, now: f64) -> Result<usize> {
        let mut conn = self.conn()?;
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let failed = tx.execute(
            "UPDATE jobs SET state = 'failed', finished_at = ?1, error = ?3,
             lease_owner = NULL, lease_until = NULL
             WHERE state = 'running' AND lease_until < ?1 AND attempts >= ?2",
            params![now, MAX_ATTEMPTS, gave_up_reason()],
        )?;
        // A cancel asked of a job whose worker died is honoured now.
        let cancelled = tx.execute(
            "UPDATE jobs SET state = 'cancelled', finished_at = ?1, error = 'cancelled',
             lease_owner = NULL, lease_until = NULL
             WHERE state = 'running' AND lease_until < ?1 AND cancel_requested = 1",
            params![now],
        )?;
        let requeued = tx.execute(
            "UPDATE jobs SET state = 'queued', lease_owner = NULL, lease_until = NULL,
             progress = '{}'
             WHERE state = 'running' AND lease_until < ?1",
            params![now],
        )?;
        tx.commit()?;
        Ok(failed + cancelled + requeued)
    }

    fn release_all_leases(&self) -> Result<usize> {
        Ok(self.conn()?.execute(
            "UPDATE jobs SET lease_until = 0 WHERE state = 'running'",
            [],
        )?)
    }

    fn counts(&self) -> Result<Vec<(JobState, i64)>> {
        let conn = self.conn()?;
        let mut st = conn.prepare("SELECT state, COUNT(*) FROM jobs GROUP BY state")?;
        let rows = st
            .query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?)))?
            .collect::<Result<Vec<_>, _>>()?;
        Ok(JobState::ALL
            .into_iter()
            .map(|s| {
                let n = rows
                    .iter()
                    .find(|(name, _)| name == s.name())
                    .map_or(0, |r| r.1);
                (s, n)
            })
            .collect())
    }

    fn prove_durations(&self) -> Result<Vec<f64>> {
        let conn = self.conn()?;
        let mut st = conn.prepare(
            "SELECT finished_at - started_at FROM jobs
             WHERE kind = 'prove' AND state = 'succeeded' AND started_at IS NOT NULL",
        )?;
        let rows = st
            .query_map([], |r| r.get::<_, f64>(0))?
            .collect::<Result<Vec<_>, _>>()?;
        Ok(rows)
    }
}
