//! The `.deb`: a staging tree with `DEBIAN/` built by `dpkg-deb --root-owner-group`.

use crate::error::{PackError, Result};
use crate::layout::{stage, CONFFILE, POSTINST, POSTRM, PRERM};
use crate::tools::{mkdirs, remove_dir, run, write_mode};
use crate::{Compression, Inputs, PACKAGE};
use std::path::{Path, PathBuf};
use std::process::Command;

/// The binary's path inside the staging tree.
const BINARY: &str = "usr/bin/patchwarden-agent";

/// Builds `out_dir/patchwarden-agent_<version>_<arch>.deb` and returns its path.
/// The staging tree is `out_dir/.work-deb/debian/patchwarden-agent` (the layout
/// `dpkg-shlibdeps` expects), removed afterwards.
pub fn build_deb(inputs: &Inputs, out_dir: &Path) -> Result<PathBuf> {
    let version = inputs.package_version()?;
    let work = out_dir.join(".work-deb");
    remove_dir(&work)?;
    let pkg = work.join("debian").join(PACKAGE);
    stage(&pkg, inputs, true)?;
    let depends = match &inputs.depends {
        Some(d) => d.clone(),
        None => shlib_depends(&work)?,
    };
    let control = format!(
        "Package: {PACKAGE}\n\
         Version: {version}\n\
         Architecture: {arch}\n\
         Maintainer: {maintainer}\n\
         Installed-Size: {size}\n\
         {depends_line}\
         Section: admin\n\
         Priority: optional\n\
         Homepage: https://example.invalid/patchwarden\n\
         Description: Patchwarden endpoint agent\n \
         Reports this host's package inventory and pending updates to a Patchwarden\n \
         server and applies the package changes the server signs (apt/dnf), with\n \
         verification and rollback. Installed but not started: enrol it with\n \
         `patchwarden-agent enroll`, then `systemctl enable --now patchwarden-agent`.\n",
        arch = inputs.arch.deb,
        maintainer = inputs.maintainer,
        size = installed_size_kib(&pkg)?,
        depends_line = if depends.is_empty() {
            String::new()
        } else {
            format!("Depends: {depends}\n")
        },
    );
    let debian = pkg.join("DEBIAN");
    mkdirs(&debian)?;
    write_mode(&debian.join("control"), control.as_bytes(), 0o644)?;
    write_mode(
        &debian.join("conffiles"),
        format!("{CONFFILE}\n").as_bytes(),
        0o644,
    )?;
    for (name, text) in [("postinst", POSTINST), ("prerm", PRERM), ("postrm", POSTRM)] {
        write_mode(&debian.join(name), text.as_bytes(), 0o755)?;
    }
    let deb = out_dir.join(format!("{PACKAGE}_{version}_{}.deb", inputs.arch.deb));
    let compression: &[&str] = match inputs.compression {
        Compression::Xz => &["-Zxz"],
        Compression::Fast => &["-Zgzip", "-z1"],
    };
    run(Command::new("dpkg-deb")
        .args(["--root-owner-group", "--build"])
        .args(compression)
        .arg(&pkg)
        .arg(&deb))?;
    remove_dir(&work)?;
    Ok(deb)
}

/// `Depends:` for the staged binary per `dpkg-shlibdeps` (run in `work`, which holds
/// `debian/patchwarden-agent/`; a minimal `debian/control` is written for it), e.g.
/// `libc6 (>= 2.34), libgcc-s1 (>= 4.2)`.
pub fn shlib_depends(work: &Path) -> Result<String> {
    let control = format!("Source: {PACKAGE}\n\nPackage: {PACKAGE}\nArchitecture: any\n");
    write_mode(&work.join("debian/control"), control.as_bytes(), 0o644)?;
    let out = run(Command::new("dpkg-shlibdeps")
        .current_dir(work)
        .arg("-O")
        .arg(format!("-edebian/{PACKAGE}/{BINARY}")))?;
    let text = String::from_utf8_lossy(&out.stdout);
    text.lines()
        .find_map(|l| l.strip_prefix("shlibs:Depends="))
        .map(|d| d.trim().to_owned())
        .ok_or_else(|| {
            PackError::invalid(
                "dpkg-shlibdeps output",
                format!("no shlibs:Depends in {text:?}"),
            )
        })
}

/// `Installed-Size:` in KiB: each file rounded up to whole KiB, one per directory.
fn installed_size_kib(dir: &Path) -> Result<u64> {
    let mut total = 0;
    for item in std::fs::read_dir(dir).map_err(PackError::io(dir))? {
        let item = item.map_err(PackError::io(dir))?;
        let meta = item.metadata().map_err(PackError::io(item.path()))?;
        total += if meta.is_dir() {
            1 + installed_size_kib(&item.path())?
        } else {
            meta.len().div_ceil(1024)
        };
    }
    Ok(total)
}
