//! Every fixture feed, imported with exact counts computed independently (the command
//! that computed each number is in the comment next to it), plus malformed input.
//!
//! Fixtures: `../shared/fixtures/advisories/` (AlmaLinux OSV: MIT; CISA KEV: CC0-1.0;
//! Debian security tracker data; Alpine secdb; vunnel test fixtures: Apache-2.0, Red Hat
//! CSAF CC-BY-4.0, Ubuntu CC-BY-SA-4.0, NVD public domain; osv.dev test data:
//! Apache-2.0, CVE terms of use).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

pub(crate) use jiff::civil::date;
use patchwarden_advisory::{import_path, ImportResult};
use patchwarden_domain::advisory::{
    Advisory, CvssVersion, NameKind, PackageState, SeverityLevel, VersionRange,
};
use patchwarden_domain::package::PackageFormat;
use std::io::Write;

const ADV: &str = "../../../shared/fixtures/advisories";

fn import(rel: &str) -> ImportResult {
    import_path(format!("{ADV}/{rel}")).unwrap()
}

fn find<'a>(r: &'a ImportResult, id: &str) -> &'a Advisory {
    r.advisories
        .iter()
        .find(|a| a.id == id)
        .unwrap_or_else(|| panic!("{id} missing"))
}

fn fixed(v: &str) -> PackageState {
    PackageState::Fixed {
        ranges: vec![VersionRange {
            introduced: None,
            fixed: Some(v.into()),
            last_affected: None,
            limit: None,
        }],
    }
}

/// (advisories, affected statements, enrichment, rejected)
fn counts(r: &ImportResult) -> (usize, usize, usize, usize) {
    (
        r.advisories.len(),
        r.affected_count(),
        r.enrichment.len(),
        r.rejected.len(),
    )
}

#[path = "feeds/csaf.rs"]
mod csaf;
#[path = "feeds/debian.rs"]
mod debian;
#[path = "feeds/enrichment.rs"]
mod enrichment;
#[path = "feeds/osv.rs"]
mod osv;
#[path = "feeds/robustness.rs"]
mod robustness;
