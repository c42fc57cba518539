//! Paths inside a root directory that may be a mounted image, not the running system.
//!
//! An image's `/etc/os-release` is often a symlink; an absolute target such as
//! `/usr/lib/os-release` must be read from the image, not from the host running the
//! agent. [`resolve`] follows symlinks the way a `chroot` would: absolute targets and
//! `..` never leave `root`.

use std::ffi::OsString;
use std::io;
use std::path::{Component, Path, PathBuf};

/// Symlinks followed before giving up, like the kernel's `ELOOP` limit.
const MAX_HOPS: usize = 40;

fn push_components(pending: &mut Vec<OsString>, path: &Path) {
    let parts: Vec<OsString> = path
        .components()
        .filter_map(|c| match c {
            Component::Normal(s) => Some(s.to_owned()),
            Component::ParentDir => Some(OsString::from("..")),
            Component::CurDir | Component::RootDir | Component::Prefix(_) => None,
        })
        .collect();
    pending.extend(parts.into_iter().rev());
}

/// The real location of `rel` under `root`, with every symlink resolved inside `root`.
/// Missing components are kept as they are (opening the result then fails with
/// `NotFound`).
pub(crate) fn resolve(root: &Path, rel: &str) -> io::Result<PathBuf> {
    let mut pending = Vec::new();
    push_components(&mut pending, Path::new(rel));
    let mut resolved: Vec<OsString> = Vec::new();
    let mut hops = 0;
    while let Some(part) = pending.pop() {
        if part == ".." {
            resolved.pop();
            continue;
        }
        let candidate: PathBuf = root.join(resolved.iter().collect::<PathBuf>()).join(&part);
        match std::fs::symlink_metadata(&candidate) {
            Ok(meta) if meta.file_type().is_symlink() => {
                hops += 1;
                if hops > MAX_HOPS {
                    return Err(io::Error::other(format!(
                        "more than {MAX_HOPS} symbolic links resolving {rel}"
                    )));
                }
                let target = std::fs::read_link(&candidate)?;
                if target.is_absolute() {
                    resolved.clear();
                }
                push_components(&mut pending, &target);
            }
            _ => resolved.push(part),
        }
    }
    Ok(root.join(resolved.iter().collect::<PathBuf>()))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn symlinks_stay_inside_the_root() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("root");
        std::fs::create_dir_all(root.join("usr/lib")).unwrap();
        std::fs::create_dir_all(root.join("etc")).unwrap();
        std::fs::write(root.join("usr/lib/os-release"), "ID=inside\n").unwrap();
        std::os::unix::fs::symlink("/usr/lib/os-release", root.join("etc/os-release")).unwrap();
        std::os::unix::fs::symlink("../../../../../etc/shadow", root.join("etc/esc")).unwrap();
        std::os::unix::fs::symlink("loop", root.join("etc/loop")).unwrap();
        let r = resolve(&root, "etc/os-release").unwrap();
        assert_eq!(std::fs::read_to_string(r).unwrap(), "ID=inside\n");
        assert_eq!(resolve(&root, "etc/esc").unwrap(), root.join("etc/shadow"));
        assert!(resolve(&root, "etc/loop").is_err());
        assert_eq!(resolve(&root, "no/such").unwrap(), root.join("no/such"));
    }
}
