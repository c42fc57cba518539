//! The `.deb` installed, upgraded and purged with the real dpkg in an alternate root
//! (`dpkg --root --force-script-chrootless`: the maintainer scripts run on the host
//! with `DPKG_ROOT` set). `systemctl` is a logging wrapper that forwards only
//! `--root=` calls to the real one, so a call aimed at the host would show in the log.

use crate::{check_installed, inputs, mode, modify_config, stdout, TestResult, DEB_TOOLS};
use patchwarden_packaging::{build_deb, Arch};
use patchwarden_pmtest::{tools_and_root_present, AptRoot, HostSnapshot, PkgSpec};
use std::path::Path;
use std::process::Command;

const VERSION: &str = env!("CARGO_PKG_VERSION");

fn fake_systemctl(bin: &Path, log: &Path) -> TestResult {
    std::fs::create_dir_all(bin)?;
    let script = bin.join("systemctl");
    std::fs::write(
        &script,
        format!(
            "#!/bin/sh\necho \"$*\" >> '{}'\n\
             case \"$1\" in --root=*) [ -x /usr/bin/systemctl ] && exec /usr/bin/systemctl \"$@\";; esac\n\
             exit 0\n",
            log.display()
        ),
    )?;
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755))?;
    Ok(())
}

#[test]
fn deb_installs_keeps_modified_conffile_on_upgrade_and_purges() -> TestResult {
    if !tools_and_root_present(DEB_TOOLS)? {
        return Ok(());
    }
    let host = HostSnapshot::capture()?;
    assert!(
        host.existing() > 0,
        "the host snapshot must cover something"
    );
    let tmp = tempfile::tempdir()?;
    let root = tmp.path().join("root");
    let out = tmp.path().join("out");
    std::fs::create_dir_all(&out)?;
    let apt = AptRoot::new(&root)?;
    let v1 = build_deb(&inputs(VERSION)?, &out)?;
    let v2_version = format!("{VERSION}.1");
    let v2 = build_deb(&inputs(&v2_version)?, &out)?;

    let bin = tmp.path().join("bin");
    let log = tmp.path().join("systemctl.log");
    fake_systemctl(&bin, &log)?;
    let path = format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let dpkg = |args: &[&str], deb: Option<&Path>| -> TestResult {
        let mut cmd = apt.dpkg_command();
        cmd.env("PATH", &path).args(args);
        if let Some(deb) = deb {
            cmd.arg(deb);
        }
        crate::run(&mut cmd).map(drop)
    };

    // The root has no C library: stub packages satisfy Depends, so dpkg checks them.
    let depends = stdout(Command::new("dpkg-deb").arg("-f").arg(&v1).arg("Depends"))?;
    for dep in depends.trim().split(", ") {
        let name = dep.split_whitespace().next().unwrap_or(dep);
        let stub = PkgSpec::new(name, "999.0-1").arch(Arch::host()?.deb);
        dpkg(&["-i"], Some(&patchwarden_pmtest::build_deb(&out, &stub)?))?;
    }

    dpkg(&["-i"], Some(&v1))?;
    assert_eq!(
        apt.installed_version("patchwarden-agent")?.as_deref(),
        Some(VERSION)
    );
    check_installed(&root)?;
    let state = root.join("var/lib/patchwarden-agent");
    assert_eq!(mode(&state)?, 0o700);
    let root_arg = format!("--root={}", root.display());
    assert_eq!(
        std::fs::read_to_string(&log)?,
        format!("{root_arg} --quiet enable patchwarden-agent.service\n"),
        "first install enables (in the root only), does not start"
    );
    let wants = root.join("etc/systemd/system/multi-user.target.wants/patchwarden-agent.service");
    let real_systemctl = Path::new("/usr/bin/systemctl").exists();
    if real_systemctl {
        assert!(
            wants.symlink_metadata().is_ok(),
            "enabled: {}",
            wants.display()
        );
    }

    // An administrator's change survives a reinstall and an upgrade, without prompts
    // (stdin is not a terminal) and without .dpkg-dist/.dpkg-new files.
    let modified = modify_config(&root)?;
    std::fs::write(state.join("enrollment.json"), "{}")?;
    dpkg(&["-i"], Some(&v1))?;
    dpkg(&["-i"], Some(&v2))?;
    assert_eq!(
        apt.installed_version("patchwarden-agent")?.as_deref(),
        Some(v2_version.as_str())
    );
    let config = root.join("etc/patchwarden/agent.toml");
    assert_eq!(std::fs::read_to_string(&config)?, modified);
    let etc: Vec<_> = std::fs::read_dir(root.join("etc/patchwarden"))?
        .map(|e| e.map(|e| e.file_name()))
        .collect::<Result<_, _>>()?;
    assert_eq!(etc, ["agent.toml"]);
    assert!(
        state.join("enrollment.json").is_file(),
        "upgrade keeps the state"
    );
    let calls = std::fs::read_to_string(&log)?;
    assert_eq!(
        calls.lines().count(),
        1,
        "upgrades do not enable again:\n{calls}"
    );

    dpkg(&["--purge", "patchwarden-agent"], None)?;
    assert_eq!(apt.installed_version("patchwarden-agent")?, None);
    let calls = std::fs::read_to_string(&log)?;
    assert_eq!(
        calls.lines().last(),
        Some(format!("{root_arg} --quiet disable patchwarden-agent.service").as_str())
    );
    assert!(
        calls.lines().all(|l| l.starts_with(&root_arg)),
        "host systemd left alone:\n{calls}"
    );
    for gone in [
        "usr/bin/patchwarden-agent",
        "etc/patchwarden",
        "var/lib/patchwarden-agent",
    ] {
        assert!(!root.join(gone).exists(), "{gone} removed on purge");
    }
    if real_systemctl {
        assert!(wants.symlink_metadata().is_err(), "disabled");
    }
    host.assert_unchanged()?;
    Ok(())
}
