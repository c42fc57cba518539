//! CVE enrichment: per-field merge, change counts, audit only on change.

use crate::fixtures::{count_events, ctx, last_event, t};
use crate::SharedStore;
use jiff::civil::date;
use patchwarden_domain::advisory::{CveEnrichment, Cvss, CvssVersion, Epss, KevEntry};

fn bare(cve: &str) -> CveEnrichment {
    CveEnrichment {
        cve: cve.into(),
        kev: None,
        epss: None,
        cvss: Vec::new(),
    }
}

fn kev(cve: &str) -> CveEnrichment {
    CveEnrichment {
        kev: Some(KevEntry {
            date_added: date(2024, 3, 29),
            due_date: Some(date(2024, 4, 19)),
            known_ransomware: false,
            vendor: "XZ".into(),
            product: "XZ Utils".into(),
            name: "XZ Utils Embedded Malicious Code".into(),
        }),
        ..bare(cve)
    }
}

fn epss(cve: &str, probability: f64) -> CveEnrichment {
    CveEnrichment {
        epss: Some(Epss {
            probability,
            percentile: 0.987_654_321,
            date: Some(date(2024, 5, 1)),
        }),
        ..bare(cve)
    }
}

fn cvss(cve: &str, score: f64) -> CveEnrichment {
    CveEnrichment {
        cvss: vec![Cvss {
            version: CvssVersion::V3_1,
            vector: "CVSS:3.1/AV:N/AC:H/PR:N/UI:N/S:C/C:H/I:H/A:H".into(),
            base_score: score,
        }],
        ..bare(cve)
    }
}

pub(crate) async fn merge_per_field(s: SharedStore) {
    let (a, b) = ("CVE-2024-3094", "CVE-2023-4863");
    assert_eq!(
        s.upsert_enrichment(&ctx(t(1)), &[kev(a), epss(b, 0.5)])
            .await
            .unwrap(),
        2
    );
    let ev = last_event(&s).await;
    assert_eq!(
        (ev.action.as_str(), ev.target_type.as_str()),
        ("enrichment.import", "cve")
    );
    let got = s
        .get_enrichment(&[b.into(), "CVE-1999-0001".into(), a.into()])
        .await
        .unwrap();
    assert_eq!(
        got,
        vec![epss(b, 0.5), kev(a)],
        "known CVEs only, ordered by id"
    );

    // EPSS for a: the KEV entry stays.
    assert_eq!(
        s.upsert_enrichment(&ctx(t(2)), &[epss(a, 0.96)])
            .await
            .unwrap(),
        1
    );
    let want_a = CveEnrichment {
        epss: epss(a, 0.96).epss,
        ..kev(a)
    };
    assert_eq!(
        s.get_enrichment(&[a.into()]).await.unwrap(),
        vec![want_a.clone()]
    );

    // The same data again, and absent fields: nothing changes, no event.
    let events = count_events(&s, "enrichment.import").await;
    let n = s
        .upsert_enrichment(
            &ctx(t(3)),
            &[epss(a, 0.96), kev(a), bare(a), bare(b), epss(b, 0.5)],
        )
        .await
        .unwrap();
    assert_eq!(n, 0);
    assert_eq!(count_events(&s, "enrichment.import").await, events);

    // A CVSS list replaces; an empty one keeps it. A new score replaces the EPSS.
    assert_eq!(
        s.upsert_enrichment(&ctx(t(4)), &[cvss(a, 10.0), epss(b, 0.25)])
            .await
            .unwrap(),
        2
    );
    assert_eq!(
        s.upsert_enrichment(&ctx(t(5)), &[bare(a)]).await.unwrap(),
        0
    );
    let want_a = CveEnrichment {
        cvss: cvss(a, 10.0).cvss,
        ..want_a
    };
    assert_eq!(
        s.get_enrichment(&[a.into(), b.into()]).await.unwrap(),
        vec![epss(b, 0.25), want_a]
    );

    // Nothing known about a new CVE stores nothing.
    assert_eq!(
        s.upsert_enrichment(&ctx(t(6)), &[bare("CVE-2024-0001")])
            .await
            .unwrap(),
        0
    );
    assert!(s
        .get_enrichment(&["CVE-2024-0001".into()])
        .await
        .unwrap()
        .is_empty());
    // Several items for one CVE in one batch merge in order.
    let c = "CVE-2021-44228";
    let n = s
        .upsert_enrichment(
            &ctx(t(7)),
            &[kev(c), epss(c, 0.1), epss(c, 0.97), cvss(c, 10.0)],
        )
        .await
        .unwrap();
    assert_eq!(n, 1);
    let want_c = CveEnrichment {
        epss: epss(c, 0.97).epss,
        cvss: cvss(c, 10.0).cvss,
        ..kev(c)
    };
    assert_eq!(s.get_enrichment(&[c.into()]).await.unwrap(), vec![want_c]);
    assert!(s.get_enrichment(&[]).await.unwrap().is_empty());

    // A feed-sized EPSS batch.
    let many: Vec<CveEnrichment> = (0..20_000)
        .map(|i| epss(&format!("CVE-2023-{i:05}"), 0.001))
        .collect();
    assert_eq!(
        s.upsert_enrichment(&ctx(t(8)), &many).await.unwrap(),
        20_000
    );
    let names: Vec<String> = many.iter().map(|e| e.cve.clone()).collect();
    assert_eq!(s.get_enrichment(&names).await.unwrap().len(), 20_000);
}
