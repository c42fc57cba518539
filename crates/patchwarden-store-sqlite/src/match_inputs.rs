//! What a fleet re-match reads: every asset with its inventory as package ids, and the
//! package tuples behind the ids, without building each host's package strings.

use crate::error::db_err;
use patchwarden_domain::ids::AssetId;
use patchwarden_domain::package::InstalledPackage;
use patchwarden_store::inventory_sets::package_from_row;
use patchwarden_store::{AssetPackages, AssetPackagesColumns, Result};
use sqlx::{QueryBuilder, Sqlite, SqliteConnection};

pub(crate) async fn asset_packages(
    conn: &mut SqliteConnection,
    after: Option<AssetId>,
    limit: u32,
) -> Result<Vec<AssetPackages>> {
    let rows: Vec<AssetPackagesColumns> = sqlx::query_as(
        "SELECT a.id, a.os_family, a.os_distribution, a.os_release, a.os_arch, \
         a.package_format, s.package_ids FROM assets a \
         LEFT JOIN inventory_sets s ON s.hash = a.inventory_hash \
         WHERE a.id > $1 ORDER BY a.id LIMIT $2",
    )
    .bind(after.map_or(0, AssetId::get))
    .bind(i64::from(limit))
    .fetch_all(&mut *conn)
    .await
    .map_err(db_err)?;
    rows.into_iter().map(AssetPackages::from_columns).collect()
}

pub(crate) async fn packages_by_id(
    conn: &mut SqliteConnection,
    ids: &[i64],
) -> Result<Vec<(i64, InstalledPackage)>> {
    let mut out = Vec::with_capacity(ids.len());
    for chunk in ids.chunks(500) {
        let mut q = QueryBuilder::<Sqlite>::new(
            "SELECT id, name, arch, version, source_name, source_version FROM packages WHERE id IN ",
        );
        crate::sql::push_list(&mut q, chunk.iter().copied());
        let rows: Vec<(i64, String, String, String, String, String)> = crate::sql::build_as(&mut q)
            .fetch_all(&mut *conn)
            .await
            .map_err(db_err)?;
        out.extend(
            rows.into_iter()
                .map(|(id, n, a, v, sn, sv)| (id, package_from_row(n, a, v, sn, sv))),
        );
    }
    Ok(out)
}
