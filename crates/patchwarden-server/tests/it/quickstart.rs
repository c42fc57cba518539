//! `patchwarden quickstart` on this machine's real package database.

use std::process::Command;

fn quickstart(dir: &std::path::Path) -> (bool, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_patchwarden"))
        .current_dir(dir)
        .args(["quickstart", "--no-serve", "--offline"])
        .env_remove("PATCHWARDEN_CONFIG")
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

fn dpkg_installed_count() -> Option<usize> {
    let out = Command::new("dpkg-query")
        .args(["-W", "-f=${db:Status-Abbrev}\n"])
        .output()
        .ok()?;
    Some(
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter(|l| l.starts_with("ii") || l.starts_with("hi"))
            .count(),
    )
}

#[test]
fn quickstart_bootstraps_once_and_registers_this_machine() {
    let Some(expected) = dpkg_installed_count() else {
        patchwarden_testkit::skip("dpkg-query (a Debian-family machine)");
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let (ok, out) = quickstart(dir.path());
    assert!(ok, "{out}");
    assert!(dir.path().join("patchwarden-data/patchwarden.db").exists());
    assert!(out.contains("(new)"), "{out}");
    let pw_line = out
        .lines()
        .find(|l| l.contains("one-time password:"))
        .unwrap_or_else(|| panic!("no one-time password printed:\n{out}"));
    let pw = pw_line.rsplit(' ').next().unwrap();
    assert!(pw.len() >= 20, "{pw_line}");
    assert!(
        out.contains(&format!("{expected} packages")),
        "expected {expected} packages:\n{out}"
    );

    // Second run: data reused, no new password, nothing re-added.
    let (ok, out2) = quickstart(dir.path());
    assert!(ok, "{out2}");
    assert!(out2.contains("(reused)"), "{out2}");
    assert!(!out2.contains("one-time password:"), "{out2}");
    assert!(!out2.contains(pw), "{out2}");
    assert!(out2.contains("+0 -0 ~0"), "{out2}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn quickstart_syncs_feeds_when_it_can_and_says_when_it_is_offline() {
    let Ok(out) = Command::new("dpkg-query")
        .args(["-W", "-f=${Version}", "libc6"])
        .output()
    else {
        patchwarden_testkit::skip("dpkg-query (a Debian machine)");
        return;
    };
    let version = String::from_utf8(out.stdout).unwrap();
    let osv = serde_json::json!({
        "id": "TEST-QS-1", "modified": "2026-01-01T00:00:00Z", "aliases": ["CVE-2099-0002"],
        "affected": [{"package": {"ecosystem": "Debian:12", "name": "glibc"},
                      "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": format!("{version}+zz1")}]}]}]
    })
    .to_string();
    let app =
        axum::Router::new().route("/osv.json", axum::routing::get(move || async move { osv }));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });

    let dir = tempfile::tempdir().unwrap();
    let online = dir.path().join("online.toml");
    std::fs::write(
        &online,
        format!("[[feeds.sources]]\nname = \"local-osv\"\nurl = \"{base}/osv.json\"\n"),
    )
    .unwrap();
    let offline = dir.path().join("offline.toml");
    std::fs::write(
        &offline,
        "[[feeds.sources]]\nname = \"nowhere\"\nurl = \"http://127.0.0.1:1/osv.json\"\n",
    )
    .unwrap();
    let run = |cfg: std::path::PathBuf, sub: &str| {
        let d = dir.path().join(sub);
        std::fs::create_dir_all(&d).unwrap();
        move || {
            let out = Command::new(env!("CARGO_BIN_EXE_patchwarden"))
                .current_dir(&d)
                .args(["quickstart", "--no-serve", "--config"])
                .arg(&cfg)
                .env_remove("PATCHWARDEN_CONFIG")
                .output()
                .unwrap();
            (
                out.status.success(),
                String::from_utf8_lossy(&out.stdout).into_owned(),
            )
        }
    };
    let (ok, out) = tokio::task::spawn_blocking(run(online, "a")).await.unwrap();
    assert!(ok, "{out}");
    assert!(
        out.contains("feeds:     local-osv: 1 advisories new"),
        "{out}"
    );
    let open: usize = out
        .lines()
        .flat_map(|l| l.split("; "))
        .find_map(|p| {
            p.trim()
                .strip_suffix(" open findings")
                .and_then(|n| n.parse().ok())
        })
        .unwrap_or_else(|| panic!("{out}"));
    assert!(open >= 2, "libc6 and libc-bin come from glibc: {out}");

    let (ok, out) = tokio::task::spawn_blocking(run(offline, "b"))
        .await
        .unwrap();
    assert!(ok, "{out}");
    assert!(
        out.contains("offline: no feed could be downloaded"),
        "{out}"
    );
    // Offline, the package manager's security-origin signal stands in: every security
    // update apt offers for this machine is an open finding.
    let signal: usize = out
        .lines()
        .find_map(|l| l.trim().strip_prefix("signal:"))
        .and_then(|l| l.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no signal line: {out}"));
    let open: usize = out
        .lines()
        .flat_map(|l| l.split("; "))
        .find_map(|p| {
            p.trim()
                .strip_suffix(" open findings")
                .and_then(|n| n.parse().ok())
        })
        .unwrap_or_else(|| panic!("{out}"));
    assert!(
        open >= signal,
        "{signal} security updates but {open} findings: {out}"
    );
    let pending = Command::new("apt-get")
        .args(["-s", "dist-upgrade"])
        .output()
        .unwrap();
    let security_lines = String::from_utf8_lossy(&pending.stdout)
        .lines()
        .filter(|l| l.starts_with("Inst ") && l.contains("-security"))
        .count();
    assert_eq!(signal, security_lines, "{out}");
}
