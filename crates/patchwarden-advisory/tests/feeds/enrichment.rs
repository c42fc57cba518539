//! CISA KEV (JSON, CSV), EPSS, CVE JSON 5 and NVD API 2.0.

use super::*;

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
