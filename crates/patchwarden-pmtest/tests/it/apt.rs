use patchwarden_pmtest::{
    tools_and_root_present, AptRoot, DebRepo, HostSnapshot, PkgSpec, ReleaseMeta, Result, APT_TOOLS,
};

fn marker_postinst(name: &str) -> String {
    format!("echo \"$1 ${{2:-}}\" >> \"$DPKG_ROOT/var/lib/{name}.postinst-ran\"")
}

#[test]
fn apt_installs_v1_sees_v2_upgrades_and_leaves_the_host_alone() -> Result<()> {
    if !tools_and_root_present(APT_TOOLS)? {
        return Ok(());
    }
    let host = HostSnapshot::capture()?;
    assert!(
        host.existing() > 0,
        "this host has no dpkg database to watch"
    );
    let tmp = tempfile::tempdir().unwrap();
    let repo = DebRepo::new(&tmp.path().join("main"), ReleaseMeta::bookworm())?;
    let v1 = PkgSpec::new("pwtest-hello", "1.0-1").postinst(&marker_postinst("pwtest-hello"));
    let v2 = PkgSpec::new("pwtest-hello", "2.0-1").postinst(&marker_postinst("pwtest-hello"));
    repo.add(&v1)?;
    repo.add(&v2)?;
    repo.add(&PkgSpec::new("pwtest-dep", "1.0").depends("pwtest-hello (>= 2.0)"))?;
    repo.publish()?;

    let root = AptRoot::new(&tmp.path().join("root"))?;
    root.add_repo(&repo)?;
    root.update()?;
    root.install(&["pwtest-hello=1.0-1"])?;
    assert_eq!(
        root.installed_version("pwtest-hello")?.as_deref(),
        Some("1.0-1")
    );
    let file = root.path().join("usr/share/pwtest-hello/version");
    assert_eq!(std::fs::read_to_string(&file).unwrap(), "1.0-1\n");
    let ran = root.path().join("var/lib/pwtest-hello.postinst-ran");
    assert_eq!(std::fs::read_to_string(&ran).unwrap(), "configure \n");
    // apt fetched through copy:, so the package is in the root's own cache.
    assert!(root.archives().join("pwtest-hello_1.0-1_all.deb").is_file());

    let sim = root.simulate_dist_upgrade()?;
    assert!(
        sim.lines()
            .any(|l| l == "Inst pwtest-hello [1.0-1] (2.0-1 Debian:bookworm [all])"),
        "{sim}"
    );
    assert_eq!(
        root.installed_version("pwtest-hello")?.as_deref(),
        Some("1.0-1")
    );

    root.dist_upgrade()?;
    assert_eq!(
        root.installed_version("pwtest-hello")?.as_deref(),
        Some("2.0-1")
    );
    assert_eq!(std::fs::read_to_string(&file).unwrap(), "2.0-1\n");
    assert_eq!(
        std::fs::read_to_string(&ran).unwrap(),
        "configure \nconfigure 1.0-1\n"
    );
    // Dependencies resolve against the root's database.
    root.install(&["pwtest-dep"])?;
    assert_eq!(
        root.installed_version("pwtest-dep")?.as_deref(),
        Some("1.0")
    );
    assert!(root.path().join("var/log/dpkg.log").is_file());

    host.assert_unchanged()?;
    Ok(())
}

#[test]
fn apt_shows_the_security_origin_of_the_candidate() -> Result<()> {
    if !tools_and_root_present(APT_TOOLS)? {
        return Ok(());
    }
    let host = HostSnapshot::capture()?;
    let tmp = tempfile::tempdir().unwrap();
    let main = DebRepo::new(&tmp.path().join("main"), ReleaseMeta::bookworm())?;
    // As Debian publishes it: Suite stable-security, Version 12.
    let sec = DebRepo::new(
        &tmp.path().join("sec"),
        ReleaseMeta::new(
            "Debian",
            "Debian-Security",
            "stable-security",
            "bookworm-security",
            "12",
        ),
    )?;
    main.add(&PkgSpec::new("pwtest-libssl", "3.0.11-1~deb12u1"))?;
    sec.add(&PkgSpec::new("pwtest-libssl", "3.0.11-1~deb12u2"))?;
    main.publish()?;
    sec.publish()?;
    let root = AptRoot::new(&tmp.path().join("root"))?;
    root.add_repo(&main)?;
    root.add_repo(&sec)?;
    root.update()?;
    root.install(&["pwtest-libssl=3.0.11-1~deb12u1"])?;
    let sim = root.simulate_dist_upgrade()?;
    let want = "Inst pwtest-libssl [3.0.11-1~deb12u1] \
                (3.0.11-1~deb12u2 Debian-Security:12/stable-security [all])";
    assert!(sim.lines().any(|l| l == want), "{sim}");
    host.assert_unchanged()?;
    Ok(())
}

#[test]
fn a_failing_postinst_leaves_the_package_half_configured() -> Result<()> {
    if !tools_and_root_present(APT_TOOLS)? {
        return Ok(());
    }
    let tmp = tempfile::tempdir().unwrap();
    let repo = DebRepo::new(&tmp.path().join("main"), ReleaseMeta::bookworm())?;
    repo.add(&PkgSpec::new("pwtest-bad", "1.0"))?;
    repo.add(&PkgSpec::new("pwtest-bad", "2.0").failing_postinst())?;
    repo.publish()?;
    let root = AptRoot::new(&tmp.path().join("root"))?;
    root.add_repo(&repo)?;
    root.update()?;
    root.install(&["pwtest-bad=1.0"])?;
    let out = root.apt_get_any(&["-q", "-y", "dist-upgrade"])?;
    assert!(!out.status.success());
    assert_eq!(root.status_abbrev("pwtest-bad")?.as_deref(), Some("iF"));
    // v1 is still in the root's cache after it leaves the repository.
    repo.remove("pwtest-bad", "1.0", "all")?;
    repo.publish()?;
    let cached = root.archives().join("pwtest-bad_1.0_all.deb");
    assert!(cached.is_file());
    let cached = cached.to_str().unwrap();
    let out = root.dpkg_any(&["-i", cached])?;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        root.installed_version("pwtest-bad")?.as_deref(),
        Some("1.0")
    );
    Ok(())
}
