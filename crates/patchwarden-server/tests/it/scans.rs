//! Scanner imports through the API: every fixture report with its counts; hosts attach
//! to existing assets by host name and by IP or create them; the credentialed CentOS
//! 6.3 scan is confirmed against its own package list, then contradicted exactly where
//! the inventory was upgraded; hostile and malformed files store nothing.

use patchwarden_testkit::{Client, TestServer};
use serde_json::{json, Value};
use std::collections::{BTreeMap, BTreeSet};

const FIX: &str = "../../../shared/fixtures/scanners";
const LOCALPCI: &str = "python-libnessus/nessus_report_localpci.nessus";

async fn server() -> TestServer {
    // The largest fixture is 1.5 MB; the testkit's default limit is 1 MiB.
    TestServer::start_with(|c| c.server.max_body_bytes = 8 << 20).await
}

async fn upload(c: &Client, name: &str, body: Vec<u8>) -> patchwarden_testkit::Resp {
    let resp = c
        .http
        .post(format!("{}/api/v1/scans/import?name={name}", c.base))
        .bearer_auth(c.token.as_ref().unwrap())
        .body(body)
        .send()
        .await
        .unwrap();
    Client::finish(resp).await
}

async fn import(c: &Client, rel: &str) -> Value {
    let bytes = std::fs::read(format!("{FIX}/{rel}")).unwrap();
    let name = rel.rsplit('/').next().unwrap();
    let r = upload(c, name, bytes).await;
    assert_eq!(r.status, 200, "{rel}: {}", r.text);
    r.json
}

fn n(v: &Value) -> u64 {
    v.as_u64().unwrap_or_else(|| panic!("not a count: {v}"))
}

async fn scan_findings(c: &Client, query: &str) -> Vec<Value> {
    let r = c
        .get(&format!("/api/v1/scan-findings?limit=1000&{query}"))
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    r.json["findings"].as_array().unwrap().clone()
}

async fn asset_count(c: &Client) -> usize {
    let r = c.get("/api/v1/assets?limit=1000").await;
    r.json["assets"].as_array().unwrap().len()
}

/// A minimal Nessus v2 report with one host and one remote finding.
fn nessus_xml(report_host: &str, props: &[(&str, &str)]) -> Vec<u8> {
    let tags: String = props
        .iter()
        .map(|(k, v)| format!(r#"<tag name="{k}">{v}</tag>"#))
        .collect();
    format!(
        r#"<?xml version="1.0" ?><NessusClientData_v2><Report name="adhoc">
<ReportHost name="{report_host}"><HostProperties>{tags}</HostProperties>
<ReportItem port="443" svc_name="www" protocol="tcp" severity="2" pluginID="51192" pluginName="SSL Certificate Cannot Be Trusted" pluginFamily="General">
<cvss_base_score>6.4</cvss_base_score></ReportItem>
</ReportHost></Report></NessusClientData_v2>"#
    )
    .into_bytes()
}

#[tokio::test]
async fn every_fixture_imports_with_its_counts_and_hosts_attach_to_assets() {
    let ts = server().await;
    let admin = ts.admin().await;
    // (file, hosts created, hosts matched, records, hosts rejected). Records: one per
    // finding, one per package for local checks (localpci: 167 - 52 + 155 = 270); the
    // finding counts are the scanner crate's, computed independently with Python.
    let cases: &[(&str, u64, u64, u64, usize)] = &[
        // localhost / 127.0.0.1 names no particular machine.
        ("python-libnessus/nessus_report_local2.nessus", 0, 0, 0, 1),
        (
            "python-libnessus/nessus_report_local_3.nessus",
            3,
            0,
            106,
            0,
        ),
        (LOCALPCI, 1, 0, 270, 0),
        (
            "python-libnessus/nessus_report_test_local.nessus",
            2,
            0,
            147,
            0,
        ),
        ("tenable/nessus/issue_6992.nessus", 1, 0, 1, 0),
        ("tenable/nessus/nessus_many_vuln.xml", 1, 0, 7, 0),
        ("tenable/nessus/nessus_v_unknown.xml", 7, 0, 296, 0),
        // testphp.vulnweb.com again: attached by host name, the older records replaced.
        ("tenable/nessus/nessus_with_cvssv3.nessus", 0, 1, 49, 0),
        ("tenable/nessus/nessus_with_cwe-.nessus", 0, 1, 1, 0),
        // A web-app scan names its host by URL: google.com.
        ("tenable/nessus_was/nessus_was_many_vuln.xml", 1, 0, 5, 0),
        ("tenable/nessus_was/nessus_was_no_vuln.xml", 0, 1, 0, 0),
        ("tenable/nessus_was/nessus_was_one_vuln.xml", 0, 1, 1, 0),
        ("openvas/many_vuln.xml", 1, 0, 44, 0),
        ("openvas/no_vuln.xml", 0, 0, 0, 0),
        ("openvas/one_vuln.xml", 1, 0, 1, 0),
        ("openvas/report_detail_v2.xml", 1, 0, 1, 0),
    ];
    let mut created = 0;
    for (rel, c, m, records, rejected_hosts) in cases {
        let s = import(&admin, rel).await;
        let got = (
            n(&s["hosts_created"]),
            n(&s["hosts_matched"]),
            n(&s["findings"]),
        );
        assert_eq!(got, (*c, *m, *records), "{rel}: {s}");
        let rejected = s["rejected"].as_array().unwrap();
        let hosts_rejected = rejected
            .iter()
            .filter(|r| r["record"].as_str().unwrap().starts_with("host "))
            .count();
        assert_eq!(hosts_rejected, *rejected_hosts, "{rel}: {rejected:?}");
        let v = &s["verdicts"];
        assert_eq!(
            n(&v["confirmed"]) + n(&v["contradicted"]) + n(&v["unverified"]),
            *records
        );
        created += c;
        assert_eq!(asset_count(&admin).await as u64, created, "{rel}");
    }
    let s = import(&admin, "tenable/nessus_was/nessus_was_one_vuln.xml").await;
    assert_eq!(s["hosts"][0]["matched_by"], "hostname");
    assert_eq!(s["superseded"], 1, "the previous import's one record");

    // New assets: kind and OS from the scanner's OS text, production/standard.
    let assets = admin.get("/api/v1/assets?limit=1000").await.json["assets"].clone();
    let by_name: BTreeMap<&str, &Value> = assets
        .as_array()
        .unwrap()
        .iter()
        .map(|a| (a["hostname"].as_str().unwrap(), a))
        .collect();
    let qa = by_name["qa3app09"];
    assert_eq!(
        (qa["kind"].as_str(), qa["os"]["family"].as_str()),
        (Some("server"), Some("windows"))
    );
    assert_eq!(
        (qa["environment"].as_str(), qa["criticality"].as_str()),
        (Some("production"), Some("standard"))
    );
    assert_eq!(
        by_name["preprod.boardvantage.net"]["kind"],
        "security_device"
    );
    assert_eq!(by_name["mike-macbook"]["os"]["distribution"], "ubuntu");
    assert_eq!(by_name["python-dev"]["os"]["distribution"], "centos");
    assert_eq!(by_name["python-dev"]["os"]["release"], "6.3");
    for name in [
        "google.com",
        "10.0.101.2",
        "server99",
        "b6b9f466d63",
        "192.168.2.104",
    ] {
        assert!(
            by_name.contains_key(name),
            "{name} not created: {:?}",
            by_name.keys()
        );
    }

    // By IP: a report naming the host only by the address qa3app09 was seen at.
    let s = upload(
        &admin,
        "by-ip.nessus",
        nessus_xml("10.31.112.29", &[("host-ip", "10.31.112.29")]),
    )
    .await;
    assert_eq!(s.status, 200, "{}", s.text);
    assert_eq!(s.json["hosts"][0]["matched_by"], "ip", "{}", s.text);
    assert_eq!(s.json["hosts"][0]["asset_id"], qa["id"]);
    // By host name: an asset registered through the API, named in upper case.
    let web = admin
        .post(
            "/api/v1/assets",
            &json!({"hostname": "web-7.example.org", "environment": "qa"}),
        )
        .await;
    assert_eq!(web.status, 201);
    let xml = nessus_xml(
        "10.9.9.9",
        &[("host-ip", "10.9.9.9"), ("host-fqdn", "WEB-7.example.org")],
    );
    let s = upload(&admin, "by-name.nessus", xml).await;
    assert_eq!(
        (
            s.json["hosts"][0]["matched_by"].as_str(),
            s.json["hosts_created"].as_u64()
        ),
        (Some("fqdn"), Some(0)),
        "{}",
        s.text
    );
    assert_eq!(s.json["hosts"][0]["asset_id"], web.json["id"]);
    let recs = scan_findings(&admin, &format!("asset={}", web.json["id"])).await;
    assert_eq!(recs.len(), 1);
    assert_eq!(
        (recs[0]["plugin_id"].as_str(), recs[0]["severity"].as_str()),
        (Some("51192"), Some("medium"))
    );
    assert_eq!(
        (recs[0]["cvss"].as_f64(), recs[0]["port"].as_u64()),
        (Some(6.4f32 as f64), Some(443))
    );
    assert_eq!(recs[0]["verdict"], "unverified");
    // The asset keeps its API-given classification.
    assert_eq!(
        admin
            .get(&format!("/api/v1/assets/{}", web.json["id"]))
            .await
            .json["environment"],
        "qa"
    );

    // Filters: severity and verdict.
    let high = scan_findings(&admin, "severity=critical").await;
    assert!(!high.is_empty() && high.iter().all(|f| f["severity"] == "critical"));
    let bad = admin.get("/api/v1/scan-findings?verdict=maybe").await;
    assert_eq!((bad.status.as_u16(), bad.code()), (400, "invalid_query"));
    // Every import is in the audit log.
    let ev = admin
        .get("/api/v1/audit?action=scan.import&limit=1000")
        .await;
    assert_eq!(ev.json["events"].as_array().unwrap().len(), cases.len() + 3);
}

#[tokio::test]
async fn csv_exports_import_like_their_parse() {
    let ts = server().await;
    let admin = ts.admin().await;
    for rel in [
        "openvas/many_vuln.csv",
        "openvas/report_using_openVAS.csv",
        "tenable/tenable_many_vuln.csv",
        "tenable/nessus/nessus_many_vuln.csv",
    ] {
        let report = patchwarden_scanner::parse_file(format!("{FIX}/{rel}")).unwrap();
        let records: usize = report.findings().map(|f| f.local_checks.len().max(1)).sum();
        let s = import(&admin, rel).await;
        assert_eq!(s["format"], "csv");
        assert_eq!(n(&s["findings"]) as usize, records, "{rel}: {s}");
        assert!(n(&s["hosts_created"]) + n(&s["hosts_matched"]) > 0, "{rel}");
    }
}

#[tokio::test]
async fn credentialed_centos_scan_confirmed_then_contradicted_where_upgraded() {
    let ts = server().await;
    let admin = ts.admin().await;
    let s = import(&admin, LOCALPCI).await;
    assert_eq!(
        (n(&s["hosts_created"]), n(&s["inventories_stored"])),
        (1, 1),
        "{s}"
    );
    let host = &s["hosts"][0];
    assert_eq!(
        (host["hostname"].as_str(), host["matched_by"].as_str()),
        (Some("python-dev"), Some("created"))
    );
    assert_eq!(host["ip"], Value::Null, "127.0.0.1 is not remembered");
    let id = host["asset_id"].as_i64().unwrap();
    let asset = admin.get(&format!("/api/v1/assets/{id}")).await.json;
    assert_eq!(
        (
            asset["package_count"].as_u64(),
            asset["package_format"].as_str()
        ),
        (Some(403), Some("rpm"))
    );
    // 155 package pairs of 52 local-check findings, all confirmed by the package list;
    // the other 115 findings are remote checks.
    assert_eq!(
        s["verdicts"],
        json!({"confirmed": 155, "contradicted": 0, "unverified": 115})
    );
    let confirmed = scan_findings(&admin, &format!("asset={id}&verdict=confirmed")).await;
    assert_eq!(confirmed.len(), 155);
    let plugins: BTreeSet<&str> = confirmed
        .iter()
        .map(|f| f["plugin_id"].as_str().unwrap())
        .collect();
    assert_eq!(plugins.len(), 52);
    let pixman = confirmed.iter().find(|f| f["package"] == "pixman").unwrap();
    assert_eq!(
        pixman["evidence"],
        "scanner says pixman 0.26.2-5.el6_4 < 0.26.2-5.1.el6_5; inventory (this report's package list) has 0.26.2-5.el6_4 → confirmed"
    );

    // Upgrade three packages that one record each names to their fixed versions.
    let mut per_package: BTreeMap<&str, Vec<&Value>> = BTreeMap::new();
    for f in &confirmed {
        per_package
            .entry(f["package"].as_str().unwrap())
            .or_default()
            .push(f);
    }
    let inv = admin
        .get(&format!("/api/v1/assets/{id}/packages"))
        .await
        .json;
    let mut packages = inv["packages"].as_array().unwrap().clone();
    let upgraded: BTreeMap<String, String> = per_package
        .iter()
        .filter(|(p, recs)| {
            recs.len() == 1 && packages.iter().filter(|x| x["name"] == **p).count() == 1
        })
        .take(3)
        .map(|(p, recs)| (p.to_string(), recs[0]["fixed"].as_str().unwrap().to_owned()))
        .collect();
    assert_eq!(upgraded.len(), 3, "{:?}", per_package.keys());
    for p in &mut packages {
        if let Some(fixed) = upgraded.get(p["name"].as_str().unwrap()) {
            p["version"] = json!(fixed);
        }
    }
    let r = admin
        .put(
            &format!("/api/v1/assets/{id}/packages"),
            &json!({"format": "rpm", "packages": packages}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json["changed"], 3);

    // Re-import: attached by FQDN, the inventory is kept, exactly those contradicted.
    let s = import(&admin, LOCALPCI).await;
    assert_eq!(
        (
            s["hosts"][0]["matched_by"].as_str(),
            n(&s["inventories_stored"])
        ),
        (Some("fqdn"), 0)
    );
    assert_eq!(
        s["verdicts"],
        json!({"confirmed": 152, "contradicted": 3, "unverified": 115})
    );
    assert_eq!(n(&s["superseded"]), 270);
    let contradicted = scan_findings(&admin, &format!("asset={id}&verdict=contradicted")).await;
    let got: BTreeSet<&str> = contradicted
        .iter()
        .map(|f| f["package"].as_str().unwrap())
        .collect();
    assert_eq!(got, upgraded.keys().map(String::as_str).collect());
    for f in &contradicted {
        let fixed = f["fixed"].as_str().unwrap();
        let want = format!(
            "scanner says {} {} < {fixed}; inventory has {fixed} → contradicted",
            f["package"].as_str().unwrap(),
            f["installed"].as_str().unwrap()
        );
        assert_eq!(f["evidence"], want);
    }
    assert_eq!(
        scan_findings(&admin, &format!("asset={id}")).await.len(),
        270,
        "replaced, not added"
    );
}

#[tokio::test]
async fn hostile_and_malformed_files_store_nothing() {
    let ts = server().await;
    let admin = ts.admin().await;
    let pci = std::fs::read(format!("{FIX}/{LOCALPCI}")).unwrap();
    let laughs = br#"<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;">]>
<NessusClientData_v2><Report name="x"><ReportHost name="evil.example.org">&lol2;</ReportHost></Report></NessusClientData_v2>"#;
    let cases: Vec<(&str, Vec<u8>, u16, &str)> = vec![
        ("empty.nessus", Vec::new(), 400, "invalid_body"),
        ("laughs.nessus", laughs.to_vec(), 422, "dtd_refused"),
        (
            "half.nessus",
            pci[..pci.len() / 2].to_vec(),
            422,
            "malformed_report",
        ),
        (
            "other.xml",
            b"<html><body>hi</body></html>".to_vec(),
            422,
            "not_a_scan_report",
        ),
        ("feed.json", br#"{"vulnerabilities": []}"#.to_vec(), 422, ""),
        ("text.csv", b"hello\nworld\n".to_vec(), 422, ""),
        ("binary.bin", vec![0u8, 159, 146, 150, 255, 0, 1], 422, ""),
    ];
    for (name, body, status, code) in cases {
        let r = upload(&admin, name, body).await;
        assert_eq!(r.status, status, "{name}: {}", r.text);
        if !code.is_empty() {
            assert_eq!(r.code(), code, "{name}: {}", r.text);
        }
        assert!(!r.json["error"]["message"].as_str().unwrap().is_empty());
    }
    assert_eq!(asset_count(&admin).await, 0, "nothing partial");
    assert!(scan_findings(&admin, "").await.is_empty());
    let ev = admin.get("/api/v1/audit?action=scan.&limit=1000").await;
    assert_eq!(ev.json["events"], json!([]));

    // A report whose only host names nothing usable: recorded, with the reason.
    let s = upload(
        &admin,
        "lo.nessus",
        nessus_xml("localhost", &[("host-ip", "127.0.0.1")]),
    )
    .await;
    assert_eq!(s.status, 200, "{}", s.text);
    assert_eq!(
        (n(&s.json["hosts_created"]), n(&s.json["findings"])),
        (0, 0)
    );
    let reason = s.json["rejected"][0]["reason"].as_str().unwrap();
    assert!(
        reason.contains("no usable host name or IP address"),
        "{reason}"
    );
    assert_eq!(asset_count(&admin).await, 0);

    // Only the security team imports; readers may read.
    let (_, viewer) = ts
        .user_with_roles("scan-viewer", &[patchwarden_domain::role::Role::Auditor])
        .await;
    let r = upload(&viewer, "x.nessus", nessus_xml("a.example.org", &[])).await;
    assert_eq!(r.status, 403, "{}", r.text);
}
