//! CSV exports (Nessus, OpenVAS).

use crate::{ScanError, ScanReport};
use std::io::Read;

pub(crate) fn parse<R: Read>(_input: R) -> Result<ScanReport, ScanError> {
    Err(ScanError::NotAScanReport(
        "not XML and not a known CSV export".into(),
    ))
}
