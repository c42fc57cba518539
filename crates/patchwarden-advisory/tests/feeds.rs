//! Every fixture feed, imported with exact counts computed independently (the command
//! that computed each number is in the comment next to it), plus malformed input.
//!
//! Fixtures: `../shared/fixtures/advisories/` (AlmaLinux OSV: MIT; CISA KEV: CC0-1.0;
//! Debian security tracker data; Alpine secdb; vunnel test fixtures: Apache-2.0, Red Hat
//! CSAF CC-BY-4.0, Ubuntu CC-BY-SA-4.0, NVD public domain; osv.dev test data:
//! Apache-2.0, CVE terms of use).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use jiff::civil::date;
use patchwarden_advisory::{import_path, ImportResult};
use patchwarden_domain::advisory::{
    Advisory, CvssVersion, NameKind, PackageState, SeverityLevel, VersionRange,
};
use patchwarden_domain::package::PackageFormat;
use std::io::Write;

const ADV: &str = "../../../shared/fixtures/advisories";

fn import(rel: &str) -> ImportResult {
    import_path(format!("{ADV}/{rel}")).unwrap()
}

fn find<'a>(r: &'a ImportResult, id: &str) -> &'a Advisory {
    r.advisories
        .iter()
        .find(|a| a.id == id)
        .unwrap_or_else(|| panic!("{id} missing"))
}

fn fixed(v: &str) -> PackageState {
    PackageState::Fixed {
        ranges: vec![VersionRange {
            introduced: None,
            fixed: Some(v.into()),
        }],
    }
}

/// (advisories, affected statements, enrichment, rejected)
fn counts(r: &ImportResult) -> (usize, usize, usize, usize) {
    (
        r.advisories.len(),
        r.affected_count(),
        r.enrichment.len(),
        r.rejected.len(),
    )
}

#[test]
fn osv_almalinux_whole_feed() {
    let r = import("osv-almalinux");
    // python3 -c "import json,glob;fs=glob.glob('osv-almalinux/advisories/*/*.json');print(len(fs),sum(len(json.load(open(f))['affected']) for f in fs))"
    // → 5680 71329
    assert_eq!(counts(&r), (5680, 71329, 0, 0));
    assert_eq!(r.files_read, 5682); // + README.md and LICENSE, skipped as unrecognised
    assert_eq!(r.skipped.len(), 2);
    // By the first affected ecosystem (the folders do not match it exactly):
    // python3 -c "import json,glob,collections;print(collections.Counter(json.load(open(f))['affected'][0]['package']['ecosystem'] for f in glob.glob('osv-almalinux/advisories/*/*.json')))"
    // → AlmaLinux:8 3259, AlmaLinux:9 1746, AlmaLinux:10 675
    let per = |n: &str| {
        r.advisories
            .iter()
            .filter(|a| a.affected[0].distro.release == n)
            .count()
    };
    assert_eq!((per("8"), per("9"), per("10")), (3259, 1746, 675));

    let a = find(&r, "ALSA-2024:2447");
    assert_eq!(a.source, "osv");
    let cves = [
        "CVE-2023-2975",
        "CVE-2023-3446",
        "CVE-2023-3817",
        "CVE-2023-5678",
    ];
    let more = ["CVE-2023-6129", "CVE-2023-6237", "CVE-2024-0727"];
    assert_eq!(a.aliases, [&cves[..], &more[..]].concat());
    assert_eq!(
        a.severity.as_ref().map(|s| (s.level, s.raw.as_str())),
        Some((SeverityLevel::Low, "Low"))
    );
    assert_eq!(a.published.unwrap().to_string(), "2024-04-30T00:00:00Z");
    let names: Vec<&str> = a.affected.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(
        names,
        ["openssl", "openssl-devel", "openssl-libs", "openssl-perl"]
    );
    for p in &a.affected {
        assert_eq!(p.distro.to_string(), "almalinux:9");
        assert_eq!(
            (p.scheme, p.name_kind),
            (PackageFormat::Rpm, NameKind::Binary)
        );
        assert_eq!(p.state, fixed("1:3.0.7-27.el9"));
    }
}

#[test]
fn osv_vunnel_and_osv_dev_samples() {
    // python3 -c "import json,glob;fs=glob.glob('vunnel-test-fixtures/alma/**/*.json',recursive=True);print(len(fs),sum(len(json.load(open(f))['affected']) for f in fs))" → 5 23
    assert_eq!(counts(&import("vunnel-test-fixtures/alma")), (5, 23, 0, 0));
    // same for rocky → 3 5
    let rocky = import("vunnel-test-fixtures/rocky");
    assert_eq!(counts(&rocky), (3, 5, 0, 0));
    let a = find(&rocky, "RLSA-2023:3220");
    assert_eq!(a.affected[0].distro.to_string(), "rocky:8");
    assert_eq!(a.affected[0].state, fixed("0:102.11.0-2.el8_7"));
    assert_eq!(
        a.severity.as_ref().map(|s| s.level),
        Some(SeverityLevel::High)
    );
    // ubuntu osv*: 9 files, 3 withdrawn → 6 advisories, 48 affected (python over
    // glob('vunnel-test-fixtures/ubuntu/test-fixtures/osv*/**/*.json') skipping 'withdrawn')
    let ub = import("vunnel-test-fixtures/ubuntu");
    assert_eq!(counts(&ub), (6, 48, 0, 0));
    assert_eq!(
        ub.skipped
            .iter()
            .filter(|s| s.reason.starts_with("withdrawn"))
            .count(),
        3
    );
    let usn = find(&ub, "USN-5614-1");
    assert!(usn.aliases.contains(&"CVE-2021-3782".to_owned()));
    assert_eq!(usn.affected[0].distro.to_string(), "ubuntu:18.04");
    assert_eq!(usn.affected[0].name_kind, NameKind::Source);
    assert_eq!(usn.cvss[0].base_score, 6.6);
    // osv-dev: DSA-3029-1 (Debian:7), UBUNTU-CVE-2025-38094, CVE-2012-2812 (5 Alpine
    // releases) and combine-to-osv records of non-distro ecosystems (skipped).
    let od = import("osv-dev-testdata/gcp");
    let dsa = find(&od, "DSA-3029-1");
    assert_eq!(dsa.affected[0].distro.to_string(), "debian:7");
    assert_eq!(dsa.affected[0].state, fixed("1.2.1-2.2+wheezy3"));
    let alp = import("osv-dev-testdata/vulnfeeds/test_data/CVE-2012-2812.json");
    let releases: Vec<String> = alp.advisories[0]
        .affected
        .iter()
        .map(|p| p.distro.to_string())
        .collect();
    assert_eq!(
        releases,
        [
            "alpine:3.10",
            "alpine:3.11",
            "alpine:3.12",
            "alpine:3.8",
            "alpine:3.9"
        ]
    );
    let c2o = import("osv-dev-testdata/vulnfeeds/test_data/combine-to-osv");
    assert_eq!(
        (c2o.advisories.len(), c2o.skipped.len(), c2o.rejected.len()),
        (0, 6, 0)
    );
}

#[test]
fn dsa_dla_dtsa_lists() {
    // python3 -c "import re;h=a=f=c=0
    // for l in open('DSA.list'): (re.match(r'^\[[^\]]*\d[^\]]*\] D[SLT]+A-',l) and ...)"
    // (headers; headers with ≥1 `[rel] - pkg ver` line; such lines) →
    // DSA 5406/5383/6988, DLA 3534/3530/3535, DTSA 208/207/208
    let d = "debian-security-tracker-2023-04";
    let dsa = import(&format!("{d}/DSA.list"));
    assert_eq!(counts(&dsa), (5383, 6988, 0, 0));
    assert_eq!(dsa.skipped.len(), 23);
    let dla = import(&format!("{d}/DLA.list"));
    assert_eq!((counts(&dla), dla.skipped.len()), ((3530, 3535, 0, 0), 4));
    let dtsa = import(&format!("{d}/DTSA.list"));
    assert_eq!((counts(&dtsa), dtsa.skipped.len()), ((207, 208, 0, 0), 1));
    // grep -c '<not-affected>' DSA.list → 55
    let na = dsa.advisories.iter().flat_map(|a| &a.affected);
    assert_eq!(
        na.filter(|p| matches!(p.state, PackageState::NotAffected { .. }))
            .count(),
        55
    );

    let a = find(&dsa, "DSA-5380-1");
    assert_eq!(a.source, "dsa-list");
    assert_eq!(a.aliases, ["CVE-2023-1393"]);
    assert_eq!(a.title.as_deref(), Some("xorg-server - security update"));
    assert_eq!(a.published.unwrap().to_string(), "2023-03-29T00:00:00Z");
    let p = &a.affected[0];
    assert_eq!(
        (p.distro.to_string(), p.name.as_str()),
        ("debian:11".into(), "xorg-server")
    );
    assert_eq!(
        (p.name_kind, p.state.clone()),
        (NameKind::Source, fixed("2:1.20.11-1+deb11u6"))
    );
    let t = find(&dsa, "DSA-2198-1");
    assert_eq!(t.affected.len(), 2);
    assert_eq!(t.affected[0].distro.release, "5");
    let why = Some("shell_escape disabled".to_owned());
    assert_eq!(
        t.affected[0].state,
        PackageState::NotAffected { justification: why }
    );
    assert_eq!(
        (t.affected[1].distro.release.as_str(), &t.affected[1].state),
        ("6", &fixed("2.08.1"))
    );
    // The folder: 3 lists + CPE.list and dsa_dla_fixed.tsv (not feeds: skipped).
    let all = import(d);
    assert_eq!(
        (all.advisories.len(), all.files_read, all.rejected.len()),
        (9120, 5, 0)
    );
}

#[test]
fn debian_tracker_json() {
    // python3: per package, per CVE with a dict `releases`, count releases →
    // 6 CVEs, 25 statements (19 fixed, 4 <not-affected>, 2 end-of-life), 1 malformed
    // (chromium-browser/CVE-2022-0358 has `releases: []`)
    let r = import("vunnel-test-fixtures/debian/test-fixtures/input/debian.json");
    assert_eq!(counts(&r), (6, 25, 0, 1));
    assert_eq!(
        r.rejected[0].record.as_deref(),
        Some("chromium-browser/CVE-2022-0358")
    );
    let a = find(&r, "CVE-2008-7220");
    assert_eq!(a.source, "debian-tracker");
    assert_eq!(
        a.severity.as_ref().map(|s| s.level),
        Some(SeverityLevel::High)
    );
    let rel: Vec<String> = a
        .affected
        .iter()
        .map(|p| p.distro.release.clone())
        .collect();
    assert_eq!(rel, ["10", "8", "unstable", "9"]);
    assert!(a
        .affected
        .iter()
        .all(|p| p.state == fixed("1.6.0.2-1") && p.name == "prototypejs"));
    let states = r.advisories.iter().flat_map(|a| &a.affected);
    let wnf = states
        .filter(|p| matches!(p.state, PackageState::WillNotFix { .. }))
        .count();
    assert_eq!(wnf, 2);
    // osv.dev mock: 3 CVEs, 15 statements: 7 fixed, 5 not-affected, 3 open
    let m = import("osv-dev-testdata/vulnfeeds/test_data/debian");
    assert_eq!(counts(&m), (3, 15, 0, 0));
    let open = m.advisories.iter().flat_map(|a| &a.affected);
    assert_eq!(
        open.filter(|p| matches!(p.state, PackageState::AffectedNoFix { .. }))
            .count(),
        3
    );
}

#[test]
fn alpine_secdb() {
    // python3 -c "import yaml,glob; … per file distinct ids; (pkg,version,id) triples"
    // → 12196 advisories, 12866 statements, 5 with version 0 (not affected)
    let r = import("alpine-secdb-2020");
    assert_eq!(counts(&r), (12196, 12866, 0, 0));
    let na = r.advisories.iter().flat_map(|a| &a.affected);
    assert_eq!(
        na.filter(|p| matches!(p.state, PackageState::NotAffected { .. }))
            .count(),
        5
    );
    // vunnel v3.15: zlib 1.2.12-r0 fixes CVE-2018-25032 (16 ids, 16 statements)
    let v = import("vunnel-test-fixtures/alpine");
    assert_eq!(counts(&v), (16, 16, 0, 0));
    let a = find(&v, "CVE-2018-25032");
    let p = &a.affected[0];
    assert_eq!(
        (p.distro.to_string(), p.name.as_str()),
        ("alpine:3.15".into(), "zlib")
    );
    assert_eq!(
        (p.scheme, p.state.clone()),
        (PackageFormat::Apk, fixed("1.2.12-r0"))
    );
}

#[test]
fn kev_json_and_csv() {
    // python3 -c "import json;d=json.load(open('known_exploited_vulnerabilities.json'))['vulnerabilities'];print(len(d),sum(v['knownRansomwareCampaignUse']=='Known' for v in d))" → 1404 293
    for f in [
        "known_exploited_vulnerabilities.json",
        "known_exploited_vulnerabilities.csv",
    ] {
        let r = import(&format!("cisa-kev/{f}"));
        assert_eq!(counts(&r), (0, 0, 1404, 0), "{f}");
        let known = r
            .enrichment
            .iter()
            .filter(|e| e.kev.as_ref().unwrap().known_ransomware);
        assert_eq!(known.count(), 293, "{f}");
        let e = r
            .enrichment
            .iter()
            .find(|e| e.cve == "CVE-2021-44228")
            .unwrap();
        let k = e.kev.as_ref().unwrap();
        assert_eq!(
            (k.date_added, k.due_date),
            (date(2021, 12, 10), Some(date(2021, 12, 24)))
        );
        assert!(k.known_ransomware);
        assert_eq!(
            (k.vendor.as_str(), k.product.as_str()),
            ("Apache", "Log4j2")
        );
    }
    // vunnel: a 2-entry catalog and a single entry
    assert_eq!(counts(&import("vunnel-test-fixtures/kev")), (0, 0, 3, 0));
}

#[test]
fn epss_csv() {
    let r = import("vunnel-test-fixtures/epss/test-fixtures/example-1.csv");
    assert_eq!(counts(&r), (0, 0, 5, 0)); // wc -l → 7 lines: comment, header, 5 rows
    let e = r
        .enrichment
        .iter()
        .find(|e| e.cve == "CVE-1999-0005")
        .unwrap()
        .epss
        .clone()
        .unwrap();
    assert_eq!(
        (e.probability, e.percentile, e.date),
        (0.91963, 0.99214, Some(date(2025, 2, 20)))
    );
    let bad = import("vunnel-test-fixtures/epss/test-fixtures/invalid-header.csv");
    assert_eq!(counts(&bad), (0, 0, 0, 1));
    let nodate = import("vunnel-test-fixtures/epss/test-fixtures/missing-date.csv");
    assert!(nodate
        .enrichment
        .iter()
        .all(|e| e.epss.as_ref().unwrap().date.is_none()));
}

#[test]
fn csaf_advisories_and_vex() {
    // python3 /tmp/csaf_count.py (distinct (platform distro, name, src?, status,
    // fixed EVR) over product_status) → 1+8+53+46+51+30+1+13 = 203 statements in 8 RHSAs
    let r = import("vunnel-test-fixtures/rhel/test-fixtures/csaf");
    assert_eq!(counts(&r), (8, 203, 0, 0));
    let a = find(&r, "RHSA-2024:6163");
    assert_eq!(
        (a.source.as_str(), a.aliases.clone()),
        ("csaf", vec!["CVE-2024-8088".to_owned()])
    );
    assert_eq!(
        a.severity.as_ref().map(|s| s.level),
        Some(SeverityLevel::Medium)
    );
    assert_eq!(
        (a.cvss[0].version, a.cvss[0].base_score),
        (CvssVersion::V3_1, 5.3)
    );
    let p = &a.affected[0];
    assert_eq!(
        (p.distro.to_string(), p.name.as_str()),
        ("rhel:9".into(), "python3.9")
    );
    assert_eq!(
        (p.name_kind, p.state.clone()),
        (NameKind::Source, fixed("3.9.18-3.el9_4.5"))
    );
    // RHSA-2025:23414: bind on ELS 6, 4 fixed + 4 not affected (vulnerable_code_not_present)
    let b = find(&r, "RHSA-2025:23414");
    let chroot = b.affected.iter().find(|p| p.name == "bind-chroot").unwrap();
    assert_eq!(chroot.distro.to_string(), "rhel:6");
    let why = Some("vulnerable_code_not_present".to_owned());
    assert_eq!(
        chroot.state,
        PackageState::NotAffected { justification: why }
    );
    assert_eq!(chroot.arches, ["i686", "s390x", "x86_64"]);
    let libs = b.affected.iter().find(|p| p.name == "bind-libs").unwrap();
    assert_eq!(libs.state, fixed("32:9.8.2-0.68.rc1.el6_10.17"));
    // VEX: one document, CVE-2026-12345: fixed, known_affected, known_not_affected
    let v = import(
        "vunnel-test-fixtures/hummingbird/test-fixtures/input/advisories/2026/cve-2026-12345.json",
    );
    assert_eq!(counts(&v), (1, 3, 0, 0));
    let x = &v.advisories[0];
    assert_eq!(
        (x.id.as_str(), x.source.as_str()),
        ("CVE-2026-12345", "csaf-vex")
    );
    let na = x
        .affected
        .iter()
        .find(|p| matches!(p.state, PackageState::NotAffected { .. }))
        .unwrap();
    assert_eq!(
        (na.distro.to_string(), na.name.as_str()),
        ("hummingbird:1".into(), "otherpkg")
    );
    let aff = x
        .affected
        .iter()
        .find(|p| p.distro.to_string() == "rhel:9")
        .unwrap();
    assert_eq!(aff.state, PackageState::AffectedNoFix { ranges: vec![] });
}

#[test]
fn cve5_and_nvd() {
    // ls cve5/*.json cvelistV5/cves/*/*/*.json | wc -l → 24 files, 22 distinct CVE ids
    let c = import("osv-dev-testdata/vulnfeeds/test_data/cve5");
    let l = import("osv-dev-testdata/vulnfeeds/test_data/cvelistV5");
    assert_eq!((counts(&c), counts(&l)), ((0, 0, 13, 0), (0, 0, 11, 0)));
    let log4j = l
        .enrichment
        .iter()
        .find(|e| e.cve == "CVE-2021-44228")
        .unwrap();
    assert_eq!(
        (log4j.cvss[0].version, log4j.cvss[0].base_score),
        (CvssVersion::V3_1, 10.0)
    );
    let v4 = c
        .enrichment
        .iter()
        .find(|e| e.cve == "CVE-2025-4565")
        .unwrap();
    assert_eq!(
        (v4.cvss[0].version, v4.cvss[0].base_score),
        (CvssVersion::V4, 8.2)
    );
    // python3 -c "…len(json.load(open(f))['vulnerabilities'])…" → 23 files × 1; full-page 38
    let n = import("osv-dev-testdata/vulnfeeds/test_data/nvdcve-2.0");
    assert_eq!(counts(&n), (0, 0, 23, 0));
    let xz = n
        .enrichment
        .iter()
        .find(|e| e.cve == "CVE-2024-3094")
        .unwrap();
    assert_eq!(xz.cvss.len(), 1); // two sources, one vector
    assert_eq!(xz.cvss[0].base_score, 10.0);
    let page = import("vunnel-test-fixtures/nvd/test-fixtures/full-page.json");
    assert_eq!(counts(&page), (0, 0, 38, 0));
}

fn zip_with(members: &[(&str, &[u8])]) -> (tempfile::TempDir, std::path::PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("all.zip");
    let mut z = zip::ZipWriter::new(std::fs::File::create(&path).unwrap());
    let opts = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated);
    for (name, data) in members {
        z.start_file(*name, opts).unwrap();
        z.write_all(data).unwrap();
    }
    z.finish().unwrap();
    (dir, path)
}

#[test]
fn osv_all_zip_layout_with_bad_members_and_sidecar() {
    let alma = format!("{ADV}/osv-almalinux/advisories/almalinux9");
    let good = std::fs::read(format!("{alma}/ALSA-2024:2447.json")).unwrap();
    let other = std::fs::read(format!("{alma}/ALSA-2024:0310.json")).unwrap();
    let (dir, path) = zip_with(&[
        ("ALSA-2024:2447.json", &good),
        ("ALSA-2024:0310.json", &other),
        ("truncated.json", &good[..good.len() / 2]),
        ("notes.bin", &[0xff, 0xfe, 0x00, 0x01]),
        ("wrong-types.json", br#"{"id":"X-1","affected":{"a":1}}"#),
    ]);
    let r = import_path(&path).unwrap();
    assert_eq!(
        (r.advisories.len(), r.files_read, r.rejected.len()),
        (2, 5, 3)
    );
    assert!(r
        .rejected
        .iter()
        .any(|x| x.file.ends_with("all.zip!notes.bin")));
    assert!(r
        .rejected
        .iter()
        .any(|x| x.record.as_deref() == Some("X-1")));
    // A matching sidecar imports; a mismatching one rejects the file with a clear reason.
    let sidecar = dir.path().join("all.zip.sha256");
    let digest = patchwarden_advisory::integrity::sha256_hex(&std::fs::read(&path).unwrap());
    std::fs::write(&sidecar, format!("{digest}  all.zip\n")).unwrap();
    assert_eq!(import_path(dir.path()).unwrap().advisories.len(), 2);
    std::fs::write(&sidecar, format!("{}  all.zip\n", "0".repeat(64))).unwrap();
    let bad = import_path(dir.path()).unwrap();
    assert_eq!((bad.advisories.len(), bad.rejected.len()), (0, 1));
    assert!(
        bad.rejected[0].reason.contains("sha256 mismatch"),
        "{:?}",
        bad.rejected
    );
}

#[test]
fn malformed_inputs_are_rejected_not_fatal() {
    let dir = tempfile::tempdir().unwrap();
    let huge = format!(r#"{{"id":"{}","affected":[]}}"#, "A".repeat(1 << 20));
    let files: [(&str, &[u8]); 6] = [
        (
            "truncated.json",
            br#"{"id":"ALSA-1","affected":[{"package""#,
        ),
        (
            "types.json",
            br#"{"id":"ALSA-2","published":5,"affected":[]}"#,
        ),
        ("huge.json", huge.as_bytes()),
        (
            "kev.json",
            br#"{"vulnerabilities":[{"cveID":"CVE-2020-1","dateAdded":"soon"}]}"#,
        ),
        (
            "DSA.list",
            b"[01 Jan 2020] DSA-1-1 x - y\n\t[bookworm] - x <weird>\n",
        ),
        ("epss.csv", b"cve,epss,percentile\nCVE-2020-0001,2.5,0.1\n"),
    ];
    for (n, d) in files {
        std::fs::write(dir.path().join(n), d).unwrap();
    }
    let r = import_path(dir.path()).unwrap();
    assert_eq!(
        (r.advisories.len(), r.enrichment.len(), r.rejected.len()),
        (0, 0, 6),
        "{:#?}",
        r.rejected
    );
    assert!(r.rejected.iter().all(|x| x.reason.len() < 600));
    assert!(import_path(dir.path().join("missing")).is_err());
}

mod never_panics {
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]

        #[test]
        fn osv_parser(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
            let _ = patchwarden_advisory::osv::parse("fuzz", &bytes);
            let _ = patchwarden_advisory::import_bytes("fuzz", &bytes);
        }

        #[test]
        fn osv_shaped_json(id in ".{0,40}", eco in ".{0,30}", ev in ".{0,20}", kind in "[a-z_]{0,14}") {
            let j = serde_json::json!({"id": id, "affected": [{"package": {"ecosystem": eco, "name": id},
                "ranges": [{"type": "ECOSYSTEM", "events": [{kind.clone(): ev}, {"fixed": ev}]}]}],
                "severity": [{"type": "CVSS_V3", "score": ev}]});
            let _ = patchwarden_advisory::osv::parse("fuzz", j.to_string().as_bytes());
        }

        #[test]
        fn dsa_list_parser(text in "(\\[[0-9A-Za-z ,]{0,14}\\] D[SLT]SA-[0-9-]{0,6} .{0,20}\n|\t\\{.{0,30}\\}\n|\t\\[[a-z]{0,8}\\] - .{0,30}\n|.{0,30}\n){0,20}") {
            let _ = patchwarden_advisory::dsa_list::parse("fuzz", &text);
            let _ = patchwarden_advisory::import_bytes("fuzz", text.as_bytes());
        }
    }
}
