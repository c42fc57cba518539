//! CSV exports. Counts from Python's csv module over the same files, grouping rows by
//! (host, plugin id, port, protocol, result id) and collecting `CVE-\d{4}-\d{4,}` ids:
//!   F.setdefault(key, set()).update(re.findall(r'CVE-\d{4}-\d{4,}', cve_cell.upper()))
//!   hosts = len({k[0] for k in F}); findings = len(F); with_cves = sum(1 for v in F.values() if v)
//!   distinct = len(set().union(*F.values()))

use patchwarden_scanner::{parse_file, ReportFormat, ScanError, Scanner, Severity};
use std::collections::BTreeSet;

fn csv(rel: &str, scanner: Scanner, want: [usize; 4]) {
    csv_with_rejects(rel, scanner, want, 0);
}

fn csv_with_rejects(rel: &str, scanner: Scanner, want: [usize; 4], rejected: usize) {
    let path = format!("{}/scanners/{rel}", super::FIX);
    let r = parse_file(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    assert_eq!((r.scanner, r.format), (scanner, ReportFormat::Csv), "{rel}");
    assert_eq!(r.rejected.len(), rejected, "{rel}: {:?}", r.rejected);
    let f: Vec<_> = r.findings().collect();
    let got = [
        r.hosts.len(),
        f.len(),
        f.iter().filter(|x| !x.cves.is_empty()).count(),
        f.iter()
            .flat_map(|x| x.cves.iter())
            .collect::<BTreeSet<_>>()
            .len(),
    ];
    assert_eq!(
        got, want,
        "{rel}: [hosts, findings, findings with CVEs, distinct CVEs]"
    );
}

#[test]
fn csv_fixture_counts() {
    // [hosts, findings, findings with CVEs, distinct CVEs]
    csv("openvas/many_vuln.csv", Scanner::OpenVas, [1, 4, 1, 2]);
    csv("openvas/no_vuln.csv", Scanner::OpenVas, [0, 0, 0, 0]);
    csv("openvas/one_vuln.csv", Scanner::OpenVas, [1, 1, 0, 0]);
    csv(
        "openvas/report_combine_v2.csv",
        Scanner::OpenVas,
        [1, 1, 0, 0],
    );
    csv(
        "openvas/report_detail_v2.csv",
        Scanner::OpenVas,
        [1, 1, 1, 93],
    );
    csv(
        "openvas/report_using_CVE.csv",
        Scanner::OpenVas,
        [1, 43, 0, 0],
    );
    csv(
        "openvas/report_using_openVAS.csv",
        Scanner::OpenVas,
        [1, 13, 0, 0],
    );
    csv("tenable/issue_11102.csv", Scanner::Nessus, [2, 3, 3, 1]);
    csv("tenable/issue_9612.csv", Scanner::Nessus, [2, 3, 0, 0]);
    // This template writes CVSS v2 scores times ten ("50", "100") on its 5 rows, and
    // v3 scores likewise; all 10 are dropped and reported, the findings import.
    csv_with_rejects(
        "tenable/nessus/nessus-template.csv",
        Scanner::Nessus,
        [2, 5, 5, 5],
        10,
    );
    csv(
        "tenable/nessus/nessus_many_vuln.csv",
        Scanner::Nessus,
        [2, 4, 2, 3],
    );
    csv(
        "tenable/nessus/nessus_many_vuln2-all.csv",
        Scanner::Nessus,
        [1, 29, 1, 1],
    );
    csv(
        "tenable/nessus/nessus_many_vuln2-default.csv",
        Scanner::Nessus,
        [1, 29, 1, 1],
    );
    csv(
        "tenable/nessus_was/nessus_was_many_vuln.csv",
        Scanner::Nessus,
        [1, 5, 0, 0],
    );
    csv(
        "tenable/nessus_was/nessus_was_no_vuln.csv",
        Scanner::Nessus,
        [0, 0, 0, 0],
    );
    csv(
        "tenable/nessus_was/nessus_was_one_vuln.csv",
        Scanner::Nessus,
        [1, 1, 0, 0],
    );
    csv(
        "tenable/tenable_many_vuln.csv",
        Scanner::Nessus,
        [2, 9, 9, 18],
    );
}

#[test]
fn unsupported_csv_layout_is_a_clear_error() {
    // Tenable.io's `;`-separated export has none of the known columns.
    let e = parse_file(format!(
        "{}/scanners/tenable/nessus/nessus_new.csv",
        super::FIX
    ))
    .unwrap_err();
    assert!(matches!(e, ScanError::NotAScanReport(_)), "{e}");
    let e = patchwarden_scanner::parse_bytes(b"Plugin ID,Host,Name\n1,\"10.0.0.1,x\n").unwrap_err();
    assert!(matches!(e, ScanError::Csv { line: 2, .. }), "{e}");
}

#[test]
fn nessus_csv_rows_per_cve_merge() {
    let r = parse_file(format!(
        "{}/scanners/openvas/report_detail_v2.csv",
        super::FIX
    ))
    .unwrap();
    let f = r.findings().next().unwrap();
    assert_eq!(
        (f.plugin_id.as_str(), f.port, f.severity),
        ("1.3.6.1.4.1.25623.1.0.836484", Some(42), Severity::High)
    );
}
