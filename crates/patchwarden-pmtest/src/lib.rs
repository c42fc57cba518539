//! Test support: the real dpkg/apt and rpm/dnf, confined to an alternate root
//! directory, with tiny packages and local repositories built in the test. No network,
//! and the host's own package databases and configuration are never touched
//! ([`HostSnapshot`] proves it in this crate's tests).
//!
//! ```text
//! PkgSpec ──build_deb──► DebRepo (pool/, Packages, Release) ──copy:──► AptRoot
//!         ──build_rpm──► RpmRepo (repodata/, updateinfo)    ──file://─► DnfRoot
//! ```
//!
//! Every helper returns a [`Result`]; tests begin with the skip convention
//! ([`tools_present`] / [`tools_and_root_present`]): when a program is missing the test
//! prints `SKIP: <reason>` and passes, unless `PATCHWARDEN_REQUIRE_ALL_TESTS=1`, when it
//! fails with [`PmError::MissingTool`]. Installing into a root needs uid 0 (dpkg and rpm
//! set file ownership; apt and dnf lock).
//!
//! # apt and dpkg on an alternate root (apt 2.6, dpkg 1.21, Debian 12)
//! [`AptRoot::new`] writes `<root>/etc/apt/apt.conf` and every `apt-get` runs with
//! `APT_CONFIG=<root>/etc/apt/apt.conf`. That file is read *before* the host's
//! configuration directory, and since it moves `Dir`, the host's `/etc/apt/apt.conf.d`
//! (with hooks such as `DPkg::Post-Invoke` that would clean the host's cache) is never
//! read. Its contents:
//!
//! ```text
//! Dir "<root>/";                                  // etc/apt, var/lib/apt, var/cache/apt, var/log/apt under the root
//! Dir::State::status "<root>/var/lib/dpkg/status"; // absolute by default, so set explicitly
//! APT::Sandbox::User "root";                      // _apt cannot read a 0700 temp dir
//! Acquire::Languages "none";
//! Dpkg::Use-Pty "0";
//! DPkg::Options:: "--root=<root>";                // dpkg's instdir and DPKG_ROOT
//! DPkg::Options:: "--admindir=<root>/var/lib/dpkg";
//! DPkg::Options:: "--log=<root>/var/log/dpkg.log"; // else dpkg appends to the host's log
//! DPkg::Options:: "--force-script-chrootless";    // run maintainer scripts without chroot
//! DPkg::Options:: "--force-not-root";
//! ```
//!
//! `Dir::Bin::dpkg` (`/usr/bin/dpkg`) and `Dir::Bin::methods` stay absolute, so the host
//! binaries run. Maintainer scripts run on the host with `DPKG_ROOT=<root>`: a test
//! postinst must prefix its paths with `"$DPKG_ROOT"`. Sources are
//! `deb [trusted=yes] copy:<repo> ./` (flat repositories; `copy:` puts the `.deb`s in
//! `<root>/var/cache/apt/archives` as a download would). `Debug::NoLocking` is not
//! needed: the locks taken are the root's own. For a program that runs `apt-get` itself
//! (the inventory crate's runner), [`AptRoot::apt_options`] gives the same settings as
//! `-o KEY=VALUE` arguments; then the host's `apt.conf.d` is read as well, which is
//! harmless for `apt-get -s`.
//!
//! Repositories: `dpkg-scanpackages --multiversion pool /dev/null > Packages`, then
//! `apt-ftparchive -o APT::FTPArchive::Release::{Origin,Label,Suite,Codename,Version}=…
//! release . > Release`. `apt-get -s` prints the candidate's origin as `Label:Suite`, or
//! `Label:Version/Suite` when the Release has a `Version` (Debian's security archive shows
//! as `Debian-Security:12/stable-security`).
//!
//! # rpm and dnf on an alternate root (dnf 4.14, rpm 4.18 as packaged by Debian)
//! `dnf --installroot=<root> --config=<root>/etc/dnf/dnf.conf
//! --setopt=reposdir=<root>/etc/yum.repos.d --releasever=<n> --noplugins
//! --disablerepo=* --enablerepo=pwtest-* -y …` and `rpm --root=<root> -q …`. dnf always
//! puts `cachedir`, `logdir` and `persistdir` inside the installroot. Debian's rpm keeps
//! its database at `%_dbpath` = `/root/.rpmdb`, which under `--root` is
//! `<root>/root/.rpmdb`; [`DnfRoot::new`] links `<root>/var/lib/rpm` to it so readers
//! that look where RHEL keeps it find it. rpm runs scriptlets chrooted into the root,
//! which has no `/bin/sh`, so test packages use Lua scriptlets ([`PkgSpec::post_lua`]).
//! Packages: `rpmbuild -bb --define "_topdir <dir>"` on a generated spec
//! (`AutoReqProv: no`, files copied from a staging tree); repositories:
//! `createrepo_c --no-database`, and `modifyrepo_c --mdtype=updateinfo updateinfo.xml
//! repodata/` for advisories.
//!
//! Debian packages needed: `dpkg-dev` (dpkg-scanpackages), `apt-utils`
//! (apt-ftparchive), `rpm` (rpm, rpmbuild), `createrepo-c`, `dnf`, and for the agent's
//! repack fallback `dpkg-repack` ([`DPKG_REPACK_TOOLS`]).

#![forbid(unsafe_code)]

mod apt;
mod deb;
mod dnf;
mod error;
mod host;
mod rpm;
mod spec;
mod tools;

pub use apt::AptRoot;
pub use deb::{build_deb, DebRepo, ReleaseMeta};
pub use dnf::DnfRoot;
pub use error::{PmError, Result};
pub use host::{HostSnapshot, HOST_PATHS};
pub use rpm::{build_rpm, updateinfo_xml, Advisory, RpmEvra, RpmRepo};
pub use spec::PkgSpec;
pub use tools::{
    find_in_path, is_root, require_all_tests, run, run_any, run_stdout, tools_and_root_present,
    tools_present, Tool, APT_TOOLS, DNF_TOOLS, DPKG_REPACK_TOOLS,
};
