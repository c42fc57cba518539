//! Scanner reports: upload one (Nessus `.nessus`, OpenVAS/Greenbone XML, or their CSV
//! exports) and read the per-asset results.

use super::extract::ApiQuery;
use crate::auth::{perm, Need};
use crate::error::{ApiError, ApiResult};
use crate::service::scans::{self, ScanImportSummary};
use crate::state::AppState;
use axum::body::Bytes;
use axum::extract::State;
use axum::Json;
use patchwarden_domain::ids::AssetId;
use patchwarden_store::{ScanFindingFilter, ScanSeverity, ScanVerdict};
use serde::Deserialize;
use serde_json::{json, Value};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ImportQuery {
    /// File name, recorded with the import.
    name: Option<String>,
}

/// One scanner report in the request body.
pub async fn import(
    State(state): State<AppState>,
    Need(caller, ..): Need<perm::AdvisoryManage>,
    ApiQuery(q): ApiQuery<ImportQuery>,
    body: Bytes,
) -> ApiResult<Json<ScanImportSummary>> {
    if body.is_empty() {
        return Err(ApiError::bad_request(
            "invalid_body",
            "the request body is empty; send the report file",
        ));
    }
    let name = q
        .name
        .filter(|n| !n.trim().is_empty())
        .unwrap_or_else(|| "upload".into());
    let ctx = caller.ctx(&state);
    Ok(Json(
        scans::import_bytes(&state, &ctx, &name, body.to_vec()).await?,
    ))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FindingQuery {
    asset: Option<AssetId>,
    verdict: Option<ScanVerdict>,
    severity: Option<ScanSeverity>,
    import: Option<i64>,
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
        .list_scan_findings(&ScanFindingFilter {
            asset: q.asset,
            verdict: q.verdict,
            severity: q.severity,
            scan_import: q.import,
            after: q.after,
            limit,
        })
        .await?;
    let next = (items.len() == limit as usize)
        .then(|| items.last().map(|f| f.id))
        .flatten();
    Ok(Json(json!({ "findings": items, "next_after": next })))
}
