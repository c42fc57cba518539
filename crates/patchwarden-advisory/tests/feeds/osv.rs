//! OSV: the whole AlmaLinux feed and the Alma/Rocky/Ubuntu/Debian/Alpine samples.
//!
//! No OSV record in the fixtures has a `last_affected` or `limit` event, so accepting
//! both (a `limit` that cuts an interval short becomes the range's own limit) leaves
//! every count here unchanged. Checked with
//! `grep -rl last_affected` (one hit: `osv-dev-testdata/vulnfeeds/test_data/parts/nvd/
//! CVE-2016-2176.nvd.json`, a vulnfeeds intermediate file, not an OSV record, imported
//! by no test) and a python walk of every JSON `ranges[].events[]`: ECOSYSTEM events are
//! 71426 introduced and 71389 fixed, nothing else, each event with exactly one key.

use super::*;

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
