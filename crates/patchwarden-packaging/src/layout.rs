//! What the packages install, shared by both formats, and the staging tree.

use crate::error::{PackError, Result};
use crate::tools::{chmod, mkdirs, run, write_mode};
use crate::Inputs;
use std::path::Path;
use std::process::Command;

/// The systemd unit (`packaging/agent/patchwarden-agent.service`).
pub const UNIT: &str = include_str!("../../../packaging/agent/patchwarden-agent.service");
/// The agent's commented default configuration, installed as the conffile.
pub const DEFAULT_CONFIG: &str =
    include_str!("../../patchwarden-agent/patchwarden-agent.example.toml");
/// Debian maintainer scripts (`packaging/agent/deb/`).
pub const POSTINST: &str = include_str!("../../../packaging/agent/deb/postinst");
/// See [`POSTINST`].
pub const PRERM: &str = include_str!("../../../packaging/agent/deb/prerm");
/// See [`POSTINST`].
pub const POSTRM: &str = include_str!("../../../packaging/agent/deb/postrm");
/// rpm scriptlets in rpm's embedded Lua (`packaging/agent/rpm/`).
pub const RPM_POST: &str = include_str!("../../../packaging/agent/rpm/post.lua");
/// See [`RPM_POST`].
pub const RPM_PREUN: &str = include_str!("../../../packaging/agent/rpm/preun.lua");
/// See [`RPM_POST`].
pub const RPM_POSTUN: &str = include_str!("../../../packaging/agent/rpm/postun.lua");
/// The short copyright file Debian expects.
const COPYRIGHT: &str = "Patchwarden agent\n\
License: AGPL-3.0-or-later\n\
The full text: /usr/share/common-licenses/AGPL-3 on Debian, or\n\
https://www.gnu.org/licenses/agpl-3.0.txt\n";

/// The configuration file, a conffile (`%config(noreplace)`): kept on upgrade when
/// the administrator changed it.
pub const CONFFILE: &str = "/etc/patchwarden/agent.toml";
/// The state directory (identity key, pins, spool), mode 0700. The `.rpm` owns it;
/// the `.deb`'s postinst creates it and its postrm deletes it on purge.
pub const STATE_DIR: &str = "/var/lib/patchwarden-agent";

/// Where a packaged file's content comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Content {
    /// The agent binary of [`Inputs::binary`].
    Binary,
    /// Fixed text.
    Text(&'static str),
}

/// One installed file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Entry {
    /// Absolute installed path.
    pub path: &'static str,
    /// Permission bits.
    pub mode: u32,
    /// Content.
    pub content: Content,
    /// Only in the `.deb` (Debian's copyright file).
    pub deb_only: bool,
}

/// Every installed file of both packages.
pub const FILES: &[Entry] = &[
    Entry {
        path: "/usr/bin/patchwarden-agent",
        mode: 0o755,
        content: Content::Binary,
        deb_only: false,
    },
    Entry {
        path: "/usr/lib/systemd/system/patchwarden-agent.service",
        mode: 0o644,
        content: Content::Text(UNIT),
        deb_only: false,
    },
    Entry {
        path: CONFFILE,
        mode: 0o644,
        content: Content::Text(DEFAULT_CONFIG),
        deb_only: false,
    },
    Entry {
        path: "/usr/share/doc/patchwarden-agent/copyright",
        mode: 0o644,
        content: Content::Text(COPYRIGHT),
        deb_only: true,
    },
];

/// Writes the files of [`FILES`] (those of the `.deb` when `deb`) under `stage`, with
/// their modes, and directories 0755; strips the binary when asked.
pub(crate) fn stage(stage: &Path, inputs: &Inputs, deb: bool) -> Result<()> {
    for entry in FILES.iter().filter(|e| deb || !e.deb_only) {
        let dest = stage.join(entry.path.trim_start_matches('/'));
        match entry.content {
            Content::Text(text) => write_mode(&dest, text.as_bytes(), entry.mode)?,
            Content::Binary => {
                let bytes = std::fs::read(&inputs.binary).map_err(PackError::io(&inputs.binary))?;
                write_mode(&dest, &bytes, entry.mode)?;
                if inputs.strip {
                    run(Command::new("strip").arg("--strip-unneeded").arg(&dest))?;
                }
            }
        }
    }
    if !deb {
        mkdirs(&stage.join(STATE_DIR.trim_start_matches('/')))?;
    }
    set_dir_modes(stage)
}

/// Directories 0755, except the state directory 0700.
fn set_dir_modes(dir: &Path) -> Result<()> {
    for item in std::fs::read_dir(dir).map_err(PackError::io(dir))? {
        let path = item.map_err(PackError::io(dir))?.path();
        if path.is_dir() {
            let mode = if path.ends_with(STATE_DIR.trim_start_matches('/')) {
                0o700
            } else {
                0o755
            };
            chmod(&path, mode)?;
            set_dir_modes(&path)?;
        }
    }
    Ok(())
}
