//! Parsers against real package lists from `/work/shared/fixtures/inventories`.
//! Expected counts were taken independently with grep/awk/python (commands in comments).
//!
//! Attribution: `format-samples-osv-scalibr/` is from google/osv-scalibr (Apache-2.0);
//! `rpm-qa/` from snyk/rpm-parser (Apache-2.0); `centos6.3-nessus22869-rpm-list.txt`
//! from savon-noir/python-libnessus (CC-BY-3.0).

use crate::{find, read_fixture};
use patchwarden_inventory::{apk, dpkg, rpm};

#[test]
fn osv_scalibr_dpkg_status() {
    // grep -c '^Status: .* installed$' → 7
    let p = dpkg::parse_status(&read_fixture(
        "format-samples-osv-scalibr/dpkg-var-lib-dpkg-status-valid",
    ));
    assert!(p.warnings.is_empty(), "{:?}", p.warnings);
    assert_eq!(p.packages.len(), 7);
    let attr = find(&p.packages, "attr");
    assert_eq!(
        (attr.version.as_str(), attr.arch.as_str()),
        ("1:2.5.1-4", "amd64")
    );
    assert_eq!(attr.source_name, None);
    let libacl = find(&p.packages, "libacl1");
    assert_eq!(libacl.source_name.as_deref(), Some("acl"));
    assert_eq!(libacl.source_version, None);
    let extra = find(&p.packages, "util-linux-extra");
    assert_eq!(extra.version, "2.38.1-5+b1");
    assert_eq!(extra.source_name.as_deref(), Some("util-linux"));
    assert_eq!(extra.source_version.as_deref(), Some("2.38.1-5"));
    assert_eq!(find(&p.packages, "adduser").arch, "all");
}

#[test]
fn osv_scalibr_apk_installed() {
    // grep -c '^P:' → 15
    let p = apk::parse_apk_installed(&read_fixture(
        "format-samples-osv-scalibr/alpine-lib-apk-db-installed",
    ));
    assert!(p.warnings.is_empty(), "{:?}", p.warnings);
    assert_eq!(p.packages.len(), 15);
    let ssl = find(&p.packages, "libssl3");
    assert_eq!(
        (ssl.version.as_str(), ssl.arch.as_str()),
        ("3.1.0-r4", "x86_64")
    );
    assert_eq!(ssl.source_name.as_deref(), Some("openssl"));
    assert_eq!(
        find(&p.packages, "libc-utils").source_name.as_deref(),
        Some("libc-dev")
    );
    assert_eq!(find(&p.packages, "musl").source_name, None);
}

#[test]
fn debian12_dpkg_query_tsv() {
    // 840 lines, all `ii`; awk '$4 != $1' → 652 differing source names;
    // awk '$5 != $2' → 75 differing source versions.
    let p = dpkg::parse_dpkg_query(&read_fixture("this-build-machine-debian12-dpkg-query.tsv"));
    assert!(p.warnings.is_empty(), "{:?}", p.warnings);
    assert_eq!(p.packages.len(), 840);
    assert_eq!(
        p.packages
            .iter()
            .filter(|p| p.source_name.is_some())
            .count(),
        652
    );
    assert_eq!(
        p.packages
            .iter()
            .filter(|p| p.source_version.is_some())
            .count(),
        75
    );
    let libc = find(&p.packages, "libc6");
    assert_eq!(libc.version, "2.36-9+deb12u14");
    assert_eq!(libc.source_name.as_deref(), Some("glibc"));
    assert_eq!(libc.source_version, None);
    let bash = find(&p.packages, "bash");
    assert_eq!(bash.version, "5.2.15-2+b8");
    assert_eq!(bash.source_name, None);
    assert_eq!(bash.source_version.as_deref(), Some("5.2.15-2"));
    let bsd = find(&p.packages, "bsdutils");
    assert_eq!(bsd.source_name.as_deref(), Some("util-linux"));
}

#[test]
fn centos63_nessus_plugin_22869() {
    // 406 package lines after the header, 3 of them gpg-pubkey → 403;
    // grep -v '(none)$' → 29 with an epoch.
    let p = rpm::parse_rpm_nvra(&read_fixture("centos6.3-nessus22869-rpm-list.txt"));
    assert!(p.warnings.is_empty(), "{:?}", p.warnings);
    assert_eq!(p.packages.len(), 403);
    assert!(p
        .packages
        .iter()
        .all(|p| p.name != "gpg-pubkey" && p.arch.is_empty()));
    assert_eq!(
        p.packages
            .iter()
            .filter(|p| p.version.contains(':'))
            .count(),
        29
    );
    assert_eq!(find(&p.packages, "dhclient").version, "12:4.1.1-31.P1.el6");
    assert_eq!(find(&p.packages, "openssl").version, "1.0.0-20.el6_2.5");
    assert_eq!(find(&p.packages, "kernel").version, "2.6.32-279.el6");
    assert_eq!(
        find(&p.packages, "pygpgme").version,
        "0.1-18.20090824bzr68.el6"
    );
}

#[test]
fn snyk_rpm_qa_tsv_outputs() {
    // (file, grep -c ., without gpg-pubkey, with a non-zero epoch `\t\d+:`)
    let expected = [
        ("amazonlinux2_plain.tsv", 104, 103, 6),
        ("centos6_dev_tools.tsv", 263, 262, 21),
        ("centos6_many.tsv", 326, 325, 29),
        ("centos6_plain.tsv", 129, 129, 10),
        ("centos7_dev_tools.tsv", 266, 265, 24),
        ("centos7_httpd24.tsv", 230, 227, 26),
        ("centos7_many.tsv", 416, 415, 36),
        ("centos7_plain.tsv", 146, 146, 13),
        ("centos7_python35.tsv", 344, 342, 30),
        ("fedora26_many.tsv", 592, 591, 61),
        ("modules.tsv", 444, 443, 51),
        ("ubi7_plain.tsv", 162, 162, 13),
        ("ubi8_plain.tsv", 180, 178, 18),
    ];
    for (file, lines, packages, with_epoch) in expected {
        let text = read_fixture(&format!("rpm-qa/{file}"));
        assert_eq!(text.lines().count(), lines, "{file}");
        let p = rpm::parse_rpm_evr_tsv(&text);
        assert!(p.warnings.is_empty(), "{file}: {:?}", p.warnings);
        assert_eq!(p.packages.len(), packages, "{file}");
        let epochs = p
            .packages
            .iter()
            .filter(|p| p.version.contains(':'))
            .count();
        assert_eq!(epochs, with_epoch, "{file}");
    }
    let p = rpm::parse_rpm_evr_tsv(&read_fixture("rpm-qa/centos7_httpd24.tsv"));
    assert_eq!(find(&p.packages, "openssl").version, "1:1.0.2k-19.el7");
    assert_eq!(
        find(&p.packages, "bind-license").version,
        "32:9.11.4-9.P2.el7"
    );
    let p = rpm::parse_rpm_evr_tsv(&read_fixture("rpm-qa/modules.tsv"));
    assert_eq!(
        find(&p.packages, "perl-Mozilla-CA").version,
        "20160104-7.module_el8.3.0+416+dee7bcef"
    );
}

/// The rpm 4.16 JSON dumps (name, epoch, version, release, arch per package) turned
/// back into the lines `rpm -qa` and our query format print, then parsed: every NVRA
/// must split back into exactly the recorded fields.
#[test]
fn rpm416_json_dumps_round_trip_through_both_line_formats() {
    // python: len(d), non-gpg-pubkey, non-zero epochs
    let expected = [
        ("rpm-4.16_amznlinux2022.json", 126, 7),
        ("rpm-4.16_fedora.json", 146, 8),
        ("rpm-4.16_ubi9.json", 179, 16),
    ];
    for (file, packages, with_epoch) in expected {
        let records: Vec<serde_json::Value> =
            serde_json::from_str(&read_fixture(&format!("rpm-qa/{file}"))).unwrap();
        let (mut plain, mut query, mut want) = (String::new(), String::new(), Vec::new());
        for r in &records {
            let s = |k: &str| r[k].as_str().unwrap_or("(none)").to_owned();
            let (name, version, release, arch) = (s("name"), s("version"), s("release"), s("arch"));
            let epoch = r["epoch"]
                .as_u64()
                .map_or("(none)".to_owned(), |e| e.to_string());
            plain.push_str(&format!("{name}-{version}-{release}.{arch}\n"));
            let srpm = format!("{name}-{version}-{release}.src.rpm");
            query.push_str(&format!(
                "{name}\t{epoch}\t{version}\t{release}\t{arch}\t{srpm}\n"
            ));
            if name != "gpg-pubkey" {
                let evr = match r["epoch"].as_u64() {
                    Some(e) if e > 0 => format!("{e}:{version}-{release}"),
                    _ => format!("{version}-{release}"),
                };
                want.push((name, evr, arch));
            }
        }
        let q = rpm::parse_rpm_query(&query);
        assert!(q.warnings.is_empty(), "{file}: {:?}", q.warnings);
        let got: Vec<_> = q
            .packages
            .iter()
            .map(|p| (p.name.clone(), p.version.clone(), p.arch.clone()))
            .collect();
        assert_eq!(got, want, "{file}");
        assert_eq!(got.len(), packages, "{file}");
        assert_eq!(
            got.iter().filter(|g| g.1.contains(':')).count(),
            with_epoch,
            "{file}"
        );
        assert!(q
            .packages
            .iter()
            .all(|p| p.source_name.is_none() && p.source_version.is_none()));

        let n = rpm::parse_rpm_nvra(&plain);
        assert!(n.warnings.is_empty(), "{file}: {:?}", n.warnings);
        let got: Vec<_> = n.packages.iter().map(|p| (&p.name, &p.arch)).collect();
        let names: Vec<_> = want.iter().map(|w| (&w.0, &w.2)).collect();
        assert_eq!(got, names, "{file}");
    }
}
