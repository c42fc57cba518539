use super::extract::{ApiQuery, IdPath};
use crate::auth::{perm, Need};
use crate::error::{ApiError, ApiResult};
use crate::service::matching::{self, ImportSummary};
use crate::state::AppState;
use axum::body::Bytes;
use axum::extract::State;
use axum::Json;
use patchwarden_domain::ids::AssetId;
use patchwarden_domain::level::Level;
use patchwarden_store::{AdvisoryFilter, FindingFilter, StoredAdvisory};
use serde::Deserialize;
use serde_json::{json, Value};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FindingQuery {
    asset: Option<AssetId>,
    level: Option<Level>,
    advisory: Option<String>,
    cve: Option<String>,
    #[serde(default)]
    include_closed: bool,
    /// Also findings a VEX not-affected statement suppresses, each with its reason.
    #[serde(default)]
    include_suppressed: bool,
    after: Option<i64>,
    limit: Option<u32>,
}

pub async fn findings(
    State(state): State<AppState>,
    _: Need<perm::FindingRead>,
    ApiQuery(q): ApiQuery<FindingQuery>,
) -> ApiResult<Json<Value>> {
    let limit = q.limit.unwrap_or(100).clamp(1, 1000);
    let items = state
        .store
        .list_findings(&FindingFilter {
            asset: q.asset,
            include_closed: q.include_closed,
            include_suppressed: q.include_suppressed,
            level: q.level,
            advisory: q.advisory,
            cve: q.cve,
            after: q.after,
            limit,
        })
        .await?;
    let next = (items.len() == limit as usize)
        .then(|| items.last().map(|f| f.id))
        .flatten();
    Ok(Json(json!({ "findings": items, "next_after": next })))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AdvisoryQuery {
    after: Option<String>,
    limit: Option<u32>,
    source: Option<String>,
    cve: Option<String>,
}

pub async fn advisories(
    State(state): State<AppState>,
    _: Need<perm::FindingRead>,
    ApiQuery(q): ApiQuery<AdvisoryQuery>,
) -> ApiResult<Json<Value>> {
    let limit = q.limit.unwrap_or(100).clamp(1, 1000);
    let items = state
        .store
        .list_advisories(&AdvisoryFilter {
            after: q.after,
            limit,
            source: q.source,
            cve: q.cve,
        })
        .await?;
    let next = (items.len() == limit as usize)
        .then(|| items.last().map(|a| a.advisory.id.clone()))
        .flatten();
    Ok(Json(json!({ "advisories": items, "next_after": next })))
}

pub async fn advisory(
    State(state): State<AppState>,
    _: Need<perm::FindingRead>,
    IdPath(id): IdPath<String>,
) -> ApiResult<Json<StoredAdvisory>> {
    Ok(Json(state.store.get_advisory(&id).await?))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ImportQuery {
    /// File name used in reports of rejected records (and, for `.zip`, to read it as
    /// an archive).
    name: Option<String>,
}

/// One feed file in the request body (OSV, CSAF, tracker, KEV, EPSS, CVE 5, NVD, or a
/// zip of OSV files); larger feeds go through `patchwarden advisories import`.
pub async fn import(
    State(state): State<AppState>,
    Need(caller, ..): Need<perm::AdvisoryManage>,
    ApiQuery(q): ApiQuery<ImportQuery>,
    body: Bytes,
) -> ApiResult<Json<ImportSummary>> {
    if body.is_empty() {
        return Err(ApiError::bad_request(
            "invalid_body",
            "the request body is empty",
        ));
    }
    let name = q.name.unwrap_or_else(|| "upload".into());
    let bytes = body.to_vec();
    let parse_name = name.clone();
    let imported = tokio::task::spawn_blocking(move || {
        if parse_name.ends_with(".zip") {
            patchwarden_advisory::import_zip(&parse_name, &bytes)
        } else {
            patchwarden_advisory::import_bytes(&parse_name, &bytes)
        }
    })
    .await
    .map_err(ApiError::internal)?;
    Ok(Json(
        matching::store_import(&state, &caller.ctx(&state), imported).await?,
    ))
}
