use super::extract::ApiQuery;
use crate::auth::{perm, Need};
use crate::error::ApiResult;
use crate::service::audit::{self, Verification};
use crate::state::AppState;
use axum::body::Body;
use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::Json;
use patchwarden_store::{AuditFilter, Store};
use serde::Deserialize;
use serde_json::{json, Value};
use std::sync::Arc;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    after: Option<i64>,
    limit: Option<u32>,
    action: Option<String>,
    target_type: Option<String>,
    target_id: Option<String>,
}

pub async fn list(
    State(state): State<AppState>,
    _: Need<perm::AuditRead>,
    ApiQuery(q): ApiQuery<ListQuery>,
) -> ApiResult<Json<Value>> {
    let limit = q.limit.unwrap_or(100).clamp(1, 1000);
    let events = state
        .store
        .list_audit(&AuditFilter {
            after: q.after,
            limit,
            action_prefix: q.action,
            target_type: q.target_type,
            target_id: q.target_id,
        })
        .await?;
    let next = (events.len() == limit as usize)
        .then(|| events.last().map(|e| e.seq))
        .flatten();
    Ok(Json(json!({ "events": events, "next_after": next })))
}

pub async fn verify(
    State(state): State<AppState>,
    _: Need<perm::AuditRead>,
) -> ApiResult<Json<Verification>> {
    Ok(Json(audit::verify(state.store.as_ref()).await?))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExportQuery {
    after: Option<i64>,
}

/// Streams JSON lines page by page, so a large log never sits in memory at once.
pub async fn export(
    State(state): State<AppState>,
    _: Need<perm::AuditRead>,
    ApiQuery(q): ApiQuery<ExportQuery>,
) -> ApiResult<Response> {
    let store: Arc<dyn Store> = state.store.clone();
    let (tx, rx) = tokio::sync::mpsc::channel::<Result<Vec<u8>, std::io::Error>>(4);
    tokio::spawn(async move {
        let mut after = q.after;
        loop {
            let page = match store
                .list_audit(&AuditFilter {
                    after,
                    limit: 1000,
                    ..AuditFilter::default()
                })
                .await
            {
                Ok(p) => p,
                Err(e) => {
                    tracing::error!(error = %e, "audit export failed");
                    let _ = tx.send(Err(std::io::Error::other("export failed"))).await;
                    return;
                }
            };
            let Some(last) = page.last() else { return };
            after = Some(last.seq.get());
            let mut buf = Vec::with_capacity(page.len() * 512);
            for ev in &page {
                if serde_json::to_writer(&mut buf, ev).is_err() {
                    return;
                }
                buf.push(b'\n');
            }
            if tx.send(Ok(buf)).await.is_err() {
                return;
            }
        }
    });
    let stream = futures::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|item| (item, rx))
    });
    Ok((
        [(header::CONTENT_TYPE, "application/x-ndjson")],
        Body::from_stream(stream),
    )
        .into_response())
}
