//! Vulnerability-scanner reports (Nessus, OpenVAS / Greenbone) parsed into one model.
//!
//! This crate is pure: it reads bytes and returns a [`ScanReport`]; attaching findings to
//! assets is the server's job. Input is untrusted:
//! - XML is read as a stream with `quick-xml` (never a DOM of the whole file);
//! - a DTD (`<!DOCTYPE …>`) is refused, so no entity can be declared or expanded; an
//!   undeclared entity reference spoils only the record it appears in;
//! - text is capped per element ([`limits`]), excerpts are cut;
//! - a malformed host or finding becomes a [`Rejected`] entry and the rest imports;
//! - a file that is not well-formed XML, or not a scanner report at all, is an error: a
//!   half-read re-scan must never look like "the vulnerabilities are gone".
//!
//! The format is detected from the content: root element `NessusClientData_v2` (Nessus),
//! `report` / `get_reports_response` (GMP), or a CSV header of a Nessus or OpenVAS export.

#![forbid(unsafe_code)]

mod csv;
mod error;
pub mod limits;
mod localcheck;
mod model;
mod nessus;
mod openvas;
mod packages;
mod text;
mod xml;

pub use error::ScanError;
pub use localcheck::split_rpm_nevra;
pub use model::{
    Cvss, LocalCheck, Rejected, ReportFormat, ScanFinding, ScanReport, ScannedHost, Scanner,
    Severity,
};
pub use packages::SOFTWARE_ENUMERATION_PLUGIN;

use std::io::{BufRead, BufReader};
use std::path::Path;

/// Reads and parses the scanner report at `path`, detecting its format by content.
pub fn parse_file(path: impl AsRef<Path>) -> Result<ScanReport, ScanError> {
    let file = std::fs::File::open(path.as_ref())?;
    let len = file.metadata()?.len();
    if len > limits::MAX_FILE_BYTES {
        return Err(ScanError::Limit(format!(
            "file is {len} bytes, more than {}",
            limits::MAX_FILE_BYTES
        )));
    }
    parse_reader(BufReader::with_capacity(64 << 10, file))
}

/// Parses a scanner report held in memory.
pub fn parse_bytes(bytes: &[u8]) -> Result<ScanReport, ScanError> {
    parse_reader(bytes)
}

/// Parses a scanner report from a buffered reader, detecting its format by content.
pub fn parse_reader<R: BufRead>(mut input: R) -> Result<ScanReport, ScanError> {
    skip_bom_and_space(&mut input)?;
    let first = input.fill_buf()?.first().copied();
    match first {
        None => Err(ScanError::NotAScanReport("the file is empty".into())),
        Some(b'<') => parse_xml(input),
        Some(_) => csv::parse(input.take(limits::MAX_FILE_BYTES)),
    }
}

fn skip_bom_and_space<R: BufRead>(input: &mut R) -> Result<(), ScanError> {
    let mut first = true;
    loop {
        let buf = input.fill_buf()?;
        if buf.is_empty() {
            return Ok(());
        }
        let mut n = 0;
        if first && buf.starts_with(&[0xEF, 0xBB, 0xBF]) {
            n = 3;
        }
        first = false;
        while n < buf.len() && buf[n].is_ascii_whitespace() {
            n += 1;
        }
        let done = n < buf.len();
        input.consume(n);
        if done {
            return Ok(());
        }
    }
}

fn parse_xml<R: BufRead>(input: R) -> Result<ScanReport, ScanError> {
    let mut w = xml::Walker::new(input);
    match w.next()? {
        xml::Node::Start(attrs) => match w.current() {
            "NessusClientData_v2" => nessus::parse(&mut w),
            "report" | "get_reports_response" => openvas::parse(&mut w, &attrs),
            other => Err(ScanError::NotAScanReport(format!(
                "XML root element <{}> is neither NessusClientData_v2 nor a GMP report",
                text::short(other)
            ))),
        },
        _ => Err(ScanError::NotAScanReport(
            "XML document without a root element".into(),
        )),
    }
}
