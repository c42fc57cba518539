use patchwarden_pmtest::{
    tools_and_root_present, Advisory, DnfRoot, HostSnapshot, PkgSpec, Result, RpmRepo, DNF_TOOLS,
};

fn post_marker(name: &str) -> String {
    format!("local f = io.open(\"/var/lib/{name}.post-ran\", \"a\")\nf:write(\"post \" .. arg[2] .. \"\\n\")\nf:close()")
}

#[test]
fn dnf_installs_v1_sees_v2_as_a_security_update_upgrades_and_leaves_the_host_alone() -> Result<()> {
    if !tools_and_root_present(DNF_TOOLS)? {
        return Ok(());
    }
    let host = HostSnapshot::capture()?;
    let tmp = tempfile::tempdir().unwrap();
    let repo = RpmRepo::new(&tmp.path().join("repo"), "local")?;
    let v1 = PkgSpec::new("pwtest-hello", "1.0-1").post_lua(&post_marker("pwtest-hello"));
    let v2 = PkgSpec::new("pwtest-hello", "2.0-1").post_lua(&post_marker("pwtest-hello"));
    repo.add(&v1)?;
    repo.add(&v2)?;
    repo.publish(&[Advisory::security("PWSA-2026:0001", "Important")
        .cve("CVE-2026-0001")
        .package(&v2)])?;

    let root = DnfRoot::new(&tmp.path().join("root"), "9")?;
    root.add_repo(&repo)?;
    root.install(&["pwtest-hello-1.0-1"])?;
    assert_eq!(
        root.installed_version("pwtest-hello")?.as_deref(),
        Some("1.0-1")
    );
    let ran = root.path().join("var/lib/pwtest-hello.post-ran");
    assert_eq!(std::fs::read_to_string(&ran).unwrap(), "post 1\n");
    // The database is where inventory readers look for it.
    assert!(root.path().join("var/lib/rpm/rpmdb.sqlite").is_file());

    let out = root.dnf_any(&["-q", "updateinfo", "list", "--security"])?;
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.lines()
            .any(|l| l.split_whitespace().collect::<Vec<_>>()
                == [
                    "PWSA-2026:0001",
                    "Important/Sec.",
                    "pwtest-hello-2.0-1.noarch"
                ]),
        "{text}"
    );
    let out = root.dnf_any(&["-q", "check-update"])?;
    assert_eq!(out.status.code(), Some(100), "{out:?}");

    root.upgrade()?;
    assert_eq!(
        root.installed_version("pwtest-hello")?.as_deref(),
        Some("2.0-1")
    );
    let file = root.path().join("usr/share/pwtest-hello/version");
    assert_eq!(std::fs::read_to_string(file).unwrap(), "2.0-1\n");
    assert_eq!(std::fs::read_to_string(&ran).unwrap(), "post 1\npost 2\n");
    host.assert_unchanged()?;
    Ok(())
}

#[test]
fn a_failing_rpm_post_scriptlet_is_reported() -> Result<()> {
    if !tools_and_root_present(DNF_TOOLS)? {
        return Ok(());
    }
    let tmp = tempfile::tempdir().unwrap();
    let repo = RpmRepo::new(&tmp.path().join("repo"), "local")?;
    repo.add(&PkgSpec::new("pwtest-bad", "1.0-1"))?;
    repo.add(&PkgSpec::new("pwtest-bad", "2.0-1").failing_postinst())?;
    repo.publish(&[])?;
    let root = DnfRoot::new(&tmp.path().join("root"), "9")?;
    root.add_repo(&repo)?;
    root.install(&["pwtest-bad-1.0-1"])?;
    let out = root.dnf_any(&["upgrade"])?;
    let all = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        all.contains("post-install fails on purpose") || all.contains("scriptlet"),
        "{all}"
    );
    // rpm keeps the new version installed after a failing %post (it is not rolled back).
    assert_eq!(
        root.installed_version("pwtest-bad")?.as_deref(),
        Some("2.0-1")
    );
    Ok(())
}
