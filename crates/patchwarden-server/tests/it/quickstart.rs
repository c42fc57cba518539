//! `patchwarden quickstart` on this machine's real package database.

use std::process::Command;

fn quickstart(dir: &std::path::Path) -> (bool, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_patchwarden"))
        .current_dir(dir)
        .args(["quickstart", "--no-serve"])
        .env_remove("PATCHWARDEN_CONFIG")
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

fn dpkg_installed_count() -> Option<usize> {
    let out = Command::new("dpkg-query")
        .args(["-W", "-f=${db:Status-Abbrev}\n"])
        .output()
        .ok()?;
    Some(
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter(|l| l.starts_with("ii") || l.starts_with("hi"))
            .count(),
    )
}

#[test]
fn quickstart_bootstraps_once_and_registers_this_machine() {
    let Some(expected) = dpkg_installed_count() else {
        patchwarden_testkit::skip("dpkg-query (a Debian-family machine)");
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let (ok, out) = quickstart(dir.path());
    assert!(ok, "{out}");
    assert!(dir.path().join("patchwarden-data/patchwarden.db").exists());
    assert!(out.contains("(new)"), "{out}");
    let pw_line = out
        .lines()
        .find(|l| l.contains("one-time password:"))
        .unwrap_or_else(|| panic!("no one-time password printed:\n{out}"));
    let pw = pw_line.rsplit(' ').next().unwrap();
    assert!(pw.len() >= 20, "{pw_line}");
    assert!(
        out.contains(&format!("{expected} packages")),
        "expected {expected} packages:\n{out}"
    );

    // Second run: data reused, no new password, nothing re-added.
    let (ok, out2) = quickstart(dir.path());
    assert!(ok, "{out2}");
    assert!(out2.contains("(reused)"), "{out2}");
    assert!(!out2.contains("one-time password:"), "{out2}");
    assert!(!out2.contains(pw), "{out2}");
    assert!(out2.contains("+0 -0 ~0"), "{out2}");
}
