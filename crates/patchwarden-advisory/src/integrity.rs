//! sha256 sidecars: `FILE.sha256` next to `FILE`, holding `<hex>  <name>` (the
//! `sha256sum` output) or bare hex.

use crate::ImportError;
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};

/// `FILE.sha256` for `FILE`.
pub fn sidecar_path(file: &Path) -> PathBuf {
    let mut s = file.as_os_str().to_owned();
    s.push(".sha256");
    PathBuf::from(s)
}

/// Lower-case hex sha256 of `bytes`.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// Parses a sidecar's text into the expected digest. With a `<hex>  <name>` line, the
/// name (its last path component, `*` binary marker removed) must match `file_name`;
/// a multi-line `sha256sum` listing is searched for that name.
pub fn parse_sidecar(text: &str, file_name: &str) -> Result<String, String> {
    let lines: Vec<&str> = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect();
    if lines.is_empty() {
        return Err("sidecar is empty".into());
    }
    let mut named = Vec::new();
    for line in &lines {
        let mut parts = line.splitn(2, char::is_whitespace);
        let digest = parts.next().unwrap_or_default();
        let rest = parts.next().map(str::trim);
        if !(digest.len() == 64 && digest.bytes().all(|b| b.is_ascii_hexdigit())) {
            return Err(format!("{:.80?} is not a sha256 hex digest", digest));
        }
        match rest {
            None | Some("") if lines.len() == 1 => return Ok(digest.to_ascii_lowercase()),
            None | Some("") => return Err("bare digest in a multi-line sidecar".into()),
            Some(n) => {
                let n = n.trim_start_matches('*');
                let base = n.rsplit('/').next().unwrap_or(n);
                named.push(base.to_owned());
                if base == file_name {
                    return Ok(digest.to_ascii_lowercase());
                }
            }
        }
    }
    Err(format!(
        "sidecar names {} but not {file_name}",
        named.join(", ")
    ))
}

/// Verifies `bytes` (the content of `file`) against the sidecar at `sidecar`.
pub fn verify_bytes(file: &Path, bytes: &[u8], sidecar: &Path) -> Result<(), ImportError> {
    let text = std::fs::read_to_string(sidecar).map_err(|source| ImportError::Io {
        path: sidecar.into(),
        source,
    })?;
    if text.len() > 64 * 1024 {
        return Err(ImportError::BadSidecar {
            path: sidecar.into(),
            reason: "larger than 64 KiB".into(),
        });
    }
    let name = file
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let expected = parse_sidecar(&text, &name).map_err(|reason| ImportError::BadSidecar {
        path: sidecar.into(),
        reason,
    })?;
    let actual = sha256_hex(bytes);
    if actual != expected {
        return Err(ImportError::ChecksumMismatch {
            path: file.into(),
            expected,
            actual,
        });
    }
    Ok(())
}

/// Reads `file` and verifies it against `FILE.sha256`. Returns the file's bytes.
pub fn verify_file(file: &Path) -> Result<Vec<u8>, ImportError> {
    let bytes = std::fs::read(file).map_err(|source| ImportError::Io {
        path: file.into(),
        source,
    })?;
    verify_bytes(file, &bytes, &sidecar_path(file))?;
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    const ABC: &str = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";

    #[test]
    fn sidecar_forms() {
        assert_eq!(sha256_hex(b"abc"), ABC);
        assert_eq!(parse_sidecar(ABC, "x").unwrap(), ABC);
        assert_eq!(
            parse_sidecar(&format!("{ABC}  all.zip\n"), "all.zip").unwrap(),
            ABC
        );
        assert_eq!(
            parse_sidecar(&format!("{ABC} *dir/all.zip"), "all.zip").unwrap(),
            ABC
        );
        assert!(parse_sidecar(&format!("{ABC}  other.zip"), "all.zip").is_err());
        assert!(parse_sidecar("zz", "x").is_err());
        assert!(parse_sidecar("", "x").is_err());
    }

    #[test]
    fn mismatch_is_clear() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("feed.json");
        std::fs::write(&f, b"abd").unwrap();
        std::fs::write(sidecar_path(&f), format!("{ABC}  feed.json\n")).unwrap();
        let err = verify_file(&f).unwrap_err().to_string();
        assert!(
            err.contains("sha256 mismatch") && err.contains(ABC),
            "{err}"
        );
        std::fs::write(&f, b"abc").unwrap();
        assert_eq!(verify_file(&f).unwrap(), b"abc");
    }
}
