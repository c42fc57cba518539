//! `pw-package` output checked with the distributions' own query tools.

use crate::{agent_binary, stdout, TestResult, DEB_TOOLS, RPM_TOOLS};
use patchwarden_packaging::{Arch, POSTINST, POSTRM, PRERM, UNIT};
use patchwarden_pmtest::{tools_present, Tool};
use std::path::{Path, PathBuf};
use std::process::Command;

const VERSION: &str = env!("CARGO_PKG_VERSION");

/// Runs the `pw-package` binary for one format into `out`; returns the path it printed.
fn pw_package(format: &str, out: &Path) -> Result<PathBuf, Box<dyn std::error::Error>> {
    let printed = stdout(
        Command::new(env!("CARGO_BIN_EXE_pw-package"))
            .arg("--binary")
            .arg(agent_binary()?)
            .arg("--out")
            .arg(out)
            .args(["--fast", "--format", format]),
    )?;
    let path = PathBuf::from(printed.trim());
    assert!(path.is_file(), "{printed}");
    Ok(path)
}

#[test]
fn deb_metadata_files_conffile_and_scripts() -> TestResult {
    if !tools_present(DEB_TOOLS)? {
        return Ok(());
    }
    let tmp = tempfile::tempdir()?;
    let deb = pw_package("deb", tmp.path())?;
    let arch = Arch::host()?;
    assert_eq!(
        deb.file_name().and_then(|n| n.to_str()),
        Some(format!("patchwarden-agent_{VERSION}_{}.deb", arch.deb).as_str())
    );
    let field = |name: &str| stdout(Command::new("dpkg-deb").arg("-f").arg(&deb).arg(name));
    assert_eq!(field("Package")?.trim(), "patchwarden-agent");
    assert_eq!(field("Version")?.trim(), VERSION);
    assert_eq!(field("Architecture")?.trim(), arch.deb);
    // From dpkg-shlibdeps: the C library (and libgcc_s for unwinding), nothing else
    // (rustls with ring: no OpenSSL).
    let depends = field("Depends")?;
    assert!(depends.starts_with("libc6 (>= "), "{depends}");
    for dep in depends.trim().split(", ") {
        assert!(
            dep.starts_with("libc6 ") || dep.starts_with("libgcc-s1"),
            "{depends}"
        );
    }

    let listing = stdout(Command::new("dpkg-deb").arg("-c").arg(&deb))?;
    for (perms, path) in [
        ("-rwxr-xr-x root/root", "./usr/bin/patchwarden-agent"),
        (
            "-rw-r--r-- root/root",
            "./usr/lib/systemd/system/patchwarden-agent.service",
        ),
        ("-rw-r--r-- root/root", "./etc/patchwarden/agent.toml"),
        (
            "-rw-r--r-- root/root",
            "./usr/share/doc/patchwarden-agent/copyright",
        ),
    ] {
        assert!(
            listing
                .lines()
                .any(|l| l.starts_with(perms) && l.ends_with(path)),
            "{perms} {path} in\n{listing}"
        );
    }

    let control = tmp.path().join("control");
    stdout(Command::new("dpkg-deb").arg("-e").arg(&deb).arg(&control))?;
    assert_eq!(
        std::fs::read_to_string(control.join("conffiles"))?,
        "/etc/patchwarden/agent.toml\n"
    );
    for (name, text) in [("postinst", POSTINST), ("prerm", PRERM), ("postrm", POSTRM)] {
        assert_eq!(std::fs::read_to_string(control.join(name))?, text);
        assert_eq!(crate::mode(&control.join(name))?, 0o755, "{name}");
    }
    Ok(())
}

#[test]
fn rpm_metadata_files_config_and_lua_scriptlets() -> TestResult {
    if !tools_present(RPM_TOOLS)? {
        return Ok(());
    }
    let tmp = tempfile::tempdir()?;
    let rpm = pw_package("rpm", tmp.path())?;
    let arch = Arch::host()?;
    assert_eq!(
        rpm.file_name().and_then(|n| n.to_str()),
        Some(format!("patchwarden-agent-{VERSION}-1.{}.rpm", arch.rpm).as_str())
    );
    // A private database: Debian's rpm creates /root/.rpmdb on first use otherwise.
    let dbpath = tmp.path().join("rpmdb");
    let query = |args: &[&str]| {
        stdout(
            Command::new("rpm")
                .arg("--dbpath")
                .arg(&dbpath)
                .arg("-qp")
                .args(args)
                .arg(&rpm),
        )
    };
    assert_eq!(
        query(&["--qf", "%{NAME} %{VERSION} %{RELEASE} %{ARCH} %{LICENSE}"])?,
        format!(
            "patchwarden-agent {VERSION} 1 {} AGPL-3.0-or-later",
            arch.rpm
        )
    );
    let files = query(&[
        "--qf",
        "[%{FILEMODES:perms} %{FILEUSERNAME}:%{FILEGROUPNAME} %{FILENAMES}\n]",
    ])?;
    for line in [
        "drwxr-xr-x root:root /etc/patchwarden",
        "-rw-r--r-- root:root /etc/patchwarden/agent.toml",
        "-rwxr-xr-x root:root /usr/bin/patchwarden-agent",
        "-rw-r--r-- root:root /usr/lib/systemd/system/patchwarden-agent.service",
        "drwx------ root:root /var/lib/patchwarden-agent",
    ] {
        assert!(files.lines().any(|l| l == line), "{line} in\n{files}");
    }
    assert_eq!(files.lines().count(), 5, "{files}");
    assert_eq!(query(&["--configfiles"])?, "/etc/patchwarden/agent.toml\n");
    // %config(noreplace): file flags bit 0 (config) and bit 4 (noreplace).
    let flags = query(&["--qf", "[%{FILEFLAGS} %{FILENAMES}\n]"])?;
    assert!(
        flags.lines().any(|l| l == "17 /etc/patchwarden/agent.toml"),
        "{flags}"
    );

    let scripts = query(&["--scripts"])?;
    for section in ["postinstall", "preuninstall", "postuninstall"] {
        assert!(
            scripts.contains(&format!("{section} scriptlet (using <lua>)")),
            "{section} in\n{scripts}"
        );
    }
    assert!(!scripts.contains("(using /bin/sh)"), "{scripts}");
    // Automatic library Requires: a host whose glibc is too old refuses the package.
    let requires = query(&["--requires"])?;
    assert!(
        requires.lines().any(|l| l.starts_with("libc.so.6(GLIBC_")),
        "{requires}"
    );
    assert!(!requires.contains("libssl"), "{requires}");
    Ok(())
}

#[test]
fn unit_passes_systemd_analyze_verify() -> TestResult {
    let tool = Tool {
        program: "systemd-analyze",
        package: "systemd",
    };
    if !tools_present(&[tool])? {
        return Ok(());
    }
    // ExecStart must name an existing executable: point it at the built agent.
    let tmp = tempfile::tempdir()?;
    let unit = tmp.path().join("patchwarden-agent.service");
    let binary = agent_binary()?;
    let text = UNIT.replace(
        "ExecStart=/usr/bin/patchwarden-agent ",
        &format!("ExecStart={} ", binary.display()),
    );
    assert_ne!(text, UNIT);
    std::fs::write(&unit, text)?;
    let out = crate::run(
        Command::new("systemd-analyze")
            .args(["verify", "--man=no"])
            .arg(&unit),
    )?;
    // Unknown keys or bad values are warnings on stderr, with exit status 0.
    assert_eq!(String::from_utf8_lossy(&out.stderr), "");
    Ok(())
}
