//! Advisory feed parsers for Patchwarden.
//!
//! Every supported feed is turned into the normalised model of
//! [`patchwarden_domain::advisory`] here, at the edge. The crate is pure: input is bytes,
//! readers or paths; there is no network and no database.
//!
//! Untrusted input never panics the parser: sizes are capped, and a malformed record is
//! returned as a [`RejectedRecord`] and skipped while the rest of the feed imports.
//!
//! | format | module | source tag |
//! |---|---|---|
//! | OSV JSON (file, directory, `all.zip`) | [`osv`] | `osv` |
//! | CSAF 2.0 advisories and CSAF VEX | [`csaf`] | `csaf`, `csaf-vex` |
//! | Debian security tracker JSON | [`debian_tracker`] | `debian-tracker` |
//! | Debian DSA/DLA/DTSA lists | [`dsa_list`] | `dsa-list` |
//! | Alpine secdb (YAML or JSON) | [`alpine`] | `alpine-secdb` |
//! | CISA KEV (JSON, CSV) | [`kev`] | enrichment |
//! | EPSS CSV | [`epss`] | enrichment |
//! | CVE JSON 5, NVD API 2.0 | [`cve5`], [`nvd`] | enrichment |
//!
//! [`import_path`] detects the format of each file by content, walks directories and
//! zip archives, and gathers everything into one [`ImportResult`].

#![forbid(unsafe_code)]

pub mod alpine;
mod common;
pub mod csaf;
mod csaf_product;
mod csv;
pub mod cve5;
pub mod cvss_score;
pub mod debian_tracker;
pub mod detect;
pub mod distro;
pub mod dsa_list;
pub mod epss;
mod error;
pub mod integrity;
pub mod kev;
pub mod nvd;
pub mod osv;
mod result;
mod walk;

pub use common::{MAX_FILES, MAX_FILE_BYTES, MAX_RECORDS_PER_FILE};
pub use detect::{detect_format, FeedFormat};
pub use error::ImportError;
pub use patchwarden_domain::advisory::RejectedRecord;
pub use result::ImportResult;
pub use walk::{
    count_files, import_bytes, import_path, import_paths, import_paths_with, import_zip,
};
