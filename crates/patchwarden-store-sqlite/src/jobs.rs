//! Signed jobs queued for agents and the reports agents send about them.

use crate::agents::load_agent;
use crate::audit;
use crate::error::{conflict, db_err};
use patchwarden_domain::clock::{from_micros, to_micros};
use patchwarden_domain::ids::AssetId;
use patchwarden_store::audit_drafts as drafts;
use patchwarden_store::{
    AuditCtx, NewJob, NewJobReport, ReportsRecorded, Result, StoreError, StoredJob, StoredJobReport,
};
use sqlx::sqlite::SqliteRow;
use sqlx::{Row, SqliteConnection, SqlitePool};

/// Use with `FROM agent_jobs j JOIN agents g ON g.id = j.agent_id`.
const JOB_COLS: &str = "j.id, j.agent_id, g.asset_id, j.job_json, j.signature, j.issued_at, \
    j.expires_at, j.created_at, j.delivered_at, j.status, j.finished_at";
const JOB_FROM: &str = "FROM agent_jobs j JOIN agents g ON g.id = j.agent_id";

fn job_row(row: &SqliteRow) -> Result<StoredJob> {
    let opt = |col: &str| -> Result<Option<jiff::Timestamp>> {
        Ok(row
            .try_get::<Option<i64>, _>(col)
            .map_err(db_err)?
            .map(from_micros))
    };
    let time = |col: &str| -> Result<jiff::Timestamp> {
        Ok(from_micros(row.try_get(col).map_err(db_err)?))
    };
    Ok(StoredJob {
        id: row.try_get("id").map_err(db_err)?,
        agent_id: row.try_get("agent_id").map_err(db_err)?,
        asset_id: AssetId::new(row.try_get("asset_id").map_err(db_err)?),
        job_json: row.try_get("job_json").map_err(db_err)?,
        signature: row.try_get("signature").map_err(db_err)?,
        issued_at: time("issued_at")?,
        expires_at: time("expires_at")?,
        created_at: time("created_at")?,
        delivered_at: opt("delivered_at")?,
        status: row.try_get("status").map_err(db_err)?,
        finished_at: opt("finished_at")?,
    })
}

async fn load(conn: &mut SqliteConnection, id: &str) -> Result<Option<StoredJob>> {
    let sql = format!("SELECT {JOB_COLS} {JOB_FROM} WHERE j.id = $1");
    let row = sqlx::query(&sql)
        .bind(id)
        .fetch_optional(&mut *conn)
        .await
        .map_err(db_err)?;
    row.as_ref().map(job_row).transpose()
}

pub(crate) async fn get(conn: &mut SqliteConnection, id: &str) -> Result<StoredJob> {
    load(conn, id)
        .await?
        .ok_or(StoreError::NotFound { entity: "job" })
}

pub(crate) async fn create(pool: &SqlitePool, ctx: &AuditCtx, new: &NewJob) -> Result<StoredJob> {
    let mut tx = pool.begin_with("BEGIN IMMEDIATE").await.map_err(db_err)?;
    load_agent(&mut tx, new.agent_id).await?;
    sqlx::query(
        "INSERT INTO agent_jobs (id, agent_id, job_json, signature, issued_at, expires_at, \
         created_at) VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(&new.id)
    .bind(new.agent_id)
    .bind(&new.job_json)
    .bind(&new.signature)
    .bind(to_micros(new.issued_at))
    .bind(to_micros(new.expires_at))
    .bind(to_micros(ctx.at))
    .execute(&mut *tx)
    .await
    .map_err(conflict(|| format!("job {} already exists", new.id)))?;
    let job = get(&mut tx, &new.id).await?;
    audit::append(&mut tx, drafts::job_create(ctx, &job), ctx.at).await?;
    tx.commit().await.map_err(db_err)?;
    Ok(job)
}

pub(crate) async fn reports(conn: &mut SqliteConnection, id: &str) -> Result<Vec<StoredJobReport>> {
    get(conn, id).await?;
    let rows = sqlx::query(
        "SELECT id, job_id, status, report_json, received_at FROM agent_job_reports \
         WHERE job_id = $1 ORDER BY id",
    )
    .bind(id)
    .fetch_all(&mut *conn)
    .await
    .map_err(db_err)?;
    rows.iter()
        .map(|r| {
            Ok(StoredJobReport {
                id: r.try_get("id").map_err(db_err)?,
                job_id: r.try_get("job_id").map_err(db_err)?,
                status: r.try_get("status").map_err(db_err)?,
                report_json: r.try_get("report_json").map_err(db_err)?,
                received_at: from_micros(r.try_get("received_at").map_err(db_err)?),
            })
        })
        .collect()
}

/// Whether the agent has an unfinished, unexpired job (delivered or not).
pub(crate) async fn any_pending(
    conn: &mut sqlx::SqliteConnection,
    agent: i64,
    now: jiff::Timestamp,
) -> Result<bool> {
    let row = sqlx::query(
        "SELECT 1 FROM agent_jobs WHERE agent_id = $1 AND finished_at IS NULL \
         AND expires_at > $2 LIMIT 1",
    )
    .bind(agent)
    .bind(to_micros(now))
    .fetch_optional(conn)
    .await
    .map_err(db_err)?;
    Ok(row.is_some())
}

pub(crate) async fn deliver(
    pool: &SqlitePool,
    agent: i64,
    now: jiff::Timestamp,
) -> Result<Vec<StoredJob>> {
    let mut tx = pool.begin_with("BEGIN IMMEDIATE").await.map_err(db_err)?;
    let now = to_micros(now);
    sqlx::query(
        "UPDATE agent_jobs SET delivered_at = $1 WHERE agent_id = $2 AND finished_at IS NULL \
         AND expires_at > $1 AND delivered_at IS NULL",
    )
    .bind(now)
    .bind(agent)
    .execute(&mut *tx)
    .await
    .map_err(db_err)?;
    let sql = format!(
        "SELECT {JOB_COLS} {JOB_FROM} WHERE j.agent_id = $1 AND j.finished_at IS NULL \
         AND j.expires_at > $2 ORDER BY j.issued_at, j.id"
    );
    let rows = sqlx::query(&sql)
        .bind(agent)
        .bind(now)
        .fetch_all(&mut *tx)
        .await
        .map_err(db_err)?;
    tx.commit().await.map_err(db_err)?;
    rows.iter().map(job_row).collect()
}

pub(crate) async fn record_reports(
    pool: &SqlitePool,
    ctx: &AuditCtx,
    agent: i64,
    items: &[NewJobReport],
) -> Result<ReportsRecorded> {
    let mut out = ReportsRecorded::default();
    if items.is_empty() {
        return Ok(out);
    }
    let mut tx = pool.begin_with("BEGIN IMMEDIATE").await.map_err(db_err)?;
    let at = to_micros(ctx.at);
    for r in items {
        let Some(before) = load(&mut tx, &r.job_id)
            .await?
            .filter(|j| j.agent_id == agent)
        else {
            out.unknown.push(r.job_id.clone());
            continue;
        };
        sqlx::query(
            "INSERT INTO agent_job_reports (job_id, status, report_json, received_at) \
             VALUES ($1, $2, $3, $4)",
        )
        .bind(&r.job_id)
        .bind(&r.status)
        .bind(&r.report_json)
        .bind(at)
        .execute(&mut *tx)
        .await
        .map_err(db_err)?;
        // A finished job keeps the outcome of its first final report.
        if before.finished_at.is_none() {
            sqlx::query("UPDATE agent_jobs SET status = $1, finished_at = $2 WHERE id = $3")
                .bind(&r.status)
                .bind(r.is_final().then_some(at))
                .bind(&r.job_id)
                .execute(&mut *tx)
                .await
                .map_err(db_err)?;
        }
        let after = get(&mut tx, &r.job_id).await?;
        audit::append(&mut tx, drafts::job_report(ctx, &before, &after), ctx.at).await?;
        out.stored.push(r.job_id.clone());
    }
    tx.commit().await.map_err(db_err)?;
    Ok(out)
}
