//! CSV exports: Nessus ("Plugin ID,CVE,CVSS,Risk,Host,…", one row per CVE), Tenable.sc
//! ("Plugin,Plugin Name,Family,Severity,IP Address,…") and OpenVAS / Greenbone
//! ("IP,Hostname,Port,Port Protocol,CVSS,Severity,…,NVT OID,CVEs,…"). Columns are found
//! by header name; rows of one finding split per CVE are merged.

use crate::model::Rejects;
use crate::text::{self, excerpt, field};
use crate::{
    localcheck, Cvss, ReportFormat, ScanError, ScanFinding, ScanReport, ScannedHost, Scanner,
    Severity,
};
use std::collections::HashMap;
use std::io::Read;

/// Header names per field, first match wins.
const PLUGIN: &[&str] = &["Plugin ID", "Plugin", "NVT OID"];
const NAME: &[&str] = &["Name", "Plugin Name", "NVT Name"];
const HOST: &[&str] = &["Host", "IP Address", "IP"];
const HOSTNAME: &[&str] = &["Hostname", "NetBIOS Name", "NetBios", "DNS Name"];
const FQDN: &[&str] = &["FQDN", "DNS Name"];
const PORT: &[&str] = &["Port"];
const PROTOCOL: &[&str] = &["Protocol", "Port Protocol"];
const SEVERITY: &[&str] = &["Risk", "Severity"];
const CVES: &[&str] = &["CVE", "CVEs"];
const CVSS2: &[&str] = &[
    "CVSS v2.0 Base Score",
    "CVSS V2 Base Score",
    "CVSS Base Score",
];
const CVSS3: &[&str] = &[
    "CVSSv3",
    "CVSS v3.0 Base Score",
    "CVSS V3 Base Score",
    "CVSS3 Base Score",
];
const SOLUTION: &[&str] = &["Solution", "Steps to Remediate"];
const DESCRIPTION: &[&str] = &["Description", "Summary", "Synopsis"];
const OUTPUT: &[&str] = &["Plugin Output", "Specific Result", "Plugin Text"];
const FAMILY: &[&str] = &["Family", "Plugin Family"];
const OS: &[&str] = &["OS"];
const MAC: &[&str] = &["MAC Address"];
const RESULT_ID: &[&str] = &["Result ID"];

pub(crate) fn parse<R: Read>(mut input: R) -> Result<ScanReport, ScanError> {
    let mut bytes = Vec::new();
    input.read_to_end(&mut bytes)?;
    let Ok(text) = std::str::from_utf8(&bytes) else {
        return Err(ScanError::NotAScanReport(
            "neither XML nor UTF-8 text".into(),
        ));
    };
    let mut rows = Rows {
        s: text,
        pos: 0,
        line: 1,
    };
    let header = rows.next_row()?.unwrap_or_default();
    let col = |names: &[&str]| {
        names
            .iter()
            .find_map(|n| header.iter().position(|h| h.trim().eq_ignore_ascii_case(n)))
    };
    let (Some(c_plugin), Some(c_host), Some(c_name)) = (col(PLUGIN), col(HOST), col(NAME)) else {
        return Err(ScanError::NotAScanReport(
            "not XML, and not a CSV export with plugin/NVT id, host and name columns".into(),
        ));
    };
    let scanner = if col(&["NVT OID"]).is_some() {
        Scanner::OpenVas
    } else {
        Scanner::Nessus
    };
    let cols = Cols {
        plugin: c_plugin,
        name: c_name,
        host: c_host,
        hostname: col(HOSTNAME),
        fqdn: col(FQDN),
        port: col(PORT),
        protocol: col(PROTOCOL),
        severity: col(SEVERITY),
        cves: col(CVES),
        cvss2: col(CVSS2).or_else(|| col(&["CVSS"])),
        cvss3: col(CVSS3),
        solution: col(SOLUTION),
        description: col(DESCRIPTION),
        output: col(OUTPUT),
        family: col(FAMILY),
        os: col(OS),
        mac: col(MAC),
        result_id: col(RESULT_ID),
    };
    let mut hosts: Vec<ScannedHost> = Vec::new();
    let mut host_index: HashMap<String, usize> = HashMap::new();
    let mut finding_index: HashMap<(usize, String), usize> = HashMap::new();
    let mut rejects = Rejects::default();
    let mut count = 0usize;
    loop {
        let line = rows.line;
        let Some(row) = rows.next_row()? else { break };
        count += 1;
        if count > crate::limits::MAX_CSV_ROWS {
            return Err(ScanError::Limit(format!(
                "more than {} CSV rows",
                crate::limits::MAX_CSV_ROWS
            )));
        }
        if row.iter().all(|c| c.trim().is_empty()) {
            continue;
        }
        let label = format!("CSV line {line}");
        let get = |c: Option<usize>| {
            c.and_then(|i| row.get(i))
                .map(String::as_str)
                .unwrap_or_default()
        };
        let ip = match field("host", get(Some(cols.host))) {
            Ok(Some(ip)) => ip,
            Ok(None) => {
                rejects.push(label, "row names no host");
                continue;
            }
            Err(e) => {
                rejects.push(label, e);
                continue;
            }
        };
        let finding = match build(&cols, &get, scanner) {
            Ok((f, notes)) => {
                for n in notes {
                    rejects.push(format!("{label} / field"), n);
                }
                f
            }
            Err(e) => {
                rejects.push(label, e);
                continue;
            }
        };
        let h = *host_index.entry(ip.clone()).or_insert_with(|| {
            hosts.push(new_host(&ip, &cols, &get));
            hosts.len() - 1
        });
        let key = format!(
            "{}\u{0}{:?}\u{0}{:?}\u{0}{}",
            finding.plugin_id,
            finding.port,
            finding.protocol,
            get(cols.result_id)
        );
        let host = &mut hosts[h];
        match finding_index.get(&(h, key.clone())) {
            Some(&i) => {
                let existing = &mut host.findings[i];
                for c in finding.cves {
                    if !existing.cves.contains(&c) {
                        existing.cves.push(c);
                    }
                }
            }
            None => {
                host.credentialed |= !finding.local_checks.is_empty();
                finding_index.insert((h, key), host.findings.len());
                host.findings.push(finding);
            }
        }
    }
    Ok(ScanReport {
        scanner,
        format: ReportFormat::Csv,
        name: String::new(),
        started: None,
        finished: None,
        hosts,
        rejected: rejects.finish(),
    })
}

struct Cols {
    plugin: usize,
    name: usize,
    host: usize,
    hostname: Option<usize>,
    fqdn: Option<usize>,
    port: Option<usize>,
    protocol: Option<usize>,
    severity: Option<usize>,
    cves: Option<usize>,
    cvss2: Option<usize>,
    cvss3: Option<usize>,
    solution: Option<usize>,
    description: Option<usize>,
    output: Option<usize>,
    family: Option<usize>,
    os: Option<usize>,
    mac: Option<usize>,
    result_id: Option<usize>,
}

fn new_host<'a>(ip: &str, cols: &Cols, get: &impl Fn(Option<usize>) -> &'a str) -> ScannedHost {
    let opt = |c| field("host field", get(c)).ok().flatten();
    ScannedHost {
        hostname: opt(cols.hostname),
        fqdn: opt(cols.fqdn),
        ip: Some(ip.to_string()),
        os: opt(cols.os),
        mac: opt(cols.mac),
        credentialed: false,
        findings: Vec::new(),
        installed_packages: None,
    }
}

/// A finding from one row, and notes on cells that were dropped (a bad score keeps the
/// finding: some exports write scores times ten).
fn build<'a>(
    cols: &Cols,
    get: &impl Fn(Option<usize>) -> &'a str,
    scanner: Scanner,
) -> Result<(ScanFinding, Vec<String>), String> {
    let mut notes = Vec::new();
    let mut score = |what: &str, c: Option<usize>| {
        text::score(what, get(c)).unwrap_or_else(|e| {
            notes.push(format!("{e}; score dropped"));
            None
        })
    };
    let cvss = Cvss {
        v2_score: score("CVSS", cols.cvss2),
        v3_score: score("CVSSv3", cols.cvss3),
        ..Cvss::default()
    };
    let plugin_id = field("plugin id", get(Some(cols.plugin)))?.ok_or("missing plugin id")?;
    let name = field("name", get(Some(cols.name)))?.ok_or("missing name")?;
    let sev = get(cols.severity);
    let severity = Severity::from_label(sev)
        .or_else(|| Severity::from_nessus(sev))
        .ok_or_else(|| format!("severity {:?} is not known", text::short(sev)))?;
    let (port, protocol) = crate::openvas::port(get(cols.port))?;
    let protocol =
        protocol.or(field("protocol", get(cols.protocol))?.map(|p| p.to_ascii_lowercase()));
    let mut cves = Vec::new();
    text::push_cves(get(cols.cves), &mut cves);
    let output = get(cols.output);
    let (local_checks, problems) = match scanner {
        Scanner::Nessus => localcheck::nessus(output),
        Scanner::OpenVas => localcheck::openvas(output),
    };
    notes.extend(problems);
    let finding = ScanFinding {
        plugin_id,
        name,
        family: field("family", get(cols.family))?,
        severity,
        cvss,
        cves,
        port,
        protocol,
        service: None,
        solution: excerpt(get(cols.solution)),
        description: excerpt(get(cols.description)),
        output: excerpt(output),
        local_checks,
    };
    Ok((finding, notes))
}

/// RFC 4180 rows: `,` separated, `"` quoted with `""` escapes, newlines inside quotes.
struct Rows<'a> {
    s: &'a str,
    pos: usize,
    line: usize,
}

impl Rows<'_> {
    fn next_row(&mut self) -> Result<Option<Vec<String>>, ScanError> {
        if self.pos >= self.s.len() {
            return Ok(None);
        }
        let start_line = self.line;
        let mut row = Vec::new();
        let mut cell = String::new();
        let mut quoted = false;
        let mut chars = self.s[self.pos..].char_indices().peekable();
        while let Some((i, c)) = chars.next() {
            if quoted {
                match c {
                    '"' if chars.peek().is_some_and(|(_, n)| *n == '"') => {
                        chars.next();
                        cell.push('"');
                    }
                    '"' => quoted = false,
                    '\n' => {
                        self.line += 1;
                        cell.push(c);
                    }
                    _ => cell.push(c),
                }
                if cell.len() > crate::limits::MAX_TEXT_BYTES {
                    return Err(ScanError::Limit(format!(
                        "CSV cell on line {start_line} is too large"
                    )));
                }
                continue;
            }
            match c {
                '"' if cell.is_empty() => quoted = true,
                ',' => row.push(std::mem::take(&mut cell)),
                '\n' => {
                    self.pos += i + 1;
                    self.line += 1;
                    row.push(cell.trim_end_matches('\r').to_string());
                    return Ok(Some(row));
                }
                _ => cell.push(c),
            }
            if cell.len() > crate::limits::MAX_TEXT_BYTES {
                return Err(ScanError::Limit(format!(
                    "CSV cell on line {start_line} is too large"
                )));
            }
        }
        if quoted {
            return Err(ScanError::Csv {
                line: start_line,
                message: "unterminated quoted field".into(),
            });
        }
        self.pos = self.s.len();
        row.push(cell.trim_end_matches('\r').to_string());
        Ok(Some(row))
    }
}
