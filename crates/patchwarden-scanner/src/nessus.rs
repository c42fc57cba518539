//! Nessus `.nessus` v2 XML (`NessusClientData_v2`), read as a stream.

use crate::model::Rejects;
use crate::packages::SOFTWARE_ENUMERATION_PLUGIN;
use crate::text::{self, clean, excerpt, field};
use crate::xml::{Attrs, Node, Walker};
use crate::{
    localcheck, packages, Cvss, ReportFormat, ScanError, ScanFinding, ScanReport, ScannedHost,
    Scanner, Severity,
};
use patchwarden_domain::package::InstalledPackage;
use std::collections::HashMap;
use std::io::BufRead;

/// Host properties that are read; the rest are ignored.
const HOST_PROPS: &[&str] = &[
    "host-ip",
    "host-fqdn",
    "hostname",
    "netbios-name",
    "operating-system",
    "os",
    "mac-address",
    "Credentialed_Scan",
    "local-checks-proto",
    "HOST_START",
    "HOST_END",
    "HOST_START_TIMESTAMP",
    "HOST_END_TIMESTAMP",
];

#[derive(Debug, Default)]
struct HostBuilder {
    label: String,
    name: String,
    props: HashMap<String, String>,
    tag: Option<String>,
    issue: Option<String>,
    findings: Vec<ScanFinding>,
    packages: Option<Vec<InstalledPackage>>,
    rejects: Rejects,
}

#[derive(Debug, Default)]
struct ItemBuilder {
    attrs: Attrs,
    issue: Option<String>,
    fields: HashMap<&'static str, String>,
    cves: Vec<String>,
    bad_cves: Vec<String>,
}

/// Child elements of a ReportItem that are read.
const ITEM_FIELDS: &[&str] = &[
    "plugin_name",
    "cvss_vector",
    "cvss_base_score",
    "cvss3_vector",
    "cvss3_base_score",
    "cvss",
    "cvssv3",
    "solution",
    "description",
    "synopsis",
    "plugin_output",
];

/// Parses the rest of a document whose root `NessusClientData_v2` was just opened.
pub(crate) fn parse<R: BufRead>(w: &mut Walker<R>) -> Result<ScanReport, ScanError> {
    let mut name = String::new();
    let mut hosts = Vec::new();
    let mut rejects = Rejects::default();
    let mut host: Option<HostBuilder> = None;
    let mut item: Option<ItemBuilder> = None;
    loop {
        match w.next()? {
            Node::Eof => break,
            Node::Start(attrs) => {
                if w.depth() == 2 && w.current() == "Report" {
                    name = attrs
                        .get("name")
                        .map(str::trim)
                        .unwrap_or_default()
                        .chars()
                        .take(1024)
                        .collect();
                } else if w.depth() == 3 && w.ends_with(&["Report", "ReportHost"]) {
                    let name = attrs.get("name").unwrap_or_default().trim().to_string();
                    let label = format!("ReportHost {:?}", text::short(&name));
                    host = Some(HostBuilder {
                        label,
                        name,
                        issue: attrs.issue,
                        ..HostBuilder::default()
                    });
                } else if let Some(h) = host.as_mut() {
                    if w.depth() == 4 && w.current() == "ReportItem" {
                        item = Some(ItemBuilder {
                            issue: attrs.issue.clone(),
                            attrs,
                            ..ItemBuilder::default()
                        });
                    } else if w.depth() == 5 && w.ends_with(&["HostProperties", "tag"]) {
                        h.tag = attrs.get("name").map(str::to_string);
                    }
                }
            }
            Node::End(t) => {
                let depth = w.depth();
                if depth == 1 {
                    break;
                }
                let Some(h) = host.as_mut() else { continue };
                if depth == 5 && w.ends_with(&["ReportItem", w.current()]) {
                    if let Some(it) = item.as_mut() {
                        item_field(it, w.current(), t);
                    }
                } else if depth == 5 && w.ends_with(&["HostProperties", "tag"]) {
                    if let Some(tag) = h.tag.take().filter(|n| HOST_PROPS.contains(&n.as_str())) {
                        match t.ok().and_then(|v| field(&tag, &v)) {
                            Ok(Some(v)) => {
                                h.props.insert(tag, v);
                            }
                            Ok(None) => {}
                            Err(e) => h.issue = Some(format!("host property {tag}: {e}")),
                        }
                    }
                } else if depth == 4 && w.current() == "ReportItem" {
                    if let Some(it) = item.take() {
                        finish_item(h, it);
                    }
                } else if depth == 3 && w.current() == "ReportHost" {
                    if let Some(h) = host.take() {
                        finish_host(h, &mut hosts, &mut rejects);
                    }
                }
            }
        }
    }
    let started = hosts.iter().filter_map(|h: &(ScannedHost, _, _)| h.1).min();
    let finished = hosts.iter().filter_map(|h| h.2).max();
    Ok(ScanReport {
        scanner: Scanner::Nessus,
        format: ReportFormat::Xml,
        name,
        started,
        finished,
        hosts: hosts.into_iter().map(|h| h.0).collect(),
        rejected: rejects.finish(),
    })
}

fn item_field(it: &mut ItemBuilder, name: &str, t: crate::xml::Text) {
    if name == "cve" {
        match t.ok() {
            Ok(v) => match text::cve(&v) {
                Some(id) if !it.cves.contains(&id) => it.cves.push(id),
                Some(_) => {}
                None => it.bad_cves.push(text::short(&v)),
            },
            Err(e) => it.issue = Some(format!("cve: {e}")),
        }
    } else if let Some(key) = ITEM_FIELDS.iter().find(|k| **k == name) {
        match t.ok() {
            Ok(v) => {
                it.fields.insert(key, v);
            }
            Err(e) => it.issue = Some(format!("{name}: {e}")),
        }
    }
}

fn finish_item(h: &mut HostBuilder, it: ItemBuilder) {
    let plugin = it
        .attrs
        .get("pluginID")
        .unwrap_or_default()
        .trim()
        .to_string();
    let label = format!(
        "{} / ReportItem pluginID {:?}",
        h.label,
        text::short(&plugin)
    );
    let output = it
        .fields
        .get("plugin_output")
        .map(String::as_str)
        .unwrap_or_default();
    if plugin == SOFTWARE_ENUMERATION_PLUGIN && it.issue.is_none() {
        let (list, problems) = packages::parse(output);
        if list.is_some() {
            h.packages = list;
        }
        for p in problems {
            h.rejects.push(format!("{label} / package list"), p);
        }
    }
    match build_finding(&it, plugin) {
        Ok(finding) => {
            let (checks, problems) = localcheck::nessus(output);
            for p in problems {
                h.rejects.push(format!("{label} / local check"), p);
            }
            h.findings.push(ScanFinding {
                local_checks: checks,
                ..finding
            });
        }
        Err(reason) => h.rejects.push(label, reason),
    }
}

fn build_finding(it: &ItemBuilder, plugin: String) -> Result<ScanFinding, String> {
    if let Some(issue) = &it.issue {
        return Err(issue.clone());
    }
    if !it.bad_cves.is_empty() {
        return Err(format!("invalid CVE id {:?}", it.bad_cves[0]));
    }
    let plugin_id = field("pluginID", &plugin)?.ok_or("missing pluginID")?;
    let get = |k: &str| it.fields.get(k).map(String::as_str).unwrap_or_default();
    let name = match field("pluginName", it.attrs.get("pluginName").unwrap_or_default())? {
        Some(n) => n,
        None => field("plugin_name", get("plugin_name"))?.ok_or("missing pluginName")?,
    };
    let sev = it.attrs.get("severity").unwrap_or_default();
    let severity = Severity::from_nessus(sev)
        .ok_or_else(|| format!("severity {:?} is not 0-4", text::short(sev)))?;
    let port_raw = it.attrs.get("port").unwrap_or("0").trim();
    let port = match port_raw.parse::<u16>() {
        Ok(0) => None,
        Ok(p) => Some(p),
        Err(_) => {
            return Err(format!(
                "port {:?} is not a number 0-65535",
                text::short(port_raw)
            ))
        }
    };
    let mut cvss = Cvss {
        v2_score: text::score("cvss_base_score", get("cvss_base_score"))?,
        v3_score: text::score("cvss3_base_score", get("cvss3_base_score"))?,
        ..Cvss::default()
    };
    // Web application scans write bare `cvss` / `cvssv3` scores.
    cvss.v2_score = cvss.v2_score.or(text::score("cvss", get("cvss"))?);
    cvss.v3_score = cvss.v3_score.or(text::score("cvssv3", get("cvssv3"))?);
    for v in [get("cvss_vector"), get("cvss3_vector")] {
        match text::vector(v) {
            Some(text::Vector::V2(v)) => cvss.v2_vector = Some(v),
            Some(text::Vector::V3(v)) => cvss.v3_vector = Some(v),
            _ => {}
        }
    }
    let description = excerpt(get("description")).or_else(|| excerpt(get("synopsis")));
    Ok(ScanFinding {
        plugin_id,
        name,
        family: field(
            "pluginFamily",
            it.attrs.get("pluginFamily").unwrap_or_default(),
        )?,
        severity,
        cvss,
        cves: it.cves.clone(),
        port,
        protocol: field("protocol", it.attrs.get("protocol").unwrap_or_default())?
            .map(|p| p.to_ascii_lowercase()),
        service: field("svc_name", it.attrs.get("svc_name").unwrap_or_default())?,
        solution: excerpt(get("solution")),
        description,
        output: excerpt(get("plugin_output")),
        local_checks: Vec::new(),
    })
}

type HostRow = (
    ScannedHost,
    Option<jiff::Timestamp>,
    Option<jiff::Timestamp>,
);

fn finish_host(h: HostBuilder, hosts: &mut Vec<HostRow>, rejects: &mut Rejects) {
    if let Some(issue) = h.issue {
        rejects.push(h.label, issue);
        return;
    }
    let prop = |k: &str| h.props.get(k).cloned();
    let name_is_ip = h.name.parse::<std::net::IpAddr>().is_ok();
    let ip = prop("host-ip").or_else(|| name_is_ip.then(|| h.name.clone()));
    let fqdn = prop("host-fqdn");
    let hostname = prop("hostname")
        .or_else(|| prop("netbios-name"))
        .or_else(|| (!name_is_ip).then(|| clean(&h.name)).flatten());
    let started = prop("HOST_START_TIMESTAMP")
        .or_else(|| prop("HOST_START"))
        .and_then(|s| text::timestamp(&s));
    let finished = prop("HOST_END_TIMESTAMP")
        .or_else(|| prop("HOST_END"))
        .and_then(|s| text::timestamp(&s));
    let credentialed = prop("Credentialed_Scan").is_some_and(|v| v.eq_ignore_ascii_case("true"))
        || h.props.contains_key("local-checks-proto")
        || h.packages.is_some()
        || h.findings.iter().any(|f| !f.local_checks.is_empty());
    let host = ScannedHost {
        hostname,
        fqdn,
        ip,
        os: prop("operating-system").or_else(|| prop("os")),
        mac: prop("mac-address"),
        credentialed,
        findings: h.findings,
        installed_packages: h.packages,
    };
    hosts.push((host, started, finished));
    rejects.append(h.rejects);
}
