//! Every scanner fixture imports with counts computed independently (Python's
//! ElementTree over the same files; the one-liner is in the comment by each number).
//! Fixtures: ../shared/fixtures/scanners (DefectDojo unittest scans, BSD-3-Clause;
//! python-libnessus test files, CC-BY-3.0).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "scanners/csv.rs"]
mod csv;
#[path = "scanners/details.rs"]
mod details;
#[path = "scanners/hostile.rs"]
mod hostile;

use patchwarden_scanner::{parse_file, ReportFormat, ScanReport, Scanner, Severity};
use std::collections::BTreeSet;

const FIX: &str = "../../../shared/fixtures";

fn load(rel: &str) -> ScanReport {
    let path = format!("{FIX}/scanners/{rel}");
    parse_file(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

#[derive(Debug, PartialEq, Eq)]
struct Counts {
    hosts: usize,
    findings: usize,
    with_cves: usize,
    distinct_cves: usize,
    local_check_findings: usize,
    local_checks: usize,
}

fn counts(r: &ScanReport) -> Counts {
    let f: Vec<_> = r.findings().collect();
    Counts {
        hosts: r.hosts.len(),
        findings: f.len(),
        with_cves: f.iter().filter(|x| !x.cves.is_empty()).count(),
        distinct_cves: f
            .iter()
            .flat_map(|x| x.cves.iter())
            .collect::<BTreeSet<_>>()
            .len(),
        local_check_findings: f.iter().filter(|x| !x.local_checks.is_empty()).count(),
        local_checks: f.iter().map(|x| x.local_checks.len()).sum(),
    }
}

/// Asserts the counts, that nothing was rejected, and the scanner.
fn check(rel: &str, scanner: Scanner, want: Counts) -> ScanReport {
    let r = load(rel);
    assert_eq!(r.scanner, scanner, "{rel}");
    assert_eq!(r.format, ReportFormat::Xml, "{rel}");
    assert!(r.rejected.is_empty(), "{rel}: {:?}", r.rejected);
    assert_eq!(counts(&r), want, "{rel}");
    r
}

// Python used for the Nessus counts (r = ElementTree root; items = all ReportItems):
//   hosts    len(r.findall('Report/ReportHost'))
//   findings len(items)
//   with_cves sum(1 for i in items if i.findall('cve'))
//   distinct len({c.text.strip() for i in items for c in i.findall('cve')})
//   lc findings sum(1 for i in items if 'Remote package installed' in (i.findtext('plugin_output') or ''))
//   lc pairs  sum(len(re.findall('Remote package installed : ', i.findtext('plugin_output') or '')) for i in items)

fn nessus(rel: &str, c: [usize; 6]) -> ScanReport {
    let [hosts, findings, with_cves, distinct_cves, local_check_findings, local_checks] = c;
    check(
        rel,
        Scanner::Nessus,
        Counts {
            hosts,
            findings,
            with_cves,
            distinct_cves,
            local_check_findings,
            local_checks,
        },
    )
}

#[test]
fn nessus_fixture_counts() {
    // [hosts, findings, findings with CVEs, distinct CVEs, findings with local checks, local checks]
    nessus(
        "python-libnessus/nessus_report_local2.nessus",
        [1, 62, 0, 0, 0, 0],
    );
    nessus(
        "python-libnessus/nessus_report_local_3.nessus",
        [3, 106, 27, 44, 0, 0],
    );
    nessus(
        "python-libnessus/nessus_report_localpci.nessus",
        [1, 167, 67, 156, 52, 155],
    );
    nessus(
        "python-libnessus/nessus_report_test_local.nessus",
        [2, 147, 15, 37, 0, 0],
    );
    nessus("tenable/nessus/issue_6992.nessus", [1, 1, 0, 0, 0, 0]);
    nessus("tenable/nessus/nessus_many_vuln.xml", [1, 7, 0, 0, 0, 0]);
    nessus("tenable/nessus/nessus_v_unknown.xml", [7, 296, 7, 1, 0, 0]);
    nessus(
        "tenable/nessus/nessus_with_cvssv3.nessus",
        [1, 49, 19, 136, 0, 0],
    );
    nessus(
        "tenable/nessus/nessus_with_cwe-.nessus",
        [1, 1, 1, 15, 0, 0],
    );
    nessus(
        "tenable/nessus_was/nessus_was_many_vuln.xml",
        [1, 5, 0, 0, 0, 0],
    );
    nessus(
        "tenable/nessus_was/nessus_was_no_vuln.xml",
        [1, 0, 0, 0, 0, 0],
    );
    nessus(
        "tenable/nessus_was/nessus_was_one_vuln.xml",
        [1, 1, 0, 0, 0, 0],
    );
}

#[test]
fn nessus_severities() {
    // [sum(1 for i in items if i.get('severity') == str(k)) for k in range(5)]
    let cases: [(&str, [usize; 5]); 4] = [
        (
            "python-libnessus/nessus_report_localpci.nessus",
            [94, 5, 44, 21, 3],
        ),
        (
            "python-libnessus/nessus_report_local_3.nessus",
            [71, 10, 20, 3, 2],
        ),
        ("tenable/nessus/nessus_v_unknown.xml", [266, 7, 23, 0, 0]),
        (
            "tenable/nessus_was/nessus_was_many_vuln.xml",
            [1, 3, 0, 1, 0],
        ),
    ];
    let levels = [
        Severity::Info,
        Severity::Low,
        Severity::Medium,
        Severity::High,
        Severity::Critical,
    ];
    for (rel, want) in cases {
        let r = load(rel);
        let got = levels.map(|l| r.findings().filter(|f| f.severity == l).count());
        assert_eq!(got, want, "{rel}");
    }
}

// Python for OpenVAS (r = root; res = r.findall('report/results/result')):
//   hosts    len({x.find('host').text.strip() for x in res} | {h.findtext('ip') for h in r.findall('report/host')})
//   findings len(res)
//   with_cves sum(1 for x in res if [f for f in x.findall('nvt/refs/ref') if f.get('type') == 'cve'])
//   distinct len({f.get('id') for x in res for f in x.findall('nvt/refs/ref') if f.get('type') == 'cve'})
//   local checks: grep -c 'Vulnerable package' openvas/*.xml -> 0 everywhere
#[test]
fn openvas_fixture_counts() {
    let ov = |rel: &str, c: [usize; 4]| {
        let [hosts, findings, with_cves, distinct_cves] = c;
        let want = Counts {
            hosts,
            findings,
            with_cves,
            distinct_cves,
            local_check_findings: 0,
            local_checks: 0,
        };
        check(rel, Scanner::OpenVas, want)
    };
    ov("openvas/many_vuln.xml", [1, 44, 23, 46]);
    ov("openvas/no_vuln.xml", [0, 0, 0, 0]);
    ov("openvas/one_vuln.xml", [1, 1, 1, 12]);
    ov("openvas/report_detail_v2.xml", [1, 1, 1, 93]);
}
