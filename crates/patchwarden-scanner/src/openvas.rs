//! OpenVAS / Greenbone GMP XML reports (`<report>` or `<get_reports_response>`), as a stream.

use crate::model::Rejects;
use crate::text::{self, excerpt, field};
use crate::xml::{Node, Walker};
use crate::{
    localcheck, Cvss, ReportFormat, ScanError, ScanFinding, ScanReport, ScannedHost, Scanner,
    Severity,
};
use std::collections::HashMap;
use std::io::BufRead;

/// One `<result>` being read; fields by their path below the result.
#[derive(Debug, Default)]
struct ResultBuilder {
    depth: usize,
    id: String,
    oid: Option<String>,
    issue: Option<String>,
    fields: HashMap<String, String>,
    cves: Vec<String>,
    severity_type: Option<String>,
    cvss: Cvss,
}

/// One `<host>` summary of the report (address, times, details).
#[derive(Debug, Default)]
struct HostEntry {
    depth: usize,
    ip: String,
    details: HashMap<String, String>,
    detail_name: Option<String>,
}

/// What the report says about one host, merged from host entries and results.
#[derive(Debug, Default)]
struct HostAcc {
    hostname: Option<String>,
    details: HashMap<String, String>,
    findings: Vec<ScanFinding>,
}

/// Parses the rest of a document whose root (`report` or `get_reports_response`) was just
/// opened with attributes `root`.
pub(crate) fn parse<R: BufRead>(
    w: &mut Walker<R>,
    root: &crate::xml::Attrs,
) -> Result<ScanReport, ScanError> {
    if w.current() == "get_reports_response" {
        let status = root.get("status").unwrap_or("200");
        if !status.starts_with('2') {
            let why = root.get("status_text").unwrap_or("error");
            return Err(ScanError::NotAScanReport(format!(
                "GMP response status {status}: {}",
                text::short(why)
            )));
        }
    }
    let mut outer: Option<usize> = if w.current() == "report" {
        Some(1)
    } else {
        None
    };
    let mut name = String::new();
    let mut task_name = String::new();
    let (mut started, mut finished) = (None, None);
    let mut body_seen = false;
    let mut hosts: Vec<(String, HostAcc)> = Vec::new();
    let mut index: HashMap<String, usize> = HashMap::new();
    let mut rejects = Rejects::default();
    let mut result: Option<ResultBuilder> = None;
    let mut host: Option<HostEntry> = None;
    loop {
        match w.next()? {
            Node::Eof => break,
            Node::Start(attrs) => {
                let d = w.depth();
                if outer.is_none() && w.current() == "report" {
                    outer = Some(d);
                }
                if let Some(r) = result.as_mut() {
                    if r.issue.is_none() {
                        r.issue.clone_from(&attrs.issue);
                    }
                    let rel: Vec<&str> = w.path()[r.depth..].iter().map(String::as_str).collect();
                    match rel.as_slice() {
                        ["nvt"] => r.oid = attrs.get("oid").map(str::to_string),
                        ["nvt", "refs", "ref"]
                            if attrs
                                .get("type")
                                .is_some_and(|t| t.eq_ignore_ascii_case("cve")) =>
                        {
                            text::push_cves(attrs.get("id").unwrap_or_default(), &mut r.cves)
                        }
                        ["nvt", "severities", "severity"] => {
                            r.severity_type = attrs.get("type").map(str::to_string)
                        }
                        _ => {}
                    }
                } else if host.is_none() && w.ends_with(&["results", "result"]) {
                    body_seen = true;
                    let id = attrs.get("id").unwrap_or_default().to_string();
                    result = Some(ResultBuilder {
                        depth: d,
                        id,
                        issue: attrs.issue,
                        ..ResultBuilder::default()
                    });
                } else if host.is_none() && w.ends_with(&["report", "host"]) {
                    body_seen = true;
                    host = Some(HostEntry {
                        depth: d,
                        ..HostEntry::default()
                    });
                } else if matches!(
                    w.current(),
                    "results" | "scan_start" | "gmp" | "scan_run_status"
                ) {
                    body_seen = true;
                }
            }
            Node::End(t) => {
                let d = w.depth();
                if d == 1 {
                    break;
                }
                if let Some(r) = result.as_mut() {
                    if d == r.depth {
                        if let Some(r) = result.take() {
                            finish_result(r, &mut hosts, &mut index, &mut rejects);
                        }
                        continue;
                    }
                    let rel = w.path()[r.depth..].join("/");
                    result_field(r, &rel, t);
                } else if let Some(h) = host.as_mut() {
                    let rel: Vec<&str> = w.path()[h.depth..].iter().map(String::as_str).collect();
                    let value = t.ok().ok().and_then(|v| field("host", &v).ok().flatten());
                    match rel.as_slice() {
                        [] => {
                            if let Some(h) = host.take().filter(|h| !h.ip.is_empty()) {
                                let i = host_index(&h.ip, &mut hosts, &mut index);
                                hosts[i].1.details.extend(h.details);
                            }
                        }
                        ["ip"] => h.ip = value.unwrap_or_default(),
                        ["detail", "name"] => h.detail_name = value,
                        ["detail", "value"] => {
                            if let (Some(n), Some(v)) = (h.detail_name.take(), value) {
                                h.details.entry(n).or_insert(v);
                            }
                        }
                        _ => {}
                    }
                } else if outer.is_some_and(|o| d == o + 1) && w.current() == "name" {
                    name = t.value.trim().chars().take(1024).collect();
                } else if w.ends_with(&["task", "name"]) && task_name.is_empty() {
                    task_name = t.value.trim().chars().take(1024).collect();
                } else if w.ends_with(&["report", "scan_start"]) {
                    started = text::timestamp(&t.value);
                } else if w.ends_with(&["report", "scan_end"]) {
                    finished = text::timestamp(&t.value);
                }
            }
        }
    }
    if !body_seen {
        return Err(ScanError::NotAScanReport(
            "a <report> without GMP report content".into(),
        ));
    }
    if name.is_empty() {
        name = task_name;
    }
    let hosts = hosts
        .into_iter()
        .map(|(ip, acc)| build_host(ip, acc))
        .collect();
    Ok(ScanReport {
        scanner: Scanner::OpenVas,
        format: ReportFormat::Xml,
        name,
        started,
        finished,
        hosts,
        rejected: rejects.finish(),
    })
}

fn host_index(
    ip: &str,
    hosts: &mut Vec<(String, HostAcc)>,
    index: &mut HashMap<String, usize>,
) -> usize {
    *index.entry(ip.to_string()).or_insert_with(|| {
        hosts.push((ip.to_string(), HostAcc::default()));
        hosts.len() - 1
    })
}

fn result_field(r: &mut ResultBuilder, rel: &str, t: crate::xml::Text) {
    const KEEP: &[&str] = &[
        "name",
        "host",
        "host/hostname",
        "port",
        "threat",
        "severity",
        "description",
        "nvt/name",
        "nvt/family",
        "nvt/cvss_base",
        "nvt/tags",
        "nvt/solution",
        "nvt/cve",
    ];
    if rel == "nvt/severities/severity/score" || rel == "nvt/severities/severity/value" {
        let Ok(v) = t.ok() else { return };
        let v3 = r.severity_type.as_deref().is_some_and(|s| s.contains("v3"));
        let v2 = r.severity_type.as_deref().is_some_and(|s| s.contains("v2"));
        if rel.ends_with("score") {
            match text::score("severity score", &v) {
                Ok(s) if v3 => r.cvss.v3_score = s,
                Ok(s) if v2 => r.cvss.v2_score = s,
                Ok(_) => {}
                Err(e) => r.issue = Some(e),
            }
        } else {
            match text::vector(&v) {
                Some(text::Vector::V3(v)) => r.cvss.v3_vector = Some(v),
                Some(text::Vector::V2(v)) => r.cvss.v2_vector = Some(v),
                _ => {}
            }
        }
    } else if KEEP.contains(&rel) {
        match t.ok() {
            Ok(v) => {
                r.fields.insert(rel.to_string(), v);
            }
            Err(e) => r.issue = Some(format!("{rel}: {e}")),
        }
    }
}

fn finish_result(
    r: ResultBuilder,
    hosts: &mut Vec<(String, HostAcc)>,
    index: &mut HashMap<String, usize>,
    rejects: &mut Rejects,
) {
    let get = |k: &str| r.fields.get(k).map(String::as_str).unwrap_or_default();
    let label = format!("result {:?}", text::short(&r.id));
    let ip = match field("host", get("host")) {
        Ok(Some(ip)) => ip,
        Ok(None) => return rejects.push(label, "result names no host"),
        Err(e) => return rejects.push(label, e),
    };
    match build_finding(&r) {
        Ok(finding) => {
            let (checks, problems) = localcheck::openvas(get("description"));
            for p in problems {
                rejects.push(format!("{label} / local check"), p);
            }
            let i = host_index(&ip, hosts, index);
            let acc = &mut hosts[i].1;
            if acc.hostname.is_none() {
                acc.hostname = field("hostname", get("host/hostname")).ok().flatten();
            }
            acc.findings.push(ScanFinding {
                local_checks: checks,
                ..finding
            });
        }
        Err(reason) => rejects.push(label, reason),
    }
}

fn build_finding(r: &ResultBuilder) -> Result<ScanFinding, String> {
    if let Some(issue) = &r.issue {
        return Err(issue.clone());
    }
    let get = |k: &str| r.fields.get(k).map(String::as_str).unwrap_or_default();
    let plugin_id =
        field("nvt oid", r.oid.as_deref().unwrap_or_default())?.ok_or("missing nvt oid")?;
    let name = match field("name", get("nvt/name"))? {
        Some(n) => n,
        None => field("name", get("name"))?.ok_or("missing NVT name")?,
    };
    let score = text::score("severity", get("severity"))?;
    let severity = match Severity::from_label(get("threat")) {
        Some(s) => s,
        None => score
            .map(Severity::from_score)
            .ok_or("no threat or severity")?,
    };
    let tags: HashMap<&str, &str> = get("nvt/tags")
        .split('|')
        .filter_map(|kv| kv.split_once('='))
        .collect();
    let mut cvss = r.cvss.clone();
    match tags.get("cvss_base_vector").and_then(|v| text::vector(v)) {
        Some(text::Vector::V3(v)) if cvss.v3_vector.is_none() => cvss.v3_vector = Some(v),
        Some(text::Vector::V2(v)) if cvss.v2_vector.is_none() => cvss.v2_vector = Some(v),
        _ => {}
    }
    let base = text::score("cvss_base", get("nvt/cvss_base"))?;
    if cvss.v3_vector.is_some() && cvss.v3_score.is_none() {
        cvss.v3_score = base;
    } else if cvss.v3_vector.is_none() && cvss.v2_score.is_none() {
        cvss.v2_score = base;
    }
    let mut cves = r.cves.clone();
    text::push_cves(get("nvt/cve"), &mut cves);
    let (port, protocol) = port(get("port"))?;
    let solution =
        excerpt(get("nvt/solution")).or_else(|| tags.get("solution").and_then(|s| excerpt(s)));
    Ok(ScanFinding {
        plugin_id,
        name,
        family: field("family", get("nvt/family"))?,
        severity,
        cvss,
        cves,
        port,
        protocol,
        service: None,
        solution,
        description: tags.get("summary").and_then(|s| excerpt(s)),
        output: excerpt(get("description")),
        local_checks: Vec::new(),
    })
}

/// `80/tcp` → (80, tcp); `general/tcp` → (none, tcp); `package` → (none, none).
pub(crate) fn port(s: &str) -> Result<(Option<u16>, Option<String>), String> {
    let s = s.trim();
    let (num, proto) = s.split_once('/').unwrap_or((s, ""));
    let proto = field("protocol", proto)?.map(|p| p.to_ascii_lowercase());
    if num.is_empty() || !num.bytes().next().is_some_and(|b| b.is_ascii_digit()) {
        return Ok((None, proto));
    }
    match num.parse::<u16>() {
        Ok(0) => Ok((None, proto)),
        Ok(p) => Ok((Some(p), proto)),
        Err(_) => Err(format!("port {:?} is not a number 0-65535", text::short(s))),
    }
}

fn build_host(ip: String, acc: HostAcc) -> ScannedHost {
    let detail = |k: &str| acc.details.get(k).cloned();
    let credentialed = ["Auth-SSH-Success", "Auth-SMB-Success"]
        .iter()
        .any(|k| acc.details.contains_key(*k))
        || acc.findings.iter().any(|f| !f.local_checks.is_empty());
    ScannedHost {
        hostname: detail("hostname").or(acc.hostname),
        fqdn: None,
        ip: Some(ip),
        os: detail("best_os_txt").or_else(|| detail("best_os_cpe")),
        mac: detail("MAC"),
        credentialed,
        findings: acc.findings,
        installed_packages: None,
    }
}
