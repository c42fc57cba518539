//! The `.rpm`: `rpmbuild -bb` on a generated spec whose `%install` copies the staging
//! tree (no compilation inside rpmbuild).

use crate::error::{PackError, Result};
use crate::layout::{stage, CONFFILE, FILES, RPM_POST, RPM_POSTUN, RPM_PREUN, STATE_DIR};
use crate::tools::{mkdirs, plain_abs_path, remove_dir, run, write_mode};
use crate::{Compression, Inputs, PACKAGE};
use std::path::{Path, PathBuf};
use std::process::Command;

/// The spec file for `inputs`, whose `%install` copies `stage_dir` (an absolute path
/// without characters a spec or shell would interpret). rpm finds the binary's
/// library dependencies itself (`libc.so.6(GLIBC_2.34)(64bit)`, …): automatic
/// Requires stay on, so an rpm-based host with too old a glibc refuses the package
/// instead of installing a binary that cannot start.
pub fn spec_file(inputs: &Inputs, stage_dir: &Path) -> Result<String> {
    let version = inputs.package_version()?;
    let stage_dir = plain_abs_path(stage_dir)?;
    if inputs.maintainer.contains(['%', '\n']) {
        return Err(PackError::invalid("maintainer", "no % or newline"));
    }
    let mut s = format!(
        "Name: {PACKAGE}\n\
         Version: {version}\n\
         Release: 1\n\
         Summary: Patchwarden endpoint agent\n\
         License: AGPL-3.0-or-later\n\
         URL: https://example.invalid/patchwarden\n\
         Packager: {maintainer}\n\
         \n\
         %description\n\
         Reports this host's package inventory and pending updates to a Patchwarden\n\
         server and applies the package changes the server signs (dnf), with\n\
         verification and rollback. Installed but not started: enrol it with\n\
         `patchwarden-agent enroll`, then `systemctl enable --now patchwarden-agent`.\n\
         \n\
         %install\n\
         mkdir -p %{{buildroot}}\n\
         cp -a {stage_dir}/. %{{buildroot}}/\n\
         \n",
        maintainer = inputs.maintainer,
    );
    for (section, body) in [
        ("%post", RPM_POST),
        ("%preun", RPM_PREUN),
        ("%postun", RPM_POSTUN),
    ] {
        s.push_str(&format!(
            "{section} -p <lua>\n{}\n",
            body.replace('%', "%%")
        ));
    }
    s.push_str("%files\n");
    s.push_str("%dir %attr(0755,root,root) /etc/patchwarden\n");
    for entry in FILES.iter().filter(|e| !e.deb_only) {
        let config = if entry.path == CONFFILE {
            "%config(noreplace) "
        } else {
            ""
        };
        s.push_str(&format!(
            "{config}%attr({:04o},root,root) {}\n",
            entry.mode, entry.path
        ));
    }
    s.push_str(&format!("%dir %attr(0700,root,root) {STATE_DIR}\n"));
    Ok(s)
}

/// Builds `out_dir/patchwarden-agent-<version>-1.<arch>.rpm` and returns its path.
/// Work files (`_topdir`, staging tree) are in `out_dir/.work-rpm`, removed afterwards.
pub fn build_rpm(inputs: &Inputs, out_dir: &Path) -> Result<PathBuf> {
    let version = inputs.package_version()?;
    let work = out_dir.join(".work-rpm");
    remove_dir(&work)?;
    let stage_dir = work.join("stage");
    stage(&stage_dir, inputs, false)?;
    let top = work.join("top");
    mkdirs(&top)?;
    let spec_path = top.join(format!("{PACKAGE}.spec"));
    write_mode(&spec_path, spec_file(inputs, &stage_dir)?.as_bytes(), 0o644)?;
    let payload = match inputs.compression {
        Compression::Xz => "w6.xzdio",
        Compression::Fast => "w1.gzdio",
    };
    let defines = [
        format!("_topdir {}", plain_abs_path(&top)?),
        format!("_binary_payload {payload}"),
        // Copy the staged files as they are: no strip, no debuginfo, no build-id links.
        "__os_install_post %{nil}".to_owned(),
        "debug_package %{nil}".to_owned(),
        "_build_id_links none".to_owned(),
        // rpmbuild opens the rpm database (Debian's rpm keeps it in /root/.rpmdb and
        // creates it on first use): a private one keeps the build off the host's.
        format!("_dbpath {}/rpmdb", plain_abs_path(&top)?),
    ];
    let mut cmd = Command::new("rpmbuild");
    cmd.args(["-bb", "--quiet", "--target", inputs.arch.rpm]);
    for d in &defines {
        cmd.arg("--define").arg(d);
    }
    run(cmd.arg(&spec_path))?;
    let name = format!("{PACKAGE}-{version}-1.{}.rpm", inputs.arch.rpm);
    let built = top.join("RPMS").join(inputs.arch.rpm).join(&name);
    let rpm = out_dir.join(&name);
    std::fs::rename(&built, &rpm).map_err(PackError::io(&built))?;
    remove_dir(&work)?;
    Ok(rpm)
}
