//! Walking inputs: files, directory trees, zip archives and `.gz` files, with format
//! detection per file and sha256 sidecar checks.

use crate::common::{MAX_FILES, MAX_FILE_BYTES};
use crate::detect::{detect_json, detect_text, FeedFormat};
use crate::{
    alpine, csaf, cve5, debian_tracker, dsa_list, epss, integrity, kev, nvd, osv, ImportError,
    ImportResult,
};
use serde_json::Value;
use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};

const MAX_DEPTH: usize = 64;

/// Parses one file's bytes, detecting its format by content. `name` is used in
/// rejections and, for a zip member, is `archive.zip!member`.
///
/// A document that looks like JSON but does not parse is rejected; a well-formed file
/// of no known format is recorded in [`ImportResult::skipped`] (or rejected when
/// `strict`, as for zip members).
pub fn import_bytes(name: &str, bytes: &[u8]) -> ImportResult {
    dispatch(name, bytes, false)
}

fn dispatch(name: &str, bytes: &[u8], strict: bool) -> ImportResult {
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    let start = bytes
        .iter()
        .position(|b| !b.is_ascii_whitespace())
        .unwrap_or(bytes.len());
    // `[` opens both a JSON array and a DSA-list header (`[29 Mar 2023] DSA-…`).
    let head = String::from_utf8_lossy(&bytes[start..bytes.len().min(start + 256)]);
    let dsa = head.lines().next().is_some_and(crate::dsa_list::is_header);
    let mut out = match bytes.get(start) {
        Some(b'{') | Some(b'[') if !dsa => json(name, bytes, strict),
        _ => text(name, bytes, strict),
    };
    out.files_read += 1;
    out
}

fn unknown(name: &str, what: &str, strict: bool) -> ImportResult {
    let mut out = ImportResult::default();
    let reason = format!("unrecognised format ({what})");
    if strict {
        out.reject(name, None, reason);
    } else {
        out.skip(name, None, reason);
    }
    out
}

fn json(name: &str, bytes: &[u8], strict: bool) -> ImportResult {
    let v: Value = match serde_json::from_slice(bytes) {
        Ok(v) => v,
        Err(e) => {
            let mut out = ImportResult::default();
            out.reject(name, None, format!("not valid JSON: {e}"));
            return out;
        }
    };
    match detect_json(&v) {
        Some(FeedFormat::Osv) => osv::parse_json(name, v),
        Some(FeedFormat::Csaf) => csaf::parse_json(name, v),
        Some(FeedFormat::DebianTracker) => debian_tracker::parse_json(name, v),
        Some(FeedFormat::AlpineSecdb) => alpine::parse_json(name, v),
        Some(FeedFormat::KevJson) => kev::parse_json(name, v),
        Some(FeedFormat::Cve5) => cve5::parse_json(name, v),
        Some(FeedFormat::Nvd) => nvd::parse_json(name, v),
        _ => unknown(name, "JSON document of no known feed shape", strict),
    }
}

fn text(name: &str, bytes: &[u8], strict: bool) -> ImportResult {
    let Ok(text) = std::str::from_utf8(bytes) else {
        return unknown(name, "not UTF-8 text", strict);
    };
    match detect_text(text) {
        Some(FeedFormat::EpssCsv) => epss::parse(name, text),
        Some(FeedFormat::KevCsv) => kev::parse_csv(name, text),
        Some(FeedFormat::DsaList) => dsa_list::parse(name, text),
        Some(FeedFormat::AlpineSecdb) => alpine::parse_yaml(name, text),
        _ => unknown(name, "text of no known feed shape", strict),
    }
}

/// Imports one path: a feed file, a `.gz` file, a zip archive or a directory tree
/// (walked in name order, symlinked directories not followed). Enrichment is merged
/// per CVE. Only a top-level path that cannot be read at all is an error; everything
/// below it that fails is reported in [`ImportResult::rejected`].
pub fn import_path(path: impl AsRef<Path>) -> Result<ImportResult, ImportError> {
    import_paths(&[path.as_ref().to_path_buf()])
}

/// Imports several paths into one result (see [`import_path`]).
pub fn import_paths(paths: &[PathBuf]) -> Result<ImportResult, ImportError> {
    import_paths_with(paths, &mut |_| {})
}

/// [`import_paths`], calling `on_file` after each file is read (for progress display).
pub fn import_paths_with(
    paths: &[PathBuf],
    on_file: &mut dyn FnMut(&Path),
) -> Result<ImportResult, ImportError> {
    let mut out = ImportResult::default();
    for p in paths {
        let meta = fs::metadata(p).map_err(|source| ImportError::Io {
            path: p.clone(),
            source,
        })?;
        if meta.is_dir() {
            walk_dir(p, 0, &mut out, on_file);
        } else {
            let r = import_file(p)?;
            out.extend(r);
            on_file(p);
        }
    }
    out.merge_enrichment();
    Ok(out)
}

/// How many files [`import_paths`] would read (directories walked the same way,
/// without reading the files): the total for a progress display.
pub fn count_files(paths: &[PathBuf]) -> usize {
    fn walk(dir: &Path, depth: usize) -> usize {
        if depth > MAX_DEPTH {
            return 0;
        }
        let Ok(rd) = fs::read_dir(dir) else { return 0 };
        rd.filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| {
                !p.file_name()
                    .and_then(|n| n.to_str())
                    .is_some_and(|n| n.starts_with('.'))
                    && !is_sidecar(p)
            })
            .map(|p| match fs::symlink_metadata(&p) {
                Ok(m) if m.is_dir() => walk(&p, depth + 1),
                Ok(m) if m.is_file() => 1,
                _ => 0,
            })
            .sum()
    }
    paths
        .iter()
        .map(|p| if p.is_dir() { walk(p, 0) } else { 1 })
        .sum()
}

fn walk_dir(dir: &Path, depth: usize, out: &mut ImportResult, on_file: &mut dyn FnMut(&Path)) {
    let name = dir.display().to_string();
    if depth > MAX_DEPTH {
        return out.reject(&name, None, "directory tree deeper than 64 levels");
    }
    let mut entries: Vec<PathBuf> = match fs::read_dir(dir) {
        Ok(rd) => rd.filter_map(|e| e.ok().map(|e| e.path())).collect(),
        Err(e) => return out.reject(&name, None, format!("cannot read directory: {e}")),
    };
    entries.sort();
    for p in entries {
        if out.files_read >= MAX_FILES {
            return out.reject(
                &name,
                None,
                format!("more than {MAX_FILES} files; rest ignored"),
            );
        }
        let Ok(meta) = fs::symlink_metadata(&p) else {
            continue;
        };
        let hidden = p
            .file_name()
            .and_then(|n| n.to_str())
            .is_some_and(|n| n.starts_with('.'));
        if hidden || is_sidecar(&p) {
            continue;
        }
        if meta.is_dir() {
            walk_dir(&p, depth + 1, out, on_file);
        } else if meta.is_file() {
            match import_file(&p) {
                Ok(r) => out.extend(r),
                Err(e) => out.reject(&p.display().to_string(), None, e.to_string()),
            }
            on_file(&p);
        }
    }
}

fn is_sidecar(p: &Path) -> bool {
    p.extension().is_some_and(|e| e == "sha256")
}

/// Reads one file: verifies a `FILE.sha256` sidecar when present, then parses it
/// (unzipping / gunzipping as needed).
fn import_file(p: &Path) -> Result<ImportResult, ImportError> {
    let name = p.display().to_string();
    let bytes = read_capped(p)?;
    let mut out = ImportResult::default();
    let sidecar = integrity::sidecar_path(p);
    if sidecar.is_file() {
        if let Err(e) = integrity::verify_bytes(p, &bytes, &sidecar) {
            out.reject(&name, None, e.to_string());
            return Ok(out);
        }
    }
    if bytes.starts_with(b"PK\x03\x04") || bytes.starts_with(b"PK\x05\x06") {
        return Ok(import_zip(&name, &bytes));
    }
    if bytes.starts_with(&[0x1f, 0x8b]) {
        let mut data = Vec::new();
        let dec = flate2::read::GzDecoder::new(bytes.as_slice());
        return Ok(match dec.take(MAX_FILE_BYTES + 1).read_to_end(&mut data) {
            Ok(n) if n as u64 > MAX_FILE_BYTES => {
                out.reject(
                    &name,
                    None,
                    format!("decompressed size over {MAX_FILE_BYTES} bytes"),
                );
                out
            }
            Ok(_) => dispatch(&name, &data, false),
            Err(e) => {
                out.reject(&name, None, format!("bad gzip data: {e}"));
                out
            }
        });
    }
    Ok(dispatch(&name, &bytes, false))
}

fn read_capped(p: &Path) -> Result<Vec<u8>, ImportError> {
    let f = fs::File::open(p).map_err(|source| ImportError::Io {
        path: p.into(),
        source,
    })?;
    let mut data = Vec::new();
    f.take(MAX_FILE_BYTES + 1)
        .read_to_end(&mut data)
        .map_err(|source| ImportError::Io {
            path: p.into(),
            source,
        })?;
    if data.len() as u64 > MAX_FILE_BYTES {
        return Err(ImportError::TooLarge {
            what: p.display().to_string(),
            limit: MAX_FILE_BYTES,
        });
    }
    Ok(data)
}

/// Imports every member of a zip archive (the OSV `all.zip` layout). Members that are
/// not a known feed format are rejected; nested archives are not opened.
pub fn import_zip(name: &str, bytes: &[u8]) -> ImportResult {
    let mut out = ImportResult::default();
    let mut zip = match zip::ZipArchive::new(std::io::Cursor::new(bytes)) {
        Ok(z) => z,
        Err(e) => {
            out.reject(name, None, format!("not a readable zip archive: {e}"));
            return out;
        }
    };
    for i in 0..zip.len() {
        if i >= MAX_FILES {
            out.reject(
                name,
                None,
                format!("more than {MAX_FILES} members; rest ignored"),
            );
            break;
        }
        let mut member = match zip.by_index(i) {
            Ok(m) => m,
            Err(e) => {
                out.reject(
                    name,
                    Some(&format!("member {i}")),
                    format!("unreadable member: {e}"),
                );
                continue;
            }
        };
        if member.is_dir() {
            continue;
        }
        let mname = format!("{name}!{}", crate::common::cut(member.name(), 512));
        if member.size() > MAX_FILE_BYTES {
            out.reject(
                &mname,
                None,
                format!("member larger than {MAX_FILE_BYTES} bytes"),
            );
            continue;
        }
        let mut data = Vec::new();
        match (&mut member)
            .take(MAX_FILE_BYTES + 1)
            .read_to_end(&mut data)
        {
            Ok(n) if n as u64 > MAX_FILE_BYTES => {
                out.reject(
                    &mname,
                    None,
                    format!("member larger than {MAX_FILE_BYTES} bytes"),
                );
            }
            Ok(_) => out.extend(dispatch(&mname, &data, true)),
            Err(e) => out.reject(&mname, None, format!("cannot decompress member: {e}")),
        }
    }
    out
}
