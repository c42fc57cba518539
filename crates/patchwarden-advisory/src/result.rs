//! The accumulated outcome of parsing one or more feed files.

use patchwarden_domain::advisory::{Advisory, CveEnrichment, RejectedRecord};
use std::collections::BTreeMap;

/// Everything an import produced. Parsers return it per file; [`crate::import_path`]
/// merges them.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ImportResult {
    /// Distribution and vendor advisories, in input order.
    pub advisories: Vec<Advisory>,
    /// CVE enrichment (KEV, EPSS, CVE 5 / NVD CVSS), one entry per CVE after
    /// [`ImportResult::merge_enrichment`] (which [`crate::import_path`] calls).
    pub enrichment: Vec<CveEnrichment>,
    /// Malformed records: skipped, with file, record id and reason.
    pub rejected: Vec<RejectedRecord>,
    /// Records or files deliberately not imported although well formed: withdrawn
    /// advisories, advisories naming no distribution package, unrecognised files.
    pub skipped: Vec<RejectedRecord>,
    /// Number of feed files (including zip members) that were read.
    pub files_read: usize,
}

impl ImportResult {
    /// Appends another result to this one.
    pub fn extend(&mut self, other: ImportResult) {
        self.advisories.extend(other.advisories);
        self.enrichment.extend(other.enrichment);
        self.rejected.extend(other.rejected);
        self.skipped.extend(other.skipped);
        self.files_read += other.files_read;
    }

    /// Records a rejected record.
    pub(crate) fn reject(&mut self, file: &str, record: Option<&str>, reason: impl Into<String>) {
        self.rejected.push(RejectedRecord {
            file: file.to_owned(),
            record: record.map(str::to_owned),
            reason: reason.into(),
        });
    }

    /// Records a skipped (well-formed but not imported) record.
    pub(crate) fn skip(&mut self, file: &str, record: Option<&str>, reason: impl Into<String>) {
        self.skipped.push(RejectedRecord {
            file: file.to_owned(),
            record: record.map(str::to_owned),
            reason: reason.into(),
        });
    }

    /// Folds enrichment entries about the same CVE into one (KEV and EPSS from the
    /// latest entry that has them, CVSS vectors deduplicated), sorted by CVE id.
    pub fn merge_enrichment(&mut self) {
        let mut by_cve: BTreeMap<String, patchwarden_domain::advisory::CveEnrichment> =
            BTreeMap::new();
        for e in std::mem::take(&mut self.enrichment) {
            match by_cve.get_mut(&e.cve) {
                None => {
                    by_cve.insert(e.cve.clone(), e);
                }
                Some(acc) => {
                    if e.kev.is_some() {
                        acc.kev = e.kev;
                    }
                    if e.epss.is_some() {
                        acc.epss = e.epss;
                    }
                    for c in e.cvss {
                        if !acc.cvss.iter().any(|x| x.vector == c.vector) {
                            acc.cvss.push(c);
                        }
                    }
                }
            }
        }
        self.enrichment = by_cve.into_values().collect();
    }

    /// Number of affected-package statements over all advisories.
    pub fn affected_count(&self) -> usize {
        self.advisories.iter().map(|a| a.affected.len()).sum()
    }
}
