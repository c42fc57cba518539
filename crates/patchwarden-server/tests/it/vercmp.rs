//! `patchwarden vercmp` against the real vector files (the ordering itself is tested in
//! patchwarden-version; this checks the command's three forms and its exit codes).

use std::io::Write;
use std::process::{Command, Stdio};

fn vercmp(scheme: &str, args: &[&str], stdin: &str) -> (i32, String, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_patchwarden"))
        .args(["vercmp", "--scheme", scheme])
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// `A op B` lines of a vector file.
fn vectors(rel: &str) -> Vec<(String, String, String)> {
    let path = format!("../../../shared/fixtures/versions/{rel}");
    std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{path}: {e}"))
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .map(|l| {
            let p: Vec<&str> = l.split_whitespace().collect();
            assert_eq!(p.len(), 3, "{l}");
            (p[0].to_owned(), p[1].to_owned(), p[2].to_owned())
        })
        .collect()
}

#[test]
fn stdin_pairs_match_every_vector() {
    for (scheme, file, expected) in [
        ("deb", "deb/dpkg-Dpkg_Version.t.txt", 0),
        ("rpm", "rpm/rpm-rpmvercmp.at.txt", 0),
        ("apk", "apk/alpine-versions-generated.osv.txt", 0),
    ] {
        let v = vectors(file);
        assert!(v.len() > 20, "{file}: {}", v.len());
        let input: String = v.iter().map(|(a, _, b)| format!("{a} {b}\n")).collect();
        let (code, out, err) = vercmp(scheme, &[], &input);
        assert_eq!(code, expected, "{file}: {err}");
        let got: Vec<&str> = out.lines().collect();
        assert_eq!(got.len(), v.len(), "{file}");
        for ((a, op, b), g) in v.iter().zip(got) {
            assert_eq!(op, g, "{scheme}: {a} {op} {b}");
        }
    }
}

#[test]
fn one_shot_forms_and_errors() {
    assert_eq!(vercmp("deb", &["1.0~rc1-1", "1.0-1"], "").1, "<\n");
    assert_eq!(vercmp("rpm", &["1:1.0-1", "2.0-1"], "").1, ">\n");
    assert_eq!(
        vercmp("deb", &["3.0.11-1~deb12u1", "lt", "3.0.11-1~deb12u2"], "").0,
        0
    );
    assert_eq!(
        vercmp("deb", &["3.0.11-1~deb12u2", "<", "3.0.11-1~deb12u1"], "").0,
        1
    );
    assert_eq!(vercmp("apk", &["1.2.3-r1", ">=", "1.2.3-r0"], "").0, 0);
    let (code, _, err) = vercmp("deb", &["1:", "1.0"], "");
    assert_eq!(code, 2);
    assert!(err.contains("1:"), "{err}");
    let (code, out, err) = vercmp("deb", &[], "1.0 2.0\nfoo bar baz\n");
    assert_eq!(code, 2, "{out}");
    assert_eq!(out, "<\n", "answers before the bad line are printed");
    assert!(err.contains("line 2"), "{err}");
    let (code, _, err) = vercmp("deb", &["1.0", "~~", "2.0"], "");
    assert_eq!(code, 2);
    assert!(err.contains("unknown operator"), "{err}");
    let out = Command::new(env!("CARGO_BIN_EXE_patchwarden"))
        .args(["vercmp", "--scheme", "msi", "1", "2"])
        .output()
        .unwrap();
    assert!(!out.status.success());
}
