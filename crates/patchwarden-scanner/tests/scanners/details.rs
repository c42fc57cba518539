//! Field-by-field checks of a few real findings, and the credentialed CentOS 6.3 scan
//! (python-libnessus `nessus_report_localpci.nessus`, CC-BY-3.0) against the package list
//! and installed-vs-fixed vectors recorded from the same file in ../shared/fixtures.

use patchwarden_scanner::{split_rpm_nevra, LocalCheck, Severity};
use std::collections::BTreeSet;

use super::{load, FIX};

#[test]
fn localpci_host_and_local_checks() {
    let r = load("python-libnessus/nessus_report_localpci.nessus");
    assert_eq!(r.name, "localpci");
    assert_eq!(r.started.unwrap().to_string(), "2014-01-07T08:19:20Z"); // HOST_START, read as UTC
    assert_eq!(r.finished.unwrap().to_string(), "2014-01-07T08:19:25Z");
    let h = &r.hosts[0];
    assert_eq!(h.ip.as_deref(), Some("127.0.0.1"));
    assert_eq!(h.fqdn.as_deref(), Some("python-dev"));
    assert_eq!(
        h.os.as_deref(),
        Some("Linux Kernel 2.6.32-279.el6.x86_64 on CentOS release 6.3 (Final)")
    );
    assert_eq!(h.mac.as_deref(), Some("08:00:27:41:f0:43"));
    assert!(h.credentialed);

    // 53 findings of the "CentOS Local Security Checks" family
    // (sum(1 for i in items if i.get('pluginFamily') == 'CentOS Local Security Checks'));
    // 52 of them carry package pairs, 155 pairs in all; the 53rd, 44340 "CentOS Update
    // Set", only says "Installed version : 6.3 / Latest version : 6.5" (no package).
    let family: Vec<_> = h
        .findings
        .iter()
        .filter(|f| f.family.as_deref() == Some("CentOS Local Security Checks"))
        .collect();
    assert_eq!(family.len(), 53);
    let with_pairs: Vec<_> = family
        .iter()
        .filter(|f| !f.local_checks.is_empty())
        .collect();
    assert_eq!(with_pairs.len(), 52);
    let update_set = family.iter().find(|f| f.local_checks.is_empty()).unwrap();
    assert_eq!(
        (update_set.plugin_id.as_str(), update_set.severity),
        ("44340", Severity::Critical)
    );
    assert_eq!(
        with_pairs
            .iter()
            .map(|f| f.local_checks.len())
            .sum::<usize>(),
        155
    );

    let pixman = h.findings.iter().find(|f| f.plugin_id == "71584").unwrap();
    assert_eq!(pixman.name, "CentOS 5 / 6 : pixman (CESA-2013:1869)");
    assert_eq!(pixman.severity, Severity::Medium);
    assert_eq!(pixman.cves, ["CVE-2013-6425"]);
    assert_eq!(
        (
            pixman.port,
            pixman.protocol.as_deref(),
            pixman.service.as_deref()
        ),
        (None, Some("tcp"), Some("general"))
    );
    assert_eq!(
        pixman.cvss.v2_vector.as_deref(),
        Some("AV:N/AC:M/Au:N/C:N/I:N/A:P")
    );
    assert_eq!(pixman.cvss.v2_score, Some(4.3));
    assert_eq!(
        pixman.solution.as_deref(),
        Some("Update the affected pixman packages.")
    );
    let lc = |p: &str, i: &str, f: &str| LocalCheck {
        package: p.into(),
        installed: i.into(),
        fixed: f.into(),
    };
    assert_eq!(
        pixman.local_checks,
        [lc("pixman", "0.26.2-5.el6_4", "0.26.2-5.1.el6_5")]
    );

    let nspr = h.findings.iter().find(|f| f.plugin_id == "64381").unwrap();
    let names: Vec<_> = nspr
        .local_checks
        .iter()
        .map(|c| c.package.as_str())
        .collect();
    assert_eq!(
        names,
        ["nspr", "nss", "nss-sysinit", "nss-tools", "nss-util"]
    );
    assert_eq!(
        nspr.local_checks[0],
        lc("nspr", "4.9-1.el6", "4.9.2-0.el6_3.1")
    );

    // Every line of versions/rpm/nessus-centos6-installed-vs-shouldbe.txt (recorded from
    // this file: "installed < fixed # package") is one of the extracted pairs.
    let text = std::fs::read_to_string(format!(
        "{FIX}/versions/rpm/nessus-centos6-installed-vs-shouldbe.txt"
    ))
    .unwrap();
    let got: BTreeSet<(String, String, String)> = h
        .findings
        .iter()
        .flat_map(|f| f.local_checks.iter())
        .map(|c| (c.package.clone(), c.installed.clone(), c.fixed.clone()))
        .collect();
    let mut lines = 0;
    for line in text
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
    {
        let (pair, package) = line.split_once(" # ").unwrap();
        let (installed, fixed) = pair.split_once(" < ").unwrap();
        let key = (
            package.trim().to_string(),
            installed.trim().to_string(),
            fixed.trim().to_string(),
        );
        assert!(got.contains(&key), "{key:?} not extracted");
        lines += 1;
    }
    assert_eq!(lines, 65); // grep -vc '^#' nessus-centos6-installed-vs-shouldbe.txt
}

#[test]
fn localpci_package_list_matches_inventory() {
    let r = load("python-libnessus/nessus_report_localpci.nessus");
    let pkgs = r.hosts[0].installed_packages.as_ref().unwrap();
    // 406 lines in the inventory (grep -vc '^#'), 3 gpg-pubkey (grep -c '^gpg-pubkey'): 403.
    assert_eq!(pkgs.len(), 403);
    let text = std::fs::read_to_string(format!(
        "{FIX}/inventories/centos6.3-nessus22869-rpm-list.txt"
    ))
    .unwrap();
    let want: BTreeSet<(String, String)> = text
        .lines()
        .filter(|l| !l.starts_with('#') && !l.starts_with("gpg-pubkey"))
        .map(|l| {
            let (nvr, epoch) = l.split_once('|').unwrap();
            let (name, vr) = split_rpm_nevra(nvr).unwrap();
            let version = if epoch == "(none)" {
                vr
            } else {
                format!("{epoch}:{vr}")
            };
            (name, version)
        })
        .collect();
    let got: BTreeSet<(String, String)> = pkgs
        .iter()
        .map(|p| (p.name.clone(), p.version.clone()))
        .collect();
    assert_eq!(got, want);
    assert!(got.contains(&("dhclient".into(), "12:4.1.1-31.P1.el6".into())));
    assert!(pkgs.iter().all(|p| p.validate().is_ok()));
}

#[test]
fn macos_software_list_gives_no_inventory() {
    // Plugin 22869 on macOS lists application names without versions.
    let r = load("python-libnessus/nessus_report_local2.nessus");
    assert!(r.hosts[0].credentialed); // local-checks-proto = local
    assert_eq!(r.hosts[0].installed_packages, None);
}

#[test]
fn remote_findings_with_cvss3() {
    let r = load("tenable/nessus/issue_6992.nessus");
    let h = &r.hosts[0];
    assert_eq!(
        (h.hostname.as_deref(), h.ip.as_deref()),
        (Some("testphp.vulnweb.com"), Some("44.228.249.3"))
    );
    assert!(!h.credentialed); // Credentialed_Scan = false
    assert_eq!(r.started.unwrap().as_second(), 1_648_042_311); // HOST_START_TIMESTAMP
    let f = &h.findings[0];
    assert_eq!(
        (f.plugin_id.as_str(), f.severity, f.port),
        ("142591", Severity::Medium, Some(80))
    );
    assert_eq!(f.service.as_deref(), Some("www"));
    assert_eq!(
        f.cvss.v3_vector.as_deref(),
        Some("CVSS:3.0/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:H")
    );
    assert_eq!((f.cvss.v3_score, f.cvss.v2_score), (Some(7.5), Some(5.0)));
    assert!(f.cves.is_empty());

    let r = load("tenable/nessus/nessus_with_cvssv3.nessus");
    let php = r.findings().find(|f| f.plugin_id == "24907").unwrap();
    assert_eq!(
        (php.severity, php.port, php.cves.len()),
        (Severity::High, Some(80), 27)
    );
    assert_eq!(php.cves.first().map(String::as_str), Some("CVE-2006-6383"));

    let r = load("tenable/nessus/nessus_v_unknown.xml");
    let rdp = r.findings().find(|f| f.plugin_id == "18405").unwrap();
    assert_eq!(
        (rdp.port, rdp.service.as_deref(), rdp.cves.as_slice()),
        (
            Some(3389),
            Some("msrdp"),
            &["CVE-2005-1794".to_string()][..]
        )
    );
    assert_eq!(r.hosts[0].hostname.as_deref(), Some("QA3APP09")); // netbios-name
}

#[test]
fn openvas_findings() {
    let r = load("openvas/one_vuln.xml");
    assert_eq!(r.name, "dc01-testlab-scan");
    assert_eq!(r.started.unwrap().to_string(), "2023-09-28T14:48:02Z");
    assert_eq!(r.finished.unwrap().to_string(), "2023-09-28T16:12:15Z");
    let f = &r.hosts[0].findings[0];
    assert_eq!(r.hosts[0].ip.as_deref(), Some("10.0.101.2"));
    assert_eq!(f.plugin_id, "1.3.6.1.4.1.25623.1.0.832260");
    assert_eq!(
        (f.severity, f.port, f.protocol.as_deref()),
        (Severity::High, None, Some("tcp"))
    );
    assert_eq!(f.cves.len(), 12);
    assert_eq!(f.cves[0], "CVE-2023-4573");
    assert_eq!(f.cvss.v2_score, Some(10.0));
    assert!(f.local_checks.is_empty()); // a product version check, no package named

    let r = load("openvas/report_detail_v2.xml");
    let h = &r.hosts[0];
    assert_eq!(
        (h.ip.as_deref(), h.hostname.as_deref()),
        (Some("10.99.99.99"), Some("server99"))
    );
    let f = &h.findings[0];
    assert_eq!(
        (f.plugin_id.as_str(), f.severity, f.port),
        ("1.3.6.1.4.1.25623.1.0.836484", Severity::High, Some(42))
    );
    assert_eq!(
        f.cvss.v3_vector.as_deref(),
        Some("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H")
    );
    assert_eq!(f.cvss.v3_score, Some(9.8));
    assert_eq!(
        &f.cves[..3],
        ["CVE-2025-49659", "CVE-2025-48823", "CVE-2025-49684"]
    );
    assert!(f
        .solution
        .as_deref()
        .unwrap()
        .starts_with("The vendor has released updates."));

    let r = load("openvas/many_vuln.xml");
    let rexec = r.findings().next().unwrap();
    assert_eq!(
        (rexec.plugin_id.as_str(), rexec.port, rexec.cves.as_slice()),
        (
            "1.3.6.1.4.1.25623.1.0.100111",
            Some(512),
            &["CVE-1999-0618".to_string()][..]
        )
    );
    // Two results have an empty <threat>; their severity 4.0 maps to medium.
    assert_eq!(
        r.findings()
            .filter(|f| f.severity == Severity::Medium)
            .count(),
        25
    ); // 23 Medium + 2 empty
    assert_eq!(
        r.findings()
            .filter(|f| f.severity == Severity::High)
            .count(),
        19
    );
}
