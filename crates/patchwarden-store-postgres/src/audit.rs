//! Appending to and reading the audit chain.

use crate::error::db_err;
use patchwarden_domain::audit::{Actor, ActorKind, AuditDraft, AuditEvent, Origin};
use patchwarden_domain::clock::{from_micros, to_micros};
use patchwarden_domain::ids::AuditSeq;
use patchwarden_store::{AuditFilter, Result, StoreError};
use sqlx::postgres::PgRow;
use sqlx::{PgConnection, PgPool, Postgres, QueryBuilder, Row};

/// Seals `draft` as the next event and stores it with the new head. Must run inside
/// the mutation's transaction: the head row stays locked (`FOR UPDATE`) until commit,
/// which serialises appends across connections and server replicas.
pub(crate) async fn append(
    conn: &mut PgConnection,
    draft: AuditDraft,
    at: jiff::Timestamp,
) -> Result<AuditEvent> {
    let (seq, prev): (i64, String) =
        sqlx::query_as("SELECT seq, hash FROM audit_head WHERE id = 1 FOR UPDATE")
            .fetch_one(&mut *conn)
            .await
            .map_err(db_err)?;
    let ev = AuditEvent::seal(draft, AuditSeq::new(seq + 1), at, &prev);
    sqlx::query(
        "INSERT INTO audit_events (seq, at, actor_kind, actor_id, actor_name, action, \
         target_type, target_id, before_json, after_json, source_ip, request_id, prev_hash, hash) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)",
    )
    .bind(ev.seq.get())
    .bind(to_micros(ev.at))
    .bind(ev.actor.kind.as_str())
    .bind(ev.actor.id)
    .bind(&ev.actor.name)
    .bind(&ev.action)
    .bind(&ev.target_type)
    .bind(&ev.target_id)
    .bind(&ev.before)
    .bind(&ev.after)
    .bind(&ev.origin.source_ip)
    .bind(&ev.origin.request_id)
    .bind(&ev.prev_hash)
    .bind(&ev.hash)
    .execute(&mut *conn)
    .await
    .map_err(db_err)?;
    sqlx::query("UPDATE audit_head SET seq = $1, hash = $2 WHERE id = 1")
        .bind(ev.seq.get())
        .bind(&ev.hash)
        .execute(&mut *conn)
        .await
        .map_err(db_err)?;
    Ok(ev)
}

/// Seals `drafts` as the next events, in order, each at its instant, and stores them
/// with the new head in multi-row statements: what a fleet re-match appends (an event
/// per asset whose findings changed). Same rules as [`append`].
pub(crate) async fn append_many(
    conn: &mut PgConnection,
    drafts: Vec<(AuditDraft, jiff::Timestamp)>,
) -> Result<()> {
    if drafts.is_empty() {
        return Ok(());
    }
    let (mut seq, mut prev): (i64, String) =
        sqlx::query_as("SELECT seq, hash FROM audit_head WHERE id = 1 FOR UPDATE")
            .fetch_one(&mut *conn)
            .await
            .map_err(db_err)?;
    let mut events = Vec::with_capacity(drafts.len());
    for (draft, at) in drafts {
        seq += 1;
        let ev = AuditEvent::seal(draft, AuditSeq::new(seq), at, &prev);
        prev.clone_from(&ev.hash);
        events.push(ev);
    }
    // 14 binds a row: 500 rows stay under PostgreSQL's 65,535.
    for chunk in events.chunks(500) {
        let mut q = QueryBuilder::<Postgres>::new(
            "INSERT INTO audit_events (seq, at, actor_kind, actor_id, actor_name, action, \
             target_type, target_id, before_json, after_json, source_ip, request_id, \
             prev_hash, hash) ",
        );
        q.push_values(chunk, |mut b, ev| {
            b.push_bind(ev.seq.get())
                .push_bind(to_micros(ev.at))
                .push_bind(ev.actor.kind.as_str())
                .push_bind(ev.actor.id)
                .push_bind(&ev.actor.name)
                .push_bind(&ev.action)
                .push_bind(&ev.target_type)
                .push_bind(&ev.target_id)
                .push_bind(&ev.before)
                .push_bind(&ev.after)
                .push_bind(&ev.origin.source_ip)
                .push_bind(&ev.origin.request_id)
                .push_bind(&ev.prev_hash)
                .push_bind(&ev.hash);
        });
        q.build().execute(&mut *conn).await.map_err(db_err)?;
    }
    sqlx::query("UPDATE audit_head SET seq = $1, hash = $2 WHERE id = 1")
        .bind(seq)
        .bind(&prev)
        .execute(&mut *conn)
        .await
        .map_err(db_err)?;
    Ok(())
}

/// Appends a stand-alone event in its own transaction.
pub(crate) async fn append_alone(
    pool: &PgPool,
    draft: AuditDraft,
    at: jiff::Timestamp,
) -> Result<AuditEvent> {
    let mut tx = pool.begin().await.map_err(db_err)?;
    let ev = append(&mut tx, draft, at).await?;
    tx.commit().await.map_err(db_err)?;
    Ok(ev)
}

fn event_from_row(row: &PgRow) -> Result<AuditEvent> {
    let kind: String = row.try_get("actor_kind").map_err(db_err)?;
    Ok(AuditEvent {
        seq: AuditSeq::new(row.try_get("seq").map_err(db_err)?),
        at: from_micros(row.try_get("at").map_err(db_err)?),
        actor: Actor {
            kind: ActorKind::parse(&kind)
                .ok_or_else(|| StoreError::corrupt(format!("unknown actor kind {kind:?}")))?,
            id: row.try_get("actor_id").map_err(db_err)?,
            name: row.try_get("actor_name").map_err(db_err)?,
        },
        action: row.try_get("action").map_err(db_err)?,
        target_type: row.try_get("target_type").map_err(db_err)?,
        target_id: row.try_get("target_id").map_err(db_err)?,
        before: row.try_get("before_json").map_err(db_err)?,
        after: row.try_get("after_json").map_err(db_err)?,
        origin: Origin {
            source_ip: row.try_get("source_ip").map_err(db_err)?,
            request_id: row.try_get("request_id").map_err(db_err)?,
        },
        prev_hash: row.try_get("prev_hash").map_err(db_err)?,
        hash: row.try_get("hash").map_err(db_err)?,
    })
}

pub(crate) async fn list(conn: &mut PgConnection, f: &AuditFilter) -> Result<Vec<AuditEvent>> {
    let mut q = QueryBuilder::<Postgres>::new("SELECT * FROM audit_events WHERE seq > ");
    q.push_bind(f.after.unwrap_or(0));
    if let Some(p) = &f.action_prefix {
        q.push(" AND substr(action, 1, length(")
            .push_bind(p.clone())
            .push(")) = ")
            .push_bind(p.clone());
    }
    if let Some(t) = &f.target_type {
        q.push(" AND target_type = ").push_bind(t.clone());
    }
    if let Some(t) = &f.target_id {
        q.push(" AND target_id = ").push_bind(t.clone());
    }
    q.push(" ORDER BY seq LIMIT ").push_bind(i64::from(f.limit));
    let rows = q.build().fetch_all(&mut *conn).await.map_err(db_err)?;
    rows.iter().map(event_from_row).collect()
}

pub(crate) async fn head(conn: &mut PgConnection) -> Result<Option<(i64, String)>> {
    let (seq, hash): (i64, String) =
        sqlx::query_as("SELECT seq, hash FROM audit_head WHERE id = 1")
            .fetch_one(&mut *conn)
            .await
            .map_err(db_err)?;
    Ok((seq > 0).then_some((seq, hash)))
}
