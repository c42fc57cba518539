//! Findings in the server: registered on import and on inventory change, only for the
//! assets concerned, with evidence, level and deadline; closed when the fix lands.

use jiff::Timestamp;
use patchwarden_testkit::{Client, TestServer};
use serde_json::{json, Value};
use std::process::Command;

async fn asset(admin: &Client, host: &str, packages: Value) -> i64 {
    let r = admin
        .post(
            "/api/v1/assets",
            &json!({"hostname": host, "environment": "production", "os_family": "linux",
                    "distribution": "debian", "release": "11", "arch": "amd64"}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    let id = r.json["id"].as_i64().unwrap();
    let r = admin
        .put(
            &format!("/api/v1/assets/{id}/packages"),
            &json!({"format": "deb", "packages": packages}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    id
}

async fn import(admin: &Client, name: &str, body: Value) -> Value {
    let resp = admin
        .http
        .post(format!(
            "{}/api/v1/advisories/import?name={name}",
            admin.base
        ))
        .bearer_auth(admin.token.as_ref().unwrap())
        .body(body.to_string())
        .send()
        .await
        .unwrap();
    let r = Client::finish(resp).await;
    assert_eq!(r.status, 200, "{}", r.text);
    r.json
}

fn xorg(version: &str) -> Value {
    json!({"name": "xserver-xorg-core", "version": version, "arch": "amd64",
           "source_name": "xorg-server", "source_version": version})
}

fn osv_xorg() -> Value {
    json!({
        "id": "DEBIAN-TEST-5380", "modified": "2023-03-29T00:00:00Z", "aliases": ["CVE-2023-1393"],
        "affected": [{"package": {"ecosystem": "Debian:11", "name": "xorg-server"},
                      "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": "2:1.20.11-1+deb11u6"}]}]}]
    })
}

#[tokio::test]
async fn import_registers_findings_for_the_assets_concerned_and_upgrades_close_them() {
    let ts = TestServer::start().await;
    let admin = ts.admin().await;
    let bash = json!({"name": "bash", "version": "5.1-2+deb11u1", "arch": "amd64"});
    let web1 = asset(
        &admin,
        "web1",
        json!([xorg("2:1.20.11-1+deb11u5"), bash.clone()]),
    )
    .await;
    let web2 = asset(&admin, "web2", json!([bash.clone()])).await;

    // Import: only web1 has a package the advisory names.
    let s = import(&admin, "debian.json", osv_xorg()).await;
    assert_eq!(s["advisories"]["inserted"], 1, "{s}");
    assert_eq!(s["assets_rematched"], 1, "{s}");
    assert_eq!(s["findings"]["opened"], 1, "{s}");
    let f = admin.get(&format!("/api/v1/findings?asset={web1}")).await;
    let list = f.json["findings"].as_array().unwrap();
    assert_eq!(list.len(), 1, "{}", f.text);
    let one = &list[0];
    assert_eq!(one["package"], "xserver-xorg-core");
    assert_eq!(one["fixed"], "2:1.20.11-1+deb11u6");
    assert_eq!(one["cves"], json!(["CVE-2023-1393"]));
    assert_eq!(
        one["evidence"],
        "source xorg-server 2:1.20.11-1+deb11u5 < fixed 2:1.20.11-1+deb11u6 per DEBIAN-TEST-5380, debian:11"
    );
    assert_eq!(one["level"], "normal", "no CVSS, no KEV");
    let first: Timestamp = one["first_seen_at"].as_str().unwrap().parse().unwrap();
    let deadline: Timestamp = one["deadline_at"].as_str().unwrap().parse().unwrap();
    assert_eq!(deadline.duration_since(first).as_hours(), 30 * 24);
    assert_eq!(
        admin
            .get(&format!("/api/v1/findings?asset={web2}"))
            .await
            .json["findings"],
        json!([])
    );

    // Re-importing the same feed changes nothing.
    let s = import(&admin, "debian.json", osv_xorg()).await;
    assert_eq!(s["advisories"]["unchanged"], 1);
    assert_eq!(s["assets_rematched"], 0);

    // The CVE enters CISA KEV: the finding becomes critical, 12 h from first seen.
    let kev = json!({"title": "CISA Catalog of Known Exploited Vulnerabilities", "catalogVersion": "2026.01.01",
        "dateReleased": "2026-01-01T00:00:00.000Z", "count": 1, "vulnerabilities": [{
        "cveID": "CVE-2023-1393", "vendorProject": "X.Org", "product": "Server", "vulnerabilityName": "X.Org Server Use-After-Free",
        "dateAdded": "2026-01-01", "shortDescription": "test", "requiredAction": "Apply updates.", "dueDate": "2026-01-22",
        "knownRansomwareCampaignUse": "Unknown", "notes": "", "cwes": []}]});
    let s = import(&admin, "kev.json", kev.clone()).await;
    assert_eq!(s["enrichment_changed"], 1, "{s}");
    // Re-levelled in place: no asset re-matched, one open finding changed.
    assert_eq!(s["assets_rematched"], 0, "{s}");
    assert_eq!(s["findings_relevelled"], 1, "{s}");
    let audit = admin.get("/api/v1/audit?action=finding.relevel").await;
    assert_eq!(audit.status, 200, "{}", audit.text);
    let after = audit.json["events"][0]["after"]
        .as_str()
        .unwrap_or_default();
    assert!(after.contains(r#""findings_changed":1"#), "{}", audit.text);
    // The same KEV again changes nothing.
    let again = import(&admin, "kev.json", kev).await;
    assert_eq!(again["findings_relevelled"], 0, "{again}");
    let one = &admin
        .get(&format!("/api/v1/findings?asset={web1}"))
        .await
        .json["findings"][0];
    assert_eq!(one["level"], "critical");
    let deadline: Timestamp = one["deadline_at"].as_str().unwrap().parse().unwrap();
    assert_eq!(
        deadline.duration_since(first).as_hours(),
        12,
        "the clock started at registration"
    );

    // The fix is installed: the finding closes with its remediation time.
    let r = admin
        .put(
            &format!("/api/v1/assets/{web1}/packages"),
            &json!({"format": "deb", "packages": [xorg("2:1.20.11-1+deb11u6"), bash]}),
        )
        .await;
    assert_eq!(r.json["findings"]["closed"], 1, "{}", r.text);
    assert_eq!(
        admin
            .get(&format!("/api/v1/findings?asset={web1}"))
            .await
            .json["findings"],
        json!([])
    );
    let all = admin
        .get(&format!(
            "/api/v1/findings?asset={web1}&include_closed=true"
        ))
        .await;
    assert!(
        all.json["findings"][0]["closed_at"].is_string(),
        "{}",
        all.text
    );

    // The advisory is readable, and the import is in the audit log.
    let a = admin.get("/api/v1/advisories/DEBIAN-TEST-5380").await;
    assert_eq!(a.status, 200);
    assert_eq!(a.json["advisory"]["aliases"], json!(["CVE-2023-1393"]));
    let ev = admin.get("/api/v1/audit?action=advisory.import").await;
    assert_eq!(
        ev.json["events"].as_array().unwrap().len(),
        1,
        "one event; the unchanged re-import wrote none"
    );
    let ev = admin.get("/api/v1/audit?action=finding.sync").await;
    assert!(ev.json["events"].as_array().unwrap().len() >= 2);
}

#[tokio::test]
async fn malformed_feed_records_are_reported_and_the_rest_lands() {
    let ts = TestServer::start().await;
    let admin = ts.admin().await;
    let bad = json!([osv_xorg(), {"id": 42}]);
    let resp = admin
        .http
        .post(format!(
            "{}/api/v1/advisories/import?name=mixed.json",
            admin.base
        ))
        .bearer_auth(admin.token.as_ref().unwrap())
        .body(bad.to_string())
        .send()
        .await
        .unwrap();
    let r = Client::finish(resp).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(
        r.json["advisories"]["inserted"], 1,
        "the good record lands: {}",
        r.text
    );
    let rejected = r.json["rejected"].as_array().unwrap();
    assert_eq!(rejected.len(), 1, "{}", r.text);
    assert_eq!(rejected[0]["file"], "mixed.json");
    let s = import(&admin, "garbage.json", json!("not a feed")).await;
    assert_eq!(s["advisories"]["inserted"], 0);
    assert!(
        !s["rejected"].as_array().unwrap().is_empty() || s["skipped"].as_u64().unwrap() > 0,
        "{s}"
    );
    let r = admin
        .http
        .post(format!("{}/api/v1/advisories/import", admin.base))
        .bearer_auth(admin.token.as_ref().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400, "empty body");
}

#[tokio::test]
async fn cli_imports_the_real_dsa_list_and_kev_and_matches() {
    let ts = TestServer::start().await;
    let admin = ts.admin().await;
    let id = asset(&admin, "old-x11", json!([xorg("2:1.20.11-1+deb11u4")])).await;
    let db = ts.db_url();
    let _dir = ts.stop().await;
    let out = Command::new(env!("CARGO_BIN_EXE_patchwarden"))
        .args(["advisories", "import", "--progress", "--database-url", &db])
        .arg("../../../shared/fixtures/advisories/debian-security-tracker-2023-04/DSA.list")
        .arg("../../../shared/fixtures/advisories/cisa-kev/known_exploited_vulnerabilities.json")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stdout}{stderr}");
    assert!(
        stderr.contains("[1/2] reading") && stderr.contains("5383 advisories"),
        "{stderr}"
    );
    assert!(stderr.contains("] 2/2 files"), "progress bar: {stderr}");
    assert!(stdout.contains("advisories: 5383 new"), "{stdout}");
    assert!(stdout.contains("CVE enrichment: 1404 changed"), "{stdout}");
    // deb11u4 is behind DSA-5342-1 (u5) and DSA-5380-1 (u6).
    assert!(
        stdout.contains("re-matched 1 assets: 2 findings opened"),
        "{stdout}"
    );
    let store = patchwarden_store_sqlite::SqliteStore::open(&db)
        .await
        .unwrap();
    use patchwarden_store::Store;
    let f = store
        .list_findings(&patchwarden_store::FindingFilter {
            asset: Some(patchwarden_domain::ids::AssetId::new(id)),
            ..Default::default()
        })
        .await
        .unwrap();
    let advisories: Vec<&str> = f.iter().map(|f| f.finding.advisory.as_str()).collect();
    assert_eq!(advisories, ["DSA-5342-1", "DSA-5380-1"]);
    // Re-running is idempotent.
    let out = Command::new(env!("CARGO_BIN_EXE_patchwarden"))
        .args(["advisories", "import", "--database-url", &db])
        .arg("../../../shared/fixtures/advisories/debian-security-tracker-2023-04/DSA.list")
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&out.stdout).contains("0 new, 0 updated, 5383 unchanged"));
    // The level rule changes: `advisories relevel` brings every open finding to it,
    // deadlines recounted from first seen; run again, it changes nothing.
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("levels.toml");
    std::fs::write(
        &config,
        "[levels]
otherwise = \"high\"\nrules = []\n",
    )
    .unwrap();
    for expected in ["2 open findings re-levelled", "0 open findings re-levelled"] {
        let out = Command::new(env!("CARGO_BIN_EXE_patchwarden"))
            .arg("--config")
            .arg(&config)
            .args(["advisories", "relevel", "--database-url", &db])
            .env_remove("PATCHWARDEN_CONFIG")
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success() && stdout.contains(expected),
            "{stdout}{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let f = store
        .list_findings(&patchwarden_store::FindingFilter {
            asset: Some(patchwarden_domain::ids::AssetId::new(id)),
            ..Default::default()
        })
        .await
        .unwrap();
    for one in &f {
        assert_eq!(one.level, patchwarden_domain::level::Level::High);
        assert_eq!(
            one.deadline_at.duration_since(one.first_seen_at).as_hours(),
            48
        );
    }
}

#[tokio::test]
async fn the_level_rule_comes_from_the_configuration() {
    let rule: patchwarden_match::level::LevelPolicy =
        toml::from_str("otherwise = \"high\"\nrules = []\n").unwrap();
    let ts = TestServer::start_with(move |c| c.levels = rule).await;
    let admin = ts.admin().await;
    let web = asset(&admin, "web9", json!([xorg("2:1.20.11-1+deb11u5")])).await;
    import(&admin, "debian.json", osv_xorg()).await;
    let f = admin.get(&format!("/api/v1/findings?asset={web}")).await;
    let one = &f.json["findings"][0];
    assert_eq!(one["level"], "high", "{}", f.text);
    let first: Timestamp = one["first_seen_at"].as_str().unwrap().parse().unwrap();
    let deadline: Timestamp = one["deadline_at"].as_str().unwrap().parse().unwrap();
    assert_eq!(deadline.duration_since(first).as_hours(), 48);
}

/// Two installed versions of one package (as kernels are on RPM hosts) hit by one
/// advisory are one finding: the first version stored, the lower one. Two advisories
/// naming the same package are two findings, each with its own level (CVSS 9.8 without
/// a KEV listing is high under the default rule).
#[tokio::test]
async fn one_finding_per_package_and_advisory_each_with_its_level() {
    let ts = TestServer::start().await;
    let admin = ts.admin().await;
    let web = asset(
        &admin,
        "web3",
        json!([xorg("2:1.20.11-1+deb11u4"), xorg("2:1.20.11-1+deb11u5")]),
    )
    .await;
    let mut second = osv_xorg();
    second["id"] = json!("DEBIAN-TEST-5381");
    second["aliases"] = json!(["CVE-2023-9999"]);
    second["severity"] = json!([{"type": "CVSS_V3",
        "score": "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"}]);
    for (name, body) in [("first.json", osv_xorg()), ("second.json", second)] {
        import(&admin, name, body).await;
    }
    let f = admin.get(&format!("/api/v1/findings?asset={web}")).await;
    let mut list: Vec<(String, String, String)> = f.json["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| {
            let s = |k: &str| x[k].as_str().unwrap_or_default().to_owned();
            (s("advisory"), s("installed"), s("level"))
        })
        .collect();
    list.sort();
    assert_eq!(
        list,
        [
            (
                "DEBIAN-TEST-5380".to_owned(),
                "2:1.20.11-1+deb11u4".to_owned(),
                "normal".to_owned()
            ),
            (
                "DEBIAN-TEST-5381".to_owned(),
                "2:1.20.11-1+deb11u4".to_owned(),
                "high".to_owned()
            ),
        ],
        "{}",
        f.text
    );
}
