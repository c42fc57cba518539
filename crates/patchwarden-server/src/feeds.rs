//! `patchwarden advisories import`: feed files into the database, with progress.

use crate::service::matching::store_import;
use crate::state::AppState;
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

/// Parses each path in turn (printing progress on standard error), stores everything,
/// re-matches, and prints the summary. Exit 0 even when some records were rejected:
/// they are listed; the rest is imported.
pub async fn import_cli(
    state: AppState,
    paths: &[PathBuf],
    json: bool,
    progress: bool,
) -> anyhow::Result<ExitCode> {
    use std::io::IsTerminal;
    let started = Instant::now();
    let bar = progress || std::io::stderr().is_terminal();
    let list = paths.to_vec();
    let total =
        tokio::task::spawn_blocking(move || patchwarden_advisory::count_files(&list)).await?;
    let mut done = 0usize;
    let mut all = patchwarden_advisory::ImportResult::default();
    for (n, path) in paths.iter().enumerate() {
        eprintln!("[{}/{}] reading {} ...", n + 1, paths.len(), path.display());
        let p = path.clone();
        let (r, d) = tokio::task::spawn_blocking(move || {
            let mut last = Instant::now();
            let mut done = done;
            let r = patchwarden_advisory::import_paths_with(std::slice::from_ref(&p), &mut |_| {
                done += 1;
                if bar && (last.elapsed().as_millis() >= 100 || done == total) {
                    last = Instant::now();
                    draw_bar(done, total);
                }
            });
            (r, done)
        })
        .await?;
        let r = r?;
        done = d;
        if bar {
            draw_bar(done, total);
            eprintln!();
        }
        eprintln!(
            "      {} files, {} advisories, {} CVE enrichments, {} rejected",
            r.files_read,
            r.advisories.len(),
            r.enrichment.len(),
            r.rejected.len()
        );
        all.extend(r);
    }
    all.merge_enrichment();
    eprintln!("storing and matching ...");
    let ctx = crate::cli::cli_ctx(&state);
    let summary = store_import(&state, &ctx, all)
        .await
        .map_err(|e| anyhow::anyhow!(e.message))?;
    state.store.close().await;
    if json {
        println!("{}", serde_json::to_string_pretty(&summary)?);
        return Ok(ExitCode::SUCCESS);
    }
    let a = &summary.advisories;
    println!(
        "advisories: {} new, {} updated, {} unchanged ({} files read in {:.1} s)",
        a.inserted,
        a.updated,
        a.unchanged,
        summary.files_read,
        started.elapsed().as_secs_f64()
    );
    println!(
        "CVE enrichment: {} changed, {} open findings re-levelled",
        summary.enrichment_changed, summary.findings_relevelled
    );
    println!(
        "re-matched {} assets: {} findings opened, {} closed, {} still open",
        summary.assets_rematched,
        summary.findings.opened,
        summary.findings.closed,
        summary.findings.kept
    );
    if summary.findings.suppressed > 0 || summary.findings.unsuppressed > 0 {
        println!(
            "  of those, {} now suppressed by a not-affected (VEX) statement, {} no longer",
            summary.findings.suppressed, summary.findings.unsuppressed
        );
    }
    if !summary.rejected.is_empty() {
        println!("{} malformed records were skipped:", summary.rejected.len());
        for r in summary.rejected.iter().take(20) {
            println!(
                "  {} {}: {}",
                r.file,
                r.record.as_deref().unwrap_or("-"),
                r.reason
            );
        }
        if summary.rejected.len() > 20 {
            println!(
                "  ... and {} more (use --json for all)",
                summary.rejected.len() - 20
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// `patchwarden advisories sync`: the configured feeds, now.
pub async fn sync_cli(state: AppState, json: bool) -> anyhow::Result<ExitCode> {
    let sources = state.config.feeds.sources.clone();
    if sources.is_empty() {
        anyhow::bail!(
            "no feeds configured: add [[feeds.sources]] tables (see `patchwarden config default`)"
        );
    }
    let ctx = crate::cli::cli_ctx(&state);
    let results = crate::service::feed_sync::sync_all(&state, &ctx, &sources).await;
    state.store.close().await;
    let failed = results.iter().any(|r| r.error.is_some());
    if json {
        println!("{}", serde_json::to_string_pretty(&results)?);
    } else {
        for r in &results {
            match (&r.summary, &r.error) {
                (Some(s), _) => println!(
                    "{}: {} bytes, {} new, {} updated, {} unchanged advisories, {} CVE enrichments changed, {} rejected records; {} assets re-matched",
                    r.name,
                    r.bytes,
                    s.advisories.inserted,
                    s.advisories.updated,
                    s.advisories.unchanged,
                    s.enrichment_changed,
                    s.rejected.len(),
                    s.assets_rematched
                ),
                (None, Some(e)) => println!("{}: FAILED: {e}", r.name),
                (None, None) => println!("{}: nothing done", r.name),
            }
        }
    }
    Ok(if failed {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

/// `patchwarden scans import FILE...`: one summary per report; exit 1 if a file could
/// not be imported at all (the others still are).
pub async fn scans_cli(state: AppState, files: &[PathBuf], json: bool) -> anyhow::Result<ExitCode> {
    let ctx = crate::cli::cli_ctx(&state);
    let mut failed = false;
    let mut all = Vec::new();
    for f in files {
        match crate::service::scans::import_file(&state, &ctx, f).await {
            Ok(s) => {
                if !json {
                    println!(
                        "{}: {} {} report, {} hosts ({} matched, {} new), {} findings, {} rejected records",
                        f.display(),
                        s.scanner,
                        s.format,
                        s.hosts.len(),
                        s.hosts_matched,
                        s.hosts_created,
                        s.findings,
                        s.rejected.len()
                    );
                }
                all.push(serde_json::to_value(&s)?);
            }
            Err(e) => {
                failed = true;
                eprintln!("{}: not imported: {}", f.display(), e.message);
            }
        }
    }
    state.store.close().await;
    if json {
        println!("{}", serde_json::to_string_pretty(&all)?);
    }
    Ok(if failed {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

/// `\r  [#########-----------]  2345/5682 files` on standard error.
fn draw_bar(done: usize, total: usize) {
    const WIDTH: usize = 30;
    let total = total.max(done).max(1);
    let filled = done * WIDTH / total;
    eprint!(
        "\r  [{}{}] {done}/{total} files",
        "#".repeat(filled),
        "-".repeat(WIDTH - filled)
    );
    let _ = std::io::stderr().flush();
}
