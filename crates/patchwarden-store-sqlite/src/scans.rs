//! Scanner imports: one transaction records the import, replaces each asset's finding
//! records from the same scanner and remembers the hosts' addresses.

use crate::audit;
use crate::error::db_err;
use crate::rows::{self, ASSET_COLS};
use patchwarden_domain::clock::{from_micros, to_micros};
use patchwarden_domain::ids::AssetId;
use patchwarden_store::audit_drafts as drafts;
use patchwarden_store::{
    Asset, AssetAddress, AuditCtx, NewScanFinding, NewScanImport, Result, ScanFindingFilter,
    ScanImport, StoreError, StoredScanFinding, VerdictCounts,
};
use sqlx::sqlite::SqliteRow;
use sqlx::{QueryBuilder, Row, Sqlite, SqliteConnection, SqlitePool};

/// Rows per multi-row insert (15 binds each).
const ROWS: usize = 500;

const IMPORT_COLS: &str = "id, scanner, format, file_name, report_name, started_at, \
    finished_at, imported_at, hosts, findings, rejected, confirmed, contradicted, unverified, \
    superseded";

const FINDING_COLS: &str = "f.id, f.asset_id, f.scan_import_id, f.scanner, f.plugin_id, \
    f.name, f.severity, f.cvss, f.cves, f.port, f.protocol, f.package, f.installed, f.fixed, \
    f.verdict, f.evidence, i.imported_at";

fn count(row: &SqliteRow, col: &str) -> Result<u32> {
    let n: i64 = row.try_get(col).map_err(db_err)?;
    u32::try_from(n).map_err(StoreError::corrupt)
}

fn opt_time(row: &SqliteRow, col: &str) -> Result<Option<jiff::Timestamp>> {
    Ok(row
        .try_get::<Option<i64>, _>(col)
        .map_err(db_err)?
        .map(from_micros))
}

fn import_from_row(row: &SqliteRow) -> Result<ScanImport> {
    let get_s = |c: &str| -> Result<String> { row.try_get(c).map_err(db_err) };
    Ok(ScanImport {
        id: row.try_get("id").map_err(db_err)?,
        scanner: get_s("scanner")?,
        format: get_s("format")?,
        file_name: get_s("file_name")?,
        report_name: get_s("report_name")?,
        started_at: opt_time(row, "started_at")?,
        finished_at: opt_time(row, "finished_at")?,
        imported_at: from_micros(row.try_get("imported_at").map_err(db_err)?),
        hosts: count(row, "hosts")?,
        findings: count(row, "findings")?,
        rejected: count(row, "rejected")?,
        verdicts: VerdictCounts {
            confirmed: count(row, "confirmed")?,
            contradicted: count(row, "contradicted")?,
            unverified: count(row, "unverified")?,
        },
        superseded: count(row, "superseded")?,
    })
}

fn finding_from_row(row: &SqliteRow) -> Result<StoredScanFinding> {
    let get_s = |c: &str| -> Result<String> { row.try_get(c).map_err(db_err) };
    let get_o = |c: &str| -> Result<Option<String>> { row.try_get(c).map_err(db_err) };
    let port: Option<i64> = row.try_get("port").map_err(db_err)?;
    let cvss: Option<f64> = row.try_get("cvss").map_err(db_err)?;
    Ok(StoredScanFinding {
        id: row.try_get("id").map_err(db_err)?,
        asset_id: AssetId::new(row.try_get("asset_id").map_err(db_err)?),
        scan_import_id: row.try_get("scan_import_id").map_err(db_err)?,
        scanner: get_s("scanner")?,
        finding: NewScanFinding {
            plugin_id: get_s("plugin_id")?,
            name: get_s("name")?,
            severity: get_s("severity")?.parse().map_err(corrupt("severity"))?,
            // Stored from an f32, so the narrowing is exact.
            #[allow(clippy::cast_possible_truncation)]
            cvss: cvss.map(|c| c as f32),
            cves: get_s("cves")?
                .split(',')
                .filter(|c| !c.is_empty())
                .map(str::to_owned)
                .collect(),
            port: port
                .map(u16::try_from)
                .transpose()
                .map_err(StoreError::corrupt)?,
            protocol: get_o("protocol")?,
            package: get_o("package")?,
            installed: get_o("installed")?,
            fixed: get_o("fixed")?,
            verdict: get_s("verdict")?.parse().map_err(corrupt("verdict"))?,
            evidence: get_s("evidence")?,
        },
        imported_at: from_micros(row.try_get("imported_at").map_err(db_err)?),
    })
}

fn corrupt(col: &'static str) -> impl Fn(String) -> StoreError {
    move |e| StoreError::corrupt(format!("column {col}: {e}"))
}

fn n(v: u32) -> i64 {
    i64::from(v)
}

pub(crate) async fn record(
    pool: &SqlitePool,
    ctx: &AuditCtx,
    new: &NewScanImport,
) -> Result<ScanImport> {
    new.validate()?;
    let (hosts, findings, verdicts) = new.counts();
    let at = to_micros(ctx.at);
    let mut tx = pool.begin_with("BEGIN IMMEDIATE").await.map_err(db_err)?;
    let mut superseded: u64 = 0;
    let mut ids: Vec<AssetId> = new.hosts.iter().map(|h| h.asset_id).collect();
    ids.sort_unstable();
    for asset in ids {
        sqlx::query("SELECT 1 FROM assets WHERE id = $1")
            .bind(asset.get())
            .fetch_optional(&mut *tx)
            .await
            .map_err(db_err)?
            .ok_or(StoreError::NotFound { entity: "asset" })?;
        superseded += sqlx::query("DELETE FROM scan_findings WHERE asset_id = $1 AND scanner = $2")
            .bind(asset.get())
            .bind(&new.scanner)
            .execute(&mut *tx)
            .await
            .map_err(db_err)?
            .rows_affected();
    }
    let superseded = u32::try_from(superseded).map_err(StoreError::corrupt)?;
    let (id,): (i64,) = sqlx::query_as(
        "INSERT INTO scan_imports (scanner, format, file_name, report_name, started_at, \
         finished_at, imported_at, hosts, findings, rejected, confirmed, contradicted, \
         unverified, superseded) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14) RETURNING id",
    )
    .bind(&new.scanner)
    .bind(&new.format)
    .bind(&new.file_name)
    .bind(&new.report_name)
    .bind(new.started_at.map(to_micros))
    .bind(new.finished_at.map(to_micros))
    .bind(at)
    .bind(n(hosts))
    .bind(n(findings))
    .bind(n(new.rejected))
    .bind(n(verdicts.confirmed))
    .bind(n(verdicts.contradicted))
    .bind(n(verdicts.unverified))
    .bind(n(superseded))
    .fetch_one(&mut *tx)
    .await
    .map_err(db_err)?;
    let rows: Vec<(AssetId, &NewScanFinding)> = new
        .hosts
        .iter()
        .flat_map(|h| h.findings.iter().map(move |f| (h.asset_id, f)))
        .collect();
    for chunk in rows.chunks(ROWS) {
        let mut q = QueryBuilder::<Sqlite>::new(
            "INSERT INTO scan_findings (asset_id, scan_import_id, scanner, plugin_id, name, \
             severity, cvss, cves, port, protocol, package, installed, fixed, verdict, \
             evidence) ",
        );
        q.push_values(chunk, |mut b, (asset, f)| {
            b.push_bind(asset.get())
                .push_bind(id)
                .push_bind(new.scanner.as_str())
                .push_bind(f.plugin_id.as_str())
                .push_bind(f.name.as_str())
                .push_bind(f.severity.as_str())
                .push_bind(f.cvss.map(f64::from))
                .push_bind(f.cves.join(","))
                .push_bind(f.port.map(i64::from))
                .push_bind(f.protocol.as_deref())
                .push_bind(f.package.as_deref())
                .push_bind(f.installed.as_deref())
                .push_bind(f.fixed.as_deref())
                .push_bind(f.verdict.as_str())
                .push_bind(f.evidence.as_str());
        });
        crate::sql::build(&mut q)
            .execute(&mut *tx)
            .await
            .map_err(db_err)?;
    }
    let source = format!("scan:{}", new.scanner);
    for h in &new.hosts {
        let Some(ip) = h.ip.as_deref() else { continue };
        sqlx::query(
            "INSERT INTO asset_addresses (asset_id, ip, source, first_seen_at, last_seen_at) \
             VALUES ($1, $2, $3, $4, $4) ON CONFLICT (asset_id, ip) DO UPDATE \
             SET source = excluded.source, last_seen_at = excluded.last_seen_at",
        )
        .bind(h.asset_id.get())
        .bind(ip)
        .bind(&source)
        .bind(at)
        .execute(&mut *tx)
        .await
        .map_err(db_err)?;
    }
    let sql = format!("SELECT {IMPORT_COLS} FROM scan_imports WHERE id = $1");
    let row = sqlx::query(&sql)
        .bind(id)
        .fetch_one(&mut *tx)
        .await
        .map_err(db_err)?;
    let import = import_from_row(&row)?;
    let assets: Vec<AssetId> = new.hosts.iter().map(|h| h.asset_id).collect();
    audit::append(&mut tx, drafts::scan_import(ctx, &import, &assets), ctx.at).await?;
    tx.commit().await.map_err(db_err)?;
    Ok(import)
}

pub(crate) async fn list_imports(
    conn: &mut SqliteConnection,
    after: Option<i64>,
    limit: u32,
) -> Result<Vec<ScanImport>> {
    let sql = format!("SELECT {IMPORT_COLS} FROM scan_imports WHERE id > $1 ORDER BY id LIMIT $2");
    let rows = sqlx::query(&sql)
        .bind(after.unwrap_or(0))
        .bind(i64::from(limit))
        .fetch_all(&mut *conn)
        .await
        .map_err(db_err)?;
    rows.iter().map(import_from_row).collect()
}

pub(crate) async fn list_findings(
    conn: &mut SqliteConnection,
    f: &ScanFindingFilter,
) -> Result<Vec<StoredScanFinding>> {
    let mut q = QueryBuilder::<Sqlite>::new(format!(
        "SELECT {FINDING_COLS} FROM scan_findings f \
         JOIN scan_imports i ON i.id = f.scan_import_id WHERE f.id > "
    ));
    q.push_bind(f.after.unwrap_or(0));
    if let Some(a) = f.asset {
        q.push(" AND f.asset_id = ").push_bind(a.get());
    }
    if let Some(v) = f.verdict {
        q.push(" AND f.verdict = ").push_bind(v.as_str());
    }
    if let Some(s) = f.severity {
        q.push(" AND f.severity = ").push_bind(s.as_str());
    }
    if let Some(i) = f.scan_import {
        q.push(" AND f.scan_import_id = ").push_bind(i);
    }
    q.push(" ORDER BY f.id LIMIT ")
        .push_bind(i64::from(f.limit));
    let rows = crate::sql::build(&mut q)
        .fetch_all(&mut *conn)
        .await
        .map_err(db_err)?;
    rows.iter().map(finding_from_row).collect()
}

pub(crate) async fn find_by_ip(conn: &mut SqliteConnection, ip: &str) -> Result<Vec<Asset>> {
    let sql = format!(
        "SELECT {ASSET_COLS} FROM asset_addresses d JOIN assets a ON a.id = d.asset_id \
         WHERE d.ip = $1 ORDER BY d.last_seen_at DESC, a.id"
    );
    let rows = sqlx::query(&sql)
        .bind(ip)
        .fetch_all(&mut *conn)
        .await
        .map_err(db_err)?;
    rows.iter().map(rows::asset).collect()
}

pub(crate) async fn addresses(
    conn: &mut SqliteConnection,
    id: AssetId,
) -> Result<Vec<AssetAddress>> {
    let rows: Vec<(String, String, i64, i64)> = sqlx::query_as(
        "SELECT ip, source, first_seen_at, last_seen_at FROM asset_addresses \
         WHERE asset_id = $1 ORDER BY ip",
    )
    .bind(id.get())
    .fetch_all(&mut *conn)
    .await
    .map_err(db_err)?;
    Ok(rows
        .into_iter()
        .map(|(ip, source, first, last)| AssetAddress {
            asset_id: id,
            ip,
            source,
            first_seen_at: from_micros(first),
            last_seen_at: from_micros(last),
        })
        .collect())
}
