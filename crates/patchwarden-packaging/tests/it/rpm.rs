//! The `.rpm` installed, upgraded and erased with the real rpm in an alternate root
//! (`rpm --root`, the `DnfRoot` layout). rpm runs the scriptlets chrooted into the
//! root, which has no shell: ours are Lua, so they run here for real. To see what they
//! do, the root gets a logging `/usr/bin/systemctl` (a shell script, with the host's
//! `/bin/sh` and its libraries copied in) and `/run/systemd/system` ("systemd runs").
//! `--nodeps`: the root holds no glibc package to satisfy the automatic library
//! Requires (checked in meta.rs).

use crate::{check_installed, inputs, mode, modify_config, stdout, TestResult, RPM_TOOLS};
use patchwarden_packaging::build_rpm;
use patchwarden_pmtest::{tools_and_root_present, DnfRoot, HostSnapshot};
use std::path::Path;
use std::process::Command;

const VERSION: &str = env!("CARGO_PKG_VERSION");

#[test]
fn rpm_installs_keeps_modified_config_on_upgrade_and_erases() -> TestResult {
    if !tools_and_root_present(RPM_TOOLS)? {
        return Ok(());
    }
    let host = HostSnapshot::capture()?;
    let tmp = tempfile::tempdir()?;
    let root = tmp.path().join("root");
    let out = tmp.path().join("out");
    std::fs::create_dir_all(&out)?;
    let dnf = DnfRoot::new(&root, "9")?;
    let v1 = build_rpm(&inputs(VERSION)?, &out)?;
    let v2_version = format!("{VERSION}.1");
    let v2 = build_rpm(&inputs(&v2_version)?, &out)?;
    logging_systemctl_in(&root)?;
    let log = root.join("systemctl.log");
    let rpm = |args: &[&str], pkg: Option<&Path>| -> Result<String, Box<dyn std::error::Error>> {
        let mut cmd = dnf.rpm_command();
        cmd.args(args);
        if let Some(pkg) = pkg {
            cmd.arg(pkg);
        }
        let out = crate::run(&mut cmd)?;
        // A failing scriptlet is only a warning in rpm's exit status for %post.
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        assert!(!stderr.contains("scriptlet failed"), "{stderr}");
        Ok(stderr)
    };

    rpm(&["-i", "--nodeps"], Some(&v1))?;
    assert_eq!(
        dnf.installed_version("patchwarden-agent")?,
        Some(format!("{}-1", VERSION))
    );
    check_installed(&root)?;
    assert_eq!(
        std::fs::read_to_string(&log)?,
        "--quiet enable patchwarden-agent.service\ndaemon-reload\n",
        "first install: enable and reload, no start"
    );
    std::fs::write(&log, "")?;
    let state = root.join("var/lib/patchwarden-agent");
    assert_eq!(mode(&state)?, 0o700);

    let modified = modify_config(&root)?;
    std::fs::write(state.join("enrollment.json"), "{}")?;
    rpm(&["-U", "--replacepkgs", "--nodeps"], Some(&v1))?;
    rpm(&["-U", "--nodeps"], Some(&v2))?;
    assert_eq!(
        dnf.installed_version("patchwarden-agent")?,
        Some(format!("{v2_version}-1"))
    );
    // Per upgrade: new %post reloads; old %postun reloads and restarts if running.
    let upgrade =
        "daemon-reload\ndaemon-reload\n--no-block try-restart patchwarden-agent.service\n";
    assert_eq!(std::fs::read_to_string(&log)?, upgrade.repeat(2));
    std::fs::write(&log, "")?;
    let config = root.join("etc/patchwarden/agent.toml");
    assert_eq!(std::fs::read_to_string(&config)?, modified);
    assert!(!root.join("etc/patchwarden/agent.toml.rpmnew").exists());
    assert!(
        state.join("enrollment.json").is_file(),
        "upgrade keeps the state"
    );
    let verify = stdout(
        dnf.rpm_command()
            .args(["-V", "--nodeps", "patchwarden-agent"])
            .env("LC_ALL", "C"),
    );
    // rpm -V exits 1 because the config changed; only that file may be reported.
    if let Err(e) = verify {
        assert!(
            e.to_string().contains(" c /etc/patchwarden/agent.toml"),
            "{e}"
        );
    }

    rpm(&["-e", "--nodeps", "patchwarden-agent"], None)?;
    assert_eq!(dnf.installed_version("patchwarden-agent")?, None);
    assert!(!root.join("usr/bin/patchwarden-agent").exists());
    assert_eq!(
        std::fs::read_to_string(&log)?,
        "stop patchwarden-agent.service\n--quiet disable patchwarden-agent.service\ndaemon-reload\n"
    );
    // A changed config is saved, not deleted; the state (the agent's identity) stays.
    assert_eq!(
        std::fs::read_to_string(root.join("etc/patchwarden/agent.toml.rpmsave"))?,
        modified
    );
    assert!(state.join("enrollment.json").is_file());
    host.assert_unchanged()?;
    Ok(())
}

/// Puts the host's `/bin/sh` (with the libraries `ldd` names) and a `systemctl` that
/// appends its arguments to `/systemctl.log` into `root`, and marks systemd as running.
fn logging_systemctl_in(root: &Path) -> TestResult {
    let ldd = stdout(Command::new("ldd").arg("/bin/sh"))?;
    let libs = ldd
        .split_whitespace()
        .filter(|w| w.starts_with('/'))
        .map(Path::new);
    for from in libs.chain([Path::new("/bin/sh")]) {
        let to = root.join(from.strip_prefix("/")?);
        std::fs::create_dir_all(to.parent().ok_or("no parent")?)?;
        std::fs::copy(from, &to)?;
    }
    let systemctl = root.join("usr/bin/systemctl");
    std::fs::create_dir_all(root.join("usr/bin"))?;
    std::fs::write(&systemctl, "#!/bin/sh\necho \"$*\" >> /systemctl.log\n")?;
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&systemctl, std::fs::Permissions::from_mode(0o755))?;
    std::fs::create_dir_all(root.join("run/systemd/system"))?;
    Ok(())
}
