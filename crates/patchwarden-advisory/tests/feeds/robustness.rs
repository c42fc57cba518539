//! Zip layout, sha256 sidecars, malformed input, and never-panic property tests.

use super::*;

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
