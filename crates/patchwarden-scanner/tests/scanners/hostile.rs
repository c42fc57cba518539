//! Hostile and broken input: never a panic, a clear error for the whole file, or a
//! rejected record while the rest imports.

use patchwarden_scanner::{parse_bytes, ScanError};
use proptest::prelude::*;

/// A small, valid Nessus document; `{ITEMS}` is replaced by extra ReportItems.
const DOC: &str = r#"<?xml version="1.0" ?>
<NessusClientData_v2><Report name="t">
<ReportHost name="10.0.0.1"><HostProperties><tag name="host-ip">10.0.0.1</tag></HostProperties>
<ReportItem port="22" svc_name="ssh" protocol="tcp" severity="2" pluginID="100" pluginName="ok" pluginFamily="General">
<cve>CVE-2020-1234</cve><description>fine</description></ReportItem>
{ITEMS}
</ReportHost>
<ReportHost name="10.0.0.2"><ReportItem port="0" protocol="tcp" severity="0" pluginID="101" pluginName="info"/></ReportHost>
</Report></NessusClientData_v2>"#;

fn doc(items: &str) -> String {
    DOC.replace("{ITEMS}", items)
}

#[test]
fn the_template_imports() {
    let r = parse_bytes(doc("").as_bytes()).unwrap();
    assert_eq!(
        (r.hosts.len(), r.findings().count(), r.rejected.len()),
        (2, 2, 0)
    );
}

#[test]
fn truncated_xml_is_an_error_at_every_cut() {
    let full = std::fs::read(format!(
        "{}/scanners/python-libnessus/nessus_report_localpci.nessus",
        super::FIX
    ))
    .unwrap();
    let mut cuts = 0;
    for cut in (1..full.len() - 40).step_by(40_011) {
        match parse_bytes(&full[..cut]) {
            Err(ScanError::Xml { .. }) => cuts += 1,
            other => panic!("cut at {cut}: {:?}", other.map(|r| r.hosts.len())),
        }
    }
    assert!(cuts > 10);
    let small = doc("");
    for cut in 1..small.len() - 3 {
        assert!(
            parse_bytes(&small.as_bytes()[..cut]).is_err(),
            "cut at {cut}"
        );
    }
}

#[test]
fn billion_laughs_is_refused() {
    let mut dtd = String::from(
        "<?xml version=\"1.0\"?>\n<!DOCTYPE NessusClientData_v2 [\n<!ENTITY lol \"lol\">\n",
    );
    for i in 1..10 {
        let prev = if i == 1 {
            "lol".to_string()
        } else {
            format!("lol{}", i - 1)
        };
        dtd.push_str(&format!(
            "<!ENTITY lol{i} \"{}\">\n",
            format!("&{prev};").repeat(10)
        ));
    }
    dtd.push_str("]>\n<NessusClientData_v2><Report name=\"&lol9;\"/></NessusClientData_v2>");
    assert!(matches!(parse_bytes(dtd.as_bytes()), Err(ScanError::Dtd)));
}

#[test]
fn undeclared_entities_reject_only_their_record() {
    let items = r#"<ReportItem port="80" protocol="tcp" severity="3" pluginID="102" pluginName="x"><description>&lol9;&xxe;</description></ReportItem>
<ReportItem port="80" protocol="tcp" severity="3" pluginID="103" pluginName="&lol9;"/>"#;
    let r = parse_bytes(doc(items).as_bytes()).unwrap();
    assert_eq!(r.findings().count(), 2);
    assert_eq!(r.rejected.len(), 2, "{:?}", r.rejected);
    assert!(r.rejected[0].record.contains("\"102\""), "{:?}", r.rejected);
    assert!(
        r.rejected[0].reason.contains("description"),
        "{:?}",
        r.rejected
    );
    // The predefined entities and character references are fine.
    let ok = r#"<ReportItem port="1" protocol="tcp" severity="1" pluginID="104" pluginName="a &amp; b &#x41;"/>"#;
    let r = parse_bytes(doc(ok).as_bytes()).unwrap();
    assert!(r.findings().any(|f| f.name == "a & b A"));
}

#[test]
fn a_50_mb_text_node_rejects_its_item_only() {
    let big = "A".repeat(50 << 20);
    let items = format!(
        r#"<ReportItem port="80" protocol="tcp" severity="3" pluginID="105" pluginName="big"><plugin_output>{big}</plugin_output></ReportItem>"#
    );
    let r = parse_bytes(doc(&items).as_bytes()).unwrap();
    assert_eq!(r.findings().count(), 2);
    assert_eq!(r.rejected.len(), 1);
    assert!(
        r.rejected[0].reason.contains("larger than"),
        "{:?}",
        r.rejected
    );
}

#[test]
fn malformed_items_and_hosts_are_rejected_alone() {
    let items = r#"<ReportItem port="99999" protocol="tcp" severity="2" pluginID="106" pluginName="p"/>
<ReportItem port="1" protocol="tcp" severity="7" pluginID="107" pluginName="s"/>
<ReportItem port="1" protocol="tcp" severity="1" pluginName="no id"/>
<ReportItem port="1" protocol="tcp" severity="1" pluginID="108" pluginName="c"><cve>CVE-junk</cve></ReportItem>
<ReportItem port="1" protocol="tcp" severity="1" pluginID="109" pluginName="v"><cvss_base_score>99</cvss_base_score></ReportItem>"#;
    let r = parse_bytes(doc(items).as_bytes()).unwrap();
    assert_eq!(r.findings().count(), 2);
    let reasons: Vec<_> = r.rejected.iter().map(|x| x.reason.as_str()).collect();
    assert_eq!(reasons.len(), 5, "{reasons:?}");
    assert!(
        reasons[0].contains("port")
            && reasons[1].contains("severity")
            && reasons[2].contains("pluginID")
    );

    let bad_host = doc("").replace(
        r#"<tag name="host-ip">10.0.0.1</tag>"#,
        r#"<tag name="host-ip">&bad;</tag>"#,
    );
    let r = parse_bytes(bad_host.as_bytes()).unwrap();
    assert_eq!(r.hosts.len(), 1);
    assert_eq!(r.rejected.len(), 1);
    assert!(r.rejected[0].record.contains("10.0.0.1"));
}

#[test]
fn not_a_scanner_report() {
    for input in [
        &b""[..],
        b"   \n",
        b"<html><body>hi</body></html>",
        b"\x00\x01\x02\xff\xfe binary",
        b"<report/>",
    ] {
        match parse_bytes(input) {
            Err(ScanError::NotAScanReport(_)) => {}
            other => panic!("{input:?}: {:?}", other.map(|r| r.hosts.len())),
        }
    }
    assert!(matches!(
        parse_bytes(b"<<<>>>"),
        Err(ScanError::Xml { .. } | ScanError::NotAScanReport(_))
    ));
    let junk: Vec<u8> = (0..100_000u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    assert!(parse_bytes(&junk).is_err());
    let status = br#"<get_reports_response status="404" status_text="Failed to find report"/>"#;
    assert!(matches!(parse_bytes(status), Err(ScanError::NotAScanReport(m)) if m.contains("404")));
}

#[test]
fn deep_nesting_is_a_limit_error() {
    let deep = format!("<NessusClientData_v2>{}", "<a>".repeat(10_000));
    assert!(matches!(
        parse_bytes(deep.as_bytes()),
        Err(ScanError::Limit(_))
    ));
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..2048)) {
        let _ = parse_bytes(&bytes);
    }

    #[test]
    fn mutated_reports_never_panic(
        edits in proptest::collection::vec((any::<proptest::sample::Index>(), any::<u8>()), 0..8),
        cut in any::<proptest::sample::Index>(),
    ) {
        for template in [doc(""), OPENVAS.to_string(), CSV.to_string()] {
            let mut bytes = template.into_bytes();
            for (at, b) in &edits {
                let i = at.index(bytes.len());
                bytes[i] = *b;
            }
            let _ = parse_bytes(&bytes);
            let _ = parse_bytes(&bytes[..cut.index(bytes.len())]);
        }
    }
}

const OPENVAS: &str = r#"<report id="r"><name>n</name><report id="r"><scan_start>2023-09-28T14:48:02Z</scan_start>
<results><result id="a"><host>10.0.0.9<asset/><hostname>h</hostname></host><port>22/tcp</port>
<nvt oid="1.3.6.1.4.1.25623.1.0.1"><name>lsc</name><cvss_base>5.0</cvss_base><refs><ref type="cve" id="CVE-2021-1"/></refs></nvt>
<threat>Medium</threat><severity>5.0</severity><description>Vulnerable package: openssl
Installed version: openssl-1.0.2k-19.el7.x86_64
Fixed version: >=openssl-1.0.2k-21.el7</description></result></results>
<host><ip>10.0.0.9</ip><detail><name>best_os_txt</name><value>CentOS 7</value></detail></host></report></report>"#;

const CSV: &str = "Plugin ID,CVE,CVSS,Risk,Host,Protocol,Port,Name,Synopsis,Description,Solution,See Also,Plugin Output\n\
100,CVE-2020-1234,5.0,Medium,10.0.0.1,tcp,22,ok,s,\"multi\nline\",fix,,\"out\"\n";

#[test]
fn openvas_notus_local_check() {
    let r = parse_bytes(OPENVAS.as_bytes()).unwrap();
    let h = &r.hosts[0];
    assert_eq!(
        (h.ip.as_deref(), h.hostname.as_deref(), h.os.as_deref()),
        (Some("10.0.0.9"), Some("h"), Some("CentOS 7"))
    );
    assert!(h.credentialed);
    let f = &h.findings[0];
    assert_eq!(f.local_checks.len(), 1);
    assert_eq!(
        (
            f.local_checks[0].installed.as_str(),
            f.local_checks[0].fixed.as_str()
        ),
        ("1.0.2k-19.el7", "1.0.2k-21.el7")
    );
}
