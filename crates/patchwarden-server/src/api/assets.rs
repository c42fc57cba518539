use super::extract::{ApiJson, ApiQuery, IdPath};
use crate::auth::{perm, Need};
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;
use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use patchwarden_domain::asset::{
    clean_text, AssetKind, Criticality, Environment, Hostname, Label, OsFamily, OsInfo,
};
use patchwarden_domain::ids::AssetId;
use patchwarden_domain::package::{InstalledPackage, PackageFormat};
use patchwarden_domain::ValidationError;
use patchwarden_store::{Asset, AssetFilter, AssetPatch, InventoryChange, NewAsset};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

/// Most packages one inventory may list.
pub const MAX_PACKAGES: usize = 100_000;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    after: Option<AssetId>,
    limit: Option<u32>,
    environment: Option<Environment>,
    criticality: Option<Criticality>,
    group: Option<Label>,
    hostname: Option<String>,
}

pub async fn list(
    State(state): State<AppState>,
    _: Need<perm::AssetRead>,
    ApiQuery(q): ApiQuery<ListQuery>,
) -> ApiResult<Json<Value>> {
    let limit = q.limit.unwrap_or(100).clamp(1, 1000);
    let assets = state
        .store
        .list_assets(&AssetFilter {
            after: q.after,
            limit,
            environment: q.environment,
            criticality: q.criticality,
            group: q.group,
            hostname_contains: q.hostname.map(|h| h.to_ascii_lowercase()),
        })
        .await?;
    let next = (assets.len() == limit as usize)
        .then(|| assets.last().map(|a| a.id))
        .flatten();
    Ok(Json(json!({ "assets": assets, "next_after": next })))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AssetInput {
    hostname: Hostname,
    #[serde(default = "default_kind")]
    kind: AssetKind,
    #[serde(default = "default_family")]
    os_family: OsFamily,
    #[serde(default)]
    distribution: String,
    #[serde(default)]
    release: String,
    #[serde(default)]
    arch: String,
    environment: Environment,
    #[serde(default = "default_criticality")]
    criticality: Criticality,
    owner: Option<String>,
    #[serde(default)]
    groups: Vec<Label>,
    #[serde(default)]
    protected_data: bool,
}

fn default_kind() -> AssetKind {
    AssetKind::Server
}
fn default_family() -> OsFamily {
    OsFamily::Other
}
fn default_criticality() -> Criticality {
    Criticality::Standard
}

fn os(
    family: OsFamily,
    distribution: &str,
    release: &str,
    arch: &str,
) -> Result<OsInfo, ValidationError> {
    Ok(OsInfo {
        family,
        distribution: clean_text("distribution", distribution, 64)?.to_ascii_lowercase(),
        release: clean_text("release", release, 64)?,
        arch: clean_text("arch", arch, 32)?,
    })
}

fn groups(mut g: Vec<Label>) -> Result<Vec<Label>, ValidationError> {
    if g.len() > 64 {
        return Err(ValidationError::new(
            "groups",
            "at most 64 groups per asset",
        ));
    }
    g.sort();
    g.dedup();
    Ok(g)
}

fn owner(o: Option<String>) -> Result<Option<String>, ValidationError> {
    o.map(|o| clean_text("owner", &o, 200))
        .transpose()
        .map(|o| o.filter(|o| !o.is_empty()))
}

pub async fn create(
    State(state): State<AppState>,
    Need(caller, ..): Need<perm::AssetWrite>,
    ApiJson(a): ApiJson<AssetInput>,
) -> ApiResult<(StatusCode, Json<Asset>)> {
    let new = NewAsset {
        hostname: a.hostname,
        kind: a.kind,
        os: os(a.os_family, &a.distribution, &a.release, &a.arch)?,
        environment: a.environment,
        criticality: a.criticality,
        owner: owner(a.owner)?,
        groups: groups(a.groups)?,
        protected_data: a.protected_data,
    };
    let asset = state.store.create_asset(&caller.ctx(&state), &new).await?;
    Ok((StatusCode::CREATED, Json(asset)))
}

pub async fn get_one(
    State(state): State<AppState>,
    _: Need<perm::AssetRead>,
    IdPath(id): IdPath<AssetId>,
) -> ApiResult<Json<Asset>> {
    Ok(Json(state.store.get_asset(id).await?))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AssetPatchInput {
    hostname: Option<Hostname>,
    kind: Option<AssetKind>,
    os_family: Option<OsFamily>,
    distribution: Option<String>,
    release: Option<String>,
    arch: Option<String>,
    environment: Option<Environment>,
    criticality: Option<Criticality>,
    /// Empty string clears it.
    owner: Option<String>,
    groups: Option<Vec<Label>>,
    protected_data: Option<bool>,
}

pub async fn update(
    State(state): State<AppState>,
    Need(caller, ..): Need<perm::AssetWrite>,
    IdPath(id): IdPath<AssetId>,
    ApiJson(p): ApiJson<AssetPatchInput>,
) -> ApiResult<Json<Asset>> {
    let current = state.store.get_asset(id).await?;
    let os_changed = p.os_family.is_some()
        || p.distribution.is_some()
        || p.release.is_some()
        || p.arch.is_some();
    let new_os = if os_changed {
        Some(os(
            p.os_family.unwrap_or(current.os.family),
            p.distribution
                .as_deref()
                .unwrap_or(&current.os.distribution),
            p.release.as_deref().unwrap_or(&current.os.release),
            p.arch.as_deref().unwrap_or(&current.os.arch),
        )?)
    } else {
        None
    };
    let patch = AssetPatch {
        hostname: p.hostname,
        kind: p.kind,
        os: new_os,
        environment: p.environment,
        criticality: p.criticality,
        owner: p.owner.map(|o| owner(Some(o))).transpose()?,
        groups: p.groups.map(groups).transpose()?,
        protected_data: p.protected_data,
    };
    Ok(Json(
        state
            .store
            .update_asset(&caller.ctx(&state), id, &patch)
            .await?,
    ))
}

pub async fn remove(
    State(state): State<AppState>,
    Need(caller, ..): Need<perm::AssetWrite>,
    IdPath(id): IdPath<AssetId>,
) -> ApiResult<StatusCode> {
    state.store.delete_asset(&caller.ctx(&state), id).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Inventory {
    format: PackageFormat,
    packages: Vec<InstalledPackage>,
}

pub async fn packages(
    State(state): State<AppState>,
    _: Need<perm::AssetRead>,
    IdPath(id): IdPath<AssetId>,
) -> ApiResult<Json<Value>> {
    let asset = state.store.get_asset(id).await?;
    let packages = state.store.get_inventory(id).await?;
    Ok(Json(json!({
        "format": asset.package_format,
        "inventory_hash": asset.inventory_hash,
        "packages": packages,
    })))
}

pub async fn replace_packages(
    State(state): State<AppState>,
    Need(caller, ..): Need<perm::AssetWrite>,
    IdPath(id): IdPath<AssetId>,
    ApiJson(inv): ApiJson<Inventory>,
) -> ApiResult<Json<InventoryReply>> {
    if inv.packages.len() > MAX_PACKAGES {
        return Err(ValidationError::new(
            "packages",
            format!("at most {MAX_PACKAGES} packages per inventory"),
        )
        .into());
    }
    for (i, p) in inv.packages.iter().enumerate() {
        p.validate().map_err(|e| {
            ApiError::from(ValidationError::new(
                e.field,
                format!("package #{i}: {}", e.reason),
            ))
        })?;
    }
    let ctx = caller.ctx(&state);
    let change = state
        .store
        .replace_inventory(&ctx, id, inv.format, &inv.packages)
        .await?;
    // Only this asset is re-matched, and only when its inventory changed.
    let findings = if change.is_unchanged() {
        None
    } else {
        Some(crate::service::matching::rematch_asset(&state, &ctx, id).await?)
    };
    Ok(Json(InventoryReply { change, findings }))
}

#[derive(Debug, Serialize)]
pub struct InventoryReply {
    #[serde(flatten)]
    change: InventoryChange,
    /// What re-matching the asset did (absent when the inventory was unchanged).
    findings: Option<patchwarden_store::FindingsChange>,
}
